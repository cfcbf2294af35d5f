"""Create the app's own resources, read from ``template.yaml``, in the emulated account.

Everything is built from the template's own properties (table keys, rule patterns, state
machine definition and substitutions, function environments), through the same AWS APIs a
deployment would use, so the local account cannot drift from what ``sam deploy`` creates.
Functions are registered in moto with a placeholder zip: their invocations are served by
worker processes from their ``CodeUri`` (see ``runtime.py``), which is remembered here.
"""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
import string
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bluegreen_cli.local.intrinsics import (
    ACCOUNT_ID,
    NO_VALUE,
    REGION,
    Resolver,
    TemplateError,
    load_template_text,
    parameter_values,
    references,
)
from bluegreen_cli.local.rights.roles import (
    Role,
    check_managed_policy_quota,
    compile_roles,
    principal_roles,
    sam_transform,
)

log = logging.getLogger(__name__)

STACK_NAME = "bluegreen"
ClientFactory = Callable[[str], Any]

_INTRINSIC_KEYS = {"Ref", "Condition"}
_HTTP_API_MARKER = "\x00httpapi\x00"


# -- what the local stack knows about the app ------------------------------------------


@dataclass(frozen=True)
class LocalFunction:
    """A function as the local runtime needs it."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int = 3
    memory_size: int = 128
    layer_dirs: tuple[Path, ...] = ()
    # Its EventInvokeConfig property, resolved (asynchronous invocation retries, destinations).
    event_invoke_config: dict[str, Any] | None = None


@dataclass(frozen=True)
class LocalRule:
    """An EventBridge rule the template asked for (its pattern kept for local matching)."""

    name: str
    event_bus: str
    pattern: dict[str, Any]
    target_arn: str
    owner: str
    schedule: str | None = None  # its ScheduleExpression (a scheduled rule)


@dataclass(frozen=True)
class HttpRoute:
    """An HTTP API route (``GET /approvals/{approval_id}``) and the function behind it."""

    method: str
    path: str
    function: str

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass
class LocalApp:
    """The app's resources in the emulated account, by logical id."""

    stack_name: str
    base_url: str
    parameters: dict[str, Any]
    refs: dict[str, Any] = field(default_factory=dict)
    arns: dict[str, str] = field(default_factory=dict)
    functions: dict[str, LocalFunction] = field(default_factory=dict)
    rules: list[LocalRule] = field(default_factory=list)
    routes: list[HttpRoute] = field(default_factory=list)
    state_machines: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    # IAM as deployed: every role with its resolved policies, and who runs as which role
    # (function and state machine logical ids -> role logical id).
    roles: dict[str, Role] = field(default_factory=dict)
    principals: dict[str, str] = field(default_factory=dict)

    def role_of(self, logical_id: str) -> Role | None:
        role_id = self.principals.get(logical_id)
        return self.roles.get(role_id) if role_id else None

    def function(self, name_or_arn: str) -> LocalFunction | None:
        """A function by name, full or partial ARN, with or without a ``$LATEST`` qualifier."""
        wanted = name_or_arn
        if wanted.startswith("arn:"):
            parts = wanted.split(":")
            wanted = parts[6] if len(parts) >= 7 else wanted
        elif ":" in wanted:
            # "123456789012:function:name" or "name:qualifier"
            parts = wanted.split(":")
            wanted = parts[2] if len(parts) >= 3 and parts[1] == "function" else parts[0]
        for function in self.functions.values():
            if wanted in (function.name, function.logical_id):
                return function
        return None


# -- reading the template --------------------------------------------------------------


def _is_intrinsic(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and (next(iter(value)) in _INTRINSIC_KEYS or next(iter(value)).startswith("Fn::"))
    )


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals rule: maps merge (the resource wins), lists add up, scalars are replaced."""
    if (
        isinstance(global_value, dict)
        and isinstance(local_value, dict)
        and not _is_intrinsic(global_value)
        and not _is_intrinsic(local_value)
    ):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


_GLOBAL_SECTIONS = {
    "AWS::Serverless::Function": "Function",
    "AWS::Serverless::StateMachine": "StateMachine",
    "AWS::Serverless::HttpApi": "HttpApi",
    "AWS::Serverless::SimpleTable": "SimpleTable",
    "AWS::Serverless::LayerVersion": "LayerVersion",
}


def read_template(path: Path) -> dict[str, Any]:
    """The template as data, with SAM Globals merged into each resource's Properties."""
    template = load_template_text(path.read_text(encoding="utf-8"))
    global_sections: dict[str, Any] = template.get("Globals") or {}
    for resource in (template.get("Resources") or {}).values():
        section = _GLOBAL_SECTIONS.get(resource.get("Type", ""))
        if section and section in global_sections:
            resource["Properties"] = merge_globals(
                global_sections[section], resource.get("Properties") or {}
            )
    return template


