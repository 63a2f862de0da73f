"""Starting the demo landscape: moto, the vendors, the AWS resources and the traced fleet.

The fleet follows the integration guideline's examples and breaks it on purpose where an
anti-pattern needs it (see fleet/actor.py). Every service is its own process, told only its
name, namespace and role: in Python under the real ``opentelemetry-instrument`` with the
seamscope distro, and the webapp BFF in Node.js under the stock
``@opentelemetry/auto-instrumentations-node`` (fleet/node/, where node and its packages are
installed; else it runs in Python too), exporting OTLP/HTTP to the receiver: a mixed fleet.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from seamscope.demo.processes import (
    ManagedProcess,
    free_port,
    moto_server,
    wait_for_http,
    wait_for_moto,
)
from seamscope.demo.stops import check_stop
from seamscope.tracer.access import open_reader
from seamscope.tracer.errors import SeamscopeError, install_hint
from seamscope.tracer.private import private_dirs, private_file, replace_private

FLEET_DIR = Path(__file__).parent / "fleet"
NODE_DIR = FLEET_DIR / "node"
NODE_MIN_MAJOR = 18
NODE_REGISTER = "@opentelemetry/auto-instrumentations-node/register"
REGION = "us-east-1"
VENDORS = ("mailchimp", "algolia")


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    system: str
    role: str
    serves_http: bool = False
    node: str | None = None
    """Its Node.js implementation in fleet/node/, run instead of actor.py where node is."""


FLEET: tuple[ServiceSpec, ...] = (
    ServiceSpec("shortlist-web", "shortlist", "webapp"),
    ServiceSpec("webapp-bff", "webapp-bff", "bff", serves_http=True, node="bff.js"),
    ServiceSpec("provider-portal", "providers", "webapp"),
    ServiceSpec("providers-api", "providers", "backend", serves_http=True),
    ServiceSpec("comms-api", "comms", "backend", serves_http=True),
    ServiceSpec("comms-worker", "comms", "worker"),
    ServiceSpec("auth0-events", "identity", "backend"),
    ServiceSpec("mailing-sync", "marketing", "worker"),
    ServiceSpec("billing-worker", "billing", "worker"),
    ServiceSpec("inventory-api", "inventory", "backend", serves_http=True),
    ServiceSpec("inventory-indexer", "inventory", "worker"),
    ServiceSpec("inventory-sync-job", "inventory", "job"),
    ServiceSpec("analytics-streamer", "analytics", "worker"),
)

TABLES = {"Inventory": "sku", "Providers": "id", "BillingAccounts": "providerId"}
QUEUES = ("marketing-user-events", "comms-provider-events", "billing-provider-events",
          "comms-outbox", "inventory-reindex", "comms-digest-queue")  # fmt: skip
# SNS topic -> the SQS queue subscribed to it
TOPICS = {"comms-digests": "comms-digest-queue"}
KINESIS_STREAMS = ("inventory-changes",)
# EventBridge rules: name -> (source, detail-type, target queue)
RULES = {
    "user-created-to-marketing": ("identity.auth0", "UserCreated", "marketing-user-events"),
    "provider-changed-to-comms": ("providers", "ProviderChanged", "comms-provider-events"),
    "provider-changed-to-billing": ("providers", "ProviderChanged", "billing-provider-events"),
}
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


def require_demo_dependencies() -> None:
    """The demo's extras, checked up front so a missing one is a one-line message."""
    for module in ("moto", "boto3", "flask", "httpx", "werkzeug"):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise SeamscopeError(f"the demo needs {module}: {install_hint('demo')}")
    if not instrument_command().exists():
        raise SeamscopeError(f"{instrument_command()} is missing: {install_hint('demo')}")


def node_runtime() -> tuple[str | None, str]:
    """(the node binary for the fleet's Node.js services, "") or (None, why they run in Python)."""
    node = shutil.which("node")
    if node is None:
        return None, "node is not installed"
    try:
        done = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
        found = re.search(r"\d+", done.stdout)
    except (OSError, subprocess.SubprocessError):
        found = None
    if found is None or int(found.group()) < NODE_MIN_MAJOR:
        return None, f"{node} is not Node.js >= {NODE_MIN_MAJOR}"
    if not (NODE_DIR / "node_modules" / NODE_REGISTER.rsplit("/", 1)[0]).is_dir():
        return None, (
            "the demo's Node.js packages are not installed (make setup, in a clone of seamscope)"
        )
    return node, ""


