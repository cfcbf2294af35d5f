"""At scale: N sample services, P images pushed to each at once, every approval approved.

``python -m bench --scale 20x3``: a local stack starts in this process with N sample targets
(``bluegreen_cli.local.sample.SampleNames``: ``demo-web``, ``demo-web-2``, ...), each its own
repository, cluster and service, ALB, deployment group and configuration entry; the first,
``demo-web``, is a pipeline: development (``demo-dev/web``, ECS's rolling update in account
111111111111, nobody asked) then production, where each success promotes the same digest.
Then, for every service at once, P images (distinct digests and tags) are pushed through ECR
``PutImage``, so ECR sends their events and keeps their push times. An approver approves
every approval request that reaches the outbox the way a person does: GET the emailed link,
POST the page's form. The run ends once no execution runs and no event or asynchronous
invocation is pending, seen twice in a row.

Then everything is read back from AWS (Step Functions, CodeDeploy, ECS, ECR, the load
balancers' production listeners, the state table) and counted: executions started (by what
started them and by environment) and how they ended, deployments done in each environment
(CodeDeploy deployments that succeeded, ECS rollouts that completed), and the safety counts of
``bench/safety.py``, each environment judged apart, which must be 0.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import resource
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bluegreen.adapters.parameters import Parameters
from bluegreen.config import ServiceCatalog
from bluegreen.models import ServiceConfig
from bluegreen_cli import approval_page
from bluegreen_cli.demo import environment_clients
from bluegreen_cli.local.ecr import image_digest
from bluegreen_cli.local.sample import SampleResources, image_manifest
from bluegreen_cli.local.server import LocalStack
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config

from bench import safety
from bench.memory import MemorySampler

# What the functions print stays out of the figures; their errors still reach their log.
QUIET = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
# How often the run looks whether everything has ended.
SETTLE_INTERVAL_SECONDS = 1.0
_MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
_TAG = re.compile(r"\b[0-9a-f]{40}\b")
_ROLLBACK_CREATOR = "codeDeployRollback"


@dataclass(frozen=True)
class Scale:
    services: int
    pushes: int

    @classmethod
    def parse(cls, text: str) -> Scale:
        """``20x3``: 20 services, 3 pushes to each."""
        match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
        if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
            raise ValueError(f"expected SERVICESxPUSHES such as 20x3, got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.services}x{self.pushes}"


@dataclass(frozen=True)
class Push:
    """One image to push: to a service's repository, under a commit-like tag of its own."""

    service: str  # the service configuration's name: the sample's repository
    tag: str
    manifest: str
    order: int  # its place among the service's pushes, 0 first

    @property
    def repository(self) -> str:
        return self.service

    @property
    def digest(self) -> str:
        """The digest ECR gives it: known before the push, so approvals can name it."""
        return image_digest(self.manifest)


def plan(services: list[str], pushes: int) -> list[Push]:
    """P pushes per service; tags stand in for commit SHAs, manifests make distinct digests."""
    planned = []
    for service in services:
        for order in range(pushes):
            tag = hashlib.sha256(f"{service}#{order}".encode()).hexdigest()[:40]
            planned.append(Push(service, tag, image_manifest(f"{service}:{tag}"), order))
    return planned


@dataclass(frozen=True)
class Approval:
    """What the approval page answered for one emailed link."""

    service: str | None
    digest: str | None
    status: int
    submitted: bool  # False: the page offered no form (already decided, closed, superseded)

    @property
    def accepted(self) -> bool:
        return self.submitted and self.status == 200


