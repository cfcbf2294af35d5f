"""What IAM checks for an API call: each action, on which resource ARN, with which context.

Per the Service Authorization Reference: the action is usually ``<prefix>:<Operation>``; the
resource is the ARN of what the call touches (``*`` for actions without resource-level
permissions); some calls need more than one action. The ones the product relies on:

- tag-on-create: a create or register call that carries tags also needs the service's
  ``TagResource`` on the new resource (ECS: ``ecs:CreateAction`` names the creating call);
- ``iam:PassRole`` on every role a call hands to a service (a task definition's task and
  execution roles, passed to ``ecs-tasks.amazonaws.com``);
- Application Auto Scaling's ``RegisterScalableTarget`` also needs the target service's own
  permissions (``ecs:DescribeServices``, ``ecs:UpdateService`` on the service).

Calls not listed here are checked as ``<prefix>:<Operation>`` on ``*``: stricter than AWS for
an action that has resource-level permissions, so a missing entry shows up as a denial.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bluegreen_cli.local.intrinsics import ACCOUNT_ID, PARTITION, REGION
from bluegreen_cli.local.rights.calls import AwsCall
from bluegreen_cli.local.rights.policy import ContextValue, Need


class AccountView(Protocol):
    """What the emulated account knows that an ARN depends on."""

    def secret_arn(self, secret_id: str) -> str | None: ...

    def deployment_group_of(self, deployment_id: str) -> tuple[str, str] | None: ...

    def state_machine_of_token(self, task_token: str) -> str | None: ...

    def next_task_definition_revision(self, family: str) -> int: ...

    def scalable_target_arn(
        self, namespace: str, resource_id: str, dimension: str
    ) -> str | None: ...

    def verified_identities(self) -> set[str]: ...


def arn(service: str, resource: str, region: str = REGION, account: str = ACCOUNT_ID) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


@dataclass(frozen=True)
class Scope:
    """The account a call acts in, and what it knows that the call's ARNs depend on."""

    view: AccountView
    account_id: str = ACCOUNT_ID
    region: str = REGION

    def arn(self, service: str, resource: str) -> str:
        return arn(service, resource, self.region, self.account_id)


def _name(value: Any) -> str:
    """The name in a name-or-ARN parameter."""
    text = str(value or "")
    return text.rsplit("/", 1)[-1] if text.startswith("arn:") else text


def _tag_context(tags: Any) -> dict[str, ContextValue]:
    """``aws:RequestTag/<key>`` and ``aws:TagKeys`` of a call's tags (any of AWS's shapes)."""
    pairs: list[tuple[str, str]] = []
    if isinstance(tags, Mapping):
        pairs = [(str(k), str(v)) for k, v in tags.items()]
    elif isinstance(tags, list):
        for tag in tags:
            key = tag.get("key", tag.get("Key"))
            value = tag.get("value", tag.get("Value", ""))
            pairs.append((str(key), str(value)))
    context: dict[str, ContextValue] = {f"aws:RequestTag/{k}": v for k, v in pairs}
    if pairs:
        context["aws:TagKeys"] = [k for k, _ in pairs]
    return context


# -- per service ------------------------------------------------------------------------

Rule = Callable[[AwsCall, Scope], list[Need]]


def _ecs_service_arn(at: Scope, cluster: Any, service: Any) -> str:
    if str(service).startswith("arn:"):
        return str(service)
    return at.arn("ecs", f"service/{_name(cluster) or 'default'}/{service}")


def _ecs_describe_services(call: AwsCall, at: Scope) -> list[Need]:
    cluster = at.arn("ecs", f"cluster/{_name(call.params.get('cluster')) or 'default'}")
    return [
        Need(
            call.action,
            _ecs_service_arn(at, call.params.get("cluster"), s),
            {"ecs:cluster": cluster},
        )
        for s in call.params.get("services") or []
    ]


