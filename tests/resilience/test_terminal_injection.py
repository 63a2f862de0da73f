"""Span names that would drive a terminal (clear the screen, set its title, plant a hyperlink,
a C1 CSI, Rich markup) come out of `seamscope sql` escaped, in a table and in --csv, and so do
error messages that echo what was typed; and so do escape sequences in what else spans carry
(queues, tables, URLs, routes, systems) through `edges`, `check`, `export` and `drift`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from rich.text import Text

from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.store import Store
from seamscope.tracer.terminal import safe
from seamscope.tui.widgets.cells import plain
from tests.e2e.test_collect import SEAMSCOPE

pytestmark = pytest.mark.e2e

NAMES = [
    "GET /a\x1b[2J\x1b[H",  # clear the screen
    "GET /b\x1b]0;owned title\x07",  # OSC 0: the window title
    "GET /c\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",  # OSC 8: a hyperlink
    "GET /d\x9b31m",  # a C1 CSI
    "GET /e[bold red]markup[/]\u202etxt.exe",  # Rich markup, a bidirectional override
]
CONTROLS = [b"\x1b", b"\x07", "\x9b".encode(), "\u202e".encode()]


def _store(db: Path) -> None:
    builder = SpanBatchBuilder()
    for i, name in enumerate(NAMES):
        builder.add(
            trace_id=f"{i + 1:032x}",
            span_id=f"{i + 1:016x}",
            parent_span_id=None,
            name=name,
            kind="SERVER",
            start_ns=1,
            end_ns=2,
            status_code="UNSET",
            status_message=None,
            attributes={},
            resource={"service.name": "svc"},
            scope_name=None,
        )
    with Store.open(db) as store:
        store.append(builder.build(), batch_key="names", source="test")


def _sql(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*SEAMSCOPE, "sql", *args], capture_output=True, timeout=120, stdin=subprocess.DEVNULL
    )


@pytest.mark.parametrize("mode", [[], ["--csv"]], ids=["table", "csv"])
def test_sql_prints_span_names_escaped(db_path: Path, mode: list[str]) -> None:
    _store(db_path)
    done = _sql("select name from spans order by name", "--db", str(db_path), *mode)
    assert done.returncode == 0, done.stderr
    assert [c for c in CONTROLS if c in done.stdout] == []
    out = done.stdout.decode()
    for escaped in ("\\u001b[2J", "\\u001b]0;owned title\\u0007", "\\u009b31m", "\\u202e"):
        assert escaped in out
    assert "[bold red]markup[/]" in out  # shown as typed, not read as markup


def test_error_messages_echo_input_escaped(tmp_path: Path) -> None:
    done = _sql("select 1", "--db", str(tmp_path / "x\x1b]0;owned\x07.duckdb"))
    assert done.returncode == 2
    assert [c for c in CONTROLS if c in done.stderr] == []
    assert b"x\\u001b]0;owned\\u0007.duckdb" in done.stderr
    done = _sql("--\x1b[2J")
    assert done.returncode == 2
    assert b"\x1b" not in done.stderr


def test_tui_cells_are_escaped() -> None:
    assert plain(NAMES[1]).plain == safe(NAMES[1]) == "GET /b\\u001b]0;owned title\\u0007"
    styled = plain(Text(NAMES[3], style="bold"))
    assert (styled.plain, styled.style) == ("GET /d\\u009b31m", "bold")
    assert plain(NAMES[4]).plain.startswith("GET /e[bold red]markup[/]")
    assert safe("a\nb\tc", lines=True) == "a\nb\tc"
    assert safe("a\nb") == "a\\u000ab"


HOSTILE = "\x1b]0;pwn\x07\x1b[2J\x9b31m\u202e"


def _attr(key: str, value: str) -> dict[str, object]:
    return {"key": key, "value": {"stringValue": value}}


def _span(i: int, name: str, attributes: list[dict[str, object]], **more: object) -> object:
    start = 1_764_000_000_000_000_000 + i * 1000
    return {
        "traceId": "1" * 32,
        "spanId": f"{i:016x}",
        "name": name,
        "kind": more.pop("kind", 3),
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 500),
        "attributes": attributes,
        **more,
    }


@pytest.fixture(scope="module")
def attribute_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Escape sequences in what spans carry besides names: a queue, a table, a vendor's URL, an
    HTTP route, a span name, a system: each becomes a node, an edge or a finding."""
    tmp = tmp_path_factory.mktemp("attributes")
    aws = [_attr("rpc.system", "aws-api"), _attr("aws.region", "eu-west-1")]
    calls = [
        _span(
            1,
            "SQS.SendMessage" + HOSTILE,
            [*aws, _attr("rpc.service", "SQS"), _attr("rpc.method", "SendMessage")]
            + [
                _attr("messaging.system", "aws_sqs"),
                _attr("messaging.destination.name", "q" + HOSTILE),
            ],
        ),
        _span(
            2,
            "DynamoDB.PutItem",
            [*aws, _attr("rpc.service", "DynamoDB"), _attr("rpc.method", "PutItem")]
            + [_attr("aws.dynamodb.table_names", "T" + HOSTILE), _attr("db.system", "dynamodb")],
        ),
        _span(
            3,
            "GET" + HOSTILE,
            [_attr("http.request.method", "GET"), _attr("url.full", "https://v.example/" + HOSTILE)]
            + [_attr("server.address", "v.example")],
        ),
        _span(
            4,
            "POST",
            [_attr("http.request.method", "POST"), _attr("url.full", "http://other/api")]
            + [_attr("server.address", "other"), _attr("app.key" + HOSTILE, "v" + HOSTILE)],
        ),
    ]
    served = [
        _span(
            5,
            "POST /api" + HOSTILE,
            [_attr("http.request.method", "POST"), _attr("http.route", "/api/" + HOSTILE)],
            kind=2,
            parentSpanId=f"{4:016x}",
        )
    ]

    def resource(name: str, system: str) -> dict[str, object]:
        return {"attributes": [_attr("service.name", name), _attr("service.namespace", system)]}

    request = {
        "resourceSpans": [
            {"resource": resource("svc", "sys" + HOSTILE), "scopeSpans": [{"spans": calls}]},
            {"resource": resource("other", "other"), "scopeSpans": [{"spans": served}]},
        ]
    }
    traces = tmp / "t.json"
    traces.write_text(json.dumps(request) + "\n")
    db = tmp / "attributes.duckdb"
    done = subprocess.run(
        [*SEAMSCOPE, "ingest", "--db", str(db), str(traces)], capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    (tmp / "seamscope.toml").write_text('[[edges]]\nfrom = "nobody"\nto = "nothing"\n')
    return db


@pytest.mark.parametrize(
    "args",
    [
        ["edges"],
        ["edges", "--format", "json"],
        ["check"],
        ["check", "--format", "json"],
        ["export"],
        ["export", "--format", "structurizr"],
        ["drift", "--landscape", "LANDSCAPE"],
        ["sql", "select name, attributes::VARCHAR from spans"],
        # JSON text keeps an escape escaped: these take keys and values out of it raw
        *(
            ["sql", *mode, f"select {q} from spans"]
            for mode in ([], ["--csv"], ["--json"])
            for q in (
                "unnest(json_keys(attributes::JSON)) as k",
                "attributes::JSON->>'url.full', attributes::JSON->>'http.route'",
                "json_keys(attributes::JSON) as keys, {'u': attributes::JSON->>'url.full'} as s",
            )
        ),
    ],
    ids=" ".join,
)
def test_attributes_come_out_escaped(attribute_store: Path, args: list[str]) -> None:
    args = [str(attribute_store.parent / "seamscope.toml") if a == "LANDSCAPE" else a for a in args]
    done = subprocess.run(
        [*SEAMSCOPE, args[0], "--db", str(attribute_store), *args[1:]],
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode in (0, 1), done.stderr
    out = done.stdout + done.stderr
    assert [c for c in CONTROLS if c in out] == []
    assert b"u001b" in out
