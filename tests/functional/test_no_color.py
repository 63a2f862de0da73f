"""Under NO_COLOR a verdict is told by its glyph: the glyph must be readable where it is drawn."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.functional.conftest import AppFactory, settle

pytestmark = pytest.mark.anyio

FILL = re.compile(r"\.(terminal-[\w-]+) \{ fill: #([0-9a-f]{6})")
RECT = re.compile(r'<rect fill="#([0-9a-f]{6})" x="([\d.]+)" y="([\d.]+)"')
TEXT = re.compile(
    r'<text class="([\w-]+)" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
    r'clip-path="url\(#[\w-]+-line-(\d+)\)">([^<]*)</text>'
)


def _grey(colour: str) -> int:
    r, g, b = (int(colour[i : i + 2], 16) for i in (0, 2, 4))
    return round(0.2126 * r + 0.7152 * g + 0.0722 * b)


def glyphs_and_grounds(svg: str, glyph: str) -> list[tuple[str, int, int]]:
    """Of each run of text in the screenshot that holds glyph: (the text, its grey, the grey
    of the background it is drawn on)."""
    fills = dict(FILL.findall(svg))
    grounds = {(x, round((float(y) - 1.5) / 24.4)): colour for colour, x, y in RECT.findall(svg)}
    found = []
    for css, x, line, text in TEXT.findall(svg):
        if glyph in text and css in fills and (x, int(line)) in grounds:
            found.append((text, _grey(fills[css]), _grey(grounds[(x, int(line))])))
    return found


@pytest.mark.parametrize("keys", [(), ("n",)])
async def test_under_no_color_an_anti_patterns_glyph_is_readable(
    sample_db: Path, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, keys: tuple[str, ...]
) -> None:
    """Textual turns each colour into the grey of its luminance: the anti-patterns' bold red
    became grey 37 on the panes' grey 35 (the header's "✗ 4", the table's "✗ anti-pattern",
    the focus view's rows), all but invisible, where the glyph is all that tells the verdict.
    A text too close to its background's grey now gets one it reads on."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        found = glyphs_and_grounds(app.export_screenshot(), "✗")
    assert len(found) >= 3
    for text, fg, bg in found:
        assert abs(fg - bg) >= 100, (text, fg, bg)
