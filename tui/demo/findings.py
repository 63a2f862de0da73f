"""The findings table that `seamscope demo --headless` prints."""

from __future__ import annotations

from pathlib import Path


def print_findings(db_path: Path, landscape: Path) -> None:
    print(db_path, landscape)