def _ecs_update_service(call: AwsCall, at: Scope) -> list[Need]:
    cluster = at.arn("ecs", f"cluster/{_name(call.params.get('cluster')) or 'default'}")
    service = _ecs_service_arn(at, call.params.get("cluster"), call.params.get("service"))
    return [Need(call.action, service, {"ecs:cluster": cluster})]


def _ecs_register_task_definition(call: AwsCall, at: Scope) -> list[Need]:
    family = str(call.params.get("family", ""))
    revision = at.view.next_task_definition_revision(family)
    created = at.arn("ecs", f"task-definition/{family}:{revision}")
    tags = _tag_context(call.params.get("tags"))
    needs = [Need(call.action, created, tags)]
    if call.params.get("tags"):
        needs.append(
            Need("ecs:TagResource", created, {**tags, "ecs:CreateAction": "RegisterTaskDefinition"})
        )
    for key in ("taskRoleArn", "executionRoleArn"):
        role = call.params.get(key)
        if role:
            needs.append(
                Need("iam:PassRole", str(role), {"iam:PassedToService": "ecs-tasks.amazonaws.com"})
            )
    return needs


def _ecs_tag_resource(call: AwsCall, at: Scope) -> list[Need]:
    # On its own, not as part of a create call: no ecs:CreateAction in the context.
    resource = str(call.params.get("resourceArn", "*"))
    return [Need(call.action, resource, _tag_context(call.params.get("tags")))]


def _codedeploy_group(call: AwsCall, at: Scope) -> list[Need]:
    application = call.params.get("applicationName")
    group = call.params.get("deploymentGroupName")
    if not application or not group:
        return [Need(call.action)]
    return [Need(call.action, at.arn("codedeploy", f"deploymentgroup:{application}/{group}"))]


def _codedeploy_deployment(call: AwsCall, at: Scope) -> list[Need]:
    ids = call.params.get("deploymentIds") or [call.params.get("deploymentId")]
    needs: list[Need] = []
    for deployment_id in ids:
        found = at.view.deployment_group_of(str(deployment_id))
        if found is not None:
            application, group = found
            resource = at.arn("codedeploy", f"deploymentgroup:{application}/{group}")
            needs.append(Need(call.action, resource))
    # A deployment nobody knows: CodeDeploy itself answers DeploymentDoesNotExistException.
    return needs


def _codedeploy_config(call: AwsCall, at: Scope) -> list[Need]:
    name = call.params.get("deploymentConfigName", "")
    return [Need(call.action, at.arn("codedeploy", f"deploymentconfig:{name}"))]


def _codedeploy_application(call: AwsCall, at: Scope) -> list[Need]:
    return [
        Need(call.action, at.arn("codedeploy", f"application:{call.params.get('applicationName')}"))
    ]


def _register_scalable_target(call: AwsCall, at: Scope) -> list[Need]:
    namespace = str(call.params.get("ServiceNamespace", ""))
    resource_id = str(call.params.get("ResourceId", ""))
    dimension = str(call.params.get("ScalableDimension", ""))
    target = at.view.scalable_target_arn(namespace, resource_id, dimension) or at.arn(
        "application-autoscaling", "scalable-target/new"
    )
    context: dict[str, ContextValue] = {
        "application-autoscaling:service-namespace": namespace,
        "application-autoscaling:scalable-dimension": dimension,
        **_tag_context(call.params.get("Tags")),
    }
    needs = [Need(call.action, target, context)]
    if namespace == "ecs" and resource_id.startswith("service/"):
        # Application Auto Scaling acts on the ECS service with the caller's permissions.
        _, cluster, service = resource_id.split("/", 2)
        service_arn = at.arn("ecs", f"service/{cluster}/{service}")
        needs += [Need("ecs:DescribeServices", service_arn), Need("ecs:UpdateService", service_arn)]
    return needs


def _states_machine(call: AwsCall, at: Scope) -> list[Need]:
    return [Need(call.action, str(call.params.get("stateMachineArn", "*")))]


