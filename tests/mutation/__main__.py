"""`python -m tests.mutation` (`make mutate`): mutation testing where a wrong answer costs most.

cosmic-ray breaks one spot of a module at a time (an operator, a comparison, a constant, a
condition) and runs the tests that should notice; a mutant that passes them survives. Each target
names its module, the functions mutated (or all of it) and the tests that guard it, so a run
stays bounded. Mutants are made in a copy of the repository under build/mutate/ (PYTHONPATH
points there, also for the processes the tests start), never in the checkout. Binary-operator
swaps are limited to one replacement per operator: the other ten mostly die of a TypeError and
only cost time. The report lists every survivor with its diff; --report writes it between the
markers of docs/testing.md.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "build" / "mutate"
BEGIN = "<!-- mutate:begin -->"
END = "<!-- mutate:end -->"
# Operator swaps are cut to one replacement each (a comparison to its negation or its boundary
# twin, an arithmetic operator to its inverse): the rest mostly die of a TypeError or repeat one
# of these, and only cost time. Removing a decorator (click's, dataclass) is left out too.
_SWAP = re.compile(r"core/Replace(?:Binary|Comparison)Operator_(\w+?)_(\w+)$")
_SWAP_TO = {
    "Add": "Sub", "Sub": "Add", "Mul": "Add", "Div": "Mul", "FloorDiv": "Mul", "Mod": "Add",
    "Pow": "Mul", "BitOr": "BitAnd", "BitAnd": "BitOr", "BitXor": "BitOr", "LShift": "RShift",
    "RShift": "LShift", "Eq": "NotEq", "NotEq": "Eq", "Lt": "LtE", "LtE": "Lt", "Gt": "GtE",
    "GtE": "Gt", "Is": "IsNot", "IsNot": "Is", "In": "NotIn", "NotIn": "In",
}  # fmt: skip
_LEFT_OUT = {"core/RemoveDecorator"}


@dataclass(frozen=True)
class Target:
    name: str
    module: str
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()  # only mutants inside these definitions; () for all


RULES = "tests/unit/classifiers/test_rules.py"
CLI = "tests/e2e/test_classify_cli.py::test_"
REDACT = "tests/unit/tracer/test_redact.py"
ROWS = "tests/unit/tracer/test_rows.py"
SECRETS = "tests/resilience/test_secrets.py"
OTLP = "tests/unit/tracer/test_otlp.py"
FUZZ = "tests/resilience/test_fuzz_decoders.py"
# Tests run in the order given, the quickest to fail first (pytest -x stops at the first).
TARGETS = (
    Target(
        "landscape fingerprint",
        "classifiers/landscape.py",
        (
            "tests/unit/classifiers/test_incremental.py::"
            "test_changing_one_landscape_section_alone_relabels",
            "tests/unit/classifiers/test_incremental.py::test_declared_edges_alone_do_not_reclassify",
        ),
        functions=("fingerprint",),
    ),
    Target(
        "redaction (spans sent to an owner)",
        "tracer/sdk_spans.py",
        ("tests/unit/tracer/test_sdk_spans.py", SECRETS),
        functions=("_attrs_need", "_span_needs", "_redacted", "redacted_spans"),
    ),
    Target(
        "redaction (OTLP JSON)",
        "tracer/otlp/encode.py",
        (
            "tests/unit/tracer/test_otlp.py::test_redact_json_request_replaces_secrets_and_nothing_else",
            "tests/unit/tracer/test_otlp.py::test_redact_json_request_reads_each_value_as_the_decoders_do",
            REDACT,
            SECRETS,
        ),
        functions=("redact_json_request", "_redact_kvs", "_json_any", "_to_json_any"),
    ),
    Target(
        "redaction (span rows)",
        "tracer/rows.py",
        (ROWS, REDACT, SECRETS),
        functions=("_records_json", "resource_values"),
    ),
    Target(
        "span rows (the builder)",
        "tracer/rows.py",
        (ROWS, "tests/resilience/test_fuzz_decoders.py", SECRETS),
        functions=("add", "attribute_piece", "encoded_attributes"),
    ),
    # The flat decoders of the receiver (protobuf) and the ingest (OTLP JSON): they must give
    # the general walk's rows exactly, and leave to it whatever it refuses or would name.
    Target("span decoders (protobuf)", "tracer/otlp/flat.py", (OTLP, FUZZ, ROWS)),
    Target("span decoders (OTLP JSON)", "tracer/otlp/flat_json.py", (OTLP, FUZZ, ROWS)),
    Target("redaction (the rule)", "tracer/redact.py", (REDACT, ROWS, SECRETS)),
    Target(
        "baseline comparison",
        "cli/check.py",
        (
            f"{CLI}baseline_knows_each_edge_not_each_rule",
            f"{CLI}a_broken_baseline_is_one_line",
            f"{CLI}entries_no_longer_seen_are_said_apart_from_machine_output",
            f"{CLI}a_baseline_that_is_a_folder_is_one_line",
            f"{CLI}baseline_only_shrinks",
            f"{CLI}strict_fails_on_smells",
            f"{CLI}user_mistakes_get_one_line_and_exit_2",
            f"{CLI}sarif_and_junit_are_well_formed",
        ),
    ),
    Target(
        "rule catalog", "classifiers/catalog.py", (RULES, "tests/unit/classifiers/test_docs.py")
    ),
    # Who owns a resource and which system a component is in: a guess here is a confident label
    # on every edge that touches them.
    Target(
        "owners and systems",
        "classifiers/derive.py",
        (RULES, "tests/unit/classifiers/test_landscape.py"),
        functions=("_infer_owners", "owner", "resource", "_placing", "_unplaced", "_level"),
    ),
)


# Mutants that survive because they change nothing a user gets, each by its module and its
# mutated line (whitespace aside); docs/testing.md says why each one is equivalent. They are
# reported apart and do not fail the run; any other survivor does.
EQUIVALENT: dict[str, frozenset[str]] = {
    "classifiers/landscape.py": frozenset({
        "return hashlib.sha256(json.dumps(data, sort_keys=False).encode()).hexdigest()[:16]",
        "return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:15]",
        "return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:17]",
    }),
    "classifiers/catalog.py": frozenset({
        "@dataclass(frozen=False, slots=True)",
        "@dataclass(frozen=True, slots=False)",
        ").hexdigest()[:11]",
        ").hexdigest()[:13]",
        'return f"{edge.mechanism.upper()} between components of system {ends[1] or \'?\'}"',
        "if ends and ends[2] and ends[-1] != ends[1]:",
        "if ends and ends[2] and ends[0] != ends[2]:",
    }),
    "tracer/sdk_spans.py": frozenset({
        "if cached is None or cached[-1] is not resource:",
        "if cached is None or cached[1] is not resource:",
        "if len(_keyed) >= 10001:",
        "if not len(_keyed) >= 10_000:",
        "if len(_keyed) > 10_000:",
        "if len(_keyed) >= 9999:",
        "if cached is None or cached[0] is resource:",
        "encode_container(attrs if not isinstance(attrs, dict) else dict(attrs))",
    }),
    "tracer/rows.py": frozenset({
        'scrubbed_key(k) for r in items for k in (r.get("attributes") and ())',
        "if cached is not None and cached[1] is resource:",
        "if cached is not None and cached[-1] is resource:",
        # add(): a cache miss goes to resource_values, which answers from the same cache.
        "if cached is not None and cached[0] is not resource:",
        # add(): a value the quick test lets through to _int_or_none comes back the same.
        "if value.__class__ is not int or not +2147483648 <= value < 2147483648:",
        "if value.__class__ is not int or not -2147483648 < value < 2147483648:",
        # encoded_attributes(): every piece has six fields.
        "keys, values, texts, suspects, ats, schemes = zip(*pieces, strict=True)",
        "attributes = dict(zip(keys, values, strict=True))",
        # add(): with no URL, urlsplit(None) finds no host and no port either.
        "if url is not None or (row[_ADDRESS] is None or row[_PORT] is None):",
        # add(): the same test against bounds one off, where _int_or_none answers the same.
        "if value.__class__ is not int or not - 2147483647 <= value < 2147483648:",
        "if value.__class__ is not int or not -2147483648 <= value < 2147483647:",
        "if value.__class__ is not int or not 2147483648 <= value < 2147483648:",
    }),
    # The flat decoders' tests before they take a span themselves, made stricter (a bound one
    # inward, a default that fails them): the request goes to the general walk, which gives the
    # same rows, only slower. Their looser twins are killed.
    "tracer/otlp/flat.py": frozenset({
        "if len(raw) >= MAX_VALUE_CHARS:",
        "found = _pb_value(value, key, 1, tally)",
        "or not 0 < start <= end < MAX_NS",
        "or not 0 < start < end <= MAX_NS",
        "or not 1 < start <= end <= MAX_NS",
        "or not 1 <= kind < len(kinds)",
        "or not 0 < kind < len(kinds)",
        "or len(name) >= MAX_VALUE_CHARS",
        # No nested message of trace.proto names a type of its own package (Span.Event and
        # Span.Link name only common.v1's KeyValue): renaming them changes nothing today.
        "for nested in []:",
    }),
    "tracer/otlp/flat_json.py": frozenset({
        "or not 0 < start <= end < MAX_NS",
        "or not 0 < start < end <= MAX_NS",
        "or not 1 < start <= end <= MAX_NS",
        "kind = span.kind or -1",
        "code = (status.code or 0) if status is not None else -1",
        "or not 0 < kind < len(KINDS)",
        "or len(name) >= MAX_VALUE_CHARS",
        "or (message is not None and len(message) >= MAX_VALUE_CHARS)",
        "or not 1 <= kind < len(KINDS)",
        # _attribute: a plain string of the longest length read by json.loads, not the shortcut.
        "if len(value) < MAX_VALUE_CHARS:",
    }),
    "tracer/redact.py": frozenset({
        "return value if all(a is b for a, b in zip(items, value, strict=False)) else items",
        'or ("@" in text or "://" in text)',
        "_EQUALS_REACH = 139",
        'return f"{match.group(1)}{value[0]}{REDACTED}{value[-1]}"',
        'return f"{match.group(1)}{value[-1]}{REDACTED}{value[0]}"',
        # _suspicious_equals / the quick tests made looser: more text goes through the rules.
        "_EQUALS_REACH = 141",
        "if not word in window:",
        "return True",
        'or ("=" in text or _suspicious_equals(text))',
        # _suspicious_equals: an "=" right after another one sees no word the first did not.
        'i = text.find("=", i + 2)',
        # _scrub_quoted: one more turn at the end finds no quote and adds ""; a found end of a
        # block is at least 3.
        "while i <= n:",
        "i = n if end <= 0 else end + 3",
        "i = n if end < 1 else end + 3",
    }),
}  # fmt: skip


def _mutated_line(diff: str) -> str:
    """The line a mutant changed, whitespace removed (cosmic-ray writes `x[ 1]` for `x[1]`)."""
    added = [line[1:] for line in diff.splitlines() if line.startswith("+") and line[1:2] != "+"]
    return re.sub(r"\s+", "", added[0]) if len(added) == 1 else ""


def equivalent(module: str, diff: str) -> bool:
    line = _mutated_line(diff)
    return bool(line) and line in {re.sub(r"\s+", "", e) for e in EQUIVALENT.get(module, ())}


@dataclass
class Outcome:
    target: Target
    mutants: int = 0
    killed: int = 0
    survivors: list[str] = field(default_factory=list)
    equivalent: list[str] = field(default_factory=list)  # survivors listed in EQUIVALENT
    seconds: float = 0.0
    pending: int = 0  # not run yet (a run that was stopped)
    never: bool = False  # no session of the module as it is now


def _copy_tree(dest: Path) -> None:
    """The repository's files as they are in the checkout (symlinks kept), nothing else."""
    if dest.exists():
        shutil.rmtree(dest)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in filter(None, listed):
        name = raw.decode()
        source = ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the checkout, not yet in git
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)


