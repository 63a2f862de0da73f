"""Bodies a running `seamscope collect` refuses before it has read them whole, byte for byte over a
socket: one announced past the limit, one that grows past it in chunks, one of a type it does not
take, and chunked bodies that turn into no valid HTTP half-way (a malformed chunk size, too many
trailer fields, a trailer field too long or without a colon), with both of aiohttp's HTTP
parsers (its C one, the default, and the pure-Python one it falls back to).

A refused body costs the receiver nothing more: it answers and closes the connection, where it
went on reading (and dropping) whatever the sender sent for up to 10 s. A body the parser gives
up on half-way is refused at once with a 400 that says why, where the sender waited for the
receiver's read gap and then got a 408 (with the C parser) or a 500 and a traceback in the log
(with the pure-Python one). A chunked body with well-formed trailers is stored, as before.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_collect import Collector, span_count, start_collector
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.e2e

MAX_BODY_MB = 1
SENT_AFTER_ANSWER = 256 * 1024 * 1024
"""What a sender refused tries to send after it read its answer: the receiver, reading it on
for 10 s, took all of it. Closed at once, it takes no more than the sockets' buffers hold."""
BUFFERS = 32 * 1024 * 1024


@pytest.fixture(params=["C parser", "pure-Python parser"])
def collector(
    request: pytest.FixtureRequest, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Collector]:
    if request.param == "pure-Python parser":
        monkeypatch.setenv("AIOHTTP_NO_EXTENSIONS", "1")
    c = start_collector(db_path, tmp_path, "--no-classify", "--max-body-mb", str(MAX_BODY_MB))
    try:
        yield c
    finally:
        c.process.stop()


def head(c: Collector, *fields: str) -> bytes:
    lines = ["POST /v1/traces HTTP/1.1", f"Host: 127.0.0.1:{c.port}", *fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(body: bytes, size: int = 64) -> bytes:
    return b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    )


def read_answer(sock: socket.socket) -> bytes:
    """The answer's head and body (one read of it may come in pieces)."""
    out = b""
    while b"\r\n\r\n" not in out:
        piece = sock.recv(65536)
        if not piece:
            break
        out += piece
    head, _, rest = out.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            want = int(line.split(b":", 1)[1])
            while len(rest) < want and (piece := sock.recv(65536)):
                rest += piece
    return out


def status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1."), answer[:200]
    return int(answer.split(b" ", 2)[1])


def sent_until_closed(sock: socket.socket) -> int:
    """Bytes the sender gets into the connection after its answer, until the receiver's close
    stops it (or SENT_AFTER_ANSWER went through)."""
    piece = bytes(1024 * 1024)
    sent = 0
    try:
        while sent < SENT_AFTER_ANSWER:
            sock.sendall(piece)
            sent += len(piece)
    except OSError:
        pass  # the receiver closed the connection
    return sent


def legit_body(seed: int) -> bytes:
    return bytes(sample_request(3, seed=seed).SerializeToString())


REFUSED: list[tuple[str, list[str], bytes, int, str]] = [
    # name, header fields, the first bytes of the body, status, what the answer says
    (
        "a length past the limit",
        ["Content-Type: application/x-protobuf", "Content-Length: 100000000000"],
        bytes(65536),
        413,
        "over the limit",
    ),
    (
        "chunks past the limit",
        ["Content-Type: application/x-protobuf", "Transfer-Encoding: chunked"],
        chunked(bytes(2 * 1024 * 1024), 65536),
        413,
        "over the limit",
    ),
    (
        "a type it does not take",
        ["Content-Type: text/plain", "Content-Length: 100000000000"],
        bytes(65536),
        415,
        "is not OTLP",
    ),
]


