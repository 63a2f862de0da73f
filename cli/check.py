"""`seamscope check`: fail a CI run when a new anti-pattern (or, with --strict, smell) appears.

The baseline lists known findings; a finding in it does not fail the run, and baseline entries
that no longer occur are reported, so the list only shrinks.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import stat
import sys
from pathlib import Path
from typing import Any

import click

from seamscope.classifiers.render import (
    findings_json,
    findings_junit,
    findings_sarif,
    findings_text,
)
from seamscope.classifiers.results import FINDINGS, Finding, Verdict
from seamscope.cli.edges import load, store_options, tell_inferred
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.terminal import plural, safe

DEFAULT_BASELINE = "seamscope-baseline.json"
_KEY = ("rule_id", "from", "to", "mechanism")


class BaselineError(SeamscopeError):
    """The baseline file cannot be read."""


def _key(item: dict[str, Any]) -> tuple[str, ...]:
    """A baseline entry's key, as Finding.key."""
    return tuple(str(item.get(k)) for k in _KEY)


def read_baseline(path: Path, *, missing_ok: bool = False) -> list[dict[str, Any]]:
    """The entries of the baseline at path; none when it is missing and missing_ok (the default
    file, which a project that never wrote one does not have)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if missing_ok:
            return []
        raise BaselineError(
            f"{path}: no baseline file here (create it with --update-baseline)"
        ) from None
    except (OSError, ValueError) as exc:
        raise BaselineError(f"{path}: not a seamscope baseline ({exc})") from None
    except RecursionError:
        raise BaselineError(f"{path}: not a seamscope baseline (JSON nested too deeply)") from None
    items = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise BaselineError(f"{path}: not a seamscope baseline (no 'findings' list)")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise BaselineError(
                f"{path}: findings[{i}] is {_json_kind(item)}, not an object with {', '.join(_KEY)}"
            )
        missing = [k for k in _KEY if k not in item]
        if missing:
            raise BaselineError(f"{path}: findings[{i}] lacks {', '.join(missing)}")
    return items


def _json_kind(value: object) -> str:
    """What a JSON value is, in the words of JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list"


def write_baseline(path: Path, findings: list[Finding]) -> None:
    """Writes the baseline whole or not at all: a failed write (a full disk, a size limit)
    leaves the old one as it was."""
    entries = sorted(({k: f.as_json()[k] for k in (*_KEY, "verdict")} for f in findings), key=_key)
    data = (json.dumps({"version": 1, "findings": entries}, indent=2) + "\n").encode()
    target = Path(os.path.realpath(path))  # through a link, the file it names is the baseline
    try:
        _write_whole(target, data)
    except FileNotFoundError:
        raise BaselineError(
            f"{path}: cannot write the baseline (the folder {target.parent} does not exist)"
        ) from None
    except OSError as exc:
        raise BaselineError(f"{path}: cannot write the baseline ({exc.strerror or exc})") from None


def _write_whole(target: Path, data: bytes) -> None:
    """data into a new file beside target, renamed over it. An existing file keeps its mode; a
    new one gets the umask's, as a plain write would give it."""
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        os.close(os.open(target, os.O_WRONLY))  # a read-only baseline: refused as a write is
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except PermissionError as exc:
        if st is None:
            raise PermissionError(
                exc.errno, f"the folder {target.parent} takes no new file: {exc.strerror}"
            ) from None
        # A folder we may not add a file to, holding a baseline we may write: written in place.
        with open(target, "r+b") as out:
            out.write(data)
            out.truncate()
        return
    try:
        with os.fdopen(fd, "wb") as out:
            if st is not None:
                os.fchmod(out.fileno(), stat.S_IMODE(st.st_mode))
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@click.command()
@store_options
@click.option(
    "--baseline",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=f"Known findings that do not fail the run (JSON). Default: {DEFAULT_BASELINE} in the "
    "current folder, read if it is there and written by --update-baseline.",
)
@click.option("--update-baseline", is_flag=True, help="Write the current findings as the baseline.")
@click.option("--strict", is_flag=True, help="Smells fail the run too.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("text", "json", "sarif", "junit")),
    default="text",
    show_default=True,
    help="text for people; json; sarif for code scanning (GitHub); junit for a CI's test report.",
)
def check(
    db_path: Path | None,
    landscape_path: Path | None,
    baseline: Path | None,
    update_baseline: bool,
    strict: bool,
    fmt: str,
) -> None:
    """Exit 1 when an anti-pattern (or with --strict a smell) not in the baseline is found."""
    # The line saying the landscape was inferred comes once the baseline is read or written,
    # so that a mistake there is the one line said.
    snapshot, landscape = load(db_path, landscape_path, say_inferred=False)
    findings = snapshot.findings(strict=True)
    target = baseline or Path(DEFAULT_BASELINE)
    if update_baseline:
        write_baseline(target, findings)
        tell_inferred(db_path, landscape)
        click.echo(f"{target}: {plural(len(findings), 'known finding')} written", err=True)
        return
    # The file --update-baseline writes is the one read: a missing default is no baseline yet,
    # a missing file that was named is a mistake, said as one.
    known_keys = {_key(b): b for b in read_baseline(target, missing_ok=baseline is None)}
    tell_inferred(db_path, landscape)
    failing = set(FINDINGS) if strict else {Verdict.ANTI_PATTERN}
    new = [f for f in findings if f.key not in known_keys]
    known = [f for f in findings if f.key in known_keys]
    current = {f.key for f in findings}
    gone = [b for k, b in known_keys.items() if k not in current]
    unresolved = snapshot.unresolved()
    if fmt == "json":
        click.echo(findings_json(new, known, gone, unresolved))
    elif fmt == "sarif":
        click.echo(findings_sarif(new, known))
    elif fmt == "junit":
        click.echo(findings_junit(new, known, failing), nl=False)
    else:
        click.echo(safe(findings_text(new, known, gone, unresolved), lines=True))
    if gone and fmt != "text":
        click.echo(
            f"{plural(len(gone), 'baseline entry', 'baseline entries')} no longer "
            f"{'occurs: remove it' if len(gone) == 1 else 'occur: remove them'} "
            "(--update-baseline)",
            err=True,
        )
    if any(f.edge.verdict in failing for f in new):
        sys.exit(1)
