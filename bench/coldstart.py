"""Cold start of each handler as deployed, beside its floor: boto3 and the same clients alone.

What is measured is the `sam build` output, laid out as Lambda loads it: the function's own
directory (.aws-sam/build/<Function>/, Lambda's /var/task) first on the path, then the built
layer's python/ directory (/opt/python), then boto3 as the runtime provides it, with its
bytecode. The interpreter is python3.13, the runtime's, when there is one (the layer's
bytecode is for it); nothing writes bytecode while measuring (/var/task and /opt are
read-only on Lambda). The layer's native extensions are built for arm64: on another machine,
the same distributions at the same versions, built for this machine, stand in for them
(and only for them).

Each sample is a fresh interpreter, like a cold start, with ``AWS_LAMBDA_FUNCTION_NAME`` and
``LAMBDA_TASK_ROOT`` set, the variables the template's Globals give every function, and the
function's own environment variables at placeholder values.
Three phases are timed, one after the other:

- import: the handler module, everything it imports at module level;
- init: what its first invocation does before its step logic: read its settings, build its
  adapters through ``bluegreen.wiring`` (which creates the AWS clients);
- validate: the first validation of its input model on a sample event.

The floor is a fresh interpreter of the same kind importing boto3 and creating the same
clients: what any Python Lambda making these calls pays. Both get the same flags and the
function's own directory first on the path (Lambda's /var/task, whatever it holds); only the
handler has the layer. Handler and floor samples alternate, so machine noise hits both alike.
A handler that creates no client (the probe: plain HTTP) imports no boto3 either, so it has
no floor to compare with: its cold start is reported alone. Nothing here calls AWS.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"

STATE = "bluegreen.models:DeploymentState"


@dataclass(frozen=True)
class Handler:
    """What one handler's cold start does, as the bench reproduces it."""

    clients: list[str]  # the AWS clients it creates, in order (the floor creates the same)
    init: list[str]  # expressions evaluated in the handler module's namespace
    validate: list[tuple[str, str]] = field(default_factory=lambda: [(STATE, "state")])
    env: dict[str, str] = field(default_factory=dict)


_TABLE = {"TABLE_NAME": "bluegreen-state"}
_ARN = "arn:aws:{}:us-east-1:123456789012:{}"
# The configuration the trigger validates at its cold start: one service, as an installation
# keeps it in its SSM parameter.
_SERVICES = """
[services.checkout]
repository = "checkout"
cluster = "prod"
service = "checkout"
container = "app"
container_port = 8080
codedeploy_application = "checkout"
deployment_group = "checkout-prod"
approvers = ["release-managers@example.com"]
test_url = "https://checkout-test.example.com:8443/health"
"""

