"""Headers a hostile client or a rebinding web page sends a running `seamscope collect`, byte
for byte over a socket, beyond those of test_hostile_http: Host names spelled the ways a name
may be spelled (a trailing dot, a port, capitals, brackets) must name this server whichever
way, and another server's name must be refused whichever way (a Host whose port was no number
was read as the name before it: "localhost:1@attacker.example" passed). Two Host fields are
refused (RFC 9112, 3.2; aiohttp's parser does). Content-Encoding given as two header fields,
which HTTP reads as one list (RFC 9110, 5.3), stacks two encodings as "gzip, deflate" does,
and is refused as that is (only the first field was read: the body was inflated once and
refused for what that gave, as no valid gzip or no OTLP). Two Origin fields or two secret
fields are refused too, naming the field (aiohttp's parser lets them through, and the guard
judged only the first: a web page's Origin after the server's own, a guessed secret after the
right one passed)."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from seamscope.tracer.owner import SECRET_HEADER, SQL_PATH, find_owner
from tests.e2e.test_collect import Collector, span_count
from tests.otlp_sample import sample_request
from tests.resilience.test_hostile_http import collector, exchange, request, status

pytestmark = pytest.mark.e2e

__all__ = ["collector"]  # the receiver these tests attack


HOSTS = [
    # Host, whether it names this server
    ("localhost", True),
    ("localhost.", True),  # the same name, fully qualified
    ("LocalHost.:{port}", True),
    ("127.0.0.1.", True),  # an address still (the URL standard's IPv4 parser takes the dot)
    ("[::1]:{port}", True),
    ("a.localhost.:{port}", True),  # *.localhost is loopback (RFC 6761)
    ("attacker.example.", False),
    ("attacker.example.:{port}", False),
    ("localhost.attacker.example", False),
    ("localhost.attacker.example.:{port}", False),
    ("127.0.0.1.nip.io", False),
    ("attacker.example:{port}:{port}", False),
    ("localhost:{port}@attacker.example", False),  # no port: read as localhost before
    ("[::1]x.attacker.example", False),
    ("localhost:", True),  # an empty port (RFC 3986)
    # Another port is not checked: a browser always sends the one it connected to, and a page
    # cannot set Host, so only a local program could send it, which could send the right one.
    ("[::1]:1", True),
    ("localhost:65535", True),
    ("attacker.example\t", False),
]


@pytest.mark.parametrize(("host", "ours"), HOSTS, ids=[h for h, _ in HOSTS])
def test_a_host_is_told_whichever_way_it_is_spelled(
    collector: Collector, db_path: Path, host: str, ours: bool
) -> None:
    body = bytes(sample_request(2, seed=9100).SerializeToString())
    answer = exchange(collector, request(collector, body, host=host.format(port=collector.port)))
    assert status(answer) == (200 if ours else 403), answer[:300]
    collector.process.stop()
    assert span_count(db_path) == (2 if ours else 0)


def _two_fields(c: Collector, body: bytes, first: str, second: str) -> bytes:
    head = request(c, body).split(b"\r\n\r\n", 1)[0]
    head += f"\r\nContent-Encoding: {first}\r\nContent-Encoding: {second}".encode()
    return head + b"\r\n\r\n" + body


@pytest.mark.parametrize(
    ("first", "second"), [("gzip", "deflate"), ("deflate", "gzip"), ("gzip", "gzip")]
)
def test_two_content_encoding_fields_are_one_stack_and_refused(
    collector: Collector, db_path: Path, first: str, second: str
) -> None:
    request_ = bytes(sample_request(2, seed=9101).SerializeToString())
    packed: dict[str, Callable[[bytes], bytes]] = {
        "gzip": lambda data: gzip.compress(data),
        "deflate": lambda data: zlib.compress(data),
    }
    body = packed[second](packed[first](request_))  # first applied first, as HTTP lists them
    answer = exchange(collector, _two_fields(collector, body, first, second))
    assert status(answer) == 415, answer[:300]
    assert f"'{first}, {second}' is not supported".encode() in answer, answer[:300]
    collector.process.stop()
    assert span_count(db_path) == 0
    assert "Traceback" not in collector.log.read_text()


def test_two_host_fields_are_refused(collector: Collector, db_path: Path) -> None:
    body = bytes(sample_request(2, seed=9102).SerializeToString())
    head, _, rest = request(collector, body, host="localhost").partition(b"\r\n\r\n")
    answer = exchange(collector, head + b"\r\nHost: attacker.example\r\n\r\n" + rest)
    assert status(answer) == 400, answer[:300]
    collector.process.stop()
    assert span_count(db_path) == 0


@pytest.mark.parametrize(
    ("name", "first", "second"),
    [
        # the server's own origin first, a web page's second: only the first was judged
        ("Origin", "http://127.0.0.1:{port}", "http://attacker.example"),
        ("Origin", "http://attacker.example", "http://127.0.0.1:{port}"),
        # the right secret first, a guessed one second: the guess rode on the right one
        (SECRET_HEADER, "{secret}", "guess"),
        (SECRET_HEADER, "{secret}", "{secret}"),
    ],
)
def test_a_repeated_guarded_header_is_refused_and_named(
    collector: Collector, db_path: Path, name: str, first: str, second: str
) -> None:
    owner = find_owner(db_path)
    assert owner is not None
    values = {"port": collector.port, "secret": owner.secret}
    body = json.dumps({"sql": "select 42 as answer", "format": "json"}).encode()
    head, _, rest = request(
        collector, body, path=SQL_PATH, Content_Type="application/json"
    ).partition(b"\r\n\r\n")
    if name != SECRET_HEADER:
        head += f"\r\n{SECRET_HEADER}: {owner.secret}".encode()
    head += f"\r\n{name}: {first.format(**values)}\r\n{name}: {second.format(**values)}".encode()
    answer = exchange(collector, head + b"\r\n\r\n" + rest)
    assert status(answer) == 400, answer[:300]
    assert f"more than one {name} header".encode() in answer, answer[:300]
    assert b"42" not in answer.partition(b"\r\n\r\n")[2]
    # With the first field alone it is judged on that: the refusal was for the repetition.
    once = head.rpartition(b"\r\n")[0] + b"\r\n\r\n" + rest
    assert status(exchange(collector, once)) == (403 if "attacker" in first else 200)
