"""Frozen rules of the numpy engine as padded operand sets for the compiled kernels (numpy only).

A `Plan` holds what a kernel needs to evaluate one rule at new means: the nodes and weights, the
panel structure and the reference configuration of the drift checks, each array with the axis
that grows with the rule's size. Sizes are padded up to a few buckets (`bucket`: 1, 2, 3, 4, 6,
8, 12, ... at most half again) so that one compiled kernel serves many rules; padding adds
panels and nodes of zero weight at y = 0, where the integrand is finite, so it adds exact zeros.
Plans of one `signature` can be stacked (padded to their common sizes) for a batch.

Compiled: line rules (`collinear.LineRule`, Gauss-Hermite pair or panels) for d = 1 and for
n = 2 in any d; `quadrature.FrozenRule` (panels, a thin Gauss-Hermite block, or both) when the
means span R^d (k = d = 2, 3) and for n = 3 in d = 3 (k = 2): the frames of `frames`, where the
engine's reduction and alignment are certain. Not compiled (`plan_for` gives None, the caller
stays on numpy): trapezoid grids, other reductions with k < d (collinear or coplanar clouds of
more means), and panel rules of k >= 2 beyond MAX_TREE_NODES.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scoreclaims.verifiers.collinear import LineRule
from scoreclaims.verifiers.gauss_kronrod import rule as gk_rule
from scoreclaims.verifiers.quadrature import FrozenRule

NK = 21  # Kronrod nodes per panel
# FrozenRules with panels (trees) beyond this many nodes stay on numpy: measured on E1's rules
# (panels on one axis, a thin block on two; 2,500 to 3,400 nodes) a compiled step took 430 us
# against numpy's 560, while each new padded shape compiles in 2 to 6 s and such rules are
# refitted every 10 to 100 steps (their crossings drift).
MAX_TREE_NODES = 2_000


def bucket(size: int) -> int:
    """The smallest of 1, 2, 3, 4, 6, 8, 12, 16, 24, ... (2^j and 3 * 2^j) >= size."""
    size = max(int(size), 1)
    power = 1 << max(size - 1, 0).bit_length()  # next power of two
    return 3 * power // 4 if size <= 3 * power // 4 and power >= 4 else power


@dataclass(frozen=True)
class Plan:
    """`kind`: "hermite", "panels" (line rules, d = 1) or "frozen" (k = d >= 2). `static`: what
    the kernel's code depends on besides array shapes. `arrays`: the operands; `grow`: for each
    array that grows with the rule, (axis, size name, fill) (fill None: the out-of-range index
    of the padded last level). `sizes`: the unpadded size of every name."""

    kind: str
    n: int
    d: int
    nodes: int  # integrand points of the rule (the engine's `evaluations` for one reuse)
    static: tuple
    arrays: dict[str, np.ndarray]
    grow: dict[str, tuple[int, str, object]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)

    @property
    def signature(self) -> tuple:
        """Plans with equal signatures run in one compiled kernel (padded alike)."""
        return (self.kind, self.n, self.d, self.static, tuple(sorted(self.sizes)))


def plan_for(m: np.ndarray, rule: object) -> Plan | None:
    """The plan of `rule` for means of the shape of `m` (n, d), or None where not compiled."""
    n, d = m.shape
    if isinstance(rule, LineRule):
        if len(rule.coords) != n or rule.points.shape[1] != 1:
            return None
        if d == 1:
            frame = "line"
        elif n == 2 and rule.basis is not None and rule.basis.shape == (d, 1):
            frame = "span"
        else:
            return None
        return _hermite(rule, n, d, frame) if rule.kind == "hermite" else \
            _panels(rule, n, d, frame)
    if isinstance(rule, FrozenRule):
        if rule.points is None or rule.basis is None or rule.coords.shape[0] != n:
            return None
        k = rule.coords.shape[1]
        if d < 2 or rule.basis.shape != (d, k):
            return None
        if k == d and n - 1 >= d:
            frame = "full"
        elif k == n - 1 == 2 and d == 3:
            frame = "span"
        else:
            return None
        if rule.tree is not None and len(rule.points) > MAX_TREE_NODES:
            return None
        return _frozen(rule, n, d, frame)
    return None


def _line_arrays(rule: LineRule, d: int) -> dict[str, np.ndarray]:
    return {} if d == 1 else {"basis": rule.basis}


def _hermite(rule: LineRule, n: int, d: int, frame: str) -> Plan:
    size = rule.n_nodes
    arrays = {"points": rule.points, "pair": rule.pair, **_line_arrays(rule, d)}
    return Plan("hermite", n, d, size, (frame,), arrays,
                {"points": (0, "nodes", 0.0), "pair": (1, "nodes", 0.0)}, {"nodes": size})


def _panels(rule: LineRule, n: int, d: int, frame: str) -> Plan:
    panels = rule.n_nodes // NK
    arrays = {"points": rule.points.reshape(panels, NK), "scaled": rule.scaled.reshape(panels, NK),
              "kg": rule.kg, "check": rule.check, "limit": rule.limit, "built": rule.coords,
              **_line_arrays(rule, d)}
    grow = {"points": (0, "panels", 0.0), "scaled": (0, "panels", 0.0)}
    return Plan("panels", n, d, rule.n_nodes, (frame,), arrays, grow, {"panels": panels})


def _frozen(rule: FrozenRule, n: int, d: int, frame: str) -> Plan:
    """Levels outermost first; each with half-widths (P,), densities (P, 21), owners (P,) among
    the nodes of the level above, and for its own nodes the skipped mask and tail masses
    (P, 21). A thin block: its two orders' weights over B points; `live` (L,) the nodes of the
    last level that carry it (points (L, B, k))."""
    k = rule.coords.shape[1]
    arrays: dict[str, np.ndarray] = {"basis": rule.basis, "built": rule.coords,
                                     "kg": np.stack(gk_rule()[1:])}
    grow: dict[str, tuple[int, str, object]] = {}
    sizes: dict[str, int] = {}
    levels = len(rule.levels)
    for lev, (half, _t, owner, skipped, dens, tail) in enumerate(rule.levels):
        panels = len(half)
        name = f"panels{lev}"
        sizes[name] = panels
        arrays[f"half{lev}"] = half
        arrays[f"dens{lev}"] = dens.reshape(panels, NK)
        arrays[f"owner{lev}"] = owner.astype(np.int32)
        grow.update({f"half{lev}": (0, name, 0.0), f"dens{lev}": (0, name, 0.0),
                     f"owner{lev}": (0, name, 0)})
        if lev < levels - 1 or rule.block is not None:  # an inner level hangs on its nodes
            mask = np.zeros(panels * NK, dtype=bool) if skipped is None else skipped
            mass = np.zeros(panels * NK) if tail is None else tail
            arrays[f"skipped{lev}"] = mask.reshape(panels, NK)
            arrays[f"tail{lev}"] = mass.reshape(panels, NK)
            grow.update({f"skipped{lev}": (0, name, False), f"tail{lev}": (0, name, 0.0)})
    width = 0
    if rule.block is None:
        last = rule.levels[-1]
        arrays["points"] = rule.points.reshape(len(last[0]), NK, k)
        grow["points"] = (0, f"panels{levels - 1}", 0.0)
        block_size = 0
    else:
        width = rule.block.points.shape[1]
        block_size = len(rule.block.points)
        arrays["pair"] = np.stack([rule.block.low, rule.block.high])
        live = 1 if rule.live is None else len(rule.live)
        arrays["points"] = rule.points.reshape(live, block_size, k)
        grow["points"] = (0, "live", 0.0)
        if levels:
            arrays["live"] = rule.live.astype(np.int32)
            grow["live"] = (0, "live", None)
        sizes["live"] = live
    static = (levels, width, block_size, frame)
    return Plan("frozen", n, d, len(rule.points), static, arrays, grow, sizes)


def padded_sizes(plans: list[Plan]) -> dict[str, int]:
    """The bucketed common sizes of plans of one signature."""
    return {name: bucket(max(p.sizes[name] for p in plans)) for name in plans[0].sizes}


def materialize(plan: Plan, sizes: dict[str, int]) -> dict[str, np.ndarray]:
    """The plan's arrays padded to `sizes`."""
    out = {}
    levels = plan.static[0] if plan.kind == "frozen" else 0
    for key, arr in plan.arrays.items():
        if key not in plan.grow:
            out[key] = arr
            continue
        axis, name, fill = plan.grow[key]
        if fill is None:  # padded live entries land on the slot past the last level's nodes
            fill = NK * sizes[f"panels{levels - 1}"]
        extra = sizes[name] - arr.shape[axis]
        if extra:
            pad = [(0, 0)] * arr.ndim
            pad[axis] = (0, extra)
            arr = np.pad(arr, pad, constant_values=fill)
        out[key] = arr
    return out