HANDLERS: dict[str, Handler] = {
    "trigger": Handler(
        ["ssm", "ecr", "stepfunctions"],
        # catalog() reads the SSM parameter: the bench creates its client and validates the
        # same kind of document, without the call. A push it starts: ECR confirms the image.
        [
            "wiring.parameters()",
            f"ServiceCatalog.parse({_SERVICES!r}, 'bench')",
            "wiring.images()",
            "wiring.executions()",
        ],
        [("bluegreen.push:EcrPushEvent", "ecr_push")],
        {
            "STATE_MACHINE_ARN": _ARN.format("states", "stateMachine:bluegreen-deploy"),
            "SERVICES_PARAMETER_NAME": "/bluegreen/services",
        },
    ),
    "admit": Handler(
        ["dynamodb", "stepfunctions"],
        ["wiring.state_table()", "wiring.task_callbacks()"],
        env=_TABLE,
    ),
    "render": Handler(["ecs"], ["wiring.task_definitions()"]),
    "request_approval": Handler(
        ["dynamodb", "secretsmanager", "ses"],
        [
            "load(ApprovalRequestSettings)",
            "wiring.state_table()",
            "wiring.secrets()",
            "wiring.mailer(load(ApprovalRequestSettings).SENDER_EMAIL)",
        ],
        [("bluegreen.models:ApprovalTask", "approval_task")],
        {
            **_TABLE,
            "APPROVAL_BASE_URL": "https://approvals.example.com",
            "SIGNING_SECRET_ARN": _ARN.format("secretsmanager", "secret:bluegreen/signing"),
            "SLACK_BOT_TOKEN_SECRET_NAME": "bluegreen/slack-bot-token",
            "SENDER_EMAIL": "bluegreen@example.com",
        },
    ),
    # Its first request is the GET of a link from the email: the signing key and the
    # request's record. Step Functions is called only by the POST that follows.
    "approval_api": Handler(
        ["secretsmanager", "dynamodb"],
        ["load(ApprovalApiSettings)", "wiring.secrets()", "wiring.state_table()"],
        [("bluegreen.domain.approval:LinkParams", "link_params")],
        {**_TABLE, "SIGNING_SECRET_ARN": _ARN.format("secretsmanager", "secret:bluegreen/signing")},
    ),
    "take_turn": Handler(
        ["dynamodb", "stepfunctions", "lambda"],
        [
            "wiring.state_table()",
            "wiring.task_callbacks()",
            "wiring.execution_statuses('arn:aws:states:us-east-1:123456789012:stateMachine:x')",
            "wiring.recovery()",
        ],
        [("bluegreen.models:TurnTask", "turn_task")],
        {**_TABLE, "JANITOR_FUNCTION_NAME": "bluegreen-janitor"},
    ),
    "suspend_scaling": Handler(
        ["application-autoscaling", "dynamodb"],
        ["wiring.scalable_targets()", "wiring.state_table()"],
        env=_TABLE,
    ),
    "create_deployment": Handler(["codedeploy"], ["wiring.deployments()"]),
    "check_deployment": Handler(["codedeploy"], ["wiring.deployments()"]),
    "start_rollout": Handler(
        ["ecs", "dynamodb"], ["wiring.ecs_services()", "wiring.state_table()"], env=_TABLE
    ),
    "check_rollout": Handler(["ecs"], ["wiring.ecs_services()"]),
    "probe_test_listener": Handler([], []),
    "continue_deployment": Handler(["codedeploy"], ["wiring.deployments()"]),
    "rollback": Handler(["codedeploy"], ["wiring.deployments()"]),
    "resume_scaling": Handler(
        ["application-autoscaling", "dynamodb", "stepfunctions"],
        ["wiring.scalable_targets()", "wiring.state_table()", "wiring.task_callbacks()"],
        env=_TABLE,
    ),
    "notify": Handler(
        ["sns", "secretsmanager", "dynamodb", "ses"],
        [
            "load(NotifySettings)",
            "wiring.topic(load(NotifySettings).TOPIC_ARN)",
            "wiring.secrets()",
            "wiring.state_table()",
            "wiring.mailer(load(NotifySettings).SENDER_EMAIL)",
        ],
        env={
            **_TABLE,
            "TOPIC_ARN": _ARN.format("sns", "bluegreen-notifications"),
            "SLACK_BOT_TOKEN_SECRET_NAME": "bluegreen/slack-bot-token",
            "SENDER_EMAIL": "bluegreen@example.com",
        },
    ),
    # A success in an environment with a next one: the record, the configuration as it is
    # now (read and validated, without the call) and the next environment's execution.
    "promote": Handler(
        ["dynamodb", "ssm", "stepfunctions"],
        [
            "wiring.state_table()",
            "wiring.parameters()",
            f"ServiceCatalog.parse({_SERVICES!r}, 'bench')",
            "wiring.executions()",
        ],
        env={
            **_TABLE,
            "STATE_MACHINE_ARN": _ARN.format("states", "stateMachine:bluegreen-deploy"),
            "SERVICES_PARAMETER_NAME": "/bluegreen/services",
        },
    ),
    "janitor": Handler(
        ["codedeploy", "application-autoscaling", "dynamodb", "stepfunctions"],
        [
            "wiring.deployments()",
            "wiring.scalable_targets()",
            "wiring.state_table()",
            "wiring.task_callbacks()",
        ],
        [(STATE, "janitor_input")],
        _TABLE,
    ),
}