def instrument_command() -> Path:
    """The opentelemetry-instrument beside this interpreter, not whatever PATH finds first."""
    return Path(sys.executable).parent / "opentelemetry-instrument"


def ensure_port_free(port: int, what: str) -> None:
    """Refuses a port another process listens on, binding as the receiver will
    (socket.create_server: SO_REUSEADDR), so that the connections of a demo just stopped,
    waiting out TCP's TIME_WAIT, do not make the port look taken for a minute."""
    try:
        socket.create_server(("127.0.0.1", port)).close()
    except OSError:
        raise SeamscopeError(
            f"port {port} on 127.0.0.1 ({what}) is in use: choose another with --port"
        ) from None


class StartupAbandoned(Exception):
    """What the fleet was starting for has ended (the live TUI quit): stop, do not finish."""


def wait_for_port(
    port: int,
    process: ManagedProcess,
    *,
    timeout_s: float,
    abandoned: Callable[[], bool] | None = None,
) -> None:
    """Waits for a listener with a bare connect: an HTTP request would be traced."""
    deadline = time.monotonic() + timeout_s
    while True:
        check_stop()
        if abandoned is not None and abandoned():
            raise StartupAbandoned
        if not process.alive():
            raise SeamscopeError(f"{process.name} exited at startup; see {process.log_path}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SeamscopeError(
                    f"{process.name} did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s;"
                    f" see {process.log_path}"
                ) from None
            time.sleep(0.1)


@dataclass
class Provisioned:
    queue_urls: dict[str, str]
    stream_arn: str
    topic_arns: dict[str, str] = field(default_factory=dict)


