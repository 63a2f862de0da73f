from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from seamscope.tracer.redact import json_may_hold_secret
from seamscope.tracer.rows import (
    SpanBatchBuilder,
    attribute_piece,
    encode_container,
    encoded_attributes,
    redact_url,
)
from seamscope.tracer.schema import SPAN_COLUMNS
from seamscope.tracer.sources import COLUMN_SOURCES
from tests.fixtures.sdks.http import SERVERS, Call, Server


def _build(
    attributes: dict[str, object],
    resource: dict[str, object] | None = None,
    encoded: tuple[str, bool] | None = None,
    kind: str = "CLIENT",
) -> dict[str, object]:
    builder = SpanBatchBuilder()
    builder.add(
        trace_id="ab" * 16,
        span_id="cd" * 8,
        parent_span_id="",
        name="x",
        kind=kind,
        start_ns=10,
        end_ns=25,
        status_code="ERROR",
        status_message="boom",
        attributes=attributes,
        resource=resource
        or {"service.name": "svc", "service.namespace": "sys", "seamscope.role": "bff"},
        scope_name="s",
        encoded=encoded,
    )
    table = builder.build().drop_columns(["start_time", "end_time"])
    return {k: v[0] for k, v in table.to_pydict().items()}


def test_old_python_conventions_fill_typed_columns() -> None:
    row = _build(
        {
            "http.method": "POST",
            "http.url": "http://bff.local:4000/graphql",
            "http.status_code": 200,
            "db.system": "dynamodb",
            "aws.dynamodb.table_names": ["Orders"],
            "net.peer.name": "localhost:5000",
        }
    )
    assert row["http_method"] == "POST"
    assert row["http_status_code"] == 200
    assert row["db_system"] == "dynamodb"
    assert row["db_tables"] == ["Orders"]
    assert (row["server_address"], row["server_port"]) == ("localhost", 5000)
    assert row["parent_span_id"] is None
    assert row["service_role"] == "bff"
    assert row["duration_ns"] == 15


def test_stable_and_other_sdk_conventions_fill_the_same_columns() -> None:
    row = _build(
        {
            "http.request.method": "GET",
            "url.full": "https://api.example.com/v1/items",
            "http.response.status_code": 404,
            "db.system.name": "dynamodb",
            "db.namespace": "Inventory",
            "messaging.destination.name": "orders-q",
        }
    )
    assert row["http_method"] == "GET"
    assert (row["server_address"], row["server_port"]) == ("api.example.com", None)
    assert row["http_status_code"] == 404
    assert row["db_tables"] == ["Inventory"]
    assert row["messaging_destination"] == "orders-q"


def test_eventbridge_entries_become_events() -> None:
    row = _build(
        {
            "seamscope.eventbridge.bus_names": ["default", "users"],
            "seamscope.eventbridge.sources": ["idp", "idp"],
            "seamscope.eventbridge.detail_types": ["UserCreated", "UserDeleted"],
        }
    )
    assert row["events"] == [
        {"bus": "default", "source": "idp", "detail_type": "UserCreated"},
        {"bus": "users", "source": "idp", "detail_type": "UserDeleted"},
    ]


def test_secrets_never_reach_the_row() -> None:
    row = _build(
        {
            "http.request.header.authorization": "Bearer abc",
            "url.full": "https://user:pw@api.example.com/cb?access_token=abc&page=2",
            "note": "key AKIAABCDEFGHIJKLMNOP leaked",
        }
    )
    text = json.dumps(row, default=str)
    for secret in ("Bearer abc", "user:pw", "access_token=abc", "AKIAABCDEFGHIJKLMNOP"):
        assert secret not in text
    assert "page=2" in str(row["http_url"])


def test_redact_url_keeps_plain_urls() -> None:
    assert redact_url("http://a/b?page=1") == "http://a/b?page=1"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # A token as the user name alone, a password alone, both: the user info goes.
        ("https://ghp_abc@git.example/x", "https://REDACTED@git.example/x"),
        ("https://:pw@h.example/x", "https://REDACTED@h.example/x"),
        ("https://u:p@h.example:8443/x?page=1", "https://REDACTED@h.example:8443/x?page=1"),
        (
            "https://u:p@h.example/cb?code=abc&page=2",
            "https://REDACTED@h.example/cb?code=REDACTED&page=2",
        ),
        # An @ that is no user info stays.
        ("https://h.example/p?email=a@b.example", "https://h.example/p?email=a@b.example"),
    ],
)
def test_redact_url_removes_exactly_the_user_info_and_secret_parameters(
    url: str, expected: str
) -> None:
    assert redact_url(url) == expected


