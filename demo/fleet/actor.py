"""One service of the demo fleet, chosen by name: ``python actor.py inventory-api``.

Each service is its own process with its own ``OTEL_SERVICE_NAME``; this file is the code of all
of them, the way a small monorepo would hold them. It knows nothing of seamscope: it uses boto3,
httpx and Flask, and the OpenTelemetry API only to wrap each iteration of a loop in a span, as a
Lambda invocation or a request would be. What it is told comes from the environment:

- ``DEMO_PORT``: where a service with an HTTP API listens (127.0.0.1);
- ``DEMO_URLS``: JSON, service or vendor name -> base URL;
- ``DEMO_QUEUES``: JSON, queue name -> queue URL; ``DEMO_TOPICS``: JSON, SNS topic name -> ARN;
- ``DEMO_STREAM_ARN``: the Inventory table's stream;
- ``DEMO_PACE``: multiplies every loop's period (default 1.0);
- ``AWS_ENDPOINT_URL`` and credentials: moto's standalone server.

Some services break the integration guideline on purpose; each place says which rule it breaks.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import httpx
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from flask import Flask, jsonify, request
from opentelemetry import trace
from werkzeug.serving import BaseWSGIServer, make_server

NAME = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OTEL_SERVICE_NAME", "")
STOP = threading.Event()
URLS: dict[str, str] = json.loads(os.environ.get("DEMO_URLS", "{}"))
QUEUES: dict[str, str] = json.loads(os.environ.get("DEMO_QUEUES", "{}"))
TOPICS: dict[str, str] = json.loads(os.environ.get("DEMO_TOPICS", "{}"))
STREAM_ARN = os.environ.get("DEMO_STREAM_ARN", "")
PACE = float(os.environ.get("DEMO_PACE", "1.0"))
EVENT_BUS = "default"
KINESIS_STREAM = "inventory-changes"
tracer = trace.get_tracer("seamscope-demo-fleet")
POLL_IDLE_S = 2.0
"""How long an SQS poller waits after a receive that brought nothing."""
SERVE_POLL_S = 0.1
"""How often an HTTP server looks whether it is to shut down (the standard library's 0.5 s made
every stop wait up to that long)."""
JOIN_S = 3.0
SKUS = ["sku-1", "sku-2", "sku-3"]
PROVIDERS = ["prov-1", "prov-2"]


def aws(service: str) -> Any:
    return boto3.client(service)  # type: ignore[call-overload]


class Table:
    """A small repository over one DynamoDB table. It uses the low-level client, which threads
    may share (boto3's resource objects may not)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.client = aws("dynamodb")
        self.to_ddb = TypeSerializer()
        self.from_ddb = TypeDeserializer()

    def _encode(self, values: dict[str, Any]) -> dict[str, Any]:
        return {k: self.to_ddb.serialize(v) for k, v in values.items()}

    def _decode(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: self.from_ddb.deserialize(v) for k, v in item.items()}

    def get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.name, Key=self._encode(key)).get("Item")
        return self._decode(item) if item else None

    def put(self, item: dict[str, Any]) -> None:
        self.client.put_item(TableName=self.name, Item=self._encode(item))

    def scan(self) -> list[dict[str, Any]]:
        return [self._decode(i) for i in self.client.scan(TableName=self.name).get("Items", [])]


def http() -> httpx.Client:
    return httpx.Client(timeout=5.0)


def log(message: str) -> None:
    print(f"{NAME}: {message}", file=sys.stderr, flush=True)


def every(period_s: float, name: str, work: Callable[[int], None]) -> Callable[[], None]:
    """A loop that runs work once per period, each run a root span of its own."""

    def loop() -> None:
        n = 0
        while not STOP.is_set():
            started = time.monotonic()
            with tracer.start_as_current_span(name):
                try:
                    work(n)
                except Exception as exc:  # a flaky call must not end the service
                    log(f"{name}: {type(exc).__name__}: {exc}")
            n += 1
            STOP.wait(max(0.0, period_s * PACE - (time.monotonic() - started)))

    return loop


