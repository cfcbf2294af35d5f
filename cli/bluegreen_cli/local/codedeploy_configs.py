"""CodeDeploy's predefined deployment configurations, as ``GetDeploymentConfig`` shows them.

moto keeps no deployment configurations. The local CodeDeploy answers for the predefined
ones whose traffic routing the CodeDeploy User Guide documents ("Working with deployment
configurations"): the Amazon ECS ones (which the simulator runs) and the AWS Lambda ones.
The EC2/on-premises ones (``CodeDeployDefault.OneAtATime`` and friends) are described by a
minimum-healthy-hosts rule the local stack has no use for; asking for them answers
``DeploymentConfigDoesNotExistException``, as does any name that is not predefined.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any


class ConfigError(Exception):
    """A refused request, with CodeDeploy's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class TrafficRouting:
    """How production traffic moves: all at once, a canary then the rest, or linear steps."""

    kind: str  # AllAtOnce | TimeBasedCanary | TimeBasedLinear
    percentage: int = 100
    interval_minutes: int = 0

    def document(self) -> dict[str, Any]:
        if self.kind == "TimeBasedCanary":
            return {
                "type": self.kind,
                "timeBasedCanary": {
                    "canaryPercentage": self.percentage,
                    "canaryInterval": self.interval_minutes,
                },
            }
        if self.kind == "TimeBasedLinear":
            return {
                "type": self.kind,
                "timeBasedLinear": {
                    "linearPercentage": self.percentage,
                    "linearInterval": self.interval_minutes,
                },
            }
        return {"type": "AllAtOnce"}

    def steps(self) -> tuple[tuple[float, int], ...]:
        """(minutes after the shift starts, percent of traffic on the replacement) per step."""
        if self.kind == "TimeBasedCanary":
            return ((0, self.percentage), (self.interval_minutes, 100))
        if self.kind == "TimeBasedLinear":
            count = -(-100 // self.percentage)  # the last step moves what is left
            return tuple(
                (i * self.interval_minutes, min(100, self.percentage * (i + 1)))
                for i in range(count)
            )
        return ((0, 100),)


_ALL_AT_ONCE = TrafficRouting("AllAtOnce")


def _canary(percent: int, minutes: int) -> TrafficRouting:
    return TrafficRouting("TimeBasedCanary", percent, minutes)


def _linear(percent: int, minutes: int) -> TrafficRouting:
    return TrafficRouting("TimeBasedLinear", percent, minutes)


# name -> (compute platform, traffic routing), in the User Guide's order.
PREDEFINED: dict[str, tuple[str, TrafficRouting]] = {
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": ("ECS", _linear(10, 1)),
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": ("ECS", _linear(10, 3)),
    "CodeDeployDefault.ECSCanary10Percent5Minutes": ("ECS", _canary(10, 5)),
    "CodeDeployDefault.ECSCanary10Percent15Minutes": ("ECS", _canary(10, 15)),
    "CodeDeployDefault.ECSAllAtOnce": ("ECS", _ALL_AT_ONCE),
    "CodeDeployDefault.LambdaCanary10Percent5Minutes": ("Lambda", _canary(10, 5)),
    "CodeDeployDefault.LambdaCanary10Percent10Minutes": ("Lambda", _canary(10, 10)),
    "CodeDeployDefault.LambdaCanary10Percent15Minutes": ("Lambda", _canary(10, 15)),
    "CodeDeployDefault.LambdaCanary10Percent30Minutes": ("Lambda", _canary(10, 30)),
    "CodeDeployDefault.LambdaLinear10PercentEvery1Minute": ("Lambda", _linear(10, 1)),
    "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes": ("Lambda", _linear(10, 2)),
    "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes": ("Lambda", _linear(10, 3)),
    "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes": ("Lambda", _linear(10, 10)),
    "CodeDeployDefault.LambdaAllAtOnce": ("Lambda", _ALL_AT_ONCE),
}
ECS_CONFIGS = tuple(name for name, (platform, _) in PREDEFINED.items() if platform == "ECS")
_PAGE_SIZE = 100


def get_deployment_config(body: dict[str, Any]) -> dict[str, Any]:
    """The ``GetDeploymentConfig`` answer for a predefined configuration."""
    name = body.get("deploymentConfigName")
    if not name:
        raise ConfigError(
            "DeploymentConfigNameRequiredException",
            "The deployment configuration name was not specified.",
        )
    if not isinstance(name, str) or len(name) > 100:
        raise ConfigError(
            "InvalidDeploymentConfigNameException",
            "The deployment configuration name was specified in an invalid format.",
        )
    found = PREDEFINED.get(name)
    if found is None:
        raise ConfigError(
            "DeploymentConfigDoesNotExistException",
            f"The deployment configuration {name} does not exist with the user or AWS account.",
        )
    platform, routing = found
    return {
        "deploymentConfigInfo": {
            # A stable opaque id: the same name always answers the same id.
            "deploymentConfigId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"codedeploy:{name}")),
            "deploymentConfigName": name,
            "computePlatform": platform,
            "trafficRoutingConfig": routing.document(),
        }
    }


def list_deployment_configs(body: dict[str, Any]) -> dict[str, Any]:
    """The ``ListDeploymentConfigs`` answer: every predefined name, paged by offset."""
    token = body.get("nextToken")
    try:
        offset = int(token) if token is not None else 0
    except (TypeError, ValueError):
        offset = -1
    if offset < 0:
        raise ConfigError(
            "InvalidNextTokenException", "The next token was specified in an invalid format."
        )
    names = list(PREDEFINED)
    result: dict[str, Any] = {"deploymentConfigsList": names[offset : offset + _PAGE_SIZE]}
    if offset + _PAGE_SIZE < len(names):
        result["nextToken"] = str(offset + _PAGE_SIZE)
    return result


def ecs_traffic_steps(name: str) -> tuple[tuple[float, int], ...] | None:
    """The traffic steps of an ECS configuration; ``None`` when it is not one."""
    found = PREDEFINED.get(name)
    if found is None or found[0] != "ECS":
        return None
    return found[1].steps()