def test_redact_url_takes_a_malformed_url_without_raising() -> None:
    assert isinstance(redact_url("http://u:pw@[::1/x"), str)


def _plain_span(**fields: Any) -> dict[str, Any]:
    """SpanBatchBuilder.add's arguments for a plain client span, with fields replaced."""
    return {
        "trace_id": "ab" * 16,
        "span_id": "cd" * 8,
        "parent_span_id": None,
        "name": "GET",
        "kind": "CLIENT",
        "start_ns": 1,
        "end_ns": 2,
        "status_code": "UNSET",
        "status_message": None,
        "attributes": {},
        "resource": {"service.name": "svc"},
        "scope_name": None,
    } | fields


def test_secrets_are_redacted_whatever_spans_came_before() -> None:
    """The per-key-set plans and the JSON pre-check must not let a later secret through."""
    builder = SpanBatchBuilder()
    values = ["http://a/b", "http://a/b?page=1", "https://h/cb?token=abc", "AKIAABCDEFGHIJKLMNOP"]
    for i, url in enumerate(values):
        builder.add(
            **_plain_span(
                span_id=f"{i:016x}",
                attributes={"url.full": url, "server.address": "h"},
                events=[{"name": "exception", "time_unix_nano": 1, "attributes": {"x": url}}],
            )
        )
    table = builder.build().drop_columns(["start_time", "end_time"])
    text = json.dumps(table.to_pylist(), default=str)
    assert "token=abc" not in text and "AKIAABCDEFGHIJKLMNOP" not in text
    assert table.column("http_url").to_pylist()[:2] == ["http://a/b", "http://a/b?page=1"]
    assert len(builder) == 0 and table.num_rows == 4


def test_secret_keys_are_redacted_in_every_namespace() -> None:
    row = _build(
        {
            "db.password": "hunter2",
            "aws.secret_access_key": "wJalrXUtnFEMI",
            "rpc.authorization": "Basic abc",
            "db.system": "dynamodb",
        }
    )
    text = json.dumps(row, default=str)
    for secret in ("hunter2", "wJalrXUtnFEMI", "Basic abc"):
        assert secret not in text
    assert row["db_system"] == "dynamodb"


def test_every_source_of_a_column_is_in_its_doc() -> None:
    docs = {c.name: c.doc for c in SPAN_COLUMNS}
    for column, sources in COLUMN_SOURCES.items():
        for source in sources:
            assert source.key in docs[column], (column, source.key)


def test_new_rpc_conventions_fill_service_and_method() -> None:
    # Go otelaws >= 0.65: rpc.system.name, and rpc.method names the service too.
    row = _build({"rpc.system.name": "aws-api", "rpc.method": "DynamoDB/PutItem"})
    assert (row["rpc_system"], row["rpc_service"], row["rpc_method"]) == (
        "aws-api",
        "DynamoDB",
        "PutItem",
    )
    row = _build({"rpc.system": "aws-api", "rpc.service": "Sqs", "rpc.method": "SendMessage"})
    assert (row["rpc_service"], row["rpc_method"]) == ("Sqs", "SendMessage")


QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-q"


def test_the_queue_name_comes_from_any_queue_url() -> None:
    shapes: tuple[dict[str, object], ...] = (
        {"rpc.system": "aws-api", "aws.sqs.queue.url": QUEUE},  # Java, .NET Latest
        {"rpc.system": "aws-api", "aws.queue_url": QUEUE},  # .NET 1.28
        {"rpc.system": "aws-api", "messaging.url": QUEUE},  # Python botocore
        {"rpc.system": "aws-api", "messaging.system": "aws_sqs", "url.full": QUEUE},  # Node
    )
    for attrs in shapes:
        assert _build(attrs)["messaging_destination"] == "orders-q", attrs
    # Go otelaws puts the QueueUrl into server.address: the host is the URL's host.
    row = _build({"rpc.system": "aws-api", "messaging.system": "aws_sqs", "server.address": QUEUE})
    assert (row["messaging_destination"], row["server_address"]) == (
        "orders-q",
        "sqs.eu-west-1.amazonaws.com",
    )
    # A URL of that shape on a span that is no AWS call names no queue.
    row = _build({"url.full": QUEUE, "http.request.method": "GET"})
    assert row["messaging_destination"] is None
    # A named destination wins over the URL.
    row = _build({"messaging.destination.name": "named", "aws.sqs.queue.url": QUEUE})
    assert row["messaging_destination"] == "named"


def test_node_kinesis_stream_name() -> None:
    row = _build({"rpc.system": "aws-api", "aws.kinesis.stream.name": "clicks"})
    assert (row["stream_name"], row["messaging_destination"]) == ("clicks", "clicks")


