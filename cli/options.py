"""Option types shared by the commands."""

from __future__ import annotations

import math
import re
from typing import Any

import click


class FiniteRange(click.FloatRange):
    """click.FloatRange that also refuses nan and infinity, which compare false with any bound
    and so pass FloatRange's checks."""

    name = "float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


MEMORY_FLOOR = 1000**2
"""The least --memory-limit: below it DuckDB cannot open a store (a new one at 1KB, one with
tables at 256KB; measured with duckdb 2.0)."""
_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*|%)", re.IGNORECASE)
_UNITS = {
    "b": 1,
    "byte": 1,
    "bytes": 1,
    "k": 1000,
    "kb": 1000,
    "kilobyte": 1000,
    "kilobytes": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "megabyte": 1000**2,
    "megabytes": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gigabyte": 1000**3,
    "gigabytes": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "terabyte": 1000**4,
    "terabytes": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


class DuckDBSize(click.ParamType[str]):
    """A size as DuckDB's settings take it (512MB, 2 GB, 1.5GiB; with percent, a share of the
    machine's memory), at least minimum bytes. Checked here, so that a wrong one is named with
    its option: DuckDB refused it only when the store was opened, in words that blamed the
    store, and one too small to open a store with ended in a traceback. The value goes on as
    it was typed."""

    name = "size"

    def __init__(self, minimum: int, *, percent: bool = False) -> None:
        self.minimum = minimum
        self.percent = percent

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        match = _SIZE.fullmatch(text)
        unit = match.group(2).lower() if match else ""
        factor = _UNITS.get(unit)
        if match is None or (factor is None and not (unit == "%" and self.percent)):
            self.fail(
                f"{value!r} is not a size: a number and its unit (KB, MB, GB, TB, or KiB, MiB, "
                f"GiB, TiB{'; or %' if self.percent else ''}), such as 512MB.",
                param,
                ctx,
            )
        if factor is not None and float(match.group(1)) * factor < self.minimum:
            self.fail(
                f"{value!r} is less than {self.minimum // 1000**2}MB, too little for DuckDB to "
                "open a store with.",
                param,
                ctx,
            )
        return text
