"""The report's charts as inline SVG: plain shapes and text, no script, no external reference, so the page
prints (A4, Chromium's PDF) and opens in any browser as it is. Every text is escaped."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'
BAR = "#2563eb"
STANDARD = "#dc2626"
OUTCOME_COLOURS = {"approved": "#16a34a", "rejected": "#dc2626", "expired": "#6b7280", "open": "#f59e0b"}


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    t = escape(title)
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
                  f'role="img" aria-label="{t}" class="chart"><title>{t}</title>{"".join(body)}</svg>')


def _text(x: float, y: float, value: object, *, size: int = 11, anchor: str = "start", fill: str = "#111") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" {FONT}>'
            f"{escape(str(value))}</text>")


def _nice_max(value: float) -> float:
    """An axis end a little above `value` (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for m in (1, 2, 5, 10):
        if m * step >= value:
            return m * step
    return 10 * step


def per_day(counts: Sequence[tuple[int, int]], title: str = "Permohonan per hari") -> Markup:
    """Vertical bars: (day of month, requests) for every day of the month."""
    width, height, left, bottom, top = 680, 190, 34, 28, 14
    top_value = _nice_max(max((n for _, n in counts), default=0))
    plot_w, plot_h = width - left - 8, height - bottom - top
    slot = plot_w / max(len(counts), 1)
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" stroke="#444"/>']
    for tick in (0, top_value / 2, top_value):
        y = top + plot_h - plot_h * tick / top_value
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 8}" y2="{y:.1f}" stroke="#ddd"/>')
        body.append(_text(left - 4, y + 4, f"{tick:g}", size=10, anchor="end"))
    for i, (day, n) in enumerate(counts):
        x = left + i * slot
        h = plot_h * n / top_value
        if n:
            body.append(f'<rect x="{x + slot * 0.15:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.7:.1f}" '
                        f'height="{h:.1f}" fill="{BAR}"><title>{day}: {n}</title></rect>')
        if day == 1 or day % 5 == 0:
            body.append(_text(x + slot / 2, height - 10, day, size=10, anchor="middle"))
    return _svg(width, height, title, body)


def outcomes(items: Sequence[tuple[str, str, int]], title: str = "Hasil permohonan") -> Markup:
    """Horizontal bars: (key, label, count) per outcome."""
    width, row, left = 680, 24, 150
    height = row * len(items) + 10
    top_value = _nice_max(max((n for _, _, n in items), default=0))
    body = []
    for i, (key, label, n) in enumerate(items):
        y = 5 + i * row
        w = (width - left - 60) * n / top_value
        body.append(_text(left - 8, y + 15, label, anchor="end"))
        body.append(f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
                    f'fill="{OUTCOME_COLOURS.get(key, BAR)}"/>')
        body.append(_text(left + w + 6, y + 15, n))
    return _svg(width, height, title, body)


def step_times(items: Sequence[tuple[str, float | None, int]],
               title: str = "Median waktu per langkah (menit kerja) terhadap standar") -> Markup:
    """Horizontal bars of the median working minutes per step, with the standard as a red mark;
    (label, median or None when not measured, standard minutes)."""
    width, row, left = 680, 28, 250
    height = row * len(items) + 28
    top_value = _nice_max(max([m or 0 for _, m, _ in items] + [s for _, _, s in items] + [1]))
    plot_w = width - left - 70
    body = []
    for i, (label, median, standard) in enumerate(items):
        y = 5 + i * row
        body.append(_text(left - 8, y + 16, label, anchor="end"))
        sx = left + plot_w * standard / top_value
        if median is None:
            body.append(_text(sx + 6, y + 16, "tidak terukur (di SPSE)", size=10, fill="#6b7280"))
        else:
            w = plot_w * median / top_value
            colour = STANDARD if median > standard else BAR
            body.append(f'<rect x="{left}" y="{y + 4}" width="{max(w, 1):.1f}" height="{row - 10}" fill="{colour}"/>')
            body.append(_text(max(left + w, sx) + 6, y + 16, f"{median:.1f}".replace(".", ",")))
        body.append(f'<line x1="{sx:.1f}" y1="{y + 1}" x2="{sx:.1f}" y2="{y + row - 3}" stroke="{STANDARD}" '
                    f'stroke-width="2"><title>standar {standard} menit</title></line>')
    legend_y = height - 8
    body.append(f'<rect x="{left}" y="{legend_y - 9}" width="12" height="10" fill="{BAR}"/>')
    body.append(_text(left + 16, legend_y, "median (menit kerja)", size=10))
    body.append(f'<line x1="{left + 160}" y1="{legend_y - 10}" x2="{left + 160}" y2="{legend_y + 1}" '
                f'stroke="{STANDARD}" stroke-width="2"/>')
    body.append(_text(left + 166, legend_y, "standar SOP", size=10))
    return _svg(width, height, title, body)