def globals_environment(root: Path = ROOT) -> dict[str, str]:
    """The environment variables template.yaml's Globals give every function."""
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((root / "template.yaml").read_text(encoding="utf-8"))
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    return {name: value for name, value in variables.items() if isinstance(value, str)}


def samples() -> dict[str, Any]:
    """Input documents, shaped like the sample events (a late state: every section filled)."""
    push = json.loads((EVENTS / "ecr-push.json").read_text(encoding="utf-8"))
    aborted = json.loads((EVENTS / "janitor-execution-aborted.json").read_text(encoding="utf-8"))
    link = json.loads((EVENTS / "approval-get.json").read_text(encoding="utf-8"))
    started = json.loads(aborted["detail"]["input"])
    at = "2026-03-02T09:31:00Z"
    image = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-web@{started['image']['digest']}"
    task_definition = _ARN.format("ecs", "task-definition/web:{}")
    state = {
        **started,
        "render": {
            "previous_task_definition": task_definition.format(1),
            "task_definition": task_definition.format(2),
            "previous_image": image,
            "changes": [
                {"path": "containerDefinitions[web].image", "before": image, "after": image}
            ],
        },
        "approval": {"decision": "approved", "approver": "approver@example.com", "decided_at": at},
        "scaling": {"resource_id": "service/demo/web", "registered": True, "suspended_at": at},
        "deployment": {
            "deployment_id": "d-ABCDEF123",
            "status": "Ready",
            "polls": 3,
            "ready": True,
            "created_at": at,
            "ready_at": at,
        },
        "probe": {
            "attempts": 3,
            "consecutive_passes": 3,
            "healthy": True,
            "last_status": 200,
            "last_detail": "GET http://127.0.0.1:18081/health -> 200 in 3 ms",
            "started_at": at,
        },
    }
    return {
        "state": state,
        "janitor_input": started,
        "approval_task": {"state": state, "task_token": "AAAA" * 64},
        "turn_task": {
            "state": state,
            "task_token": "AAAA" * 64,
            "execution_arn": _ARN.format(
                "states", f"execution:bluegreen-deploy:{state['execution_name']}"
            ),
        },
        "ecr_push": push,
        "link_params": link["queryStringParameters"],
    }


# Both scripts put the deployed layout first on the path (argv[1]: a JSON list of directories)
# and report their peak memory with this, run before them. On Linux, getrusage's ru_maxrss
# survives fork and exec, so each sample would report the bench's own peak: VmHWM is theirs.
_PEAK = """
def peak_mb():
    try:
        with open("/proc/self/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

_HANDLER = """
import sys
sys.path[:0] = __import__("json").loads(sys.argv[1])
import importlib, importlib.util, json, time
spec = json.loads(sys.argv[3])
documents = json.loads(sys.argv[4])
t0 = time.perf_counter()
app = importlib.util.spec_from_file_location("app", sys.argv[2])
module = importlib.util.module_from_spec(app); app.loader.exec_module(module)
t1 = time.perf_counter()
for expression in spec["init"]:
    eval(expression, vars(module))
t2 = time.perf_counter()
for path, document in spec["validate"]:
    name, _, attribute = path.partition(":")
    getattr(importlib.import_module(name), attribute).model_validate(documents[document])
t3 = time.perf_counter()
print(json.dumps({"ms": (t3 - t0) * 1000, "import_ms": (t1 - t0) * 1000,
                  "init_ms": (t2 - t1) * 1000, "validate_ms": (t3 - t2) * 1000,
                  "rss_mb": peak_mb()}))