def test_secret_keys_in_events_and_links_are_redacted() -> None:
    """A value under a secret key looks like nothing on its own: the key alone must do."""
    builder = SpanBatchBuilder()
    builder.add(
        **_plain_span(
            events=[{"name": "retry", "time_unix_nano": 1, "attributes": {"api_key": "pw-1"}}],
            links=[
                {"trace_id": "ef" * 16, "span_id": "01" * 8, "attributes": {"db.password": "pw-2"}}
            ],
        )
    )
    table = builder.build()
    row = {name: table.column(name)[0].as_py() for name in ("span_events", "links")}
    assert "pw-" not in f"{row['span_events']} {row['links']}"
    assert "REDACTED" in row["span_events"] and "REDACTED" in row["links"]


def test_the_instance_is_host_and_pid_without_an_instance_id() -> None:
    row = _build({}, resource={"service.name": "svc", "host.name": "h1", "process.pid": 42})
    assert row["service_instance"] == "h1:42"
    assert _build({}, resource={"service.name": "svc"})["service_instance"] is None


# Pieces of text that the redaction's substring tests look for, and JSON's escapes.
_PARTS = st.sampled_from(
    ["a", "Z", "://", "@", "=", "token", "token=", "?sig=", "eyJ", "earer ", "asic ", "AKIA",
     "ASIA", '"', "'", "\\", "\n", "\x01", "{", "[{", ":", ",", " ", "é", "x" * 70]
)  # fmt: skip
_TEXT = st.lists(_PARTS, max_size=8).map("".join)
_VALUES = st.recursive(
    _TEXT | st.integers() | st.floats() | st.booleans() | st.none(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=2),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_TEXT, _VALUES), max_size=6))
@example([("note", "user@host"), ("peer", "https://api.example.com/")])  # "@", "://" apart
@example([("a", "x"), ("a", "y")])
def test_encoded_attributes_are_what_the_builder_would_make(pairs: list[tuple[str, Any]]) -> None:
    """The decoders' joined pieces are exactly the builder's JSON of the attributes, and their
    redaction test exactly json_may_hold_secret of it (repeated keys: left to the builder)."""
    attributes, encoded = encoded_attributes([attribute_piece(k, v) for k, v in pairs])
    assert attributes == dict(pairs)
    if len(dict(pairs)) < len(pairs):
        assert encoded is None
        return
    text = encode_container(dict(pairs))
    assert encoded == (text, json_may_hold_secret(text))


@pytest.mark.parametrize(
    "attributes",
    [
        {"url.full": "https://u:p@api.example.com/x?token=abc", "http.request.method": "GET"},
        {"note": "user@host", "peer": "https://api.example.com/"},  # "@" and "://" apart
        {"db.statement": "SELECT 1 FROM t WHERE a = 'x'", "db.system": "postgresql"},
        {"rpc.system": "aws-api", "server.port": 443, "tags": ["a", "b"]},
        {},
    ],
)
def test_a_span_with_encoded_attributes_is_the_span_without(attributes: dict[str, Any]) -> None:
    """SpanBatchBuilder.add with `encoded` (what the flat decoders pass) stores the same row,
    redaction included."""
    pieces = [attribute_piece(k, v) for k, v in attributes.items()]
    row = _build(attributes, encoded=encoded_attributes(pieces)[1])
    assert row == _build(attributes)
    if "url.full" in attributes:
        assert "REDACTED" in str(row["attributes"])


def test_a_spans_own_role_wins_over_its_resources() -> None:
    assert _build({"seamscope.role": "worker"})["service_role"] == "worker"
    assert _build({"http.method": "GET"})["service_role"] == "bff"


@pytest.mark.parametrize(
    ("value", "stored"),
    [(200, 200), (-(2**31), -(2**31)), (2**31 - 1, 2**31 - 1), (2**31, None),
     (-(2**31) - 1, None), ("404", 404), (True, None)],
)  # fmt: skip
def test_integer_columns_take_what_fits_32_bits(value: object, stored: int | None) -> None:
    assert _build({"http.response.status_code": value})["http_status_code"] == stored


def test_the_port_comes_from_the_url_or_the_peer_name_when_no_attribute_names_it() -> None:
    row = _build(
        {"server.address": "api.example.com", "url.full": "https://api.example.com:8443/x"}
    )
    assert (row["server_address"], row["server_port"]) == ("api.example.com", 8443)
    row = _build({"net.peer.name": "dynamodb.eu-west-1.amazonaws.com:443"})
    assert (row["server_address"], row["server_port"]) == ("dynamodb.eu-west-1.amazonaws.com", 443)
    row = _build({"net.peer.name": "queue.local:9324", "server.port": 4566})
    assert (row["server_address"], row["server_port"]) == ("queue.local", 4566)


