"""The emulated accounts' answers to "which ARN is that?", read from moto's backends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bluegreen_cli.local.intrinsics import ACCOUNT_ID, REGION


class MotoAccount:
    """``needs.AccountView`` of one account over moto's in-process backends (and, in the
    app's account, the CodeDeploy simulator's deployments)."""

    def __init__(
        self,
        deployments: Callable[[], list[dict[str, Any]]] | None = None,
        account_id: str = ACCOUNT_ID,
    ) -> None:
        self._deployments = deployments or (lambda: [])
        self.account_id = account_id

    def secret_arn(self, secret_id: str) -> str | None:
        from moto.secretsmanager.models import secretsmanager_backends

        try:
            secret = secretsmanager_backends[self.account_id][REGION].describe_secret(secret_id)
        except Exception:  # moto's ResourceNotFound: the secret does not exist
            return None
        return str(secret.arn)

    def deployment_group_of(self, deployment_id: str) -> tuple[str, str] | None:
        for info in self._deployments():
            if info.get("deploymentId") == deployment_id:
                return str(info["applicationName"]), str(info["deploymentGroupName"])
        return None

    def state_machine_of_token(self, task_token: str) -> str | None:
        from moto.stepfunctions.responses import get_backend

        backend: Any = get_backend(self.account_id, REGION)
        for machine in list(getattr(backend, "state_machines", [])):
            for execution in list(getattr(machine, "executions", [])):
                worker = getattr(execution, "exec_worker", None)
                pool = getattr(getattr(worker, "env", None), "callback_pool_manager", None)
                if pool is not None and pool.get(task_token) is not None:
                    return str(machine.arn)
        return None

    def next_task_definition_revision(self, family: str) -> int:
        from moto.ecs.models import ecs_backends

        revisions = ecs_backends[self.account_id][REGION].task_definitions.get(family) or {}
        return max(revisions, default=0) + 1

    def scalable_target_arn(self, namespace: str, resource_id: str, dimension: str) -> str | None:
        from moto.applicationautoscaling.models import applicationautoscaling_backends

        backend = applicationautoscaling_backends[self.account_id][REGION]
        for target in backend.describe_scalable_targets(namespace, [resource_id], dimension):
            return str(target.arn)
        return None

    def verified_identities(self) -> set[str]:
        from moto.ses.models import ses_backends

        return set(ses_backends[self.account_id][REGION].email_identities)