def creation_order(resources: dict[str, Any]) -> list[str]:
    """Logical ids so that every resource comes after the resources it refers to."""
    dependencies: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn") or []
        if isinstance(depends_on, str):
            depends_on = [depends_on]
        found = references(resource.get("Properties") or {}) | set(depends_on)
        dependencies[logical_id] = {name for name in found if name in resources} - {logical_id}
    ordered: list[str] = []
    done: set[str] = set()
    while len(ordered) < len(resources):
        ready = [
            logical_id
            for logical_id in resources
            if logical_id not in done and dependencies[logical_id] <= done
        ]
        if not ready:
            stuck = sorted(set(resources) - done)
            raise TemplateError(f"circular references between {', '.join(stuck)}")
        for logical_id in ready:
            ordered.append(logical_id)
            done.add(logical_id)
    return ordered


# -- creating the resources ------------------------------------------------------------


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "app.py",
            "def lambda_handler(event, context):\n"
            "    raise RuntimeError('served by the bluegreen local stack')\n",
        )
    return buffer.getvalue()


def generate_secret_string(spec: dict[str, Any]) -> str:
    """A value for ``GenerateSecretString``, with Secrets Manager's defaults."""
    length = int(spec.get("PasswordLength", 32))
    excluded = set(str(spec.get("ExcludeCharacters", "")))
    groups: list[str] = []
    if not _flag(spec.get("ExcludeLowercase")):
        groups.append(string.ascii_lowercase)
    if not _flag(spec.get("ExcludeUppercase")):
        groups.append(string.ascii_uppercase)
    if not _flag(spec.get("ExcludeNumbers")):
        groups.append(string.digits)
    if not _flag(spec.get("ExcludePunctuation")):
        groups.append("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    if _flag(spec.get("IncludeSpace")):
        groups.append(" ")
    groups = ["".join(c for c in group if c not in excluded) for group in groups]
    groups = [group for group in groups if group]
    if not groups:
        raise TemplateError("GenerateSecretString excludes every character")
    alphabet = "".join(groups)
    value = [secrets.choice(alphabet) for _ in range(length)]
    if spec.get("RequireEachIncludedType", True) and length >= len(groups):
        for index, group in enumerate(groups):
            value[index] = secrets.choice(group)
        secrets.SystemRandom().shuffle(value)
    generated = "".join(value)
    if "SecretStringTemplate" in spec:
        document = json.loads(str(spec["SecretStringTemplate"]))
        document[str(spec.get("GenerateStringKey", "password"))] = generated
        return json.dumps(document)
    return generated


def _flag(value: Any) -> bool:
    return str(value).lower() == "true"


def _tags_list(tags: Any) -> list[dict[str, str]]:
    if isinstance(tags, dict):
        return [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
    if isinstance(tags, list):
        return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in tags]
    return []


def _assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def _rule_trigger(pattern: dict[str, Any], schedule: Any) -> dict[str, str]:
    """PutRule's EventPattern and/or ScheduleExpression (a scheduled rule may have no pattern)."""
    trigger = {"EventPattern": json.dumps(pattern)} if pattern or not schedule else {}
    if schedule:
        trigger["ScheduleExpression"] = str(schedule)
    return trigger


def _short(name: str, limit: int = 64) -> str:
    return name if len(name) <= limit else name[:limit]


class AppBuilder:
    """Creates a template's resources through AWS clients and records what it made."""

    def __init__(
        self,
        template_path: Path,
        clients: ClientFactory,
        base_url: str,
        parameter_overrides: dict[str, Any] | None = None,
        stack_name: str = STACK_NAME,
    ) -> None:
        self.template_path = template_path
        self.root = template_path.parent
        self.template = read_template(template_path)
        self.clients = clients
        self.stack_name = stack_name
        parameters = parameter_values(
            self.template.get("Parameters") or {}, parameter_overrides or {}
        )
        self.app = LocalApp(stack_name=stack_name, base_url=base_url, parameters=parameters)
        self._attributes: dict[tuple[str, str], Any] = {}
        self._http_apis: set[str] = {"ServerlessHttpApi"}
        self.resolver = Resolver(
            parameters=parameters,
            ref=self._ref,
            get_att=self._get_att,
            sub_ref=self._sub_ref,
            conditions=self.template.get("Conditions") or {},
            mappings=self.template.get("Mappings") or {},
            stack_name=stack_name,
        )
        self._code = _placeholder_zip()

    # lookups used by the resolver

    def _ref(self, name: str) -> Any:
        if name in self._http_apis:
            return self.app.base_url
        return self.app.refs[name]

    def _sub_ref(self, name: str) -> Any:
        # An HTTP API's id only ever appears inside its execute-api URL; the marker lets
        # resolve_sub swap the whole URL for the local base URL.
        if name in self._http_apis:
            return _HTTP_API_MARKER
        return self.app.refs[name]

    def _get_att(self, name: str, attribute: str) -> Any:
        if name in self._http_apis and attribute == "ApiEndpoint":
            return self.app.base_url
        return self._attributes[(name, attribute)]

    def resolve(self, value: Any) -> Any:
        resolved = self.resolver.resolve(value)
        return self._local_urls(resolved)

    def _local_urls(self, value: Any) -> Any:
        if isinstance(value, str) and _HTTP_API_MARKER in value:
            value = re.sub(
                r"https?://" + re.escape(_HTTP_API_MARKER) + r"\.execute-api\.[^/]*",
                self.app.base_url,
                value,
            )
            return value.replace(_HTTP_API_MARKER, self.app.base_url)
        if isinstance(value, list):
            return [self._local_urls(item) for item in value]
        if isinstance(value, dict):
            return {key: self._local_urls(item) for key, item in value.items()}
        return value

    def _record(self, logical_id: str, ref: Any, **attributes: Any) -> None:
        self.app.refs[logical_id] = ref
        for attribute, value in attributes.items():
            self._attributes[(logical_id, attribute)] = value
        if "Arn" in attributes:
            self.app.arns[logical_id] = str(attributes["Arn"])

    # the build

    def build(self) -> LocalApp:
        resources: dict[str, Any] = self.template.get("Resources") or {}
        for logical_id, resource in resources.items():
            if resource.get("Type") == "AWS::Serverless::HttpApi":
                self._http_apis.add(logical_id)
        kept = {
            logical_id: resource
            for logical_id, resource in resources.items()
            if "Condition" not in resource or self.resolver.condition(str(resource["Condition"]))
        }
        creators: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "AWS::Serverless::Function": self._function,
            "AWS::Serverless::LayerVersion": self._layer,
            "AWS::Serverless::StateMachine": self._state_machine,
            "AWS::Serverless::HttpApi": self._http_api,
            "AWS::Serverless::SimpleTable": self._simple_table,
            "AWS::DynamoDB::Table": self._table,
            "AWS::SNS::Topic": self._topic,
            "AWS::SNS::Subscription": self._subscription,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::IAM::Role": self._role,
            "AWS::Events::Rule": self._events_rule,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::SQS::Queue": self._queue,
            "AWS::IAM::ManagedPolicy": self._managed_policy,
        }
        for logical_id in creation_order(kept):
            resource = kept[logical_id]
            kind = str(resource.get("Type"))
            creator = creators.get(kind)
            if creator is None:
                # Connectors, permissions, alarms...: not created here. What connectors grant
                # is read from the SAM transform (_rights). Refs to them still resolve.
                self.app.skipped[logical_id] = kind
                self._record(
                    logical_id,
                    logical_id,
                    Arn=f"arn:aws:local:{REGION}:{ACCOUNT_ID}:{logical_id}",
                )
                log.debug("not emulated: %s (%s)", logical_id, kind)
                continue
            creator(logical_id, resource)
        self._rights()
        for name, output in (self.template.get("Outputs") or {}).items():
            if "Condition" in output and not self.resolver.condition(str(output["Condition"])):
                continue
            self.app.outputs[str(name)] = self.resolve(output.get("Value"))
        return self.app

    def _rights(self) -> None:
        """Each role's policies as the deployed stack would have them (see rights/roles.py)."""
        transformed = sam_transform(self.template_path)
        self.app.principals = principal_roles(transformed)
        self.app.roles = compile_roles(transformed, self.resolve)
        check_managed_policy_quota(self.app.roles.values())

    def _properties(self, resource: dict[str, Any]) -> dict[str, Any]:
        properties = self.resolve(resource.get("Properties") or {})
        assert isinstance(properties, dict)
        return properties

    def _default_name(self, logical_id: str) -> str:
        return _short(f"{self.stack_name}-{logical_id}")

    def _execution_role(self, logical_id: str, service: str) -> str:
        # The role SAM generates as <LogicalId>Role. Its policies (SAM policy templates,
        # connectors) come from the SAM transform and are enforced by rights/, not moto.
        iam = self.clients("iam")
        name = _short(f"{self.stack_name}-{logical_id}Role")
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=_assume_role_policy(service))
        arn = str(role["Role"]["Arn"])
        self._record(f"{logical_id}Role", name, Arn=arn)
        return arn

    def _role(self, logical_id: str, resource: dict[str, Any]) -> None:
        properties = self._properties(resource)
        iam = self.clients("iam")
        name = str(properties.get("RoleName") or self._default_name(logical_id))
        document = properties.get("AssumeRolePolicyDocument") or {}
        role = iam.create_role(
            RoleName=name,
            Path=str(properties.get("Path", "/")),
            AssumeRolePolicyDocument=document
            if isinstance(document, str)
            else json.dumps(document),
        )
        for policy in properties.get("Policies") or []:
            iam.put_role_policy(
                RoleName=name,
                PolicyName=str(policy["PolicyName"]),
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )
        self._record(logical_id, name, Arn=role["Role"]["Arn"], RoleId=role["Role"]["RoleId"])

    def _layer(self, logical_id: str, resource: dict[str, Any]) -> None:
        properties = self._properties(resource)
        name = str(properties.get("LayerName") or logical_id)
        published = self.clients("lambda").publish_layer_version(
            LayerName=name,
            Description=str(properties.get("Description", "")),
            Content={"ZipFile": self._code},
            CompatibleRuntimes=[str(r) for r in properties.get("CompatibleRuntimes") or []],
        )
        arn = str(published["LayerVersionArn"])
        self._record(logical_id, arn, Arn=arn)
        content = properties.get("ContentUri")
        if isinstance(content, str):
            self._attributes[(logical_id, "_ContentDir")] = (self.root / content).resolve()

    def _function(self, logical_id: str, resource: dict[str, Any]) -> None:
        properties = self._properties(resource)
        name = str(properties.get("FunctionName") or self._default_name(logical_id))
        code_uri = properties.get("CodeUri")
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id}: CodeUri must be a local directory")
        handler = str(properties.get("Handler", "app.lambda_handler"))
        variables = (properties.get("Environment") or {}).get("Variables") or {}
        environment = {str(k): _env_text(v) for k, v in variables.items()}
        role = str(
            properties.get("Role") or self._execution_role(logical_id, "lambda.amazonaws.com")
        )
        layers = [str(layer) for layer in properties.get("Layers") or []]
        timeout = int(properties.get("Timeout", 3))
        memory = int(properties.get("MemorySize", 128))
        request: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": str(properties.get("Runtime", "python3.13")),
            "Role": role,
            "Handler": handler,
            "Code": {"ZipFile": self._code},
            "Timeout": timeout,
            "MemorySize": memory,
            "Environment": {"Variables": environment},
            "Architectures": [str(a) for a in properties.get("Architectures") or ["x86_64"]],
            "Layers": layers,
            "Tags": {
                "lambda:createdBy": "SAM",
                **{t["Key"]: t["Value"] for t in _tags_list(properties.get("Tags"))},
            },
        }
        if "Description" in properties:
            request["Description"] = str(properties["Description"])
        if properties.get("Tracing"):
            request["TracingConfig"] = {"Mode": str(properties["Tracing"])}
        if properties.get("LoggingConfig"):
            request["LoggingConfig"] = properties["LoggingConfig"]
        vpc = properties.get("VpcConfig") or {}
        if vpc.get("SubnetIds"):
            request["VpcConfig"] = {
                "SubnetIds": [str(s) for s in vpc["SubnetIds"]],
                "SecurityGroupIds": [str(s) for s in vpc.get("SecurityGroupIds") or []],
            }
        created = self.clients("lambda").create_function(**request)
        arn = str(created["FunctionArn"])
        self._record(logical_id, name, Arn=arn)
        layer_dirs = tuple(
            path
            for layer in layers
            for (owner, attribute), path in self._attributes.items()
            if attribute == "_ContentDir" and self.app.refs.get(owner) == layer
        )
        self.app.functions[logical_id] = LocalFunction(
            logical_id=logical_id,
            name=name,
            arn=arn,
            code_dir=(self.root / code_uri).resolve(),
            handler=handler,
            environment=environment,
            timeout=timeout,
            memory_size=memory,
            layer_dirs=layer_dirs,
            event_invoke_config=properties.get("EventInvokeConfig"),
        )
        for event_name, event in (properties.get("Events") or {}).items():
            self._function_event(logical_id, arn, str(event_name), event)

    def _function_event(self, logical_id: str, arn: str, event_name: str, event: Any) -> None:
        kind = str(event.get("Type", ""))
        properties = event.get("Properties") or {}
        if kind in ("EventBridgeRule", "CloudWatchEvent"):
            target = properties.get("Target") or {}
            self._put_rule(
                owner=logical_id,
                generated_id=f"{logical_id}{event_name}",
                name=str(
                    properties.get("RuleName") or self._default_name(f"{logical_id}{event_name}")
                ),
                bus=str(properties.get("EventBusName", "default")),
                pattern=properties.get("Pattern") or {},
                state=str(properties.get("State", "ENABLED")),
                target={
                    "Id": str(target.get("Id") or f"{logical_id}{event_name}LambdaTarget"),
                    "Arn": arn,
                    **{
                        k: properties[k]
                        for k in ("Input", "InputPath", "RetryPolicy", "DeadLetterConfig")
                        if k in properties
                    },
                },
            )
        elif kind == "Schedule":
            # SAM's Schedule event: a scheduled rule on the default bus; Enabled (a boolean)
            # or State says whether it fires.
            enabled = properties.get("Enabled")
            state = properties.get("State") or (
                "ENABLED" if enabled is None or _flag(enabled) else "DISABLED"
            )
            self._put_rule(
                owner=logical_id,
                generated_id=f"{logical_id}{event_name}",
                name=str(properties.get("Name") or self._default_name(f"{logical_id}{event_name}")),
                bus="default",
                pattern={},
                schedule=str(properties.get("Schedule")),
                state=str(state),
                target={
                    "Id": f"{logical_id}{event_name}LambdaTarget",
                    "Arn": arn,
                    **{
                        k: properties[k]
                        for k in ("Input", "RetryPolicy", "DeadLetterConfig")
                        if k in properties
                    },
                },
            )
        elif kind == "HttpApi":
            method = str(properties.get("Method", "ANY")).upper()
            path = str(properties.get("Path", "$default"))
            method = "ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method
            self.app.routes.append(HttpRoute(method=method, path=path, function=logical_id))
        else:
            log.debug("event source not emulated: %s.%s (%s)", logical_id, event_name, kind)

    def _put_rule(
        self,
        *,
        owner: str,
        generated_id: str,
        name: str,
        bus: str,
        pattern: dict[str, Any],
        state: str,
        target: dict[str, Any],
        schedule: str | None = None,
    ) -> None:
        events = self.clients("events")
        rule = events.put_rule(
            Name=_short(name), EventBusName=bus, State=state, **_rule_trigger(pattern, schedule)
        )
        events.put_targets(Rule=_short(name), EventBusName=bus, Targets=[target])
        self.app.rules.append(
            LocalRule(
                name=_short(name),
                event_bus=bus,
                pattern=pattern,
                target_arn=str(target["Arn"]),
                owner=owner,
                schedule=schedule,
            )
        )
        # SAM's generated AWS::Events::Rule, which other resources may refer to.
        self._record(generated_id, _short(name), Arn=rule["RuleArn"])

    def _events_rule(self, logical_id: str, resource: dict[str, Any]) -> None:
        properties = self._properties(resource)
        name = str(properties.get("Name") or self._default_name(logical_id))
        bus = str(properties.get("EventBusName", "default"))
        events = self.clients("events")
        schedule = properties.get("ScheduleExpression")
        rule = events.put_rule(
            Name=name,
            EventBusName=bus,
            State=str(properties.get("State", "ENABLED")),
            **_rule_trigger(properties.get("EventPattern") or {}, schedule),
        )
        targets = properties.get("Targets") or []
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        for target in targets:
            self.app.rules.append(
                LocalRule(
                    name=name,
                    event_bus=bus,
                    pattern=properties.get("EventPattern") or {},
                    target_arn=str(target["Arn"]),
                    owner=logical_id,
                    schedule=str(schedule) if schedule else None,
                )
            )
        self._record(logical_id, name, Arn=rule["RuleArn"])

    def _state_machine(self, logical_id: str, resource: dict[str, Any]) -> None:
        properties = self._properties(resource)
        name = str(properties.get("Name") or self._default_name(logical_id))
        if "DefinitionUri" in properties:
            uri = properties["DefinitionUri"]
            if not isinstance(uri, str):
                raise TemplateError(f"{logical_id}: DefinitionUri must be a local file")
            definition = (self.root / uri).read_text(encoding="utf-8")
        else:
            definition = json.dumps(properties.get("Definition") or {})
        for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + str(key) + "}", _env_text(value))
        role = str(
            properties.get("Role") or self._execution_role(logical_id, "states.amazonaws.com")
        )
        request: dict[str, Any] = {
            "name": name,
            "definition": definition,
            "roleArn": role,
            "type": str(properties.get("Type", "STANDARD")),
        }
        tracing = properties.get("Tracing") or {}
        if "Enabled" in tracing:
            request["tracingConfiguration"] = {"enabled": _flag(tracing["Enabled"])}
        tags = _tags_list(properties.get("Tags"))
        if tags:
            request["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in tags]
        logging_config = properties.get("Logging") or {}
        if logging_config:
            request["loggingConfiguration"] = {
                "level": str(logging_config.get("Level", "OFF")),
                "includeExecutionData": _flag(logging_config.get("IncludeExecutionData")),
                "destinations": [
                    {
                        "cloudWatchLogsLogGroup": {
                            "logGroupArn": str(
                                (d.get("CloudWatchLogsLogGroup") or {}).get("LogGroupArn", "")
                            )
                        }
                    }
                    for d in logging_config.get("Destinations") or []
                ],
            }
        created = self.clients("stepfunctions").create_state_machine(**request)
        arn = str(created["stateMachineArn"])
        self._record(logical_id, arn, Arn=arn, Name=name)
        self.app.state_machines[logical_id] = arn
        for event_name, event in (properties.get("Events") or {}).items():
            if str(event.get("Type")) in ("EventBridgeRule", "CloudWatchEvent"):
                event_properties = event.get("Properties") or {}
                self._put_rule(
                    owner=logical_id,
                    generated_id=f"{logical_id}{event_name}",
                    name=str(
                        event_properties.get("RuleName")
                        or self._default_name(f"{logical_id}{event_name}")
                    ),
                    bus=str(event_properties.get("EventBusName", "default")),
                    pattern=event_properties.get("Pattern") or {},
                    state=str(event_properties.get("State", "ENABLED")),
                    target={"Id": f"{logical_id}{event_name}StepFunctionsTarget", "Arn": arn},
                )

    def _http_api(self, logical_id: str, resource: dict[str, Any]) -> None:
        # Served by the local server itself, at the base URL.
        self._record(logical_id, self.app.base_url, ApiEndpoint=self.app.base_url)

    def _table(self, logical_id: str, resource: dict[str, Any]) -> None:
        properties = self._properties(resource)
        name = str(properties.get("TableName") or self._default_name(logical_id))
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": properties["KeySchema"],
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "BillingMode": str(properties.get("BillingMode", "PROVISIONED")),
        }
        for key in ("ProvisionedThroughput", "GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if key in properties:
                request[key] = properties[key]
        if request["BillingMode"] == "PROVISIONED" and "ProvisionedThroughput" not in request:
            raise TemplateError(f"{logical_id}: PROVISIONED tables need ProvisionedThroughput")
        stream = properties.get("StreamSpecification")
        if stream:
            request["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": stream["StreamViewType"],
            }
        sse = properties.get("SSESpecification")
        if sse:
            request["SSESpecification"] = {
                "Enabled": _flag(sse.get("SSEEnabled")),
                **{k: sse[k] for k in ("SSEType", "KMSMasterKeyId") if k in sse},
            }
        tags = _tags_list(properties.get("Tags"))
        if tags:
            request["Tags"] = tags
        if "DeletionProtectionEnabled" in properties:
            request["DeletionProtectionEnabled"] = _flag(properties["DeletionProtectionEnabled"])
        dynamodb = self.clients("dynamodb")
        table = dynamodb.create_table(**request)["TableDescription"]
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and _flag(ttl.get("Enabled")):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={
                    "Enabled": True,
                    "AttributeName": str(ttl["AttributeName"]),
                },
            )
        recovery = properties.get("PointInTimeRecoverySpecification") or {}
        if _flag(recovery.get("PointInTimeRecoveryEnabled")):
            dynamodb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
        attributes = {"Arn": table["TableArn"]}
        if "LatestStreamArn" in table:
            attributes["StreamArn"] = table["LatestStreamArn"]
        self._record(logical_id, name, **attributes)

    def _simple_table(self, logical_id: str, resource: dict[str, Any]) -> None:
        properties = self._properties(resource)
        key = properties.get("PrimaryKey") or {"Name": "id", "Type": "String"}
        kind = {"String": "S", "Number": "N", "Binary": "B"}[str(key.get("Type", "String"))]
        table: dict[str, Any] = {
            "TableName": properties.get("TableName") or self._default_name(logical_id),
            "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": kind}],
        }
        if "ProvisionedThroughput" in properties:
            table["BillingMode"] = "PROVISIONED"
            table["ProvisionedThroughput"] = {
                "ReadCapacityUnits": properties["ProvisionedThroughput"]["ReadCapacityUnits"],
                "WriteCapacityUnits": properties["ProvisionedThroughput"]["WriteCapacityUnits"],
            }
        else:
            table["BillingMode"] = "PAY_PER_REQUEST"
        self._table(logical_id, {"Properties": table})

    def _topic(self, logical_id: str, resource: dict[str, Any]) -> None:
        properties = self._properties(resource)
        name = str(properties.get("TopicName") or self._default_name(logical_id))
        if _flag(properties.get("FifoTopic")) and not name.endswith(".fifo"):
            name += ".fifo"
        attributes: dict[str, str] = {}
        for key in ("FifoTopic", "ContentBasedDeduplication", "KmsMasterKeyId", "DisplayName"):
            if key in properties:
                attributes[key] = _env_text(properties[key])
        sns = self.clients("sns")
        request: dict[str, Any] = {"Name": name, "Attributes": attributes}
        tags = _tags_list(properties.get("Tags"))
        if tags:
            request["Tags"] = tags
        arn = str(sns.create_topic(**request)["TopicArn"])
        for subscription in properties.get("Subscription") or []:
            sns.subscribe(
                TopicArn=arn,
                Protocol=str(subscription["Protocol"]),
                Endpoint=str(subscription["Endpoint"]),
            )
        self._record(logical_id, arn, TopicArn=arn, TopicName=name, Arn=arn)

    def _subscription(self, logical_id: str, resource: dict[str, Any]) -> None:
        properties = self._properties(resource)
        created = self.clients("sns").subscribe(
            TopicArn=str(properties["TopicArn"]),
            Protocol=str(properties["Protocol"]),
            Endpoint=str(properties["Endpoint"]),
            ReturnSubscriptionArn=True,
        )
        self._record(logical_id, created["SubscriptionArn"])

    def _secret(self, logical_id: str, resource: dict[str, Any]) -> None:
        properties = self._properties(resource)
        name = str(properties.get("Name") or self._default_name(logical_id))
        if "SecretString" in properties:
            value = str(properties["SecretString"])
        else:
            value = generate_secret_string(properties.get("GenerateSecretString") or {})
        request: dict[str, Any] = {"Name": name, "SecretString": value}
        if "Description" in properties:
            request["Description"] = str(properties["Description"])
        tags = _tags_list(properties.get("Tags"))
        if tags:
            request["Tags"] = tags
        arn = str(self.clients("secretsmanager").create_secret(**request)["ARN"])
        self._record(logical_id, arn, Id=arn)

    def _log_group(self, logical_id: str, resource: dict[str, Any]) -> None:
        properties = self._properties(resource)
        name = str(properties.get("LogGroupName") or self._default_name(logical_id))
        logs = self.clients("logs")
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in properties:
            logs.put_retention_policy(
                logGroupName=name, retentionInDays=int(properties["RetentionInDays"])
            )
        self._record(logical_id, name, Arn=f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}:*")

    def _queue(self, logical_id: str, resource: dict[str, Any]) -> None:
        properties = self._properties(resource)
        name = str(properties.get("QueueName") or self._default_name(logical_id))
        if _flag(properties.get("FifoQueue")) and not name.endswith(".fifo"):
            name += ".fifo"
        attributes = {
            key: _env_text(value)
            for key, value in properties.items()
            if key not in ("QueueName", "Tags") and not isinstance(value, dict)
        }
        if "RedrivePolicy" in properties:
            attributes["RedrivePolicy"] = json.dumps(properties["RedrivePolicy"])
        sqs = self.clients("sqs")
        url = str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
        self._record(logical_id, url, Arn=arn, QueueName=name, QueueUrl=url)

    def _managed_policy(self, logical_id: str, resource: dict[str, Any]) -> None:
        properties = self._properties(resource)
        name = str(properties.get("ManagedPolicyName") or self._default_name(logical_id))
        policy = self.clients("iam").create_policy(
            PolicyName=name,
            Path=str(properties.get("Path", "/")),
            PolicyDocument=json.dumps(properties["PolicyDocument"]),
            Description=str(properties.get("Description", "")),
        )
        arn = str(policy["Policy"]["Arn"])
        self._record(logical_id, arn, PolicyArn=arn)


