"""Charts drawn on the server as inline SVG: no JavaScript, a title and a description for screen readers,
colours from the stylesheet (classes, no inline styles: the CSP forbids them).

Every text that goes into a chart passes through Markup.format, which escapes it: a campaign name or a
link URL can never add markup to the page. Pages show the same numbers in a table next to each chart.
"""
import math

from markupsafe import Markup

WIDTH = 640
LINE_HEIGHT = 220
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 44, 630, 26, 192
BAR_ROW, BAR_LABEL_WIDTH, BAR_LEFT, BAR_RIGHT = 24, 30, 232, 570  # label width in characters


def axis_top(value):
    """A round number at or above value for the top of the y axis (1, 2, 5, 10, 20, 50, …)."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 5, 10) if step * magnitude >= value)


def _frame(chart_id, title, description, height, body):
    return Markup('<svg class="chart" id="{id}" viewBox="0 0 {w} {h}" width="100%" role="img" '
                  'aria-labelledby="{id}-title {id}-desc" xmlns="http://www.w3.org/2000/svg">'
                  '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>{body}</svg>').format(
        id=chart_id, w=WIDTH, h=height, title=title, desc=description, body=body)


def _number(value):
    return f"{value:g}"


def _y_axis(top):
    """Grid lines with their values at 0, the middle (when it is a whole number) and the top."""
    ticks = [0, top // 2, top] if top % 2 == 0 else [0, top]
    parts = []
    for tick in ticks:
        y = PLOT_BOTTOM - tick / top * (PLOT_BOTTOM - PLOT_TOP)
        parts.append(Markup('<line class="grid" x1="{x1}" x2="{x2}" y1="{y:.1f}" y2="{y:.1f}"/>'
                            '<text class="axis" x="{tx}" y="{ty:.1f}" text-anchor="end">{label}</text>').format(
            x1=PLOT_LEFT, x2=PLOT_RIGHT, y=y, tx=PLOT_LEFT - 6, ty=y + 4, label=_number(tick)))
    return Markup("").join(parts)


def _legend(series):
    parts = []
    x = PLOT_LEFT
    for index, (name, _values) in enumerate(series):
        parts.append(Markup('<rect class="swatch series-{n}" x="{x}" y="6" width="12" height="12"/>'
                            '<text class="legend" x="{tx}" y="16">{name}</text>').format(
            n=index, x=x, tx=x + 16, name=name))
        x += 24 + 8 * len(str(name))
    return Markup("").join(parts)


def line_chart(chart_id, title, description, labels, series, label_every=1):
    """A line per series over the labels (x axis): series is [(name, [values])], one value per label."""
    count = max(len(labels), 2)
    top = axis_top(max((max(values, default=0) for _name, values in series), default=0))
    step = (PLOT_RIGHT - PLOT_LEFT) / (count - 1)
    parts = [_y_axis(top), _legend(series)]
    for index, label in enumerate(labels):
        if index % label_every == 0:
            parts.append(Markup('<text class="axis" x="{x:.1f}" y="{y}" text-anchor="middle">{label}</text>').format(
                x=PLOT_LEFT + index * step, y=PLOT_BOTTOM + 18, label=label))
    for index, (name, values) in enumerate(series):
        points = " ".join(f"{PLOT_LEFT + i * step:.1f},{PLOT_BOTTOM - value / top * (PLOT_BOTTOM - PLOT_TOP):.1f}"
                          for i, value in enumerate(values))
        parts.append(Markup('<polyline class="line series-{n}" points="{points}"><title>{name}</title></polyline>')
                     .format(n=index, points=points, name=name))
    return _frame(chart_id, title, description, LINE_HEIGHT, Markup("").join(parts))


def shortened(text, width=BAR_LABEL_WIDTH):
    """The text cut to width characters with an ellipsis (the full text stays in the bar's title)."""
    text = str(text)
    return text if len(text) <= width else text[:width - 1] + "…"


def bar_chart(chart_id, title, description, bars):
    """Horizontal bars, one row each: bars is [(label, value, css class)]."""
    top = axis_top(max((value for _label, value, _css in bars), default=0))
    parts = []
    for index, (label, value, css) in enumerate(bars):
        y = 8 + index * BAR_ROW
        length = value / top * (BAR_RIGHT - BAR_LEFT)
        parts.append(Markup(
            '<g class="bar {css}"><title>{label}: {value}</title>'
            '<text class="axis" x="{lx}" y="{ty}" text-anchor="end">{short}</text>'
            '<rect x="{x}" y="{y}" width="{w:.1f}" height="{h}"/>'
            '<text class="value" x="{vx:.1f}" y="{ty}">{value}</text></g>').format(
            css=css, label=label, value=value, short=shortened(label), lx=BAR_LEFT - 8, ty=y + 13,
            x=BAR_LEFT, y=y, w=length, h=BAR_ROW - 8, vx=BAR_LEFT + length + 6))
    return _frame(chart_id, title, description, 16 + BAR_ROW * max(len(bars), 1), Markup("").join(parts))