def _states_execution(call: AwsCall, at: Scope) -> list[Need]:
    return [Need(call.action, str(call.params.get("executionArn", "*")))]


def _states_callback(call: AwsCall, at: Scope) -> list[Need]:
    # Step Functions checks a callback against the state machine whose execution issued
    # the token (its AccessDenied names that ARN). A token no running execution holds is
    # Step Functions' own to refuse (TaskTimedOut, InvalidToken).
    machine = at.view.state_machine_of_token(str(call.params.get("taskToken", "")))
    return [Need(call.action, machine)] if machine else []


def _secret(call: AwsCall, at: Scope) -> list[Need]:
    secret_id = str(call.params.get("SecretId", ""))
    # A secret that does not exist is still checked, against the ARN its name would have:
    # so a caller the policy does not cover gets AccessDeniedException, not ResourceNotFound.
    found = at.view.secret_arn(secret_id)
    resource = found or (
        secret_id
        if secret_id.startswith("arn:")
        else at.arn("secretsmanager", f"secret:{secret_id}")
    )
    return [Need(call.action, resource, {"secretsmanager:SecretId": resource})]


def _dynamodb_table(call: AwsCall, at: Scope) -> list[Need]:
    table = at.arn("dynamodb", f"table/{call.params.get('TableName')}")
    index = call.params.get("IndexName")
    return [Need(call.action, f"{table}/index/{index}" if index else table)]


def _dynamodb_batch(call: AwsCall, at: Scope) -> list[Need]:
    action = {"BatchWriteItem": "dynamodb:BatchWriteItem", "BatchGetItem": "dynamodb:BatchGetItem"}
    return [
        Need(action[call.operation], at.arn("dynamodb", f"table/{table}"))
        for table in (call.params.get("RequestItems") or {})
    ]


def _dynamodb_transact(call: AwsCall, at: Scope) -> list[Need]:
    kinds = {
        "ConditionCheck": "ConditionCheckItem",
        "Put": "PutItem",
        "Update": "UpdateItem",
        "Delete": "DeleteItem",
        "Get": "GetItem",
    }
    needs: list[Need] = []
    for item in call.params.get("TransactItems") or []:
        for kind, operation in kinds.items():
            if kind in item:
                table = at.arn("dynamodb", f"table/{item[kind].get('TableName')}")
                needs.append(Need(f"dynamodb:{operation}", table))
    return needs


_ADDRESS = re.compile(r"[^<>\s]+@[^<>\s]+")


def _ses_send(call: AwsCall, at: Scope) -> list[Need]:
    source = str(call.params.get("Source", ""))
    found = _ADDRESS.search(source)
    sender = found.group(0) if found else source
    verified = at.view.verified_identities()
    # SES authorizes the identity that covers the From address: the address, else its domain.
    domain = sender.rsplit("@", 1)[-1]
    identity = sender if sender in verified or domain not in verified else domain
    recipients = [
        str(value) for key, value in call.params.items() if key.startswith("Destination.")
    ]
    context: dict[str, ContextValue] = {"ses:FromAddress": sender, "ses:Recipients": recipients}
    return [Need(call.action, at.arn("ses", f"identity/{identity}"), context)]


def _sns_publish(call: AwsCall, at: Scope) -> list[Need]:
    topic = call.params.get("TopicArn") or call.params.get("TargetArn") or "*"
    return [Need(call.action, str(topic))]


def _sqs_queue(call: AwsCall, at: Scope) -> list[Need]:
    url = str(call.params.get("QueueUrl", ""))
    return [Need(call.action, at.arn("sqs", url.rstrip("/").rsplit("/", 1)[-1]))]


def _ecr_repository(call: AwsCall, at: Scope) -> list[Need]:
    registry = str(call.params.get("registryId") or at.account_id)
    name = call.params.get("repositoryName")
    return [Need(call.action, arn("ecr", f"repository/{name}", at.region, registry))]


