"""Server-rendered inline SVG charts (no JavaScript, no CDN)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from . import kpis

COLOURS = ("#1f6feb", "#2da44e", "#bf8700", "#cf222e", "#8250df")


def _text_px(text: str, size: int) -> int:
    """A generous estimate of a text's width in px: CJK characters are square, Latin ones about
    0.62 of the font size."""
    return int(sum(size if ord(ch) > 0x2E7F else size * 0.62 for ch in text)) + 1


def trend_svg(
    rows: Sequence[kpis.KpiRow],
    *,
    keys: Sequence[str],
    link: Callable[[kpis.KpiRow], str] | None = None,
    width: int = 760,
    height: int = 260,
) -> SafeString:
    """Lines of the rates in `keys` (0–100 %) per bucket, with the received count as bars."""
    left, right, top, bottom = 40, 150, 14, 40
    # The legend's column is as wide as its longest label (English ones are longer): the SVG
    # grows rather than cutting a label off.
    longest = max((_text_px(str(kpis.KPI_BY_KEY[key].label), 11) for key in keys), default=0)
    if 38 + longest > right:
        width += 38 + longest - right
        right = 38 + longest
    pw, ph = width - left - right, height - top - bottom
    n = max(len(rows), 1)
    step = pw / n
    max_received = max([r.counts.get("received", 0) for r in rows] + [1])
    # A group, not an image: its bars and points are links (axe: nested-interactive).
    name = _("趋势图：折线为各项比率，柱为受理量")
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" role="group" '
        f'aria-label="{escape(name)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
    ]
    for pct in (0, 25, 50, 75, 100):
        y = top + ph - ph * pct / 100
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{pct}%</text>'
        )
    for i, r in enumerate(rows):
        x = left + step * i
        bh = ph * 0.35 * r.counts.get("received", 0) / max_received
        bar = (
            f'<rect x="{x + step * 0.2:.1f}" y="{top + ph - bh:.1f}" width="{step * 0.6:.1f}" '
            f'height="{bh:.1f}" fill="#d0d7de"><title>{escape(r.label)}: '
            f"{r.counts.get('received', 0)}</title></rect>"
        )
        if link:
            bar = f'<a href="{escape(link(r))}">{bar}</a>'
        out.append(bar)
        if n <= 16 or i % max(1, n // 12) == 0:
            label = escape(r.label.split(" ")[0][-5:] if len(r.label) > 7 else r.label)
            out.append(
                f'<text x="{x + step / 2:.1f}" y="{top + ph + 14}" font-size="10" '
                f'text-anchor="middle">{label}</text>'
            )
    for k, key in enumerate(keys):
        colour = COLOURS[k % len(COLOURS)]
        points = []
        for i, r in enumerate(rows):
            rate = r.rate(key)
            if rate is None:
                continue
            x = left + step * i + step / 2
            y = top + ph - ph * rate / 100
            points.append((x, y, r, rate))
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, *_ in points)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for x, y, r, rate in points:
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                f"<title>{escape(r.label)} {escape(str(kpis.KPI_BY_KEY[key].label))}: "
                f"{rate}%</title></circle>"
            )
        ly = top + 14 + k * 18
        out.append(
            f'<rect x="{left + pw + 12}" y="{ly - 9}" width="12" height="4" fill="{colour}"/>'
            f'<text x="{left + pw + 30}" y="{ly - 4}" font-size="11">'
            f"{escape(str(kpis.KPI_BY_KEY[key].label))}</text>"
        )
    out.append("</svg>")
    # Every interpolated text is escaped above.
    return mark_safe("".join(out))