def image_in(message: dict[str, Any], images: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    """The pushed image an email is about: the first known tag its subject, else its text,
    names (``images``: tag -> (service, digest))."""
    for text in (message.get("subject", ""), message.get("text", "")):
        for tag in _TAG.findall(str(text)):
            if tag in images:
                return images[tag]
    return None


class Approver:
    """Approves every approval request that reaches the outbox, through the approval page."""

    def __init__(
        self,
        endpoint: str,
        images: dict[str, tuple[str, str]],  # tag -> (service, digest)
        *,
        workers: int = 4,
        interval: float = 0.5,
    ) -> None:
        self.endpoint = endpoint
        self.images = images
        self.interval = interval
        self.approvals: list[Approval] = []
        self.failures: list[str] = []
        self._seen: set[str] = set()
        self._pending = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="approver")
        self._thread = threading.Thread(target=self._run, name="approver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=True)

    def idle(self) -> bool:
        """No link waiting to be decided, as of a fresh look at the outbox."""
        self.poll()
        with self._lock:
            return self._pending == 0

    def poll(self) -> None:
        with urllib.request.urlopen(f"{self.endpoint}/_local/outbox", timeout=30) as response:  # noqa: S310 - the local stack
            messages = json.load(response)
        for message in messages:
            if message.get("channel") != "email":
                continue
            for link in message.get("links", []):
                if "/approvals/" not in link:
                    continue
                with self._lock:
                    if link in self._seen:
                        continue
                    self._seen.add(link)
                    self._pending += 1
                self._pool.submit(self._decide, link, image_in(message, self.images))

    def _decide(self, link: str, image: tuple[str, str] | None) -> None:
        try:
            answer = approval_page.decide(link, "approve")
            service, digest = image or (None, None)
            with self._lock:
                self.approvals.append(Approval(service, digest, answer.status, answer.submitted))
        except Exception as e:  # recorded, never fatal: the figures say what happened
            with self._lock:
                self.failures.append(f"{link.split('?')[0]}: {e}")
        finally:
            with self._lock:
                self._pending -= 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except OSError as e:
                with self._lock:
                    self.failures.append(f"outbox: {e}")


@dataclass
class ScaleResult:
    scale: str
    finished: bool  # every execution ended before the deadline
    stack_start_seconds: float  # the stack with its N samples, until ready
    push_seconds: float  # all N x P PutImage calls
    wall_seconds: float  # from the first push until everything ended
    executions_started: int
    executions_by_status: dict[str, int]
    # What started them: "ecr-push" (one per pushed image), "promotion" (an environment's
    # success starting the next one's); and in which environment.
    executions_by_source: dict[str, int]
    executions_by_environment: dict[str, int]
    deployments_done: int  # to production (each service's last environment) that succeeded
    deployments_by_environment: dict[str, int]  # successful deployments, by environment name
    deployments_by_status: dict[str, int]  # CodeDeploy's deployments (rollbacks excluded)
    rollbacks: int  # CodeDeploy's rollback deployments, ECS circuit breakers' rollbacks
    double_deployments: int
    older_over_newer: int
    backwards: int
    stale: int
    locks_held: int
    held_locks: list[str]
    approvals_accepted: int
    approvals_refused: int  # the form was submitted and the page did not answer 200
    approvals_closed: int  # the page offered no form
    approval_errors: list[str]
    lambda_invocations: int
    lambda_errors: int
    cold_starts: int
    state_transitions: int
    functions: dict[str, dict[str, float]]  # per function: invocations, total_ms, cold starts
    cpu_seconds_stack: float  # this process: the local stack (moto) and the drivers
    cpu_seconds_functions: float  # the functions' worker processes
    peak_rss_mb: float  # this process: the local stack and the benchmark's drivers
    peak_total_rss_mb: float  # with the functions' worker processes
    peak_workers: int
    failed_pushes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _Clients:
    def __init__(self, endpoint: str) -> None:
        import boto3

        # Every push goes out at once: the pool must hold them all.
        config = Config(max_pool_connections=128, retries={"mode": "standard"})
        self._session: Any = boto3.session.Session(
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # noqa: S106 - the local stack takes any
            region_name="us-east-1",
        )
        self._endpoint = endpoint
        self._config = config
        self._made: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._made:
            self._made[service] = self._session.client(
                service, endpoint_url=self._endpoint, config=self._config
            )
        return self._made[service]


def _push_all(clients: _Clients, pushes: list[Push], gap: float) -> list[str]:
    """Every push at once (a service's k-th push ``k * gap`` seconds later); what failed."""
    ecr = clients("ecr")
    start = threading.Barrier(len(pushes))

    def push(item: Push) -> None:
        start.wait()
        if gap:
            time.sleep(item.order * gap)
        pushed = ecr.put_image(
            repositoryName=item.repository,
            imageManifest=item.manifest,
            imageManifestMediaType=_MANIFEST_TYPE,
            imageTag=item.tag,
        )
        digest = pushed["image"]["imageId"]["imageDigest"]
        if digest != item.digest:
            raise ValueError(f"ECR named it {digest}, not {item.digest}")

    failures: list[str] = []
    with ThreadPoolExecutor(len(pushes), thread_name_prefix="push") as pool:
        futures = [pool.submit(push, item) for item in pushes]
        for item, future in zip(pushes, futures, strict=True):
            try:
                future.result()
            except Exception as e:
                failures.append(f"{item.repository}:{item.tag[:12]}: {e}")
    return failures


def _state_machine(clients: _Clients) -> str:
    machines = clients("stepfunctions").list_state_machines()["stateMachines"]
    return str(next(m["stateMachineArn"] for m in machines if "deploy" in m["name"]))


def _executions(clients: _Clients, machine: str, status: str | None = None) -> list[dict[str, Any]]:
    pages = clients("stepfunctions").get_paginator("list_executions")
    filters = {"statusFilter": status} if status else {}
    return [
        e for page in pages.paginate(stateMachineArn=machine, **filters) for e in page["executions"]
    ]


def _settle(
    stack: LocalStack, clients: _Clients, machine: str, approver: Approver, deadline: float
) -> bool:
    """Wait until nothing runs or waits to run, seen twice in a row; False at the deadline."""
    calm, last = 0, -1
    while time.monotonic() < deadline:
        started = len(_executions(clients, machine))
        quiet = (
            not _executions(clients, machine, "RUNNING")
            and stack.events.wait_idle(0)
            and stack.async_invocations.wait_idle(0)
            and approver.idle()
        )
        calm = calm + 1 if quiet and started == last else 0
        if calm >= 2:
            return True
        last = started
        time.sleep(SETTLE_INTERVAL_SECONDS)
    return False


def succeed_states_of(clients: Callable[[str], Any], machine: str) -> set[str]:
    described = clients("stepfunctions").describe_state_machine(stateMachineArn=machine)
    states = json.loads(described["definition"]).get("States", {})
    return {name for name, state in states.items() if state.get("Type") == "Succeed"}


def ending_of(clients: Callable[[str], Any], execution_arn: str, succeed_states: set[str]) -> str:
    """How an execution ended: its error name when it failed; SUCCEEDED, with the Succeed
    state it ended in when the state machine has several; else its status."""
    sfn = clients("stepfunctions")
    described = sfn.describe_execution(executionArn=execution_arn)
    status = str(described["status"])
    if status == "FAILED" and described.get("error"):
        return str(described["error"])
    if status != "SUCCEEDED" or len(succeed_states) < 2:
        return status
    ended_in = None
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        for event in page["events"]:
            name = event.get("stateEnteredEventDetails", {}).get("name")
            ended_in = name if name in succeed_states else ended_in
    return f"{status} ({ended_in})" if ended_in else status


def origin_of(clients: Callable[[str], Any], execution_arn: str) -> tuple[str, str]:
    """What started an execution (its input's ``source``) and the environment it deploys to."""
    described = clients("stepfunctions").describe_execution(executionArn=execution_arn)
    try:
        document = json.loads(described.get("input") or "{}")
    except ValueError:
        document = {}
    service = document.get("service") if isinstance(document, dict) else None
    environment = service.get("environment") if isinstance(service, dict) else None
    return str(document.get("source") or "unknown"), str(environment or "unknown")


def _pipelines(stack: LocalStack, clients: _Clients) -> list[list[ServiceConfig]]:
    """Each service's environments, as the installation's configuration lists them."""
    assert stack.app is not None
    name = str(stack.app.outputs["ServicesParameterName"])
    catalog = ServiceCatalog.parse(Parameters(clients("ssm")).text(name), name)
    return [catalog.pipeline(n) for n in dict.fromkeys(s.name for s in catalog.services)]


def _digest_of(image: str | None) -> str | None:
    """The digest of an image reference pinned by digest (``<repository>@sha256:...``)."""
    if not image or "@" not in image:
        return None
    return image.rpartition("@")[2]


def _production_digest(sample: SampleResources) -> str | None:
    """What the service's production listener serves, asked as a client would."""
    try:
        with urllib.request.urlopen(f"{sample.production_url}/", timeout=10) as response:  # noqa: S310 - the local ALB
            return _digest_of(str(json.load(response).get("image")))
    except (OSError, ValueError):
        return None


@dataclass
class _Taken:
    """What the services' environments took, as CodeDeploy and ECS say."""

    done: list[safety.Deployment] = field(default_factory=list)  # successful, every environment
    production: int = 0  # of those, to each service's last environment
    by_environment: Counter[str] = field(default_factory=Counter)
    codedeploy_statuses: Counter[str] = field(default_factory=Counter)
    rollbacks: int = 0


def _deployments(
    stack: LocalStack, clients: _Clients, pipelines: list[list[ServiceConfig]], since: float
) -> _Taken:
    """Each environment's successful deployments, with the digest each put there: CodeDeploy's
    for blue/green, ECS's completed rollouts (begun at ``since`` or later: not the service's
    creation) for rolling. Rollbacks are counted apart."""
    taken = _Taken()
    for pipeline in pipelines:
        for environment in pipeline:
            where = environment_clients(stack.endpoint_url, clients, environment)
            if environment.method == "rolling":
                found = _rolled_out(stack, where, environment, since, taken)
            else:
                found = _deployed(stack, where, environment, taken)
            taken.done += found
            taken.by_environment[environment.environment] += len(found)
            if environment is pipeline[-1]:
                taken.production += len(found)
    return taken


def _deployed(
    stack: LocalStack, clients: Callable[[str], Any], environment: ServiceConfig, taken: _Taken
) -> list[safety.Deployment]:
    codedeploy, ecs = clients("codedeploy"), clients("ecs")
    target = environment.bluegreen
    ids = [
        i
        for page in codedeploy.get_paginator("list_deployments").paginate(
            applicationName=target.application, deploymentGroupName=target.group
        )
        for i in page["deployments"]
    ]
    done: list[safety.Deployment] = []
    for chunk in range(0, len(ids), 25):
        found = codedeploy.batch_get_deployments(deploymentIds=ids[chunk : chunk + 25])
        for info in found["deploymentsInfo"]:
            if info.get("creator") == _ROLLBACK_CREATOR:
                taken.rollbacks += 1
                continue
            taken.codedeploy_statuses[str(info["status"])] += 1
            if info["status"] != "Succeeded":
                continue
            arn = stack.codedeploy.deployed_task_definition(info["deploymentId"])
            digest = _image_digest(ecs, arn)
            if digest is None:
                continue
            done.append(
                safety.Deployment(
                    service=environment.repository,
                    digest=digest,
                    completed_at=_epoch(info.get("completeTime") or info["createTime"]),
                    created_at=_epoch(info["createTime"]),
                    deployment_id=str(info["deploymentId"]),
                    environment=environment.environment,
                )
            )
    return done


def _rolled_out(
    stack: LocalStack,
    clients: Callable[[str], Any],
    environment: ServiceConfig,
    since: float,
    taken: _Taken,
) -> list[safety.Deployment]:
    account = environment.account or str(clients("sts").get_caller_identity()["Account"])
    region = environment.region or "us-east-1"
    completed = stack.rollouts.completed(account, region, environment.cluster, environment.service)
    ecs = clients("ecs")
    done: list[safety.Deployment] = []
    for rollout in completed:
        if rollout.started_at < since:
            continue
        if rollout.rollback:
            taken.rollbacks += 1
            continue
        digest = _image_digest(ecs, rollout.task_definition)
        if digest is None:
            continue
        done.append(
            safety.Deployment(
                service=environment.repository,
                digest=digest,
                completed_at=rollout.completed_at,
                created_at=rollout.started_at,
                deployment_id=rollout.deployment_id,
                environment=environment.environment,
            )
        )
    return done


def _image_digest(ecs: Any, task_definition: str | None) -> str | None:
    if not task_definition:
        return None
    definition = ecs.describe_task_definition(taskDefinition=task_definition)
    return _digest_of(definition["taskDefinition"]["containerDefinitions"][0].get("image"))


def _epoch(moment: Any) -> float:
    return float(moment.timestamp()) if hasattr(moment, "timestamp") else float(moment)


def _push_times(clients: _Clients, samples: list[SampleResources]) -> dict[safety.ImageKey, float]:
    ecr = clients("ecr")
    times: dict[safety.ImageKey, float] = {}
    for sample in samples:
        for page in ecr.get_paginator("describe_images").paginate(
            repositoryName=sample.repository_name
        ):
            for image in page["imageDetails"]:
                times[(sample.repository_name, image["imageDigest"])] = _epoch(
                    image["imagePushedAt"]
                )
    return times


def _lock_items(stack: LocalStack, clients: _Clients) -> list[dict[str, Any]]:
    assert stack.app is not None
    table = str(stack.app.outputs["TableName"])
    plain = TypeDeserializer()
    return [
        {key: plain.deserialize(value) for key, value in item.items()}
        for page in clients("dynamodb").get_paginator("scan").paginate(TableName=table)
        for item in page["Items"]
        if str(item.get("pk", {}).get("S", "")).startswith("LOCK#")
    ]


@contextlib.contextmanager
def _function_log(path: Path | None) -> Iterator[Callable[[str], object]]:
    """Where the functions' own output goes: a file, or nowhere."""
    if path is None:
        yield lambda line: None
        return
    with path.open("a", encoding="utf-8") as stream:
        lock = threading.Lock()

        def write(line: str) -> None:
            with lock:
                stream.write(line)

        yield write


def run(
    scale: Scale,
    *,
    timeout: float = 900.0,
    push_gap: float = 0.0,
    function_log: Path | None = None,
    function_workers: int | None = None,
    progress: TextIO | None = None,
) -> ScaleResult:

    def say(text: str) -> None:
        if progress is not None:
            print(text, file=progress, flush=True)

    memory = MemorySampler()
    memory.start()
    cpu_before = time.process_time()
    began = time.monotonic()
    with (
        _function_log(function_log) as log,
        # Anything printed in this process must not mix with the figures (--json).
        contextlib.redirect_stdout(sys.stderr),
        LocalStack(
            port=0,
            sample=True,
            sample_count=scale.services,
            function_environment=QUIET,
            function_log=log,
            function_workers=function_workers,
        ) as stack,
    ):
        stack_start = time.monotonic() - began
        say(f"stack with {scale.services} services ready in {stack_start:.1f} s")
        clients = _Clients(stack.endpoint_url)
        machine = _state_machine(clients)
        pushes = plan([s.repository_name for s in stack.samples], scale.pushes)
        approver = Approver(stack.endpoint_url, {p.tag: (p.service, p.digest) for p in pushes})
        approver.start()

        first_push = time.monotonic()
        pushed_from = time.time()  # ECS's rollouts from then on are the run's
        failed_pushes = _push_all(clients, pushes, push_gap)
        pushed_in = time.monotonic() - first_push
        say(
            f"{len(pushes) - len(failed_pushes)} images pushed in {pushed_in:.1f} s; "
            "approving every request, waiting for the end"
        )
        finished = _settle(stack, clients, machine, approver, first_push + timeout)
        wall = time.monotonic() - first_push
        approver.stop()
        say(f"{'ended' if finished else 'deadline reached'} after {wall:.1f} s; reading back")

        executions = _executions(clients, machine)
        succeed_states = succeed_states_of(clients, machine)
        ended = Counter(ending_of(clients, e["executionArn"], succeed_states) for e in executions)
        origins = [origin_of(clients, e["executionArn"]) for e in executions]
        pipelines = _pipelines(stack, clients)
        taken = _deployments(stack, clients, pipelines, pushed_from)
        pushed_at = _push_times(clients, stack.samples)
        final = {s.repository_name: _production_digest(s) for s in stack.samples}
        locks = _lock_items(stack, clients)
        stats = stack.stats()
    peak = memory.stop()
    # The worker processes are reaped when the stack stops: their CPU time is known now.
    functions_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    stack_cpu = time.process_time() - cpu_before

    approvals = approver.approvals
    accepted = [(a.service, a.digest) for a in approvals if a.accepted and a.service and a.digest]
    counts = safety.count(taken.done, pushed_at, final, accepted, locks)
    return ScaleResult(
        scale=str(scale),
        finished=finished,
        stack_start_seconds=round(stack_start, 1),
        push_seconds=round(pushed_in, 2),
        wall_seconds=round(wall, 1),
        executions_started=len(executions),
        executions_by_status=dict(sorted(ended.items())),
        executions_by_source=dict(sorted(Counter(source for source, _ in origins).items())),
        executions_by_environment=dict(sorted(Counter(env for _, env in origins).items())),
        deployments_done=taken.production,
        deployments_by_environment=dict(sorted(taken.by_environment.items())),
        deployments_by_status=dict(sorted(taken.codedeploy_statuses.items())),
        rollbacks=taken.rollbacks,
        double_deployments=counts.double_deployments,
        older_over_newer=counts.older_over_newer,
        backwards=counts.backwards,
        stale=counts.stale,
        locks_held=counts.locks_held,
        held_locks=safety.held_locks(locks),
        approvals_accepted=sum(a.accepted for a in approvals),
        approvals_refused=sum(a.submitted and not a.accepted for a in approvals),
        approvals_closed=sum(not a.submitted for a in approvals),
        approval_errors=approver.failures,
        lambda_invocations=int(stats["invocations"]),
        lambda_errors=int(stats["errors"]),
        cold_starts=int(stats["cold_starts"]),
        state_transitions=int(stats["state_transitions"]),
        functions={
            name.removeprefix("bluegreen-").removesuffix("Function"): {
                "invocations": f["invocations"],
                "total_s": round(f["total_ms"] / 1000, 1),
                "mean_ms": round(f["total_ms"] / max(1, f["invocations"])),
                "cold_starts": f["cold_starts"],
                "init_s": round(f["init_ms"] / 1000, 1),
            }
            for name, f in stats["functions"].items()
        },
        cpu_seconds_stack=round(stack_cpu, 1),
        cpu_seconds_functions=round(functions_cpu.ru_utime + functions_cpu.ru_stime, 1),
        peak_rss_mb=peak.process_mb,
        peak_total_rss_mb=peak.total_mb,
        peak_workers=peak.children,
        failed_pushes=failed_pushes,
    )
