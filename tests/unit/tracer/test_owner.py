"""An owner file left behind (tracer/owner.py): what a command says when the process it names
does not answer."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from seamscope.tracer import owner
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.owner import owner_file, publish, send_or_write
from seamscope.tracer.store import Store


@pytest.fixture
def bystander() -> Iterator[int]:
    """A live process of ours that is no owner: what a reused pid points at."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def _rewrite(db_path: Path, **changes: object) -> Path:
    path = owner_file(db_path)
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
    return path


def test_an_owner_that_never_answers_a_write_is_a_clear_error(
    db_path: Path, bystander: int
) -> None:
    """What `seamscope discover` and an S3 ingest send through an owner (send_or_write)."""
    Store.open(db_path).close()
    publish(db_path, "127.0.0.1", 1)
    _rewrite(db_path, pid=bystander)
    with pytest.raises(SeamscopeError) as raised:
        send_or_write(db_path, owner.ROUTES_PATH, [], lambda store: None)
    assert str(raised.value) == (
        f"{owner_file(db_path)}: the process it names as the store's owner (pid {bystander}) "
        "does not answer on port 1; if no `seamscope collect` or live TUI runs on this store, "
        "remove that file"
    )