def provision(endpoint: str) -> Provisioned:
    """Creates the tables, queues, EventBridge rules, SNS topic and Kinesis stream, untraced."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    ddb: Any = session.client("dynamodb", endpoint_url=endpoint)
    sqs: Any = session.client("sqs", endpoint_url=endpoint)
    events: Any = session.client("events", endpoint_url=endpoint)
    sns: Any = session.client("sns", endpoint_url=endpoint)
    kinesis: Any = session.client("kinesis", endpoint_url=endpoint)
    for table, key in TABLES.items():
        extra: dict[str, Any] = {}
        if table == "Inventory":
            extra["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            }
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )
    stream_arn = ddb.describe_table(TableName="Inventory")["Table"]["LatestStreamArn"]
    queue_urls = {name: sqs.create_queue(QueueName=name)["QueueUrl"] for name in QUEUES}
    for rule, (source, detail_type, queue) in RULES.items():
        events.put_rule(
            Name=rule,
            EventPattern=json.dumps({"source": [source], "detail-type": [detail_type]}),
            State="ENABLED",
        )
        arn = sqs.get_queue_attributes(QueueUrl=queue_urls[queue], AttributeNames=["QueueArn"])
        events.put_targets(Rule=rule, Targets=[{"Id": queue, "Arn": arn["Attributes"]["QueueArn"]}])
    topic_arns: dict[str, str] = {}
    for topic, queue in TOPICS.items():
        topic_arns[topic] = sns.create_topic(Name=topic)["TopicArn"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_urls[queue], AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=topic_arns[topic], Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"]
        )
    for stream in KINESIS_STREAMS:
        kinesis.create_stream(StreamName=stream, ShardCount=1)
    return Provisioned(queue_urls, str(stream_arn), topic_arns)


def render_landscape(ports: dict[str, int]) -> str:
    """The demo's landscape file, with the vendors' loopback ports of this run filled in."""
    template = resources.files("seamscope.demo").joinpath("landscape.toml").read_text()
    for vendor in VENDORS:
        template = template.replace(f"{{{vendor}_port}}", str(ports[vendor]))
    return template


@dataclass
class Fleet:
    """Everything the demo started, in start order; stop() ends all of it, newest first."""

    run_dir: Path
    db_path: Path
    processes: list[ManagedProcess] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    endpoint: str = ""
    landscape_path: Path | None = None
    reported_dead: set[str] = field(default_factory=set)
    reported_killed: set[str] = field(default_factory=set)
    provisioned: Provisioned = field(default_factory=lambda: Provisioned({}, ""))
    pace: float = 1.0
    node: str | None = None
    """The node binary the Node.js services run with; None: they run in Python."""
    node_note: str = ""
    """Why the Node.js services run in Python, one line; empty when they run in Node.js."""

    def add(self, process: ManagedProcess) -> ManagedProcess:
        """Records process, then starts it unless it runs already: recorded first, it is
        stopped with the others even if a stop comes while it starts."""
        self.processes.append(process)
        return process if process.popen is not None else process.start()

    def log_path(self, name: str) -> Path:
        return self.run_dir / f"{name}.log"

    def start_backing(self, *, pace: float = 1.0) -> None:
        """moto, the vendors and the AWS resources: what the fleet needs before it starts."""
        private_dirs(self.run_dir)  # 0700 whatever the umask (a caller in Python sets none)
        moto, self.endpoint = moto_server(log_path=self.log_path("moto"), die_with_parent=True)
        self.add(moto)
        self.ports["moto"] = int(self.endpoint.rsplit(":", 1)[1])
        for vendor in VENDORS:
            self.ports[vendor] = free_port()
        vendors = self.add(
            ManagedProcess(
                "vendors",
                [sys.executable, str(FLEET_DIR / "vendors.py")]
                + [f"{v}={self.ports[v]}" for v in VENDORS],
                log_path=self.log_path("vendors"),
                die_with_parent=True,
            )
        )
        wait_for_moto(moto, self.endpoint)
        for vendor in VENDORS:
            wait_for_http(f"http://127.0.0.1:{self.ports[vendor]}/", process=vendors.popen)
        check_stop()
        self.provisioned = provision(self.endpoint)
        self.pace = pace
        check_stop()
        self.node, why = node_runtime()
        in_node = [s.name for s in FLEET if s.node]
        if self.node is None and in_node:
            self.node_note = f"demo: {why}: {', '.join(in_node)} runs in Python, not Node.js"
        self.landscape_path = self.run_dir / "landscape.toml"
        with private_file(self.landscape_path, "w") as landscape:
            landscape.write(render_landscape(self.ports))

    def service_env(self, spec: ServiceSpec) -> dict[str, str]:
        urls = {v: f"http://127.0.0.1:{self.ports[v]}" for v in VENDORS}
        urls.update(
            {s.name: f"http://127.0.0.1:{self.ports[s.name]}" for s in FLEET if s.serves_http}
        )
        env = {
            "OTEL_SERVICE_NAME": spec.name,
            "OTEL_RESOURCE_ATTRIBUTES": (
                f"service.namespace={spec.system},seamscope.role={spec.role}"
            ),
            "SEAMSCOPE_DB": str(self.db_path),
            # The demo's spans go to its own store, whatever OTEL_* the user's shell carries.
            "OTEL_TRACES_EXPORTER": "seamscope",
            "OTEL_PYTHON_DISTRO": "seamscope",
            "OTEL_PYTHON_CONFIGURATOR": "seamscope",
            "OTEL_SDK_DISABLED": "false",
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "",
            # Spans reach the live view within about a second instead of five.
            "OTEL_BSP_SCHEDULE_DELAY": "1000",
            "AWS_ENDPOINT_URL": self.endpoint,
            "DEMO_URLS": json.dumps(urls),
            "DEMO_QUEUES": json.dumps(self.provisioned.queue_urls),
            "DEMO_TOPICS": json.dumps(self.provisioned.topic_arns),
            "DEMO_STREAM_ARN": self.provisioned.stream_arn,
            "DEMO_PACE": str(self.pace),
            "PYTHONUNBUFFERED": "1",
            **AWS_ENV,
        }
        if spec.serves_http:
            env["DEMO_PORT"] = str(self.ports[spec.name])
        return env

    def node_env(self, spec: ServiceSpec) -> dict[str, str]:
        """A Node.js service: the stock SDK's settings, OTLP/HTTP to the receiver."""
        env = self.service_env(spec)
        for name in ("OTEL_PYTHON_DISTRO", "OTEL_PYTHON_CONFIGURATOR", "SEAMSCOPE_DB"):
            env.pop(name)
        env.update(
            {
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": (
                    f"http://127.0.0.1:{self.ports['receiver']}/v1/traces"
                ),
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
                # No cloud detectors: they would ask metadata endpoints that are not there.
                "OTEL_NODE_RESOURCE_DETECTORS": "env,host,os,process",
            }
        )
        return env

    def command(self, spec: ServiceSpec) -> tuple[list[str], dict[str, str], Path | None]:
        """How a service starts: argv, environment and working folder."""
        if spec.node is not None and self.node is not None:
            argv = [self.node, "--require", NODE_REGISTER, str(NODE_DIR / spec.node)]
            return argv, self.node_env(spec), NODE_DIR
        argv = [str(instrument_command()), sys.executable, str(FLEET_DIR / "actor.py"), spec.name]
        return argv, self.service_env(spec), None

    def start_services(self, *, abandoned: Callable[[], bool] | None = None) -> None:
        """Every service of the fleet; returns once the HTTP ones answer. Raises
        StartupAbandoned as soon as abandoned() holds while it waits for them."""
        for spec in FLEET:
            if spec.serves_http:
                self.ports[spec.name] = free_port()
        started: list[tuple[ServiceSpec, ManagedProcess]] = []
        for spec in FLEET:
            check_stop()
            argv, env, cwd = self.command(spec)
            process = ManagedProcess(
                spec.name,
                argv,
                env=env,
                cwd=cwd,
                log_path=self.log_path(spec.name),
                die_with_parent=True,
            )
            started.append((spec, self.add(process)))
        for spec, process in started:
            if spec.serves_http:
                wait_for_port(self.ports[spec.name], process, timeout_s=60.0, abandoned=abandoned)
        self.write_state()

    def write_state(self) -> None:
        """demo.json in the run folder: what runs where, for people and tests. Written whole
        or not at all: a test that waited for the file to exist read it empty."""
        state = {
            "db": str(self.db_path),
            "landscape": str(self.landscape_path),
            "aws_endpoint": self.endpoint,
            "ports": self.ports,
            "processes": {p.name: p.pid for p in self.processes if p.popen is not None},
        }
        replace_private(self.run_dir / "demo.json", json.dumps(state, indent=2).encode())

    def services(self) -> list[ManagedProcess]:
        names = {s.name for s in FLEET}
        return [p for p in self.processes if p.name in names]

    def newly_dead(self) -> list[ManagedProcess]:
        """Processes that ended on their own since the last call."""
        dead = [
            p
            for p in self.processes
            if p.popen is not None and not p.alive() and p.name not in self.reported_dead
        ]
        self.reported_dead.update(p.name for p in dead)
        return dead

    def start_receiver(
        self, port: int, *, memory_limit: str | None = None, tee: Path | None = None
    ) -> ManagedProcess:
        """`seamscope collect` owns the store; returns once it does. Started by the demo, not by
        the TUI, so that stop() ends it after the services have sent it their last spans."""
        args = ["collect", "--quiet", "--port", str(port), "--db", str(self.db_path)]
        if self.landscape_path is not None:
            args += ["--landscape", str(self.landscape_path)]
        if memory_limit is not None:
            args += ["--memory-limit", memory_limit]
        if tee is not None:
            args += ["--tee", str(tee)]
        check_stop()
        collector = self.add(
            ManagedProcess(
                RECEIVER,
                seamscope_command(*args),
                log_path=self.log_path(RECEIVER),
                die_with_parent=True,
            )
        )
        self.ports["receiver"] = wait_for_owner(self.db_path, collector)
        return collector

    def stop_services(self, say: Callable[[str], None] | None = None) -> None:
        """Services first, each asked to flush its spans; they are independent, so all at once."""
        services = [p for p in self.services() if p.alive()]
        if services and say is not None:
            say(f"demo: stopping {len(services)} services (they send their last spans) ...")
        self.reported_dead.update(p.name for p in services)
        self._stop(services, say)

    def stop(self, say: Callable[[str], None] | None = None) -> None:
        """Services first, while the receiver still takes their last spans; then the rest (the
        receiver, moto, the vendors), all at once. Every process is signalled before any is
        waited for. All at once, a Ctrl-C lost the services' last spans and left the Node BFF
        retrying its final export until it was killed.

        say: told what each wait is for, and the receiver's last line (what it stored)."""
        self.stop_services(say)
        rest = [p for p in self.processes if p.alive()]
        if rest and say is not None:
            names = [_WHAT.get(p.name, p.name) for p in reversed(rest)]
            more = " (it stores and classifies the last spans)" if _WHAT[RECEIVER] in names else ""
            say(f"demo: stopping {_listed(names)}{more} ...")
        self.reported_dead.update(p.name for p in rest)
        self._stop(list(self.processes), say)
        receiver = next((p for p in rest if p.name == RECEIVER), None)
        if receiver is not None and say is not None:
            last = _last_line(receiver.log_path)
            if last.startswith("seamscope: stopped"):
                say(last)

    def _stop(
        self, processes: list[ManagedProcess], say: Callable[[str], None] | None = None
    ) -> None:
        """SIGTERM to every process, then waits for each, newest first; SIGKILL to whatever
        has not ended STOP_TIMEOUT_S after the signal (one deadline for all of them), and say
        is told of each kill: a process that ignores SIGTERM is a bug, and it lost its spans."""
        for process in processes:
            process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in reversed(processes):
            process.stop(timeout_s=max(0.0, deadline - time.monotonic()))
            if say is None or process.name in self.reported_killed:
                continue
            if process.killed or process.killed_left:
                self.reported_killed.add(process.name)
            if process.killed:
                say(
                    f"demo: {process.name} did not stop within {STOP_TIMEOUT_S:.0f} s of"
                    f" SIGTERM: killed; its log: {process.log_path}"
                )
            elif process.killed_left:
                say(
                    f"demo: {process.name} left processes that did not end: killed;"
                    f" its log: {process.log_path}"
                )


