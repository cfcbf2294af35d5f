"""The load balancer's data plane, which moto does not have: real HTTP behind ALB listeners.

Each listener of one Application Load Balancer is served on ``127.0.0.1:<listener port>``.
Every request is routed the way the ALB would route it at that moment: the listener's
*current* default forward action is read from moto's ELBv2 backend per request (so a
CodeDeploy traffic shift is visible on the very next request; weighted forwards pick a target
group by weight), and the target group leads to the ECS task set registered with it (a task
set's ``loadBalancers[].targetGroupArn``, or the service's own ``loadBalancers`` before the
service has task sets). A :class:`Responder` answers for the task definition that task set
runs, standing in for its containers.

No targets behind a target group gives ALB's own answer: ``503 Service Temporarily
Unavailable``. Listener rules are not evaluated, only default actions.
"""

from __future__ import annotations

import errno
import json
import logging
import random
import socket
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from moto.ecs.models import ecs_backends
from moto.elbv2.models import elbv2_backends

from bluegreen_cli.local.codedeploy import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, forward_weights

logger = logging.getLogger(__name__)

_NO_TARGETS = (
    b"<html><head><title>503 Service Temporarily Unavailable</title></head><body>"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center></body></html>"
)


@dataclass(frozen=True)
class Route:
    """Where one request lands: the listener, target group and task set serving it."""

    listener_arn: str
    listener_port: int
    target_group_arn: str
    target_group_name: str
    task_set_arn: str | None
    task_definition_arn: str
    container_name: str | None
    image: str


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, document: Any) -> Reply:
        return cls(status, json.dumps(document).encode())


class Responder(Protocol):
    """Answers a request as the containers of the routed task definition would."""

    def respond(self, route: Route, method: str, path: str) -> Reply: ...


class PortInUseError(RuntimeError):
    """A listener's port is taken on the host, so the listener cannot be served."""


def reserve_ports(host: str, ports: Iterable[int]) -> list[socket.socket]:
    """Bound sockets for listeners not created yet; port 0 takes any free port.

    A listener's port is part of the ALB's configuration: binding first, then creating the
    listener on the port the socket got, leaves no moment in which another process could
    take it. :class:`LoadBalancerPlane` serves on the sockets it is given.
    """
    reserved: list[socket.socket] = []
    try:
        for port in ports:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            reserved.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    raise PortInUseError(
                        f"cannot reserve {host}:{port} for a listener: the port is already in "
                        f"use (is another local stack running?)"
                    ) from e
                raise
    except BaseException:
        for sock in reserved:
            sock.close()
        raise
    return reserved


