"""Figures for reports (matplotlib, Agg): rate fits in log-log with local exponents, distances.

Every figure is saved by `png_bytes`, which fixes what would otherwise vary between runs (no
software or date metadata, fixed size and dpi, fixed fonts and hash salt), so the same results
give the same PNG bytes with the same matplotlib.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt  # noqa: E402

from scoreclaims.reports.markdown import as_float  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 100
STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.hashsalt": "scoreclaims",
    "path.simplify": False,
}
COLORS = plt.get_cmap("tab10").colors
MAX_LEGEND_MEANS = 8  # more means than this: no legend (colours cycle)


def styled(build: Callable[..., Figure]) -> Callable[..., Figure]:
    """Build the figure under the report style (rc parameters are read as artists are made)."""

    @functools.wraps(build)
    def wrapper(*args: Any, **kw: Any) -> Figure:
        with plt.rc_context(STYLE):
            return build(*args, **kw)

    return wrapper


def color(number: int) -> Any:
    """The colour of instance `number` (stable across every figure of a report)."""
    return COLORS[(number - 1) % len(COLORS)]


def new_figure(width: float = 7.0, height: float = 4.0, rows: int = 1, cols: int = 1,
               **kw: Any) -> tuple[Figure, Any]:
    """A figure (build it inside `styled`; always close it through `png_bytes`)."""
    return plt.subplots(rows, cols, figsize=(width, height), dpi=DPI, **kw)


def png_bytes(fig: Figure, tight: bool = False) -> bytes:
    """The figure as PNG bytes without varying metadata; closes the figure.

    `tight` crops to the drawn content (slower; for figures laid out without fixed margins).
    """
    buf = io.BytesIO()
    extra: dict[str, Any] = {"bbox_inches": "tight", "pad_inches": 0.1} if tight else {}
    try:
        with plt.rc_context(STYLE):
            fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, **extra)
    finally:
        plt.close(fig)
    return buf.getvalue()


def _floats(values: Sequence[Any]) -> list[float]:
    return [math.nan if (f := as_float(v)) is None else f for v in values]


def legend_outside(ax: Axes, **kw: Any) -> None:
    """The axes' legend to the right of them, off the data (the PNG is cropped to include it)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  borderaxespad=0.0, fontsize=kw.pop("fontsize", 8), frameon=False, **kw)