def test_attributes_of_any_mapping_are_stored_as_a_dict_would_be() -> None:
    from types import MappingProxyType

    attributes = {"http.request.method": "GET", "n": 3}
    assert _build(MappingProxyType(attributes)) == _build(dict(attributes))  # type: ignore[arg-type]
    assert json.loads(str(_build(MappingProxyType(attributes))["attributes"])) == attributes  # type: ignore[arg-type]


def test_values_of_secret_keys_are_redacted_whatever_they_look_like() -> None:
    attributes = json.loads(
        str(_build({"app.password": "hunter2", "api_key": 12345})["attributes"])
    )
    assert attributes == {"app.password": "REDACTED", "api_key": "REDACTED"}


def test_sns_topics_and_the_scope_are_stored() -> None:
    arn = "arn:aws:sns:eu-west-1:123456789012:orders"
    row = _build({"rpc.system": "aws-api", "aws.sns.topic.arn": arn})
    assert (row["sns_topics"], row["scope_name"]) == ([arn], "s")


def test_the_host_comes_from_the_url_when_only_the_port_is_named() -> None:
    row = _build({"url.full": "https://api.example.com/x", "server.port": 8443})
    assert (row["server_address"], row["server_port"]) == ("api.example.com", 8443)


# Every server of tests/fixtures/sdks/http.py called at orders-1:9000 (a proxy's port) and
# answering on its socket 10.0.0.2:8000; only python-contrib's ASGI under `http` (no Host header
# captured) records the called host nowhere, and its columns name the socket.
_CALLED = Call("/orders/{id}", "/orders/7", "GET", "orders-1", 9000, "10.0.0.2", 8000)
_SOCKET_ONLY = {"python-fastapi http"}


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s.key)
def test_a_server_span_stores_the_host_and_port_it_was_called_at(server: Server) -> None:
    row = _build(server.shape(_CALLED).attributes(), kind="SERVER")
    called = ("10.0.0.2", 8000) if server.key in _SOCKET_ONLY else ("orders-1", 9000)
    assert (row["server_address"], row["server_port"]) == called


def test_a_captured_host_header_replaces_only_an_ip_address() -> None:
    asgi = {"server.address": "10.0.0.2:8000", "server.port": 8000}
    row = _build({**asgi, "http.request.header.host": ("orders-1:9000",)}, kind="SERVER")
    assert (row["server_address"], row["server_port"]) == ("orders-1", 9000)
    # A server.address that is a name is the called host by the stable conventions (behind a
    # proxy, X-Forwarded-Host's), where the Host header names the proxy's upstream.
    java = {"server.address": "shop.example.com", "server.port": 443}
    row = _build({**java, "http.request.header.host": ["orders-1:8080"]}, kind="SERVER")
    assert (row["server_address"], row["server_port"]) == ("shop.example.com", 443)


def test_the_configured_server_name_is_not_the_called_host() -> None:
    row = _build({"http.server_name": "orders-api", "net.host.port": 8000}, kind="SERVER")
    assert (row["server_address"], row["server_port"]) == (None, 8000)


def _records_redacted_one_by_one(records: list[dict[str, Any]]) -> str:
    """What the builder stores for span events or links when it redacts each of them."""
    from seamscope.tracer.redact import redact_attributes, redact_name

    cleaned = []
    for record in records:
        record = dict(record)
        record["attributes"] = redact_attributes(record["attributes"])
        if "name" in record:
            record["name"] = redact_name(record["name"])
        cleaned.append(record)
    return json.dumps(cleaned, separators=(",", ":"), ensure_ascii=False, default=str)


