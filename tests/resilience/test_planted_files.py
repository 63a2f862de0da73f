"""Files another local user plants, in a folder they can write, where seamscope will write or
read beside a store: a symbolic link where the store's WAL goes (DuckDB wrote its log through
it, over the file it names: a user's own file lost), a store that belongs to another user (every
span written to it would be theirs to read), and a spool folder that is a link to theirs, full
of forged spool files (drained into the store as if a traced service had sent them), and a
`--logs` folder of the demo where others can write (a link named as a log would have the demo
append to the file it names).

The real commands run as a user runs them: `seamscope ingest` and `seamscope collect` refuse
the store in one line and leave the linked file as it was; the forged spans never reach the
store."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from seamscope.tracer.decoding import decode_request
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.ingest import ingest
from seamscope.tracer.otlp import protobuf_to_json
from seamscope.tracer.owner import owner_file
from seamscope.tracer.spool import spool_dir, write_spool
from seamscope.tracer.store import Store, open_read_only
from tests.e2e.test_collect import SEAMSCOPE, start_collector
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.e2e

PRECIOUS = b"a file of the user's, not a WAL\n"


def traces(tmp_path: Path, seed: int = 3) -> Path:
    path = tmp_path / f"traces-{seed}.jsonl"
    path.write_text(protobuf_to_json(sample_request(4, seed=seed).SerializeToString()) + "\n")
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SEAMSCOPE, *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )


@pytest.mark.parametrize("existing", [False, True], ids=["new store", "existing store"])
def test_a_link_where_the_wal_goes_is_not_written_through(tmp_path: Path, existing: bool) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    db = shared / "seamscope.duckdb"
    if existing:
        ingest(db, [str(traces(tmp_path, seed=1))])
    precious = tmp_path / "precious.txt"
    precious.write_bytes(PRECIOUS)
    (shared / "seamscope.duckdb.wal").symlink_to(precious)

    done = run("ingest", "--db", str(db), str(traces(tmp_path)))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "symbolic link where the store's WAL goes" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert precious.read_bytes() == PRECIOUS

    port_log = tmp_path / "logs"
    port_log.mkdir()
    with pytest.raises(SeamscopeError, match="the process serving it exited with 2"):
        start_collector(db, port_log).process.stop()
    assert precious.read_bytes() == PRECIOUS
    assert "symbolic link where the store's WAL goes" in "".join(
        p.read_text() for p in port_log.glob("collect-*.log")
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user takes root")
def test_another_users_store_is_read_but_not_written(tmp_path: Path) -> None:
    db = tmp_path / "seamscope.duckdb"
    ingest(db, [str(traces(tmp_path, seed=1))])
    os.chown(db, 65534, 65534)
    done = run("ingest", "--db", str(db), str(traces(tmp_path)))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "belongs to another user (uid 65534)" in done.stderr
    done = run("sql", "--db", str(db), "--csv", "select count(*) from spans")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["count_star()", "4"]


def test_a_planted_spool_is_never_drained(tmp_path: Path) -> None:
    db = tmp_path / "shared" / "seamscope.duckdb"
    db.parent.mkdir()
    Store.open(db).close()
    # The other user's folder, with a spool file as seamscope writes them, spans forged.
    theirs = tmp_path / "theirs" / "seamscope.duckdb"
    theirs.parent.mkdir()
    forged = sample_request(5, seed=99).SerializeToString()
    _, table, _, _ = decode_request(forged, "identity", False, None, len(forged) + 1, False)
    write_spool(theirs, table, "forged-1")
    assert list(spool_dir(theirs).iterdir())
    spool_dir(db).symlink_to(spool_dir(theirs), target_is_directory=True)

    c = start_collector(db, tmp_path, "--no-classify")
    try:
        assert c.process.alive()
    finally:
        c.process.stop()
    con = open_read_only(db)
    try:
        assert con.execute("SELECT count(*) FROM spans").fetchall() == [(0,)]
    finally:
        con.close()
    assert [p.name for p in spool_dir(theirs).iterdir()] == ["forged-1.arrow"]
    assert "not a folder of this user's alone" in c.log.read_text()


def test_the_demo_refuses_a_logs_folder_others_can_write_in(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    logs.chmod(0o777)  # a shared folder: another user planted a link named as a log
    precious = tmp_path / "precious.txt"
    precious.write_bytes(PRECIOUS)
    (logs / "moto.log").symlink_to(precious)
    done = run("demo", "--headless", "--duration", "1", "--port", "0", "--logs", str(logs))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "other users can write in this folder (mode 777)" in done.stderr
    assert precious.read_bytes() == PRECIOUS


def test_links_planted_as_the_tee_and_the_owner_file_are_not_written_through(
    tmp_path: Path,
) -> None:
    db = tmp_path / "shared" / "seamscope.duckdb"
    db.parent.mkdir()
    precious = tmp_path / "precious.txt"
    precious.write_bytes(PRECIOUS)
    tee = db.parent / "tee.jsonl"
    tee.symlink_to(precious)
    logs = tmp_path / "logs"
    logs.mkdir()
    with pytest.raises(SeamscopeError, match="the process serving it exited with"):
        start_collector(db, logs, "--tee", str(tee)).process.stop()
    assert "cannot write the tee file" in "".join(p.read_text() for p in logs.glob("*.log"))
    assert precious.read_bytes() == PRECIOUS

    owner = owner_file(db)
    owner.symlink_to(precious)
    c = start_collector(db, tmp_path, "--no-classify")
    try:
        # The owner file took the link's place: a file of its own, 0600; the link's file as
        # it was.
        assert not owner.is_symlink()
        assert owner.stat().st_mode & 0o777 == 0o600
        assert precious.read_bytes() == PRECIOUS
    finally:
        c.process.stop()


LANDSCAPE = '[systems.shop]\ncomponents = ["svc-a"]\n'


@pytest.mark.parametrize("planted", ["theirs", "a link to theirs", "writable by all"])
def test_a_planted_landscape_is_not_taken_unnamed(tmp_path: Path, planted: str) -> None:
    """A ./seamscope.toml is taken without being named, so one that another user planted in a
    folder both may write in (or a link to their file) decided the systems, owners and
    exceptions of `edges` and `check`: what a CI run lets pass. It is named and refused;
    --landscape takes it knowingly, and the user's own file is taken as before."""
    shared = tmp_path / "shared"
    shared.mkdir()
    db = shared / "seamscope.duckdb"
    ingest(db, [str(traces(tmp_path, seed=5))])
    found = shared / "seamscope.toml"
    if planted == "a link to theirs":
        theirs = tmp_path / "theirs.toml"
        theirs.write_text(LANDSCAPE)
        os.chown(theirs, 65534, 65534)
        found.symlink_to(theirs)
    else:
        found.write_text(LANDSCAPE)
        if planted == "theirs":
            os.chown(found, 65534, 65534)
        else:
            found.chmod(0o666)

    def seamscope(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SEAMSCOPE, *args, "--db", str(db)],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            cwd=shared,
        )

    problem = {
        "theirs": "it belongs to another user (uid 65534)",
        "a link to theirs": "the file it links to belongs to another user (uid 65534)",
        "writable by all": "it may be written by every user",
    }[planted]
    for command in ("edges", "check", "export"):
        done = seamscope(command)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert f"seamscope: {found}: {problem}" in done.stderr, (command, done.stderr)
        assert "--landscape seamscope.toml" in done.stderr
        assert "Traceback" not in done.stderr
    named = seamscope("edges", "--landscape", "seamscope.toml")
    assert named.returncode == 0, named.stderr
    found.unlink()
    found.write_text(LANDSCAPE)
    found.chmod(0o644)
    own = seamscope("edges")
    assert own.returncode == 0, own.stderr
    assert "no landscape file" not in own.stderr