def legend_below(ax: Axes, ncol: int = 1, **kw: Any) -> None:
    """The axes' legend under them (below the x label), off the data; for panels side by side,
    where a legend on the right would cover the next panel."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.2),
                  borderaxespad=0.0, fontsize=kw.pop("fontsize", 8), frameon=False, ncol=ncol,
                  **kw)


def covers(ax: Axes) -> bool:
    """Whether the axes' limits contain every finite point of their lines and error bars (lines
    in data coordinates: axhline and axvline span the axes by construction)."""
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    for line in ax.get_lines():
        if line.get_transform() != ax.transData:
            continue
        for x, y in zip(line.get_xdata(), line.get_ydata(), strict=False):
            x, y = float(x), float(y)
            if math.isfinite(x) and math.isfinite(y) and not (
                    x0 <= x <= x1 and y0 <= y <= y1):
                return False
    return True


def log_if_wide(ax: Axes, values: Sequence[float], axis: str = "y",
                decades: float = 1.5) -> None:
    """A log scale when the positive `values` span more than `decades`, else linear: a log axis
    over less than a decade has few or no labelled ticks."""
    finite = [v for v in values if math.isfinite(v)]
    if finite and min(finite) > 0 and math.log10(max(finite) / min(finite)) > decades:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")


@styled
def rate_figure(fits: Sequence[tuple[int, str, Mapping[str, Any]]], quantity: str,
                title: str) -> Figure:
    """Log-log samples and fitted curves (top) and local exponents (bottom) of several fits.

    `fits` holds (instance number, label, RateFit dict with `plot`); the label says which instance
    it is (its parameters). Data are markers, the fitted form on its window a line; below, the
    local exponents of the data (markers) and of the fitted form (line) per half-decade, hollow
    outside the fitting window. The legend sits to the right of the axes.
    """
    fig, (top, bottom) = new_figure(7.0, 6.0, 2, 1, sharex=True,
                                    gridspec_kw={"height_ratios": [2, 1]})
    for number, label, fit in fits:
        plot = fit.get("plot") or {}
        c = color(number)
        prefix = f"{label}: " if len(fits) > 1 else ""  # one curve: the title names it
        tau, logv = _floats(plot.get("tau", ())), _floats(plot.get("log10_value", ()))
        top.plot(tau, [10.0**v for v in logv], "o", ms=3, color=c, alpha=0.6,
                 label=f"{prefix}data")
        curve_tau = _floats(plot.get("curve_tau", ()))
        if curve_tau:
            curve = [10.0**v for v in _floats(plot.get("curve_log10_value", ()))]
            top.plot(curve_tau, curve, "-", lw=1.6, color=c, label=prefix + _fit_label(fit))
        mid = _floats(plot.get("local_tau_mid", ()))
        if mid:
            local = _floats(plot.get("local_exponent", ()))
            inside = list((fit.get("local") or {}).get("in_window") or [True] * len(mid))
            for flag, face in ((True, c), (False, "none")):
                pts = [(t, v) for t, v, w in zip(mid, local, inside, strict=False) if w == flag]
                if pts:
                    bottom.plot(*zip(*pts, strict=True), "o", ms=3.5, color=c, mfc=face)
            model = _floats(plot.get("model_local_exponent", ()))
            if any(not math.isnan(v) for v in model):
                bottom.plot(mid, model, "-", lw=1.2, color=c)
    top.set_xscale("log")
    top.set_yscale("log")
    top.set_ylabel(quantity)
    top.set_title(title)
    legend_outside(top)
    bottom.set_xscale("log")
    bottom.set_xlabel("tau (GD step)")
    bottom.set_ylabel("local exponent\n-d log v / d log tau")
    fig.subplots_adjust(hspace=0.08)
    return fig


def _fit_label(fit: Mapping[str, Any]) -> str:
    kind = fit.get("classification", "?")
    p, q, rho = fit.get("exponent"), fit.get("log_power"), fit.get("ratio")
    if kind == "power" and p is not None:
        return f"fit tau^-{p:.4g}"
    if kind == "power-log" and p is not None and q is not None:
        return f"fit tau^-{p:.4g} (log tau)^{q:.3g}"
    if kind == "geometric" and rho is not None:
        return f"fit {rho:.6g}^tau"
    return f"no fit ({kind})"


@styled
def loss_figure(series: Sequence[tuple[int, str, Sequence[Any], Sequence[Any]]], quantity: str,
                title: str) -> Figure:
    """Log-log trajectories without a fit: (instance number, label, tau, value) per line, the
    label saying which instance it is; the legend to the right of the axes."""
    fig, ax = new_figure()
    for number, label, tau, value in series:
        pts = [(t, v) for t, v in zip(_floats(tau), _floats(value), strict=True)
               if t > 0 and v > 0 and math.isfinite(v)]
        if pts:
            ax.plot(*zip(*pts, strict=True), "o-", ms=2.5, lw=1, color=color(number), label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("tau (GD step)")
    ax.set_ylabel(quantity)
    ax.set_title(title)
    if len(series) > 1:  # one curve: the title names it
        legend_outside(ax)
    return fig


@styled
def distances_figure(panels: Sequence[tuple[int, str, Sequence[Any], Mapping[str, Sequence[Any]]]],
                     title: str) -> Figure:
    """One panel per instance: the distance of each mean to the truth against tau.

    `panels` holds (instance number, label, tau, {column: values}); the label (the instance's
    parameters) titles its panel. tau 0 is kept on a symlog axis; the distance axis is
    logarithmic only where the distances span more than a decade and a half.
    """
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    head = 0.25 * (title.count("\n") + 1) + 0.45  # inches above the panels: title, legend
    label_lines = max(p[1].count("\n") + 1 for p in panels)
    width, height = max(3.4 * cols, 6.4), (2.6 + 0.15 * label_lines) * rows + head
    fig, axes = new_figure(width, height, rows, cols, squeeze=False)
    most = max(len(p[3]) for p in panels)
    for k, ax in enumerate(axes.flat):
        if k >= len(panels):
            ax.set_visible(False)
            continue
        _, label, tau, dists = panels[k]
        _distance_panel(ax, _floats(tau), {name: _floats(v) for name, v in dists.items()})
        ax.set_title(label, fontsize=8)
        if k % cols == 0:
            ax.set_ylabel("distance to truth")
        if k >= len(panels) - cols:
            ax.set_xlabel("tau (GD step)")
        if len(dists) == most and most <= MAX_LEGEND_MEANS and not fig.legends:
            fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=most,
                       fontsize=8, frameon=False,
                       bbox_to_anchor=(0.5, 1 - (head - 0.05) / height))
    fig.suptitle(title, y=1 - 0.05 / height, va="top")
    fig.subplots_adjust(top=1 - (head + 0.1 + 0.15 * label_lines) / height, wspace=0.3,
                        hspace=0.35 + 0.12 * label_lines)
    return fig


def _distance_panel(ax: Axes, tau: list[float], dists: Mapping[str, list[float]]) -> None:
    values: list[float] = []
    for i, (name, col) in enumerate(dists.items()):
        ax.plot(tau, col, "-", lw=1.3, color=COLORS[i % len(COLORS)],
                label=name.replace("dist_", "mean "))
        values += col
    ax.set_xscale("symlog", linthresh=1.0)
    finite = [t for t in tau if math.isfinite(t) and t > 0]
    if finite:
        top = math.ceil(math.log10(max(finite)))
        step = 1 if top <= 4 else 2 if top <= 8 else 3
        ax.set_xticks([0.0] + [10.0**k for k in range(0, top + 1, step)])
    log_if_wide(ax, values)
