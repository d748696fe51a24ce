"""Small inline SVG charts (no script, no fonts fetched): weekly bars of one metric."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape


def bars(
    points: Sequence[tuple[str, float | None]],
    *,
    title: str,
    fmt: Callable[[float | None], str],
    width: int = 320,
    height: int = 120,
    colour: str = "#3b6ea5",
) -> str:
    """One bar per week (a gap where the week has no value), the latest value in the title."""
    pad_l, pad_b, pad_t = 4, 16, 18
    inner_w, inner_h = width - 2 * pad_l, height - pad_b - pad_t
    values = [v for _w, v in points if v is not None]
    top = max(values, default=0.0) or 1.0
    n = max(len(points), 1)
    step = inner_w / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{pad_l}" y="12" font-size="11" fill="#333">{escape(title)}</text>',
        f'<line x1="{pad_l}" y1="{pad_t + inner_h}" x2="{pad_l + inner_w}" y2="{pad_t + inner_h}" '
        'stroke="#999" stroke-width="1"/>',
    ]
    for i, (week, value) in enumerate(points):
        if value is None:
            continue
        h = max(1.0, inner_h * value / top) if value > 0 else 0.0
        x = pad_l + i * step + step * 0.15
        y = pad_t + inner_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step * 0.7, 1):.1f}" height="{h:.1f}" '
            f'fill="{colour}"><title>{escape(week)}: {escape(fmt(value))}</title></rect>'
        )
    if points:
        parts.append(
            f'<text x="{pad_l}" y="{height - 3}" font-size="9" fill="#666">{escape(points[0][0])}</text>'
        )
        parts.append(
            f'<text x="{width - pad_l}" y="{height - 3}" font-size="9" fill="#666" '
            f'text-anchor="end">{escape(points[-1][0])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