"""

_FLOOR = """
import sys
sys.path[:0] = __import__("json").loads(sys.argv[1])
import json, time
t0 = time.perf_counter()
import boto3
clients = [boto3.client(s) for s in json.loads(sys.argv[3])["clients"]]
t1 = time.perf_counter()
print(json.dumps({"ms": (t1 - t0) * 1000, "rss_mb": peak_mb()}))
"""

TARGET_RATIO = 1.25  # each handler's cold start within 1.25x of its floor


@dataclass(frozen=True)
class ColdStart:
    handler: str
    clients: list[str]
    import_ms: float
    init_ms: float
    validate_ms: float
    total_ms: float  # import + init + validate, the median of whole samples
    floor_ms: float | None  # None: the handler creates no AWS client (nor imports boto3)
    rss_mb: float
    floor_rss_mb: float | None

    @property
    def overhead_ms(self) -> float | None:
        return None if self.floor_ms is None else self.total_ms - self.floor_ms

    @property
    def ratio(self) -> float | None:
        return None if self.floor_ms is None else self.total_ms / self.floor_ms


@dataclass(frozen=True)
class Layout:
    """Where a cold start finds its code: the deployed directories, and the interpreter."""

    python: str
    python_version: str  # "3.13"
    build: Path  # .aws-sam/build
    layer: Path  # the built layer's python/ directory (Lambda's /opt/python)
    native: Path | None  # this machine's build of the layer's native extensions, if needed
    runtime: Path  # boto3 as the runtime provides it (with bytecode)

    def function(self, handler: str) -> Path:
        return self.build / logical_id(handler)

    def handler_path(self, handler: str) -> list[str]:
        native = [str(self.native)] if self.native else []
        return [str(self.function(handler)), *native, str(self.layer), str(self.runtime)]

    def floor_path(self, handler: str) -> list[str]:
        return [str(self.function(handler)), str(self.runtime)]

    def describe(self) -> str:
        stand_in = ", native extensions built for this machine" if self.native else ""
        return f"python{self.python_version}, {self.build}{stand_in}"


class NotBuilt(Exception):
    """The `sam build` output is missing."""


def logical_id(handler: str) -> str:
    """functions/probe_test_listener -> ProbeTestListenerFunction (the template's names)."""
    return "".join(part.capitalize() for part in handler.split("_")) + "Function"


def runtime_python() -> tuple[str, str]:
    """The runtime's interpreter (python3.13) when this machine has one, else this one.

    With pyenv, a shim resolves only the versions PYENV_VERSION lists: ask it for 3.13.
    """
    env = dict(os.environ)
    if shutil.which("pyenv"):
        versions = subprocess.run(
            ["pyenv", "versions", "--bare"], capture_output=True, text=True, check=False
        ).stdout.split()
        found = sorted(v for v in versions if v.startswith("3.13"))
        if found:
            env["PYENV_VERSION"] = found[-1]
    if shutil.which("python3.13", path=env.get("PATH")):
        probe = subprocess.run(
            ["python3.13", "-c", "import sys; print(sys.executable)"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip():
            return probe.stdout.strip(), "3.13"
    return sys.executable, f"{sys.version_info.major}.{sys.version_info.minor}"


def _pip_target(python: str, target: Path, requirements: list[str], deps: bool) -> None:
    """Install wheels for ``python`` into ``target`` and compile them as the layer is."""
    scratch = target.with_name(target.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    install = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    options = ["--no-compile", "--only-binary=:all:", "--target", str(scratch)]
    compileall = [python, "-m", "compileall", "-q", "-j", "0"]
    for command in (
        [*install, *options, *([] if deps else ["--no-deps"]), *requirements],
        [*compileall, "--invalidation-mode", "unchecked-hash", str(scratch)],
    ):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:5])} ... failed:\n{done.stderr}")
    scratch.rename(target)


_ELF_MACHINE = {"x86_64": 0x3E, "AMD64": 0x3E, "aarch64": 0xB7, "arm64": 0xB7}


def _loadable(library: Path) -> bool:
    """Whether this machine can load the ELF shared object ``library``."""
    header = library.read_bytes()[:20]
    machine = int.from_bytes(header[18:20], "little")
    return header[:4] == b"\x7fELF" and machine == _ELF_MACHINE.get(platform.machine())


def _foreign_distributions(layer: Path) -> list[str]:
    """``name==version`` of the layer's distributions with extensions this machine cannot load."""
    pins = []
    for record in sorted(layer.glob("*.dist-info/RECORD")):
        files = [line.split(",")[0] for line in record.read_text(encoding="utf-8").splitlines()]
        libraries = [layer / name for name in files if name.endswith(".so")]
        if any(lib.is_file() and not _loadable(lib) for lib in libraries):
            lines = (record.parent / "METADATA").read_text(encoding="utf-8").splitlines()
            fields = dict(line.split(": ", 1) for line in lines if ": " in line)
            pins.append(f"{fields['Name']}=={fields['Version']}")
    return pins


def layout(root: Path = ROOT) -> Layout:
    """The deployed layout of the checkout at ``root``, preparing what this machine lacks
    (once, under .aws-sam/bench/): the runtime's boto3, and native extensions it can load."""
    build = root / ".aws-sam" / "build"
    layer = build / "CommonLayer" / "python"
    if not layer.is_dir():
        raise NotBuilt(f"no {layer}: run `make build` first")
    python, version = runtime_python()
    cache = root / ".aws-sam" / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    # The floor and the handlers import the same boto3: the dev environment's version.
    boto3 = f"boto3=={importlib.metadata.version('boto3')}"
    runtime = cache / f"runtime-{version}-{boto3.replace('==', '-')}"
    if not runtime.is_dir():
        _pip_target(
            python,
            runtime,
            [boto3, f"botocore=={importlib.metadata.version('botocore')}"],
            deps=True,
        )
    native = None
    foreign = _foreign_distributions(layer)
    if foreign:
        key = hashlib.sha256(" ".join([version, platform.machine(), *foreign]).encode())
        native = cache / f"native-{key.hexdigest()[:12]}"
        if not native.is_dir():
            _pip_target(python, native, foreign, deps=False)
    return Layout(python, version, build, layer, native, runtime)


def _sample(
    script: str, handler: str, env: dict[str, str], documents: str, where: Layout, path: list[str]
) -> dict[str, float]:
    h = HANDLERS[handler]
    spec = {"clients": h.clients, "init": h.init, "validate": h.validate}
    app = where.function(handler) / "app.py"
    out = subprocess.run(
        # -I: no PYTHONPATH, user site or current directory; -B: write no bytecode.
        [
            where.python,
            "-I",
            "-B",
            "-c",
            _PEAK + script,
            json.dumps(path),
            str(app),
            json.dumps(spec),
            documents,
        ],
        capture_output=True,
        text=True,
        check=True,
        env={
            **env,
            **h.env,
            "AWS_LAMBDA_FUNCTION_NAME": f"bluegreen-{handler}",
            "LAMBDA_TASK_ROOT": str(where.function(handler)),
        },
        cwd=where.function(handler),
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# The caller's settings of what the sample's own environment decides.
_NOT_INHERITED = ("POWERTOOLS_", "AWS_", "PYDANTIC_")


def measure(runs: int = 7, handlers: list[str] | None = None, root: Path = ROOT) -> list[ColdStart]:
    """Median cold starts of ``handlers`` (all by default) as `sam build` laid them out at
    ``root`` (another checkout's build can be measured: before and after from one harness)."""
    where = layout(root)
    missing = [h for h in handlers or HANDLERS if not where.function(h).is_dir()]
    if missing:
        raise NotBuilt(f"not in {where.build}: {', '.join(logical_id(h) for h in missing)}")
    documents = json.dumps(samples())
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)},
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{where.python_version}",
        **globals_environment(root),
    }
    results = []
    for handler in handlers or list(HANDLERS):
        has_floor = bool(HANDLERS[handler].clients)
        hs, fs = [], []
        for _ in range(runs):  # interleaved, so machine noise hits both alike
            path = where.handler_path(handler)
            hs.append(_sample(_HANDLER, handler, env, documents, where, path))
            if has_floor:
                path = where.floor_path(handler)
                fs.append(_sample(_FLOOR, handler, env, documents, where, path))
        results.append(
            ColdStart(
                handler=handler,
                clients=HANDLERS[handler].clients,
                import_ms=statistics.median(h["import_ms"] for h in hs),
                init_ms=statistics.median(h["init_ms"] for h in hs),
                validate_ms=statistics.median(h["validate_ms"] for h in hs),
                total_ms=statistics.median(h["ms"] for h in hs),
                floor_ms=statistics.median(f["ms"] for f in fs) if fs else None,
                rss_mb=statistics.median(h["rss_mb"] for h in hs),
                floor_rss_mb=statistics.median(f["rss_mb"] for f in fs) if fs else None,
            )
        )
    return results