class LoadBalancerPlane:
    """Serves every listener of one ALB for real: :meth:`start` binds them, :meth:`stop` ends."""

    def __init__(
        self,
        load_balancer: str,
        responder: Responder,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
        host: str = "127.0.0.1",
        sockets: Mapping[int, socket.socket] | None = None,
    ) -> None:
        self.load_balancer = load_balancer
        self.responder = responder
        self.account_id = account_id
        self.region = region
        self.host = host
        self._servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []
        self.listeners: dict[int, str] = {}
        # Sockets bound in advance (reserve_ports), by port: served instead of binding anew.
        self._sockets = dict(sockets or {})

    @property
    def _elbv2(self) -> Any:
        return elbv2_backends[self.account_id][self.region]

    @property
    def _ecs(self) -> Any:
        return ecs_backends[self.account_id][self.region]

    def start(self) -> None:
        """Bind every listener's port (all or none), then serve each on a daemon thread."""
        if self._servers:
            return
        balancer = self._find_load_balancer()
        listeners = {
            int(listener.port): listener.arn
            for listener in self._elbv2.describe_listeners(balancer.arn, [])
        }
        if not listeners:
            raise ValueError(f"load balancer {balancer.name} has no listeners to serve")
        try:
            for port, arn in sorted(listeners.items()):
                server = self._bind(port, arn)
                thread = threading.Thread(
                    target=server.serve_forever,
                    kwargs={"poll_interval": 0.2},
                    name=f"alb-listener-{port}",
                    daemon=True,
                )
                self._servers.append((server, thread))
        except BaseException:
            self.stop()
            raise
        for _, thread in self._servers:
            thread.start()
        self.listeners = listeners
        logger.info(
            "load balancer %s serving %s",
            balancer.name,
            ", ".join(f"http://{self.host}:{p}" for p in sorted(listeners)),
        )

    def stop(self) -> None:
        for sock in self._sockets.values():  # reserved for listeners never served
            sock.close()
        self._sockets = {}
        servers, self._servers = self._servers, []
        for server, thread in servers:
            if thread.is_alive():
                server.shutdown()
            server.server_close()
        self.listeners = {}

    def _find_load_balancer(self) -> Any:
        for balancer in list(self._elbv2.load_balancers.values()):
            if self.load_balancer in (balancer.arn, balancer.name):
                return balancer
        raise ValueError(f"load balancer {self.load_balancer!r} does not exist")

    def _bind(self, port: int, listener_arn: str) -> ThreadingHTTPServer:
        handler = type(
            "ListenerHandler", (_ListenerHandler,), {"plane": self, "listener_arn": listener_arn}
        )
        reserved = self._sockets.pop(port, None)
        if reserved is not None:
            server = _Server((self.host, port), handler, bind_and_activate=False)
            server.socket.close()
            server.socket = reserved
            server.server_address = reserved.getsockname()
            server.server_name, server.server_port = self.host, port
            server.server_activate()
            return server
        try:
            return _Server((self.host, port), handler)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"cannot serve listener {listener_arn} on {self.host}:{port}: the port is "
                    f"already in use (is another local stack running?)"
                ) from e
            raise

    # -- routing --------------------------------------------------------------------------

    def route(self, listener_arn: str) -> Route | None:
        """Where a request to this listener lands now; ``None`` when no target can answer."""
        try:
            listeners = self._elbv2.describe_listeners(None, [listener_arn])
        except Exception:  # the listener was deleted: nothing answers on it any more
            return None
        if not listeners:
            return None
        listener = listeners[0]
        weights = {
            arn: w for arn, w in forward_weights(list(listener.default_actions)).items() if w > 0
        }
        if not weights:
            return None
        # An ALB splits a weighted forward by weight, request by request.
        target_group = random.choices(list(weights), weights=list(weights.values()))[0]
        found = self._task_set_for(target_group)
        if found is None:
            return None
        task_set_arn, task_definition_arn, container_name = found
        try:
            task_definition = self._ecs.describe_task_definition(task_definition_arn)
        except Exception:
            logger.warning(
                "task definition %s behind %s is gone", task_definition_arn, target_group
            )
            return None
        containers = list(task_definition.container_definitions)
        container = next((c for c in containers if c.get("name") == container_name), None)
        if container is None and containers:
            container = containers[0]
        group = self._elbv2.target_groups.get(target_group)
        return Route(
            listener_arn=listener_arn,
            listener_port=int(listener.port),
            target_group_arn=target_group,
            target_group_name=group.name if group is not None else target_group.split("/")[-2],
            task_set_arn=task_set_arn,
            task_definition_arn=task_definition.arn,
            container_name=container.get("name") if container else None,
            image=str(container.get("image", "")) if container else "",
        )

    def _task_set_for(self, target_group_arn: str) -> tuple[str | None, str, str | None] | None:
        """(task set ARN, task definition ARN, container) registered with the target group."""
        services = [s for s in list(self._ecs.services.values()) if s.status == "ACTIVE"]
        for service in services:
            task_sets = sorted(service.task_sets, key=lambda t: t.status != "PRIMARY")
            for task_set in task_sets:
                for lb in task_set.load_balancers:
                    if lb.get("targetGroupArn") == target_group_arn:
                        return (
                            task_set.task_set_arn,
                            task_set.task_definition,
                            lb.get("containerName"),
                        )
        for service in services:
            if service.task_sets or not service.task_definition:
                continue
            for lb in service.load_balancers:
                if lb.get("targetGroupArn") == target_group_arn:
                    return None, service.task_definition, lb.get("containerName")
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _ListenerHandler(BaseHTTPRequestHandler):
    plane: LoadBalancerPlane
    listener_arn: str
    protocol_version = "HTTP/1.1"
    timeout = 10  # idle keep-alive connections close, as an ALB's idle timeout does
    server_version = "awselb/2.0"
    sys_version = ""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        try:
            route = self.plane.route(self.listener_arn)
            if route is None:
                reply = Reply(503, _NO_TARGETS, "text/html")
            else:
                reply = self.plane.responder.respond(route, self.command, self.path)
        except Exception:
            logger.exception("listener %s failed to route %s", self.listener_arn, self.path)
            reply = Reply(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)
