"""docs/patterns.md is generated from the rule records and kept in step with them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from seamscope.classifiers.catalog import PRECEDENCE, RULES
from seamscope.classifiers.docs import render

DOC = Path(__file__).resolve().parents[3] / "docs" / "patterns.md"


def test_patterns_md_is_in_step_with_the_records() -> None:
    assert DOC.read_text() == render(), "run `make docs` (python -m seamscope.classifiers.docs)"


def test_the_module_prints_what_make_docs_writes() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "seamscope.classifiers.docs"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout == render()


def test_every_rule_is_documented_under_the_four_headings() -> None:
    text = render()
    for rule in RULES:
        section = text.split(f"## {rule.id} {rule.name}\n", 1)[1].split("\n## ", 1)[0]
        for heading in ("What it detects.", "Why.", "Example.", "Do instead."):
            assert f"**{heading}**" in section, (rule.id, heading)
        assert rule.section in section


def test_records_are_complete_and_every_rule_can_win() -> None:
    assert sorted(PRECEDENCE) == sorted(r.id for r in RULES)
    for rule in RULES:
        assert rule.verdict in ("pattern", "anti-pattern", "smell")
        assert rule.level in ("system", "component", "external", "any")
        assert all((rule.summary, rule.rationale, rule.section, rule.example, rule.fix))