@pytest.mark.parametrize(
    ("fields", "start", "want", "says"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_a_refused_body_is_not_read_on(
    collector: Collector, db_path: Path, fields: list[str], start: bytes, want: int, says: str
) -> None:
    with socket.create_connection(("127.0.0.1", collector.port), timeout=60) as sock:
        try:
            sock.sendall(head(collector, *fields) + start)
        except OSError:
            pass  # refused and closed before it took all of it: its answer is there
        answer = read_answer(sock)
        assert status(answer) == want, answer[:300]
        assert says.encode() in answer, answer[:300]
        sent = sent_until_closed(sock)
    assert sent < BUFFERS, f"the receiver read on {sent >> 20} MB of a body it had refused"
    # Others are answered as before.
    assert collector.post(legit_body(1), {"Content-Type": "application/x-protobuf"})[0] == 200
    collector.process.stop()
    assert "Traceback" not in collector.log.read_text()
    assert span_count(db_path) == 3


BROKEN: list[tuple[str, bytes, str]] = [
    # name, what follows the body's first chunks, what the answer says
    ("a chunk size that is no number", b"zz\r\n\r\n", "no valid HTTP"),
    (
        "40 trailer fields",
        b"0\r\n" + b"".join(b"T-%d: 1\r\n" % i for i in range(40)) + b"\r\n",
        "Too many",
    ),
    ("a trailer field of 16 KB", b"0\r\nT: " + b"a" * 16384 + b"\r\n\r\n", "8190 bytes"),
    ("a trailer field without a colon", b"0\r\nno-colon\r\n\r\n", "no valid HTTP"),
]


@pytest.mark.parametrize(
    ("tail", "says"), [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN]
)
def test_a_body_that_turns_into_no_http_is_refused_at_once(
    collector: Collector, db_path: Path, tail: bytes, says: str
) -> None:
    """The body's first chunks, then (once the receiver reads the body) what makes it no HTTP:
    the answer is a 400 that says why, not a 408 once the read gap ran out."""
    fields = ["Content-Type: application/x-protobuf", "Transfer-Encoding: chunked"]
    with socket.create_connection(("127.0.0.1", collector.port), timeout=60) as sock:
        sock.sendall(head(collector, *fields) + chunked(legit_body(2)))
        # The receiver answers nothing before the body ended: it is reading it now.
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(1)
        sock.settimeout(60)
        sock.sendall(tail)
        answer = read_answer(sock)
    assert status(answer) == 400, answer[:300]
    assert says.encode() in answer, answer[:300]
    assert collector.post(legit_body(3), {"Content-Type": "application/x-protobuf"})[0] == 200
    collector.process.stop()
    log = collector.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    assert any(
        line.startswith("seamscope: refused POST /v1/traces") and ": 400 " in line and says in line
        for line in log.splitlines()
    ), log
    assert span_count(db_path) == 3


def test_a_chunked_body_with_trailers_is_stored(collector: Collector, db_path: Path) -> None:
    """Trailer fields after the last chunk (as a sender that appends a checksum sends them),
    with the last chunk and the trailers in a segment of their own: taken and answered."""
    fields = ["Content-Type: application/x-protobuf", "Transfer-Encoding: chunked"]
    with socket.create_connection(("127.0.0.1", collector.port), timeout=60) as sock:
        sock.sendall(head(collector, *fields, "Trailer: X-Checksum") + chunked(legit_body(4)))
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(1)
        sock.settimeout(60)
        sock.sendall(b"0\r\nX-Checksum: 1234\r\nX-Other: a\r\n\r\n")
        answer = read_answer(sock)
    assert status(answer) == 200, answer[:300]
    collector.process.stop()
    assert span_count(db_path) == 3


def test_a_sender_that_hangs_up_mid_body_leaves_one_line(collector: Collector) -> None:
    """The first chunks of a body, then the sender closes: one refusal line, where aiohttp's
    "Connection lost" came with a traceback."""
    fields = ["Content-Type: application/x-protobuf", "Transfer-Encoding: chunked"]
    with socket.create_connection(("127.0.0.1", collector.port), timeout=60) as sock:
        sock.sendall(head(collector, *fields) + chunked(legit_body(5)))
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(1)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(60)
        while sock.recv(65536):
            pass
    assert collector.post(legit_body(6), {"Content-Type": "application/x-protobuf"})[0] == 200
    collector.process.stop()
    log = collector.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    assert "closed the connection before the body ended" in log, log


@pytest.mark.parametrize(
    ("fields", "want"),
    [
        (["Content-Type: application/x-protobuf", "Content-Length: 100000000"], 413),
        (["Content-Type: text/plain", "Content-Length: 1000"], 415),
        (["Content-Type: application/x-protobuf", "Content-Encoding: br"], 415),
    ],
    ids=["a length past the limit", "a type it does not take", "an encoding it does not take"],
)
def test_a_sender_that_asks_first_is_refused_before_it_sends(
    collector: Collector, fields: list[str], want: int
) -> None:
    """`Expect: 100-continue` (curl sends it for bodies over 1 MB): a request refused by its
    headers gets its refusal, never "100 Continue" (which told it to send a body that would
    only be refused)."""
    with socket.create_connection(("127.0.0.1", collector.port), timeout=60) as sock:
        sock.sendall(head(collector, *fields, "Expect: 100-continue"))
        answer = read_answer(sock)
    assert status(answer) == want, answer[:300]


def test_a_sender_that_asks_first_is_told_to_go_on(collector: Collector, db_path: Path) -> None:
    body = legit_body(7)
    fields = ["Content-Type: application/x-protobuf", f"Content-Length: {len(body)}"]
    with socket.create_connection(("127.0.0.1", collector.port), timeout=60) as sock:
        sock.sendall(head(collector, *fields, "Expect: 100-continue"))
        go_on = b""
        while not go_on.endswith(b"\r\n\r\n"):
            go_on += sock.recv(1)
        assert go_on == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        assert status(read_answer(sock)) == 200
    with socket.create_connection(("127.0.0.1", collector.port), timeout=60) as sock:
        other = head(collector, *fields, "Expect: 100-continue").replace(
            b"Host: 127.0.0.1", b"Host: attacker.example"
        )
        sock.sendall(other)
        assert status(read_answer(sock)) == 403  # refused by the guard, not told to go on
    collector.process.stop()
    assert span_count(db_path) == 3


def test_a_query_without_the_secret_is_refused_before_it_sends(collector: Collector) -> None:
    """The owner's SQL endpoint: no "100 Continue" for a request the guard refuses."""
    request = (
        f"POST /seamscope/v1/sql HTTP/1.1\r\nHost: 127.0.0.1:{collector.port}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100000\r\n"
        "Expect: 100-continue\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", collector.port), timeout=60) as sock:
        sock.sendall(request.encode())
        assert status(read_answer(sock)) == 401


def test_a_length_of_5000_digits_is_refused(collector: Collector) -> None:
    """aiohttp's pure-Python parser converts a Content-Length with int(), which Python refuses
    past 4,300 digits: the connection was dropped unanswered and a traceback logged."""
    fields = ["Content-Type: application/x-protobuf", "Content-Length: " + "9" * 5000]
    with socket.create_connection(("127.0.0.1", collector.port), timeout=60) as sock:
        sock.sendall(head(collector, *fields))
        assert status(read_answer(sock)) == 400
    assert collector.post(legit_body(8), {"Content-Type": "application/x-protobuf"})[0] == 200
    collector.process.stop()
    log = collector.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    assert "refused a request that is no valid HTTP" in log, log


def test_a_body_a_little_over_the_limit_gets_its_answer(collector: Collector) -> None:
    """A sender that stops at a failed write and never reads on (http.client; senders in other
    languages alike) reads its 413 when its body is up to twice the limit: the receiver reads
    on that much, where it closes at once past it."""
    body = bytes(int(1.5 * MAX_BODY_MB * 1024 * 1024))
    status, answer = collector.post(body, {"Content-Type": "application/x-protobuf"})
    assert status == 413 and b"over the limit" in answer
    chunked_status, answer = collector.post(
        body, {"Content-Type": "application/x-protobuf"}, chunked=True
    )
    assert chunked_status == 413 and b"over the limit" in answer
