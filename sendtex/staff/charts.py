"""Bar charts drawn on the server as SVG: the geometry here, the markup in templates/staff/_bar_chart.html."""
import math
from typing import NamedTuple

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 12, 30
MAX_AXIS_LABELS = 10


class Bar(NamedTuple):
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    labelled: bool  # whether the x axis shows this bar's label (crowded axes show every n-th one)

    @property
    def centre(self):
        return round(self.x + self.width / 2, 1)


class Tick(NamedTuple):
    value: int
    y: float


class BarChart(NamedTuple):
    bars: list
    ticks: list
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM


def _step(largest):
    """A round step (1, 2 or 5 × 10^n) that divides 0..largest into at most four parts."""
    rough = max(largest / 4, 1)
    magnitude = 10 ** math.floor(math.log10(rough))
    return next(factor * magnitude for factor in (1, 2, 5, 10) if factor * magnitude >= rough)


def bar_chart(points):
    """The geometry of a bar chart of (label, count) points, with a y axis of round numbers."""
    largest = max((value for _, value in points), default=0)
    step = _step(largest)
    top = max(step * math.ceil(largest / step), step)
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(points), 1)
    every = math.ceil(len(points) / MAX_AXIS_LABELS) or 1

    def y_of(value):
        return round(TOP + plot_height - value / top * plot_height, 1)

    bars = [Bar(str(label), value, round(LEFT + index * slot + slot * 0.15, 1), y_of(value), round(slot * 0.7, 1),
                round(value / top * plot_height, 1), index % every == 0)
            for index, (label, value) in enumerate(points)]
    ticks = [Tick(value, y_of(value)) for value in range(0, top + 1, step)]
    return BarChart(bars, ticks)