def sqs_poller(queue: str, handle: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
    """Receives from queue; each receive and the handling of what it brought share one span.

    A short poll, and between polls that find nothing a wait the stop ends at once: a long poll
    (WaitTimeSeconds=2) held every stop of the demo up to 2 s, and left alone instead, its
    spans ended while the service flushed at exit and counted as dropped. The same pace: one
    empty receive per POLL_IDLE_S."""
    sqs = aws("sqs")
    url = QUEUES[queue]

    def loop() -> None:
        while not STOP.is_set():
            got: dict[str, Any] = {}
            with tracer.start_as_current_span(f"poll {queue}"):
                try:
                    got = sqs.receive_message(
                        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
                    )
                    for message in got.get("Messages", []):
                        handle(json.loads(message["Body"]))
                        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                except Exception as exc:
                    log(f"poll {queue}: {type(exc).__name__}: {exc}")
                    STOP.wait(1.0)
            if not got.get("Messages"):
                STOP.wait(POLL_IDLE_S)

    return loop


def stream_reader(handle: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
    """Reads the Inventory table's stream from its start; one span per GetRecords round."""
    streams = aws("dynamodbstreams")

    def loop() -> None:
        iterator: str | None = None
        while not STOP.is_set():
            with tracer.start_as_current_span("poll Inventory stream"):
                try:
                    if iterator is None:
                        shard = streams.describe_stream(StreamArn=STREAM_ARN)["StreamDescription"][
                            "Shards"
                        ][0]["ShardId"]
                        iterator = streams.get_shard_iterator(
                            StreamArn=STREAM_ARN, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
                        )["ShardIterator"]
                    got = streams.get_records(ShardIterator=iterator, Limit=50)
                    iterator = got.get("NextShardIterator")
                    for record in got.get("Records", []):
                        handle(record)
                except Exception as exc:
                    log(f"stream: {type(exc).__name__}: {exc}")
                    iterator = None
            STOP.wait(1.5 * PACE)

    return loop


def kinesis_reader(stream: str, handle: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
    """Reads a Kinesis stream's first shard from its start; one span per GetRecords round."""
    kinesis = aws("kinesis")

    def loop() -> None:
        iterator: str | None = None
        while not STOP.is_set():
            with tracer.start_as_current_span(f"poll {stream}"):
                try:
                    if iterator is None:
                        shards = kinesis.list_shards(StreamName=stream)["Shards"]
                        iterator = kinesis.get_shard_iterator(
                            StreamName=stream,
                            ShardId=shards[0]["ShardId"],
                            ShardIteratorType="TRIM_HORIZON",
                        )["ShardIterator"]
                    got = kinesis.get_records(ShardIterator=iterator, Limit=50)
                    iterator = got.get("NextShardIterator")
                    for record in got.get("Records", []):
                        handle(json.loads(record["Data"]))
                except Exception as exc:
                    log(f"kinesis: {type(exc).__name__}: {exc}")
                    iterator = None
            STOP.wait(1.5 * PACE)

    return loop


def graphql(client: httpx.Client, operation: str, query: str) -> Any:
    """A GraphQL POST as Apollo client sends it: JSON with operationName, query and variables."""
    body = {"operationName": operation, "query": query, "variables": {}}
    return client.post(f"{URLS['webapp-bff']}/graphql", json=body).json()


# --- the services -------------------------------------------------------------------------------
# Each returns (Flask app or None, background loops).

Service = tuple[Flask | None, list[Callable[[], None]]]


def shortlist_web() -> Service:
    """The Shortlist page: GraphQL to the webapp BFF (P101) and, on purpose, one REST call
    straight to Inventory's API (A101: a webapp bypassing the BFF)."""
    client = http()

    def render(n: int) -> None:
        graphql(client, "Shortlist", "query Shortlist { shortlist { sku name provider { name } } }")
        client.get(f"{URLS['inventory-api']}/items/{SKUS[n % len(SKUS)]}")

    return None, [every(1.5, "render shortlist", render)]


def webapp_bff() -> Service:
    """The webapp BFF: one GraphQL endpoint aggregating the REST APIs behind it (P102)."""
    app = Flask(NAME)
    client = http()

    @app.post("/graphql")
    def graphql_endpoint() -> Any:
        op = (request.get_json(silent=True) or {}).get("operationName", "")
        items = [client.get(f"{URLS['inventory-api']}/items/{SKUS[0]}").json()]
        provider = client.get(f"{URLS['providers-api']}/providers/{PROVIDERS[0]}").json()
        return jsonify({"data": {"operation": op, "shortlist": items, "provider": provider}})

    return app, []


def provider_portal() -> Service:
    """The provider portal: REST to the comms service, which the guideline allows this webapp
    (P103), and REST to its own system's API (P303)."""
    client = http()

    def page(n: int) -> None:
        provider = PROVIDERS[n % len(PROVIDERS)]
        client.get(f"{URLS['comms-api']}/messages", params={"provider": provider})
        client.get(f"{URLS['providers-api']}/providers/{provider}")

    return None, [every(2.0, "render provider portal", page)]


def comms_api() -> Service:
    """The comms service's API. It reads the Providers table of another system (A301) and, every
    few seconds, asks the webapp BFF's GraphQL for a count (A102: only webapps may call it), then
    hands the digest to its own worker over SNS (P402)."""
    app = Flask(NAME)
    table = Table("Providers")
    client = http()
    sns = aws("sns")

    @app.get("/messages")
    def messages() -> Any:
        provider = request.args.get("provider", PROVIDERS[0])
        found = table.get({"id": provider}) or {}
        return jsonify({"provider": provider, "email": found.get("email"), "messages": []})

    def digest(n: int) -> None:
        graphql(client, "ShortlistCount", "query ShortlistCount { shortlist { sku } }")
        sns.publish(TopicArn=TOPICS["comms-digests"], Message=json.dumps({"digest": n}))

    return app, [every(3.0, "send digest", digest)]


def providers_api() -> Service:
    """Providers lead provider data: their API reads their own table (P301), and every change is
    written to it and announced on EventBridge as ProviderChanged."""
    app = Flask(NAME)
    table = Table("Providers")
    events = aws("events")

    @app.get("/providers/<pid>")
    def get_provider(pid: str) -> Any:
        found = table.get({"id": pid}) or {"id": pid}
        return jsonify({k: str(v) for k, v in found.items()})

    def change(n: int) -> None:
        pid = PROVIDERS[n % len(PROVIDERS)]
        table.put({"id": pid, "name": f"Provider {pid}", "email": f"{pid}@example.org", "rev": n})
        detail = {"providerId": pid, "rev": n}
        events.put_events(
            Entries=[
                {
                    "EventBusName": EVENT_BUS,
                    "Source": "providers",
                    "DetailType": "ProviderChanged",
                    "Detail": json.dumps(detail),
                }
            ]
        )

    return app, [every(2.0, "change provider", change)]


def auth0_events() -> Service:
    """The identity provider's event stream (Auth0 in the guideline): UserCreated on EventBridge.
    Identity does not lead the user's marketing data, so consuming this as state is fine."""
    events = aws("events")

    def user_created(n: int) -> None:
        detail = {"userId": f"user-{n}", "email": f"user-{n}@example.org"}
        events.put_events(
            Entries=[
                {
                    "EventBusName": EVENT_BUS,
                    "Source": "identity.auth0",
                    "DetailType": "UserCreated",
                    "Detail": json.dumps(detail),
                }
            ]
        )

    return None, [every(2.5, "emit user events", user_created)]


def mailing_sync() -> Service:
    """Creates each new user in the mailing vendor: ECST from a non-leader (P201), through the
    vendor's API (P302)."""
    client = http()

    def handle(envelope: dict[str, Any]) -> None:
        user = envelope.get("detail", {})
        client.post(f"{URLS['mailchimp']}/3.0/lists/demo/members", json=user)

    return None, [sqs_poller("marketing-user-events", handle)]


def comms_worker() -> Service:
    """Treats ProviderChanged as a notification and calls Providers back (P202); also drains the
    outbox queue that billing writes into across systems (A202), and the digests comms-api
    publishes on SNS (P402)."""
    client = http()

    def on_provider_changed(envelope: dict[str, Any]) -> None:
        pid = envelope.get("detail", {}).get("providerId", PROVIDERS[0])
        client.get(f"{URLS['providers-api']}/providers/{pid}")

    def on_outbox(message: dict[str, Any]) -> None:
        log(f"outbox: {message.get('kind')}")

    def on_digest(envelope: dict[str, Any]) -> None:
        log(f"digest: {envelope.get('Message')}")

    return None, [
        sqs_poller("comms-provider-events", on_provider_changed),
        sqs_poller("comms-outbox", on_outbox),
        sqs_poller("comms-digest-queue", on_digest),
    ]


def billing_worker() -> Service:
    """Keeps its own copy of providers from ProviderChanged without calling back: ECST from the
    data leader (A201). Writes its own table (P301) and an SQS queue of comms (A202)."""
    table = Table("BillingAccounts")
    sqs = aws("sqs")

    def handle(envelope: dict[str, Any]) -> None:
        detail = envelope.get("detail", {})
        pid = detail.get("providerId", PROVIDERS[0])
        table.put({"providerId": pid, "rev": int(detail.get("rev", 0))})
        sqs.send_message(
            QueueUrl=QUEUES["comms-outbox"],
            MessageBody=json.dumps({"kind": "invoice-ready", "providerId": pid}),
        )

    return None, [sqs_poller("billing-provider-events", handle)]


def inventory_api() -> Service:
    """Inventory's API over its own table (P301); stock changes are written to the table, whose
    stream others listen to, queued for the indexer of the same system and put on a Kinesis
    stream it reads (P402)."""
    app = Flask(NAME)
    table = Table("Inventory")
    sqs = aws("sqs")
    kinesis = aws("kinesis")

    @app.get("/items/<sku>")
    def get_item(sku: str) -> Any:
        found = table.get({"sku": sku}) or {"sku": sku}
        return jsonify({k: str(v) for k, v in found.items()})

    def restock(n: int) -> None:
        sku = SKUS[n % len(SKUS)]
        table.put({"sku": sku, "name": f"Item {sku}", "stock": n})
        sqs.send_message(QueueUrl=QUEUES["inventory-reindex"], MessageBody=json.dumps({"sku": sku}))
        change = json.dumps({"sku": sku, "stock": n}).encode()
        kinesis.put_record(StreamName=KINESIS_STREAM, Data=change, PartitionKey=sku)

    return app, [every(2.0, "restock", restock)]


def inventory_indexer() -> Service:
    """Listens to its own system's table stream (P401) and updates the search vendor (P302). For
    reindex requests it calls the Inventory API over REST (A303: a direct hit would do). Stock
    changes arrive on Kinesis from the API of its own system (P402)."""
    client = http()
    stock: dict[str, int] = {}

    def on_record(record: dict[str, Any]) -> None:
        keys = record.get("dynamodb", {}).get("Keys", {})
        sku = keys.get("sku", {}).get("S", "unknown")
        client.put(f"{URLS['algolia']}/1/indexes/inventory/{sku}", json={"objectID": sku})

    def on_reindex(message: dict[str, Any]) -> None:
        client.get(f"{URLS['inventory-api']}/items/{message.get('sku', SKUS[0])}")

    def on_change(change: dict[str, Any]) -> None:
        stock[str(change.get("sku"))] = int(change.get("stock", 0))

    return None, [
        stream_reader(on_record),
        sqs_poller("inventory-reindex", on_reindex),
        kinesis_reader(KINESIS_STREAM, on_change),
    ]


def inventory_sync_job() -> Service:
    """A cron-like job: scans the whole Inventory table every few seconds and pushes it to the
    search vendor (A401: polling replication; the stream would do it in real time)."""
    table = Table("Inventory")
    client = http()

    def sync(n: int) -> None:
        items = table.scan()
        objects = [{"objectID": str(i.get("sku")), "stock": str(i.get("stock"))} for i in items]
        client.post(f"{URLS['algolia']}/1/indexes/inventory/batch", json={"requests": objects})

    return None, [every(2.0, "sync inventory to search", sync)]


def analytics_streamer() -> Service:
    """Analytics reads Inventory's table stream, which belongs to another system (A302)."""
    counted: dict[str, int] = {}

    def on_record(record: dict[str, Any]) -> None:
        kind = str(record.get("eventName"))
        counted[kind] = counted.get(kind, 0) + 1

    return None, [stream_reader(on_record)]


SERVICES: dict[str, Callable[[], Service]] = {
    "shortlist-web": shortlist_web,
    "webapp-bff": webapp_bff,
    "provider-portal": provider_portal,
    "comms-api": comms_api,
    "providers-api": providers_api,
    "auth0-events": auth0_events,
    "mailing-sync": mailing_sync,
    "comms-worker": comms_worker,
    "billing-worker": billing_worker,
    "inventory-api": inventory_api,
    "inventory-indexer": inventory_indexer,
    "inventory-sync-job": inventory_sync_job,
    "analytics-streamer": analytics_streamer,
}


_SIGNALS: list[int] = []
"""The signals received (the handler only appends: it must take no lock)."""


def wait_for_peers(timeout_s: float = 60.0) -> None:
    """Waits until every HTTP service and vendor answers, as a service waits for its dependencies
    at startup; the demo starts all of them at once.

    A signal ends the wait at once: the demo stops the whole fleet together, and a peer stopped
    before it listened never would (this wait, blind to the signal, held the demo's stop until
    it killed the service)."""
    deadline = time.monotonic() + timeout_s
    for name, url in URLS.items():
        host, _, port = url.removeprefix("http://").partition(":")
        said = False
        while not _SIGNALS and time.monotonic() < deadline:
            try:
                # A bare connect: a request would be traced, and is no integration.
                socket.create_connection((host, int(port)), timeout=1.0).close()
                break
            except OSError:
                if not said:
                    log(f"waiting for {name} ({url})")
                    said = True
                time.sleep(0.1)


def _stop(signum: int, frame: object) -> None:
    """First signal: stop the loops and exit normally. Later ones are ignored, so that they
    cannot cut short the flush of queued spans at exit. The main thread sets STOP: a handler
    must take no lock (Event.set does), as the main thread may hold it when a signal comes."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _SIGNALS.append(signum)


def main() -> int:
    if NAME not in SERVICES:
        print(f"actor: unknown service {NAME!r}; one of {', '.join(SERVICES)}", file=sys.stderr)
        return 2
    # A normal exit runs atexit, which flushes the spans still queued.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    app, loops = SERVICES[NAME]()
    server: BaseWSGIServer | None = None
    threads: list[threading.Thread] = []
    if app is not None:
        server = make_server("127.0.0.1", int(os.environ["DEMO_PORT"]), app, threaded=True)
        threads.append(
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": SERVE_POLL_S}, daemon=True
            )
        )
    for thread in threads:
        thread.start()
    if loops:
        wait_for_peers()
    if not _SIGNALS:
        for loop in loops:
            threads.append(threading.Thread(target=loop, daemon=True))
            threads[-1].start()
        log("ready")
    while not _SIGNALS:
        time.sleep(0.1)
    STOP.set()
    if server is not None:
        server.shutdown()
    finish(threads)
    # Left to do: the flush of the spans at exit. Python's last garbage collection, over every
    # object of boto3, Flask and the instrumentations, took the 13 services stopping at once
    # about 2 s of the machine's 2 cores; nothing it would find needs collecting, so it skips
    # them.
    gc.freeze()
    return 0


def finish(threads: list[threading.Thread]) -> None:
    """Waits for each loop to finish what it is doing (JOIN_S at most, for all of them), so that
    its spans end and leave with the flush at exit."""
    deadline = time.monotonic() + JOIN_S
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


if __name__ == "__main__":
    sys.exit(main())