def _env_text(value: Any) -> str:
    if value is NO_VALUE:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_env_text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def create_app(
    template_path: Path,
    clients: ClientFactory,
    base_url: str,
    parameter_overrides: dict[str, Any] | None = None,
    stack_name: str = STACK_NAME,
) -> LocalApp:
    """Create every resource of the template in the emulated account; what was made."""
    return AppBuilder(template_path, clients, base_url, parameter_overrides, stack_name).build()


def match_route(
    routes: Iterable[HttpRoute], method: str, path: str
) -> tuple[HttpRoute, dict[str, str]] | None:
    """The route API Gateway would pick for a request, with its path parameters.

    Most specific first, as HTTP APIs do: exact paths, then parameter paths, then greedy
    ``{proxy+}`` paths, then ``$default``.
    """
    candidates: list[tuple[int, int, HttpRoute, dict[str, str]]] = []
    for route in routes:
        if route.method not in ("ANY", method.upper()):
            continue
        if route.path == "$default":
            candidates.append((3, 0, route, {}))
            continue
        parameters = _match_path(route.path, path)
        if parameters is None:
            continue
        greedy = any(p.endswith("+}") for p in route.path.split("/"))
        rank = 2 if greedy else (1 if parameters else 0)
        # An explicit method beats ANY at the same specificity.
        candidates.append((rank, 1 if route.method == "ANY" else 0, route, parameters))
    if not candidates:
        return None
    candidates.sort(key=lambda c: (c[0], c[1], -len(c[2].path)))
    _, _, route, parameters = candidates[0]
    return route, parameters


def _match_path(template: str, path: str) -> dict[str, str] | None:
    if not template.strip("/"):
        return {} if not path.strip("/") else None
    pattern_parts: list[str] = []
    names: list[str] = []
    for segment in template.strip("/").split("/"):
        match = re.fullmatch(r"\{([^}+]+)(\+?)\}", segment)
        if match:
            names.append(match.group(1))
            pattern_parts.append("(.+)" if match.group(2) else "([^/]+)")
        else:
            pattern_parts.append(re.escape(segment))
    found = re.fullmatch("/" + "/".join(pattern_parts), "/" + path.strip("/"))
    if found is None:
        return None
    return dict(zip(names, found.groups(), strict=True))