Span = tuple[tuple[int, int], tuple[int, int]]


def _annotations(path: Path) -> list[Span]:
    """Where the module's annotations are: with `from __future__ import annotations` they are
    never evaluated, so a mutant inside one (`str | None` -> `str & None`) is equivalent."""
    spans: list[Span] = []
    for node in ast.walk(ast.parse(path.read_text())):
        found: list[ast.expr | None] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            a = node.args
            found.append(node.returns)
            for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg):
                found.append(arg.annotation if arg else None)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
        for expr in filter(None, found):
            end = (expr.end_lineno or expr.lineno, expr.end_col_offset or 0)
            spans.append(((expr.lineno, expr.col_offset), end))
    return spans


def _wanted(
    operator: str, definition: str | None, at: tuple[int, int], target: Target, skip: list[Span]
) -> bool:
    if (target.functions and definition not in target.functions) or operator in _LEFT_OUT:
        return False
    if any(start <= at < end for start, end in skip):
        return False
    swap = _SWAP.match(operator)
    return swap is None or _SWAP_TO.get(swap.group(1)) == swap.group(2)


def _run(argv: list[str], tree: Path, what: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def _paths(target: Target, work: Path) -> tuple[Path, Path, Path, Path]:
    """The target's cosmic-ray config, session, seconds spent on it (first run and reruns) and
    the digest of the module it mutated."""
    slug = re.sub(r"\W+", "-", target.name).strip("-")
    named = work / slug
    return (
        named.with_suffix(".toml"),
        named.with_suffix(".sqlite"),
        named.with_suffix(".seconds"),
        named.with_suffix(".sha256"),
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mutate(target: Target, work: Path, timeout_s: float, survivors: bool = False) -> None:
    """Runs the target's mutants; with survivors, only those that survived its last run."""
    tree = work / "tree"
    config, session, seconds, digest = _paths(target, work)
    survivors = survivors and session.exists()
    if survivors and (not digest.exists() or digest.read_text() != _digest(tree / target.module)):
        # The session's mutants are positions in the module it was made from.
        raise SystemExit(f"{target.module} changed since its last run: run it without --survivors")
    if not survivors:
        session.unlink(missing_ok=True)
        seconds.unlink(missing_ok=True)
        digest.write_text(_digest(tree / target.module))
    test = [sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider"]
    test += ["-o", "addopts=", *target.tests]
    config.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{target.module}"\n'
        f"timeout = {timeout_s}\n"
        "excluded-modules = []\n"
        f'test-command = "{" ".join(test)}"\n\n'
        '[cosmic-ray.distributor]\nname = "local"\n'
    )
    started = time.monotonic()
    cosmic_ray = str(Path(sys.executable).with_name("cosmic-ray"))
    if survivors:
        with sqlite3.connect(session) as con:
            con.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'")
    else:
        _run([cosmic_ray, "init", str(config), str(session)], tree, f"{target.name}: init")
        annotations = _annotations(tree / target.module)
        with use_db(str(session), WorkDB.Mode.open) as db:
            for item in db.pending_work_items:
                spec = item.mutations[0]
                at = tuple(spec.start_pos)
                if not _wanted(spec.operator_name, spec.definition_name, at, target, annotations):
                    db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
    _run([cosmic_ray, "baseline", str(config)], tree, f"{target.name}: the unmutated tests")
    _run([cosmic_ray, "exec", str(config), str(session)], tree, f"{target.name}: exec")
    spent = float(seconds.read_text()) if seconds.exists() else 0.0
    seconds.write_text(f"{spent + time.monotonic() - started:.0f}\n")


def outcome_of(target: Target, work: Path) -> Outcome:
    """What the target's session says: every mutant run, the killed, the survivors."""
    _, session, seconds, digest = _paths(target, work)
    stale = not digest.exists() or digest.read_text() != _digest(ROOT / target.module)
    if not session.exists() or stale:
        return Outcome(target, never=True)  # a session of another text of the module is moot
    outcome = Outcome(target, seconds=float(seconds.read_text()) if seconds.exists() else 0.0)
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            outcome.mutants += 1
            if result.test_outcome == TestOutcome.SURVIVED:
                spec = item.mutations[0]
                where = f"{target.module}:{spec.start_pos[0]} in {spec.definition_name}"
                found = f"{where}, {spec.operator_name}\n{result.diff or ''}"
                if equivalent(target.module, result.diff or ""):
                    outcome.equivalent.append(found)
                else:
                    outcome.survivors.append(found)
            else:
                outcome.killed += 1
        outcome.pending = db.num_work_items - db.num_results
    return outcome


def report(outcomes: list[Outcome]) -> str:
    """Markdown: one row per target, then every survivor with its diff."""
    total = sum(o.seconds for o in outcomes)
    lines = [
        f"`make mutate`, {time.strftime('%Y-%m-%d')}: {total / 60:.0f} min of runs, reruns of "
        f"survivors included, on a machine of {os.cpu_count()} cores shared with other test runs "
        f"(Python {sys.version.split()[0]}).",
        "",
        "| target | module | tests | mutants | killed | equivalent | survived | not run | time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        t = o.target
        files = dict.fromkeys(Path(p.partition("::")[0]).name for p in t.tests)
        tests = ", ".join(f"`{name}`" for name in files)
        scope = f"`{t.module}`" + (f" ({', '.join(t.functions)})" if t.functions else "")
        if o.never:
            lines.append(f"| {t.name} | {scope} | {tests} | not run since it changed | | | | | |")
            continue
        lines.append(
            f"| {t.name} | {scope} | {tests} | {o.mutants} | {o.killed} | {len(o.equivalent)} "
            f"| {len(o.survivors)} | {o.pending} | {o.seconds:.0f} s |"
        )
    for title, found in (
        ("Survivors", [s for o in outcomes for s in o.survivors]),
        ("Equivalent (see below why)", [s for o in outcomes for s in o.equivalent]),
    ):
        lines += ["", f"{title}: {len(found)}."]
        for s in found:
            head, _, diff = s.partition("\n")
            lines += ["", f"- {head}", "", "```diff", diff.strip(), "```"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=[t.name for t in TARGETS], metavar="TARGET")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per test run")
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="run again only the mutants that survived the last run (after adding tests)",
    )
    parser.add_argument(
        "--no-run", action="store_true", help="only report what the sessions in --work hold"
    )
    parser.add_argument(
        "--work", type=Path, default=WORK, help="the copy and the sessions (two runs: two folders)"
    )
    parser.add_argument("--report", type=Path, help="write the results into this Markdown file")
    args = parser.parse_args(argv)
    targets = [t for t in TARGETS if not args.only or t.name in args.only]
    args.work = args.work.absolute()
    args.work.mkdir(parents=True, exist_ok=True)
    if not args.no_run:
        _copy_tree(args.work / "tree")
    outcomes = []
    for target in targets:
        if not args.no_run:
            print(f"== {target.name}: {target.module}", file=sys.stderr, flush=True)
            mutate(target, args.work, args.timeout, args.survivors)
        outcome = outcome_of(target, args.work)
        print(
            f"   {target.name}: {outcome.mutants} mutants, {outcome.killed} killed, "
            f"{len(outcome.equivalent)} equivalent, {len(outcome.survivors)} survived "
            f"({outcome.seconds:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
        outcomes.append(outcome)
    text = report(outcomes)
    print(text)
    if args.report:
        doc = args.report.read_text()
        head, _, rest = doc.partition(BEGIN)
        _, _, tail = rest.partition(END)
        args.report.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")
    return 1 if any(o.survivors or o.pending or o.never for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
