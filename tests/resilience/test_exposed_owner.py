"""An owner file that other users can read: its secret is theirs too. Made so after the owner
wrote it (a chmod, a copy back, a backup tool), it went on working: a traced service and
`seamscope sql` followed it, and the secret in it opened the owner's SQL endpoint to whoever read
it.

Now a file others can read is not followed (said once, naming the file and its mode), and a
running `seamscope collect` that finds its own file so replaces it with a private file of a new
secret, says so in its log, and refuses the old secret.

A file exposed only for a moment (a chmod undone, a tool that rewrote it through a copy others
could read) looked private again by the time the owner checked it, before each request and
every second: a secret read in that moment went on opening the SQL endpoint for as long as the
owner ran. Now the owner renews the secret whenever its file is no longer the one it wrote, as
it wrote it (another file, or its status changed: a chmod, a write), before it answers."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from seamscope.tracer.owner import SECRET_HEADER, SQL_PATH, owner_file
from tests.e2e.services.harness import drain_leftover_spool, query, run_service, service_env
from tests.e2e.test_collect import SEAMSCOPE, start_collector
from tests.otlp_sample import sample_request
from tests.resilience.listener import RecordingListener

pytestmark = pytest.mark.e2e

SPANS = 50


@pytest.fixture
def listener() -> Iterator[RecordingListener]:
    server = RecordingListener()
    try:
        yield server
    finally:
        server.close()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604], ids=lambda m: f"{m:o}")
def test_an_owner_file_others_can_read_is_not_followed(
    db_path: Path, listener: RecordingListener, bystander: int, mode: int
) -> None:
    """The user's own file (nobody else can write it), naming a live process and a listener
    that stands in for its owner: nothing is sent there, spans and queries go to the store."""
    path = owner_file(db_path)
    record = {
        "pid": bystander,
        "host": "127.0.0.1",
        "port": listener.port,
        "url": f"http://127.0.0.1:{listener.port}",
        "db": str(db_path),
        "started": time.time(),
        "secret": "read-by-others",
    }
    path.write_text(json.dumps(record))
    path.chmod(mode)
    said = f"ignoring {path}: other users can read it (mode {mode:o})"

    done = run_service("span_producer.py", ["w", str(SPANS), "5000"], service_env(db_path, "w"))
    assert done.stderr.count(said) == 1, done.stderr
    drain_leftover_spool(db_path)
    assert query(db_path, "select count(*) from spans") == [(SPANS,)]

    sql = subprocess.run(
        [*SEAMSCOPE, "sql", "--db", str(db_path), "--csv", "select count(*) as n from spans"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sql.returncode == 0, sql.stderr
    assert sql.stdout.splitlines() == ["n", str(SPANS)]
    assert said in sql.stderr
    assert listener.requests == []


def sql_with(url: str, secret: str) -> int:
    """The status of one query sent to the owner with secret (as another user would send it)."""
    request = urllib.request.Request(
        url + SQL_PATH,
        data=json.dumps({"sql": "select count(*) from spans", "format": "json"}).encode(),
        headers={"Content-Type": "application/json", SECRET_HEADER: secret},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code


def _the_sql_command_queries_through_the_owner(db_path: Path) -> None:
    """`seamscope sql` finds the owner's renewed file and queries the 4 spans through it."""
    sql = subprocess.run(
        [*SEAMSCOPE, "sql", "--db", str(db_path), "--csv", "select count(*) as n from spans"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sql.returncode == 0, sql.stderr
    assert sql.stdout.splitlines() == ["n", "4"]


def test_the_owner_renews_a_secret_others_could_read(db_path: Path, tmp_path: Path) -> None:
    c = start_collector(db_path, tmp_path, "--no-classify")
    try:
        body = sample_request(4, seed=11).SerializeToString()
        assert c.post(body, {"Content-Type": "application/x-protobuf"})[0] == 200
        path = owner_file(db_path)
        first = json.loads(path.read_text())["secret"]
        assert sql_with(c.url, first) == 200  # the secret works while it is the user's alone

        path.chmod(0o644)
        leaked = json.loads(path.read_text())["secret"]  # what any local user can read now
        assert sql_with(c.url, leaked) == 401
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        renewed = json.loads(path.read_text())["secret"]
        assert renewed != leaked
        assert sql_with(c.url, renewed) == 200

        _the_sql_command_queries_through_the_owner(db_path)
    finally:
        c.process.stop()
    log = c.log.read_text()
    assert f"{path}: other users could read it (mode 644)" in log, log
    assert "a new secret is published in a private file" in log
    assert "Traceback" not in log, log


def _undo_chmod(path: Path) -> None:
    path.chmod(0o644)  # a chmod -R of the folder, say
    leaked = path.read_text()
    path.chmod(0o600)  # and undone
    Path(str(path) + ".leaked").write_text(leaked)


def _rewrite_through_a_copy(path: Path) -> None:
    copy = path.with_name(path.name + ".edit")
    copy.write_text(path.read_text())
    copy.chmod(0o644)  # as a tool's umask made it
    Path(str(path) + ".leaked").write_text(copy.read_text())
    copy.chmod(0o600)
    os.replace(copy, path)


@pytest.mark.parametrize(
    "expose", [_undo_chmod, _rewrite_through_a_copy], ids=["a chmod undone", "a rewrite"]
)
def test_a_secret_read_while_its_file_was_exposed_a_moment_opens_nothing(
    db_path: Path, tmp_path: Path, expose: Callable[[Path], None]
) -> None:
    c = start_collector(db_path, tmp_path, "--no-classify")
    try:
        body = sample_request(4, seed=12).SerializeToString()
        assert c.post(body, {"Content-Type": "application/x-protobuf"})[0] == 200
        path = owner_file(db_path)
        assert sql_with(c.url, json.loads(path.read_text())["secret"]) == 200
        expose(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # private again, at a glance
        leaked = json.loads(Path(str(path) + ".leaked").read_text())["secret"]
        assert sql_with(c.url, leaked) == 401
        renewed = json.loads(path.read_text())["secret"]
        assert renewed != leaked and stat.S_IMODE(path.stat().st_mode) == 0o600
        assert sql_with(c.url, renewed) == 200
        assert sql_with(c.url, renewed) == 200  # once renewed, the new file is left as it is
        assert json.loads(path.read_text())["secret"] == renewed
        _the_sql_command_queries_through_the_owner(db_path)
    finally:
        c.process.stop()
    log = c.log.read_text()
    assert f"{path}: changed since this owner wrote it" in log, log
    assert "Traceback" not in log, log
