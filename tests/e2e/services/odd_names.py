"""An instrumented service that lists a folder and makes a span for each file it finds.

Usage: odd_names.py <folder>. A file name that is not UTF-8 reaches Python as lone surrogates
(`os.fsdecode`), and so reaches the span's name and attributes. Prints how many it listed.
"""

from __future__ import annotations

import os
import sys

from opentelemetry import trace


def main() -> None:
    tracer = trace.get_tracer("seamscope.tests.odd_names")
    names = sorted(os.listdir(sys.argv[1]))
    for name in names:
        with tracer.start_as_current_span(f"read {name}", attributes={"file.name": name}):
            pass
    print(len(names), flush=True)


if __name__ == "__main__":
    main()
