"""Routes: node ids from ARNs, the record and its checks, storing (replace per account and
region), the read-only guard, and the owner's routes endpoint over real loopback HTTP."""

from __future__ import annotations

import dataclasses
import http.client
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from seamscope.tracer.aws import WriteRefused, read_only_session
from seamscope.tracer.discover import (
    EVENTBRIDGE_RULE,
    ROUTE_KINDS,
    SNS_SUBSCRIPTION,
    Discovery,
    Route,
    discover_aws,
    node_for_arn,
    replace_routes,
    routes_payload,
    store_routes,
)
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.owner import ROUTES_PATH, SECRET_HEADER, post_json
from seamscope.tracer.receiver import Receiver
from seamscope.tracer.schema import AWS_ROUTE_COLUMNS
from seamscope.tracer.store import Store, open_read_only, short_lock

ACCOUNT = "123456789012"
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def route(
    route_id: str,
    kind: str = EVENTBRIDGE_RULE,
    source: str = "events:bus/default",
    target: str = "sqs:queue/q",
    *,
    account: str = ACCOUNT,
    region: str = "us-east-1",
    origin: str = "discovered",
) -> Route:
    return Route(
        route_id=route_id,
        kind=kind,
        source=source,
        target=target,
        event_sources=("orders",) if kind == EVENTBRIDGE_RULE else None,
        detail_types=("OrderPlaced",) if kind == EVENTBRIDGE_RULE else None,
        name=route_id,
        pattern='{"source": ["orders"]}' if kind == EVENTBRIDGE_RULE else None,
        origin=origin,
        account=account,
        region=region,
        discovered_at=WHEN,
    )


def stored(db: Path) -> list[tuple[str, str, str]]:
    con = open_read_only(db)
    try:
        rows = con.execute("SELECT route_id, account, region FROM aws_routes ORDER BY 1").fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]
    finally:
        con.close()


@pytest.mark.parametrize(
    ("arn", "node"),
    [
        ("arn:aws:sqs:us-east-1:123456789012:orders-q", "sqs:queue/orders-q"),
        ("arn:aws:sns:us-east-1:123456789012:digests", "sns:topic/digests"),
        ("arn:aws:lambda:eu-west-1:123456789012:function:resize", "lambda:function/resize"),
        ("arn:aws:lambda:eu-west-1:123456789012:function:resize:live", "lambda:function/resize"),
        ("arn:aws:kinesis:us-east-1:123456789012:stream/clicks", "kinesis:stream/clicks"),
        (
            "arn:aws:kinesis:us-east-1:123456789012:stream/clicks/consumer/app:1700000000",
            "kinesis:stream/clicks",
        ),
        (
            "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2026-12-04T07:48:49.050",
            "dynamodb:stream/Orders",
        ),
        ("arn:aws:events:us-east-1:123456789012:event-bus/commerce", "events:bus/commerce"),
        ("arn:aws-cn:sqs:cn-north-1:123456789012:q", "sqs:queue/q"),
        ("arn:aws:dynamodb:us-east-1:123456789012:table/Orders", None),
        ("arn:aws:states:us-east-1:123456789012:stateMachine:flow", None),
        ("arn:aws:sns:us-east-1:123456789012:digests:6f1c-subscription", None),
        ("https://sqs.us-east-1.amazonaws.com/123456789012/orders-q", None),
        ("", None),
    ],
)
def test_node_ids_are_resource_names_never_addresses(arn: str, node: str | None) -> None:
    assert node_for_arn(arn) == node


def test_the_record_is_the_table() -> None:
    assert [f.name for f in dataclasses.fields(Route)] == [c.name for c in AWS_ROUTE_COLUMNS]


def test_a_route_survives_json_and_bad_ones_say_why() -> None:
    original = route("r1")
    assert Route.from_json(json.loads(json.dumps(original.to_json()))) == original
    cases: dict[str, dict[str, object]] = {
        "unknown kind 'rule'": {"kind": "rule"},
        "source 'sqs:queue/q' is not a node id eventbridge-rule may leave from": {
            "source": "sqs:queue/q"
        },
        "target 'sqs:q' is not a node id eventbridge-rule may go to": {"target": "sqs:q"},
        "origin 'guessed'": {"origin": "guessed"},
        "event_sources must be a list of strings": {"event_sources": "orders"},
        "a route needs target": {"target": None},
        "discovered_at 'yesterday' is no ISO time": {"discovered_at": "yesterday"},
    }
    for message, change in cases.items():
        with pytest.raises(ValueError, match=message):
            Route.from_json({**original.to_json(), **change})
    assert route("s", SNS_SUBSCRIPTION, "sns:topic/t", "kinesis:stream/k").problem() == (
        "target 'kinesis:stream/k' is not a node id sns-subscription may go to "
        "(sqs:queue/<name>, lambda:function/<name>)"
    )
    for kind, (sources, targets) in ROUTE_KINDS.items():
        assert route("x", kind, sources[0] + "a", targets[0] + "b").problem() is None