RECEIVER = "collector"
STOP_TIMEOUT_S = 8.0
"""How long the stopped processes get to end by themselves, together, before SIGKILL."""
_WHAT = {RECEIVER: "the receiver", "vendors": "the vendors"}


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _last_line(path: Path | None) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines() if path else []
    except OSError:
        return ""
    return lines[-1] if lines else ""


@contextmanager
def running_fleet(
    run_dir: Path,
    db_path: Path,
    *,
    pace: float = 1.0,
    say: Callable[[str], None] | None = None,
) -> Iterator[Fleet]:
    """The whole demo landscape, stopped (every process group) however the block ends; say is
    told what the stop waits for."""
    fleet = Fleet(run_dir=run_dir, db_path=db_path)
    with fleet_running(fleet, pace=pace, say=say):
        yield fleet


@contextmanager
def fleet_running(
    fleet: Fleet, *, pace: float = 1.0, say: Callable[[str], None] | None = None
) -> Iterator[None]:
    """running_fleet with a Fleet of the caller's, which it can look at once the block ended
    (also when a stop came before the block began)."""
    try:
        check_stop()  # one recorded before the demo could stop: nothing is started
        fleet.start_backing(pace=pace)
        yield
    except KeyboardInterrupt:
        # Whenever it came, while the fleet started or ran: the same lines, the same stop.
        if say is not None:
            say("demo: stopping every process it started")
        raise
    finally:
        with _signals_held():
            fleet.stop(say)


