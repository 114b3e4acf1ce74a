"""One look for every knnvision figure: colour-blind-safe colours, fixed DPI, readable text.

Figures are built on :class:`matplotlib.figure.Figure` with an Agg canvas, never through
``pyplot``: nothing is registered in pyplot's global list of open figures, so a long-running
process (a server, a notebook making many reports) does not leak them, and no GUI backend is
ever touched.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.rcsetup import cycler  # the object matplotlib.cycler names; typed here

#: Dots per inch of every figure: fixed, so the same figure always has the same pixel size.
DPI = 110

#: Okabe & Ito's palette (Color Universal Design), distinguishable with every common form of
#: colour blindness. Black comes last: it is kept for the highlights (chosen k, labels).
PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)

#: Marker shapes paired with the colours, so classes stay apart even beyond eight, in grey
#: print, and for readers who cannot tell two of the colours apart.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p")

#: Sequential colour map for heatmaps: perceptually uniform and colour-blind-safe.
HEATMAP = "cividis"

#: Emphasis colours of the misclassification figure (same class as the truth / another class).
AGREES, DISAGREES = PALETTE[0], PALETTE[3]

#: Most panels of a small-multiples figure (accuracy against k, one per grid setting): more
#: would be too small to read, so the best ones are shown.
MAX_PANELS = 6

#: Colour of the context lines drawn behind a panel's own (the other settings).
CONTEXT = "#c4c4c4"

_RC = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 13,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "grid.color": "#d9d9d9",
    "grid.linewidth": 0.7,
    "axes.prop_cycle": cycler(color=PALETTE),
    "image.interpolation": "nearest",
}

F = TypeVar("F", bound=Callable[..., Figure])


def styled(function: F) -> F:
    """Build the figure inside knnvision's rc settings (restored afterwards)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(_RC):
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches with constrained layout and an Agg canvas.

    Constrained layout keeps tick labels, titles and colour bars inside the figure, so nothing
    is clipped whatever the class names are.
    """
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def class_color(index: int) -> str:
    """Colour of class ``index``; cycles after eight, so pair it with :func:`class_marker`."""
    return PALETTE[index % len(PALETTE)]


def class_marker(index: int) -> str:
    """Marker shape of class ``index``; with :func:`class_color`, unique for 24 classes."""
    return MARKERS[index % len(MARKERS)]