def test_a_rerun_replaces_its_account_region_and_kinds_only(db_path: Path) -> None:
    with Store.open(db_path) as store:
        replace_routes(
            store.con,
            [route("a"), route("b"), route("s", SNS_SUBSCRIPTION, "sns:topic/t")],
            account=ACCOUNT,
            region="us-east-1",
            kinds=[EVENTBRIDGE_RULE, SNS_SUBSCRIPTION],
        )
        replace_routes(
            store.con,
            [route("other-region", region="eu-west-1")],
            account=ACCOUNT,
            region="eu-west-1",
            kinds=[EVENTBRIDGE_RULE],
        )
        store.con.execute(
            "INSERT INTO aws_routes (route_id, kind, source, target, origin) "
            "VALUES ('declared:1', 'eventbridge-rule', 'events:bus/x', 'sqs:queue/y', 'declared')"
        )
        # The rerun read only the rules: b is gone, the subscription and the rest stay.
        replace_routes(
            store.con, [route("a")], account=ACCOUNT, region="us-east-1", kinds=[EVENTBRIDGE_RULE]
        )
        with pytest.raises(ValueError, match="route other is no discovered eventbridge-rule of"):
            replace_routes(
                store.con,
                [route("other", region="eu-west-1")],
                account=ACCOUNT,
                region="us-east-1",
                kinds=[EVENTBRIDGE_RULE],
            )
    assert stored(db_path) == [
        ("a", ACCOUNT, "us-east-1"),
        ("declared:1", "None", "None"),
        ("other-region", ACCOUNT, "eu-west-1"),
        ("s", ACCOUNT, "us-east-1"),
    ]
    con = open_read_only(db_path)
    try:
        row = con.execute(
            "SELECT event_sources, detail_types, pattern->>'$.source[0]', discovered_at "
            "FROM aws_routes WHERE route_id = 'a'"
        ).fetchone()
    finally:
        con.close()
    assert row == (["orders"], ["OrderPlaced"], "orders", WHEN)


def test_the_guard_refuses_a_write_before_it_is_sent() -> None:
    # Nothing listens on port 9: a call that got past the guard would fail to connect instead.
    session = read_only_session("us-east-1")
    sqs = session.client(
        "sqs",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    writes: list[Callable[[], object]] = [
        lambda: sqs.create_queue(QueueName="q"),
        lambda: sqs.send_message(QueueUrl="http://127.0.0.1:9/1/q", MessageBody="x"),
        lambda: sqs.purge_queue(QueueUrl="http://127.0.0.1:9/1/q"),
    ]
    for call in writes:
        with pytest.raises(WriteRefused, match="is not a read-only call"):
            call()
    import botocore.exceptions

    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        sqs.list_queues()  # a read gets through (and finds nobody)
    # Only the session discover uses is guarded.
    plain = boto3.Session(region_name="us-east-1").client(
        "sqs",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        plain.create_queue(QueueName="q")


def test_no_region_and_no_credentials_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    with pytest.raises(SeamscopeError, match="^no AWS region: set AWS_REGION"):
        discover_aws()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    with pytest.raises(SeamscopeError, match="^no AWS credentials found"):
        discover_aws("us-east-1")
    with pytest.raises(SeamscopeError, match="could not be found"):
        discover_aws("us-east-1", profile="nobody")


def _discovery(*routes: Route) -> Discovery:
    found = Discovery(account=ACCOUNT, region="us-east-1", discovered_at=WHEN)
    found.routes.extend(routes)
    found.kinds_read.append(EVENTBRIDGE_RULE)
    return found


def test_routes_go_through_the_owner_and_bad_ones_are_refused(db_path: Path) -> None:
    hooked = threading.Event()
    receiver = Receiver(db_path, port=0, after_commit=lambda con: hooked.set()).start()
    try:
        hooked.wait(5)
        hooked.clear()
        assert store_routes(db_path, _discovery(route("a"), route("b"))) == receiver.url
        # The writer owes the classifier a refresh after the routes changed.
        assert hooked.wait(30)
        got = receiver.query("SELECT route_id FROM aws_routes ORDER BY 1").to_pylist()
        assert got == [{"route_id": "a"}, {"route_id": "b"}]
        assert receiver.owner is not None
        bad = {**routes_payload(_discovery(route("a"))), "region": 3}
        with pytest.raises(SeamscopeError, match="refused: account and region must be strings"):
            post_json(receiver.owner, ROUTES_PATH, bad)
        wrong = routes_payload(_discovery(route("a", target="sqs:orders")))
        with pytest.raises(SeamscopeError, match="target 'sqs:orders' is not a node id"):
            post_json(receiver.owner, ROUTES_PATH, wrong)
        # Only the store's user may write routes: the owner's secret, and JSON.
        body = json.dumps(routes_payload(_discovery(route("x")))).encode()
        for headers, status in (
            ({"Content-Type": "application/json"}, 401),
            ({"Content-Type": "application/json", SECRET_HEADER: "guess"}, 401),
            ({"Content-Type": "text/plain", **receiver.owner.headers()}, 415),
            (
                {
                    "Content-Type": "application/json",
                    "Host": "evil.example",
                    **receiver.owner.headers(),
                },
                403,
            ),
        ):
            conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=30)
            try:
                conn.request("POST", ROUTES_PATH, body=body, headers=headers)
                assert conn.getresponse().status == status, headers
            finally:
                conn.close()
        stray = routes_payload(_discovery(route("c", region="eu-west-1")))
        with pytest.raises(SeamscopeError, match="refused: route c is no discovered"):
            post_json(receiver.owner, ROUTES_PATH, stray)
    finally:
        receiver.stop()
    assert stored(db_path) == [("a", ACCOUNT, "us-east-1"), ("b", ACCOUNT, "us-east-1")]


def test_without_an_owner_routes_are_written_under_the_short_lock(db_path: Path) -> None:
    assert store_routes(db_path, _discovery(route("a"))) is None
    assert store_routes(db_path, _discovery(route("b"))) is None
    assert stored(db_path) == [("b", ACCOUNT, "us-east-1")]
    with short_lock(db_path) as store:  # the store stays usable by everyone else
        assert store.con.execute("SELECT count(*) FROM aws_routes").fetchone() == (1,)