def _events_bus(call: AwsCall, at: Scope) -> list[Need]:
    buses = {str(e.get("EventBusName") or "default") for e in call.params.get("Entries") or []}
    return [
        Need(call.action, bus if bus.startswith("arn:") else at.arn("events", f"event-bus/{bus}"))
        for bus in sorted(buses)
    ]


def _lambda_invoke(call: AwsCall, at: Scope) -> list[Need]:
    name = str(call.params.get("FunctionName", ""))
    resource = name if name.startswith("arn:") else at.arn("lambda", f"function:{name}")
    return [Need("lambda:InvokeFunction", resource)]


def _ssm_parameter(call: AwsCall, at: Scope) -> list[Need]:
    names = call.params.get("Names") or [call.params.get("Name", "")]
    # A parameter's ARN has no slash before a hierarchical name's own leading slash.
    return [
        Need(call.action, at.arn("ssm", f"parameter/{str(name).removeprefix('/')}"))
        for name in names
    ]


def _always_allowed(call: AwsCall, at: Scope) -> list[Need]:
    # sts:GetCallerIdentity needs no permission: IAM documents it as always allowed.
    return []


RULES: dict[str, Rule] = {
    "ecs:DescribeServices": _ecs_describe_services,
    "ecs:UpdateService": _ecs_update_service,
    "ecs:RegisterTaskDefinition": _ecs_register_task_definition,
    "ecs:TagResource": _ecs_tag_resource,
    "codedeploy:CreateDeployment": _codedeploy_group,
    "codedeploy:GetDeploymentGroup": _codedeploy_group,
    "codedeploy:ListDeployments": _codedeploy_group,
    "codedeploy:GetDeployment": _codedeploy_deployment,
    "codedeploy:BatchGetDeployments": _codedeploy_deployment,
    "codedeploy:GetDeploymentConfig": _codedeploy_config,
    "codedeploy:GetApplicationRevision": _codedeploy_application,
    "codedeploy:RegisterApplicationRevision": _codedeploy_application,
    "application-autoscaling:RegisterScalableTarget": _register_scalable_target,
    "states:StartExecution": _states_machine,
    "states:ListExecutions": _states_machine,
    "states:DescribeExecution": _states_execution,
    "states:StopExecution": _states_execution,
    "states:GetExecutionHistory": _states_execution,
    "states:SendTaskSuccess": _states_callback,
    "states:SendTaskFailure": _states_callback,
    "states:SendTaskHeartbeat": _states_callback,
    "secretsmanager:GetSecretValue": _secret,
    "secretsmanager:DescribeSecret": _secret,
    "sns:Publish": _sns_publish,
    "ses:SendEmail": _ses_send,
    "ses:SendRawEmail": _ses_send,
    "sqs:SendMessage": _sqs_queue,
    "ecr:DescribeImages": _ecr_repository,
    "ecr:BatchGetImage": _ecr_repository,
    "events:PutEvents": _events_bus,
    "lambda:Invoke": _lambda_invoke,
    "lambda:InvokeFunction": _lambda_invoke,
    "sts:GetCallerIdentity": _always_allowed,
    "ssm:GetParameter": _ssm_parameter,
    "ssm:GetParameters": _ssm_parameter,
}
for _operation in (
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "DescribeTable",
):
    RULES[f"dynamodb:{_operation}"] = _dynamodb_table
for _operation in ("BatchWriteItem", "BatchGetItem"):
    RULES[f"dynamodb:{_operation}"] = _dynamodb_batch
for _operation in ("TransactWriteItems", "TransactGetItems"):
    RULES[f"dynamodb:{_operation}"] = _dynamodb_transact


def needs_of(call: AwsCall, account: AccountView, account_id: str = ACCOUNT_ID) -> list[Need]:
    """Every authorization ``call`` needs, on resources of ``account_id`` (the caller's: a
    role assumed in another account acts on that account's resources); [] when IAM checks
    nothing for it. ``account`` answers for that account."""
    rule = RULES.get(call.action)
    if rule is None:
        return [Need(call.action)]
    return rule(call, Scope(account, account_id))