@contextmanager
def _signals_held() -> Iterator[None]:
    """A second Ctrl-C must not cut the clean-up short and leave processes behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in held.items():
            signal.signal(sig, handler)


def seamscope_command(*args: str) -> list[str]:
    """This installation's seamscope command, whatever PATH says."""
    return [sys.executable, "-m", "seamscope.cli", *args]


def wait_for_owner(db_path: Path, process: ManagedProcess | subprocess.Popen[bytes]) -> int:
    """Blocks until the receiver published itself as the store's owner, or died trying.

    Returns the port it listens on.
    """
    deadline = time.monotonic() + 60.0
    while (owner := open_reader(db_path).owner) is None:
        check_stop()
        alive = process.alive() if isinstance(process, ManagedProcess) else process.poll() is None
        if not alive:
            where = process.log_path if isinstance(process, ManagedProcess) else "the output above"
            raise SeamscopeError(f"the receiver exited before it owned the store; see {where}")
        if time.monotonic() > deadline:
            raise SeamscopeError(f"no receiver owned {db_path} within 60 s")
        time.sleep(0.1)
    return owner.port


def report_dead(fleet: Fleet, say: Callable[[str], None] | None) -> list[str]:
    """One line per process that ended on its own, also written to demo.log in the run folder."""
    lines = [
        f"demo: {p.name} exited with code {p.popen.returncode if p.popen else '?'};"
        f" its log: {p.log_path}"
        for p in fleet.newly_dead()
    ]
    for line in lines:
        if say is not None:
            say(line)
        with private_file(fleet.run_dir / "demo.log", "a") as log:
            log.write(line + "\n")
    return lines


def run_headless(
    fleet: Fleet,
    port: int,
    duration: float,
    *,
    tee: Path | None = None,
    say: Callable[[str], None] | None = None,
) -> list[str]:
    """Owner = `seamscope collect`; the fleet runs for duration seconds, then flushes and stops.

    Returns one line per process that died on its own while it ran.
    """
    fleet.start_receiver(port, tee=tee)
    fleet.start_services()
    if say is not None:
        say(f"demo: {len(FLEET)} services running for {duration:.0f} s; spans -> {fleet.db_path}")
    dead: list[str] = []
    end = time.monotonic() + duration
    while time.monotonic() < end:
        time.sleep(0.25)
        dead += report_dead(fleet, say)
    # The services flush their last spans to the receiver, then the receiver flushes to the store.
    fleet.stop_services(say)
    dead += report_dead(fleet, say)
    fleet.stop(say)
    return dead
