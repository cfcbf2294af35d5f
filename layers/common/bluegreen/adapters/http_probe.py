"""One real HTTP request through the load balancer's test listener."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

from bluegreen.domain.probe import CheckResult


def check(url: str, timeout: float) -> CheckResult:
    """2xx within ``timeout`` passes; anything else fails, with what happened."""
    if not url.startswith(("http://", "https://")):
        return CheckResult(ok=False, status=None, detail=f"not an http(s) URL: {url}")
    started = time.monotonic()
    request = urllib.request.Request(url, headers={"User-Agent": "bluegreen-probe"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status = int(response.status)
    except urllib.error.HTTPError as e:
        status = e.code
    except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
        reason = getattr(e, "reason", e)
        return CheckResult(ok=False, status=None, detail=f"GET {url}: {reason}")
    elapsed = (time.monotonic() - started) * 1000
    return CheckResult(
        ok=200 <= status < 300, status=status, detail=f"GET {url} -> {status} in {elapsed:.0f} ms"
    )
