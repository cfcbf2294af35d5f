"""A request the local stack refuses before moto sees it, with the error AWS gives."""

from __future__ import annotations


class AwsError(Exception):
    """An AWS error: its code (a client's ``Error.Code``), message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