_EVENTS = st.lists(
    st.fixed_dictionaries(
        {
            "name": _TEXT,
            "time_unix_nano": st.integers(0, 2**63),
            "attributes": st.dictionaries(_TEXT, _VALUES, max_size=3),
        }
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=500, deadline=None)
@given(_EVENTS)
@example([{"name": "x", "time_unix_nano": 1, "attributes": {"a": {"password": "pw-1"}}}])
@example([{"name": "a", "time_unix_nano": 1, "attributes": {"b": [{"token": "pw-1"}]}}])
@example([{"name": "{", "time_unix_nano": 1, "attributes": {}}, {"name": "Bearer abcdefgh",
          "time_unix_nano": 2, "attributes": {}}])  # fmt: skip
def test_events_are_stored_as_if_each_were_redacted(events: list[dict[str, Any]]) -> None:
    """The builder's one test of the events' (and links') JSON, which lets most of them
    through without redacting each one, stores exactly what redacting each one would."""
    builder = SpanBatchBuilder()
    links = [{"trace_id": "ef" * 16, "span_id": "01" * 8, "attributes": e["attributes"]}
             for e in events]  # fmt: skip
    builder.add(**_plain_span(events=events, links=links))
    table = builder.build()
    assert table.column("span_events")[0].as_py() == _records_redacted_one_by_one(events)
    assert table.column("links")[0].as_py() == _records_redacted_one_by_one(links)


def test_plain_events_and_links_are_not_redacted_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Events and links with nothing to redact (the common ones) are stored as their JSON is:
    each record was redacted on its own, since the test of the JSON took the records' own maps
    for map values, which cost a decoder 4 us an event (1.2 s for the 262,144 events a
    request may carry)."""
    from seamscope.tracer import rows

    calls: list[object] = []
    real = rows.redact_attributes

    def counted(attrs: Any) -> dict[str, Any]:
        calls.append(attrs)
        return real(attrs)

    monkeypatch.setattr(rows, "redact_attributes", counted)
    events = [
        {"name": f"message {i}", "time_unix_nano": i, "attributes": {"message.id": i}}
        for i in range(1, 1001)
    ] + [{"name": "retry", "time_unix_nano": 1001, "attributes": {}}]
    links = [{"trace_id": "ef" * 16, "span_id": "01" * 8, "attributes": {}}] * 100
    builder = SpanBatchBuilder()
    builder.add(**_plain_span(events=events, links=links))
    stored = builder.build().column("span_events")[0].as_py()
    assert stored == _records_redacted_one_by_one(events)
    assert calls == [{"service.name": "svc"}]  # the resource's alone


# An IPv6 peer as the instrumentations write it (tests/fixtures/sdks/ipv6.py names where each
# comes from): stored without brackets, as the stable conventions want server.address.
@pytest.mark.parametrize(
    ("kind", "attributes", "stored"),
    [
        # .NET's ASP.NET Core and HttpClient, Node's http server and undici: brackets kept.
        ("SERVER", {"server.address": "[FD00::5]", "server.port": 9000}, ("fd00::5", 9000)),
        ("CLIENT", {"server.address": "[::1]", "server.port": 8080}, ("::1", 8080)),
        # python-contrib's WSGI (django, stable and old): the Host header, with its port.
        ("SERVER", {"server.address": "[fd00::5]:9000", "server.port": 8000}, ("fd00::5", 9000)),
        ("SERVER", {"http.host": "[fd00::5]:9000", "net.host.port": 8000}, ("fd00::5", 9000)),
        # python-contrib's ASGI: the socket `host:port`, the Host header captured.
        (
            "SERVER",
            {
                "server.address": "::1:8000",
                "server.port": 8000,
                "http.request.header.host": ("[::1]:9000",),
            },
            ("::1", 9000),
        ),
        # Java's agent cuts `[fd00::5]:9000` at its first colon: no host, not `[fd00`.
        ("SERVER", {"server.address": "[fd00"}, (None, None)),
        # A server's URL (old conventions) names the host and port called.
        (
            "SERVER",
            {"http.url": "http://[::1]:8080/x", "net.host.name": "::1", "net.host.port": 80},
            ("::1", 8080),
        ),
        (
            "SERVER",
            {"http.url": "http://[fd00::5]/x", "server.address": "10.0.0.2", "server.port": 8000},
            ("fd00::5", None),
        ),
        # Go's otelhttp and python-contrib's clients: no brackets already.
        (
            "CLIENT",
            {"url.full": "http://[fd00::5]:9000/x", "server.address": "fd00::5"},
            ("fd00::5", 9000),
        ),
    ],
)
def test_an_ipv6_address_is_stored_without_its_brackets(
    kind: str, attributes: dict[str, object], stored: tuple[object, object]
) -> None:
    row = _build(attributes, kind=kind)
    assert (row["server_address"], row["server_port"]) == stored


def test_a_server_url_with_user_info_names_its_host_not_the_user() -> None:
    socket = {"server.address": "10.0.0.2", "server.port": 8000}
    for url in ("https://user:pass@orders-1:9443/x", "https://REDACTED:REDACTED@orders-1:9443/x"):
        row = _build({"http.url": url, **socket}, kind="SERVER")
        assert (row["server_address"], row["server_port"]) == ("orders-1", 9443)
        assert "pass" not in str(row["http_url"]) + str(row["attributes"])
