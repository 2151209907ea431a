"""Adaptive Gauss-Kronrod cubature of Gaussian expectations E_{y ~ N(0, I_k)} f(y), k = 1, 2, 3,
for integrands built from softmax weights w_j(y) = softmax_j(y.p_j - |p_j|^2 / 2).

Such integrands are smooth except across the hyperplanes where two logits cross; there they
switch over a width 1/|p_j - p_l|, and for far-apart means the crossing can sit deep in the
Gaussian tail where all the mass of a small loss lives. The cubature is iterated (one adaptive
1-D rule per coordinate, the inner integrals vectorised over every outer node) and each 1-D rule
starts from panels graded geometrically around the crossings (seeds), so no transition can hide
between nodes, and bisects panels until the Gauss-Kronrod error estimate |K21 - G10| meets the
tolerance relative to the integral of |f| (per group of components, in a weighted norm).

The domain is [-Y_MAX, Y_MAX] per coordinate: beyond it the Gaussian density is below float64's
smallest subnormal, so nothing representable is dropped. Reported errors are sums of |K21 - G10|
(plus propagated inner errors): conservative estimates of the error of the returned K21 values.
Error norms are taken on scaled values (`_group_norms`): far-tail integrals of 1e-160 and less
have squares below float64's range, and an unscaled norm would call their errors zero. What no
float64 rule can see (the tail beyond Y_MAX, subnormal roundings) is `underflow_allowance`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache

import numpy as np
from scipy.special import erfc, erfcinv

from scoreclaims.verifiers.gauss_kronrod import calibrated, rule

Y_MAX = 38.5
HERMITE_MAX_SPREAD = 0.3  # Gauss-Hermite is tried only for means this close (measured: beyond ~0.5
HERMITE_ORDERS = (12, 16)  # 48 nodes per axis are needed for 1e-7)
# Thin axes (the means' spread along them <= HERMITE_MAX_SPREAD) get a Gauss-Hermite pair whose
# orders start from the spread: along an axis of spread delta the integrand is analytic in a
# strip of half-width pi / delta, a polynomial to ~delta^(2q) for q nodes. The pair climbs this
# ladder while its difference misses the budget.
THIN_LADDER = ((2, 3), (3, 4), (4, 6), (6, 8), (8, 12), (12, 16))
_THIN_START = (1e-6, 1e-4, 1e-2, 3e-2, 0.1)  # spread thresholds of the ladder's first rungs
_GRADING = np.array([0.0, 1.0, -1.0, 4.0, -4.0])  # (measured: a +-16 ring only cost nodes)
_BULK = np.array([0.0, 3.0, -3.0, 8.0, -8.0])  # breakpoints for the Gaussian itself
_NK = 21  # nodes per panel (Kronrod 21)
MAX_FROZEN_NODES = 400_000  # larger rules are not kept (memory; reuse would not pay)
_CHUNK = 4096  # inner owners integrated together (bounds memory for k = 3)
_RELEVANT_GAP = 40.0  # a crossing more than e^40 below the leading weight is invisible at 1e-17
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)

Integrand = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ErrorGroup:
    """Components whose errors are measured together, in a weighted Euclidean norm."""

    index: np.ndarray
    weight: np.ndarray


@dataclass(frozen=True)
class PanelTree:
    """Final panels of one level: [a, b] for the owner rows `owner` (the nodes of the level
    above, numbered panel * 21 + node there; 0 at level 0); `child` the next level over this
    level's nodes, `skipped` (nodes,) the nodes whose inner integral was bounded, not computed."""

    a: np.ndarray
    b: np.ndarray
    owner: np.ndarray
    child: PanelTree | None = None
    skipped: np.ndarray | None = None
    tail: np.ndarray | None = None  # (nodes,) Gaussian mass of the inner tails left out


@dataclass(frozen=True)
class ThinBlock:
    """Gauss-Hermite pair over the trailing thin axes: `points` (B, axes) both orders' nodes,
    `low`, `high` (B,) their weights (each zero on the other order's nodes)."""

    rungs: tuple[int, ...]
    points: np.ndarray
    low: np.ndarray
    high: np.ndarray


@cache
def thin_block(rungs: tuple[int, ...]) -> ThinBlock:
    """The tensor pair for one ladder rung per thin axis."""
    parts = []
    for which in (0, 1):
        axes = [np.polynomial.hermite_e.hermegauss(THIN_LADDER[r][which]) for r in rungs]
        grids = np.meshgrid(*[x for x, _ in axes], indexing="ij")
        wgrids = np.meshgrid(*[w * _INV_SQRT_2PI for _, w in axes], indexing="ij")
        parts.append((np.stack([g.reshape(-1) for g in grids], axis=1),
                      np.prod(np.stack([g.reshape(-1) for g in wgrids], axis=1), axis=1)))
    (p0, w0), (p1, w1) = parts
    low = np.concatenate([w0, np.zeros(len(w1))])
    high = np.concatenate([np.zeros(len(w0)), w1])
    return ThinBlock(rungs, np.concatenate([p0, p1]), low, high)


def thin_rungs(spread: np.ndarray) -> tuple[int, ...]:
    """First ladder rung for each thin axis from its spread."""
    return tuple(int(np.searchsorted(_THIN_START, x)) for x in spread)


@dataclass(frozen=True)
class FrozenRule:
    """The final panels of an adaptive run, reusable for nearby configurations (GD steps):
    the integrand is evaluated at all innermost nodes in one call and reduced level by level
    with the same Gauss-Kronrod error estimates, which must again meet the tolerance. `coords`
    and `basis` are the reduced means and the basis of R^d they were computed in."""

    tree: PanelTree | None  # None: every axis is thin
    coords: np.ndarray
    basis: np.ndarray | None = None
    points: np.ndarray | None = None  # innermost nodes (N, k), filled by `compile_rule`
    levels: tuple = ()
    block: ThinBlock | None = None  # the Gauss-Hermite pair of the trailing thin axes
    live: np.ndarray | None = None  # nodes of the last panel level that carry the block


@dataclass(frozen=True)
class CubatureResult:
    value: np.ndarray  # (C,) integrals
    abs_value: np.ndarray  # (C,) integrals of |f|
    error: np.ndarray  # (C,) error estimates
    evaluations: int
    converged: bool
    rule: FrozenRule | None = None


@cache
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, 1)


@cache
def _kg_weights() -> np.ndarray:
    _, wk, wg = rule()
    return np.stack([wk, wg])


@cache
def _hermite_tensor(order: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.hermite_e.hermegauss(order)
    w = w / np.sqrt(2.0 * np.pi)
    grids = np.meshgrid(*([x] * k), indexing="ij")
    wgrids = np.meshgrid(*([w] * k), indexing="ij")
    pts = np.stack([g.reshape(-1) for g in grids], axis=1)
    return pts, np.prod(np.stack([g.reshape(-1) for g in wgrids], axis=1), axis=1)


def group_matrix(groups: Sequence[ErrorGroup], ncomp: int) -> np.ndarray:
    """(C, G) squared weights: sqrt((x**2) @ it) is the weighted norm of every group."""
    mat = np.zeros((ncomp, len(groups)))
    for i, g in enumerate(groups):
        mat[g.index, i] = g.weight**2
    return mat


def _group_norms(x: np.ndarray, sq_weights: np.ndarray) -> np.ndarray:
    """(..., G): the weighted Euclidean norm of each group of the last axis. Squares of values
    below 1e-154 underflow (a far-tail error of 1e-160 would pass as exact) and above 1e154
    overflow: unless every group's sum of squares is safely inside float64's range, the norms
    are recomputed on the weighted entries scaled by each group's largest (a large entry of
    weight zero must not set another group's scale). NaN stays NaN."""
    sq = (x * x) @ sq_weights
    if sq.min() > SAFE_SQ_LOW and sq.max() < SAFE_SQ_HIGH:  # (NaN: the scaled path)
        return np.sqrt(sq)
    z = np.abs(x)[..., :, None] * np.sqrt(sq_weights)  # (..., C, G)
    big = np.max(z, axis=-2)
    scale = np.where((big > 0) & (big < np.inf), big, 1.0)
    y = z / scale[..., None, :]
    return scale * np.sqrt(np.sum(y * y, axis=-2))


SAFE_SQ_LOW = 1e-280  # a norm above 1e-140: entries whose squares underflowed are negligible
SAFE_SQ_HIGH = 1e280


def within_tol(err: np.ndarray, absval: np.ndarray, sq_weights: np.ndarray, tol: float) -> bool:
    """Does `err` (..., C) meet `tol` relative to `absval` in every error group (columns of
    `sq_weights`)? Compared as sums of squares while they are safely inside float64's range,
    else as scaled norms (`_group_norms`); NaN never does."""
    x = np.array((err, tol * absval))
    sq = (x * x) @ sq_weights
    if sq.min() > SAFE_SQ_LOW and sq.max() < SAFE_SQ_HIGH:
        return bool((sq[0] <= sq[1]).all())
    norms = _group_norms(x, sq_weights)
    return bool((norms[0] <= norms[1]).all())


SUBNORMAL = 2.0**-1074  # float64's smallest positive number


def underflow_allowance(bound: np.ndarray, k: int, evaluations: int) -> np.ndarray:
    """(C,) absolute error that a float64 rule on [-Y_MAX, Y_MAX]^k cannot see, for integrands
    bounded componentwise by `bound` on that box (and by bound |y| / Y_MAX beyond it): the
    Gaussian mass beyond Y_MAX (at most 2 phi(Y_MAX) / Y_MAX < SUBNORMAL per unit of bound and
    axis), the roundings of subnormal densities (SUBNORMAL / 2 each over a volume
    (2 Y_MAX)^k) and those of subnormal node products and sums (a few per node); four times
    their sum. Negligible unless the integrals themselves are near float64's underflow (below
    ~1e-300)."""
    return 4 * SUBNORMAL * ((2 * Y_MAX + 1) ** k * np.asarray(bound) + 4 * evaluations)


def _tree_select(tree: PanelTree, keep: np.ndarray) -> PanelTree:
    """The panels `keep` of a tree (with their subtrees); owners stay as they are."""
    child, skipped, tail = None, None, None
    if tree.skipped is not None:  # an inner level (panels, or a thin block when child is None)
        node_keep = np.repeat(keep, _NK)
        skipped = tree.skipped[node_keep]
        tail = None if tree.tail is None else tree.tail[node_keep]
        if tree.child is not None:
            renumber = np.cumsum(node_keep) - 1
            child = _tree_select(tree.child, node_keep[tree.child.owner])
            child = replace(child, owner=renumber[child.owner])
    return PanelTree(tree.a[keep], tree.b[keep], tree.owner[keep], child, skipped, tail)


def _tree_concat(trees: Sequence[PanelTree]) -> PanelTree:
    """One tree from trees over consecutive panel lists (child owners shifted accordingly)."""
    trees = [t for t in trees if len(t.a)] or list(trees[:1])
    cat = np.concatenate
    tail = None if trees[0].tail is None else cat([t.tail for t in trees])
    if trees[0].child is None:
        skipped = None if trees[0].skipped is None else cat([t.skipped for t in trees])
        return PanelTree(cat([t.a for t in trees]), cat([t.b for t in trees]),
                         cat([t.owner for t in trees]), None, skipped, tail)
    shift = np.cumsum([0] + [_NK * len(t.a) for t in trees[:-1]])
    children = [replace(t.child, owner=t.child.owner + o)
                for t, o in zip(trees, shift, strict=True) if t.child is not None]
    return PanelTree(cat([t.a for t in trees]), cat([t.b for t in trees]),
                     cat([t.owner for t in trees]), _tree_concat(children),
                     cat([t.skipped for t in trees if t.skipped is not None]), tail)


def _empty_tree(depth: int, block: bool) -> PanelTree:
    """A tree without panels, `depth` panel levels deep (the last over a thin block or not)."""
    e = np.zeros(0)
    o = np.zeros(0, dtype=int)
    if depth == 1:
        return PanelTree(e, e, o, None, np.zeros(0, dtype=bool) if block else None,
                         e if block else None)
    return PanelTree(e, e, o, _empty_tree(depth - 1, block), np.zeros(0, dtype=bool), e)


def compile_rule(rule: FrozenRule, k: int) -> FrozenRule:
    """Precompute the innermost nodes and each level's panel data for fast reuse."""
    nodes = rule_nodes()
    levels = []
    prefix = np.zeros((1, 0))
    tree: PanelTree | None = rule.tree
    last_skipped = None
    while tree is not None:
        half = 0.5 * (tree.b - tree.a)
        t = ((0.5 * (tree.a + tree.b))[:, None] + half[:, None] * nodes).reshape(-1)
        dens = (np.exp(-0.5 * t**2) * _INV_SQRT_2PI)[:, None]
        levels.append((half, t, tree.owner, tree.skipped, dens, tree.tail))
        prefix = np.concatenate([prefix[np.repeat(tree.owner, _NK)], t[:, None]], axis=1)
        last_skipped = tree.skipped
        tree = tree.child
    depth = len(levels) + (0 if rule.block is None else rule.block.points.shape[1])
    if depth != k:
        raise ValueError("rule depth does not match k")
    if rule.block is None:
        return replace(rule, points=prefix, levels=tuple(levels))
    live = np.arange(len(prefix)) if last_skipped is None else np.nonzero(~last_skipped)[0]
    block = rule.block.points
    points = np.concatenate([np.repeat(prefix[live], len(block), axis=0),
                             np.tile(block, (len(live), 1))], axis=1)
    return replace(rule, points=points, levels=tuple(levels), live=live)


def _count_nodes(tree: PanelTree | None, block: ThinBlock | None = None) -> int:
    per = 1 if block is None else len(block.points)
    if tree is None:
        return per
    while tree.child is not None:
        tree = tree.child
    return _NK * len(tree.a) * per


def rule_nodes() -> np.ndarray:
    return rule()[0]


PILOT_ORDER = 10  # Gauss-Hermite nodes per axis of the pilot


def pilot_scale(integrand: Integrand, k: int, gmat: np.ndarray) -> np.ndarray:
    """A rough scale of the integrals of |f| per error group (columns of `gmat`), from the
    tensor Gauss-Hermite rule of PILOT_ORDER**k nodes: it lets adaptive and grid rules work to
    an absolute floor (they redo their pass if it overestimated)."""
    pts, wts = _hermite_tensor(PILOT_ORDER, k)
    return _group_norms(wts @ np.abs(integrand(pts)), gmat)


class GaussianCubature:
    """E f(y) for y ~ N(0, I_k), with the transition structure given by the means `coords`."""

    def __init__(self, coords: np.ndarray, integrand: Integrand, ncomp: int,
                 groups: Sequence[ErrorGroup], bound: np.ndarray, tol: float = 1e-11,
                 max_rounds: int = 48, thin: bool = True, hermite: bool = True,
                 max_evaluations: int | None = None):
        """`bound` (C,) bounds |f| componentwise on the whole domain (used to skip tails).
        `thin` (k >= 2): trailing axes along which the means spread at most
        HERMITE_MAX_SPREAD are integrated by a Gauss-Hermite pair (`ThinBlock`), the others
        adaptively; the coordinates should be principal axes, widest first (`reduce_means`).
        `hermite` (k = 1): try a Gauss-Hermite pair first for clustered means.
        `max_evaluations`: integrand evaluations (`evaluations` included) after which `run`
        gives up and returns an unconverged result (NaN values, infinite errors)."""
        self.try_hermite = hermite
        self.max_evaluations = max_evaluations
        self.coords = np.asarray(coords, dtype=float)
        self.n, self.k = self.coords.shape
        self.integrand = integrand
        self.ncomp = ncomp
        self.groups = list(groups)
        self.gmat = group_matrix(self.groups, ncomp)
        self.tol = tol
        self.max_rounds = max_rounds
        self.bound = np.asarray(bound, dtype=float)
        self.bound_norms = _group_norms(self.bound, self.gmat)
        # below this no panel is refined: errors there are float64's underflow, not the rule's
        self.underflow_norms = _group_norms(underflow_allowance(self.bound, self.k, 0), self.gmat)
        self.half_sq = 0.5 * np.sum(self.coords**2, axis=1)
        j, other = _pairs(self.n)
        self.pair_j, self.pair_l = j, other
        self.delta = self.coords[j] - self.coords[other]  # (pairs, k)
        self.offset = self.half_sq[j] - self.half_sq[other]  # crossing: y.delta = offset
        self.nodes, self.kweights, self.gweights = rule()
        self.evaluations = 0
        self.converged = True
        self.axis_spread = np.ptp(self.coords, axis=0)
        self.thin_from = self.k  # first axis of the thin block (k: none)
        if thin and self.k >= 2:
            while self.thin_from > 0 and self.axis_spread[self.thin_from - 1] <= HERMITE_MAX_SPREAD:
                self.thin_from -= 1
        self.rungs = thin_rungs(self.axis_spread[self.thin_from :])

    def run(self, rule: FrozenRule | None = None, basis: np.ndarray | None = None
            ) -> CubatureResult:
        """The integrals; with a `rule` from a nearby configuration, try it first. `basis` is
        only stored in the rule produced here."""
        if self.k == 0:
            raise ValueError("k = 0 needs no cubature")
        try:
            return self._run(rule, basis)
        except _OverBudget:
            nan = np.full(self.ncomp, np.nan)
            return CubatureResult(nan, nan, np.full(self.ncomp, np.inf), self.evaluations, False)

    def _charge(self, count: int) -> None:
        """Count `count` evaluations about to be made; _OverBudget beyond max_evaluations."""
        if self.max_evaluations is not None and self.evaluations + count > self.max_evaluations:
            raise _OverBudget
        self.evaluations += count

    def _run(self, rule: FrozenRule | None, basis: np.ndarray | None) -> CubatureResult:
        if rule is not None and rule.coords.shape == self.coords.shape:
            reused, spent = reuse_rule(rule, self.coords, self.integrand, self.gmat, self.tol,
                                       lambda: self.bound)
            self.evaluations += spent
            if reused is not None:
                return reused
        if self.thin_from < self.k:
            try:
                return self._adaptive(basis)
            except _ThinFailed:  # the pair never met its budget: every axis adaptive
                self.thin_from, self.rungs, self.converged = self.k, (), True
        elif self.try_hermite and float(np.max(np.linalg.norm(self.delta, axis=1))
                                        ) <= HERMITE_MAX_SPREAD:
            res = self._hermite()
            if res.converged:
                return res
        return self._adaptive(basis)

    def _adaptive(self, basis: np.ndarray | None) -> CubatureResult:
        """Adaptive panels on the axes before `thin_from`, the thin block on the rest."""
        if self.thin_from == 0:
            val, absval, err = self._block(np.zeros((1, 0)), np.zeros((1, len(self.groups))))
            frozen = compile_rule(FrozenRule(None, self.coords.copy(), basis,
                                             block=thin_block(self.rungs)), self.k)
            return CubatureResult(val[0], absval[0], err[0], self.evaluations, True, frozen)
        # Pilot: a rough scale of the integrals of |f| lets inner levels work to an absolute
        # budget. It only loosens the per-owner relative criterion, so the main pass is redone
        # if the pilot overestimated the scale.
        self._charge(PILOT_ORDER**self.k)
        floor = self.tol * pilot_scale(self.integrand, self.k, self.gmat)
        for _ in range(3):
            self.converged = True
            val, absval, err, tree, _ = self._level(0, np.zeros((1, 0)), floor[None, :])
            scale = _group_norms(absval[0], self.gmat)
            if np.all(scale >= 0.5 * floor / self.tol):
                break
            floor = self.tol * scale
        frozen = None
        block = thin_block(self.rungs) if self.thin_from < self.k else None
        if self.converged and _count_nodes(tree, block) <= MAX_FROZEN_NODES:
            frozen = compile_rule(FrozenRule(tree, self.coords.copy(), basis, block=block),
                                  self.k)
        return CubatureResult(val[0], absval[0], err[0], self.evaluations, self.converged, frozen)

    def _block(self, fixed: np.ndarray, floor: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(value, |value|, error), each (O, C), of the thin block's integral at every owner
        row of fixed outer coordinates; the pair climbs the ladder (for all later owners too)
        until every owner meets tol relative to its integral of |f|, or its `floor` (O, G)."""
        while True:
            blk = thin_block(self.rungs)
            size = len(blk.points)
            out = np.zeros((3, len(fixed), self.ncomp))
            step = max(1, _BLOCK_POINTS // size)
            for start in range(0, len(fixed), step):
                rows = fixed[start : start + step]
                pts = np.concatenate([np.repeat(rows, size, axis=0),
                                      np.tile(blk.points, (len(rows), 1))], axis=1)
                self._charge(len(pts))
                f = self.integrand(pts)
                out[:, start : start + step] = _block_reduce(f, blk, len(rows))
            budget = np.maximum(self.tol * _group_norms(out[1], self.gmat),
                                np.maximum(floor, self.underflow_norms))
            if np.all(_group_norms(out[2], self.gmat) <= budget):
                return out[0], out[1], out[2]
            if min(self.rungs) == len(THIN_LADDER) - 1:
                raise _ThinFailed
            self.rungs = tuple(min(r + 1, len(THIN_LADDER) - 1) for r in self.rungs)

    def _hermite(self) -> CubatureResult:
        """Tensor Gauss-Hermite rules of two orders; the error estimate is their difference."""
        results = []
        for order in HERMITE_ORDERS:
            pts, wts = _hermite_tensor(order, self.k)
            self._charge(len(pts))
            f = self.integrand(pts)
            results.append((wts @ f, wts @ np.abs(f)))
        val, absval = results[-1]
        err = np.abs(val - results[0][0])
        ok = np.all(_group_norms(err, self.gmat) <= self.tol * _group_norms(absval, self.gmat))
        return CubatureResult(val, absval, err, self.evaluations, bool(ok))

    # -- initial panels ------------------------------------------------------------------
    def _seeds(self, level: int, fixed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Seed centres and scales (O, S) for the 1-D rule in coordinate `level`."""
        rhs = self.offset[None, :] - fixed @ self.delta[:, :level].T  # (O, pairs)
        d_here = self.delta[:, level]
        with np.errstate(divide="ignore", invalid="ignore"):
            centre = rhs / d_here
            if level == self.thin_from - 1:  # the last adaptive axis (thin ones at 0)
                scale = np.broadcast_to(1.0 / np.abs(d_here), centre.shape).copy()
                point = np.concatenate(
                    [np.repeat(fixed[:, None, :], len(d_here), 1), centre[..., None]], axis=2)
                logits = point @ self.coords[:, : level + 1].T - self.half_sq  # (O, pairs, n)
                top = np.max(logits, axis=2)
                pair_logit = np.take_along_axis(logits, self.pair_j[None, :, None], axis=2)[..., 0]
                keep = (top - pair_logit) <= _RELEVANT_GAP
            else:
                rest = np.sqrt(np.sum(self.delta[:, level + 1 :] ** 2, axis=1))
                scale = np.broadcast_to(np.maximum(1.0, rest / 8.0) / np.abs(d_here),
                                        centre.shape).copy()
                keep = scale <= 2.0
        keep &= np.isfinite(centre) & (np.abs(centre) < Y_MAX)
        centre = np.where(keep, centre, np.nan)
        return centre, scale

    def _initial_panels(self, level: int, fixed: np.ndarray, reach: np.ndarray):
        """Breakpoints graded geometrically (ratio 4) around each seed, plus the Gaussian bulk
        and the domain ends, thinned so that no panel is much narrower than the local scale
        min_s max(h_s, |y - y_s| / 3) demands."""
        n_owner = len(fixed)
        centre, scale = self._seeds(level, fixed)
        with np.errstate(invalid="ignore"):  # inf scale of a parallel pair times 0: NaN, dropped
            graded = (centre[:, :, None] + scale[:, :, None] * _GRADING).reshape(n_owner, -1)
        pts = np.concatenate([-reach[:, None], np.broadcast_to(_BULK, (n_owner, len(_BULK))),
                              reach[:, None], graded], 1)
        pts = np.sort(np.where(np.abs(pts) <= reach[:, None], pts, np.nan), axis=1)  # NaN last
        with np.errstate(invalid="ignore"):
            dist = np.abs(pts[:, :, None] - centre[:, None, :]) / 3.0
            local = np.nanmin(np.maximum(scale[:, None, :], dist), axis=2, initial=np.inf)
        local = np.minimum(local, np.maximum(1.0, np.abs(pts) / 3.0))
        keep = np.isfinite(pts)
        last = pts[:, 0].copy()
        for col in range(1, pts.shape[1]):
            cand = pts[:, col]
            ok = keep[:, col] & ((cand - last >= 0.5 * local[:, col]) | (np.abs(cand) == reach))
            keep[:, col] = ok
            last = np.where(ok, cand, last)
        rows = [row[k] for row, k in zip(pts, keep, strict=True)]
        owner = np.concatenate([np.full(len(r) - 1, i) for i, r in enumerate(rows)])
        lo = np.concatenate([r[:-1] for r in rows])
        hi = np.concatenate([r[1:] for r in rows])
        return lo, hi, owner

    # -- one adaptive level --------------------------------------------------------------
    def _panel_estimates(self, level: int, fixed: np.ndarray, a: np.ndarray, b: np.ndarray,
                         owner: np.ndarray, floor: np.ndarray):
        """K21 values, K21 integrals of |f| and error estimates (P, C) of the panels [a, b],
        the tree of the inner levels over their nodes and the mask of the nodes whose inner
        integral was skipped (both None at the innermost level)."""
        half = 0.5 * (b - a)
        flat_t = ((0.5 * (a + b))[:, None] + half[:, None] * self.nodes).reshape(-1)
        points = np.concatenate([fixed[np.repeat(owner, _NK)], flat_t[:, None]], axis=1)
        child, skip, tail = None, None, None
        if level == self.k - 1:
            self._charge(len(points))
            f = self.integrand(points)
            fabs, ferr = np.abs(f), None
        else:
            f, fabs, ferr, child, skip, tail = self._inner(level, points, flat_t,
                                                           floor[np.repeat(owner, _NK)])
        return (*self._reduce(f, fabs, ferr, flat_t, half), child, skip, tail)

    def _reduce(self, f: np.ndarray, fabs: np.ndarray, ferr: np.ndarray | None,
                flat_t: np.ndarray, half: np.ndarray, dens: np.ndarray | None = None):
        return _kronrod_reduce(f, fabs, ferr, flat_t, half, dens)

    def _inner(self, level: int, points: np.ndarray, t: np.ndarray, floor: np.ndarray):
        """Inner integrals at the nodes `points` of level `level`. Their errors are weighted by
        the Gaussian mass of the nodes, which sums to at most 1, so a quarter of the owner's
        absolute floor each keeps the total within the floor. Nodes whose whole possible
        contribution, bound * phi(t) * 2 Y_MAX, is below that share are skipped (value 0,
        error = bound), which is what makes the Gaussian tails cheap."""
        inner_floor = 0.25 * floor
        dens = np.exp(-0.5 * t**2) * _INV_SQRT_2PI
        skip = np.all(self.bound_norms[None, :] * dens[:, None] * 2 * Y_MAX <= inner_floor, axis=1)
        c = self.ncomp
        f, fabs, ferr = (np.zeros((len(t), c)) for _ in range(3))
        ferr[skip] = self.bound
        live = np.nonzero(~skip)[0]
        tail = np.zeros(len(t))
        if level + 1 == self.thin_from:
            f[live], fabs[live], ferr[live] = self._block(points[live], inner_floor[live])
            return f, fabs, ferr, None, skip, tail
        depth = self.thin_from - level - 1
        trees = [_empty_tree(depth, self.thin_from < self.k)]
        for start in range(0, len(live), _CHUNK):
            idx = live[start : start + _CHUNK]
            f[idx], fabs[idx], ferr[idx], sub, tail[idx] = self._level(level + 1, points[idx],
                                                                       inner_floor[idx])
            trees.append(replace(sub, owner=idx[sub.owner]))
        return f, fabs, ferr, _tree_concat(trees), skip, tail

    def _level(self, level: int, fixed: np.ndarray, floor: np.ndarray):
        """(value, |value|, error), each (O, C), of the integral over coordinate `level` and all
        deeper ones, for every owner row of fixed outer coordinates, and the tree of final
        panels. An owner is finished when its error is within tol times its integral of |f|,
        or within its absolute `floor` (O, G)."""
        n_owner = fixed.shape[0]
        acc = np.zeros((3, n_owner, self.ncomp))  # value, |value|, error of finished panels
        reach, mass = self._reach(level, floor)
        acc[2] += mass[:, None] * self.bound  # the tails beyond the reach, bounded
        a, b, owner = self._initial_panels(level, fixed, reach)
        finished: list[PanelTree] = []
        for _ in range(self.max_rounds):
            *est, child, skip, tail = self._panel_estimates(level, fixed, a, b, owner, floor)
            tree = PanelTree(a, b, owner, child, skip, tail)
            tot = acc.copy()
            for i in range(3):
                np.add.at(tot[i], owner, est[i])
            budget = np.maximum(self.tol * _group_norms(tot[1], self.gmat), floor)  # (O, G)
            budget = np.maximum(budget, self.underflow_norms)
            owner_ok = np.all(_group_norms(tot[2], self.gmat) <= budget, axis=1)
            count = np.bincount(owner, minlength=n_owner)
            threshold = budget / (2.0 * np.maximum(count, 1))[:, None]
            split = ~owner_ok[owner] & np.any(_group_norms(est[2], self.gmat) > threshold[owner],
                                              axis=1)
            if not np.any(split):
                return tot[0], tot[1], tot[2], _tree_concat([*finished, tree]), mass
            done = ~split
            finished.append(_tree_select(tree, done))
            for i in range(3):
                np.add.at(acc[i], owner[done], est[i][done])
            mid = 0.5 * (a[split] + b[split])
            a, b = np.concatenate([a[split], mid]), np.concatenate([mid, b[split]])
            owner = np.concatenate([owner[split], owner[split]])
        # Out of rounds: keep the last estimates of the unfinished panels, flag the result.
        self.converged = False
        *est, child, skip, tail = self._panel_estimates(level, fixed, a, b, owner, floor)
        for i in range(3):
            np.add.at(acc[i], owner, est[i])
        tree = PanelTree(a, b, owner, child, skip, tail)
        return acc[0], acc[1], acc[2], _tree_concat([*finished, tree]), mass

    def _reach(self, level: int, floor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Half-width (O,) of the domain of an inner level's 1-D rule and the Gaussian mass
        (O,) beyond it: where bound * mass stays below a tenth of every group's absolute floor
        the tails are left out and bound * mass joins the error (at least 6; the outermost
        level keeps [-Y_MAX, Y_MAX])."""
        n_owner = floor.shape[0]
        if level == 0:
            return np.full(n_owner, Y_MAX), np.zeros(n_owner)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.min(0.1 * floor / self.bound_norms[None, :], axis=1)
        ratio = np.where(np.isfinite(ratio), ratio, 0.0)
        reach = np.full(n_owner, Y_MAX)
        ok = ratio > 0
        reach[ok] = np.clip(np.sqrt(2.0) * erfcinv(np.minimum(ratio[ok], 1.0)), 6.0, Y_MAX)
        mass = np.where(reach < Y_MAX, erfc(reach / np.sqrt(2.0)), 0.0)
        return reach, mass


def _kronrod_reduce(f: np.ndarray, fabs: np.ndarray, ferr: np.ndarray | None,
                    flat_t: np.ndarray, half: np.ndarray, dens: np.ndarray | None = None):
    """Per-panel K21 value, K21 of |f| and calibrated error from node values (P * 21, C)."""
    _, wk, _ = rule()
    if dens is None:
        dens = (np.exp(-0.5 * flat_t**2) * _INV_SQRT_2PI)[:, None]
    shape = (len(half), _NK, f.shape[1])
    weighted = (f * dens).reshape(shape)
    kg = _kg_weights() @ weighted  # (P, 2, C)
    kval = half[:, None] * kg[:, 0]
    perr = np.abs(kval - half[:, None] * kg[:, 1])
    kabs = half[:, None] * (wk @ (fabs * dens).reshape(shape))
    # QUADPACK's calibration of |K21 - G10| into an estimate of the K21 error, using the
    # integral of |f - mean| (resasc); tests check it against reference values.
    mean = kval / np.maximum(2 * half, 1e-300)[:, None]
    resasc = half[:, None] * (wk @ np.abs(weighted - mean[:, None, :]))
    perr = calibrated(perr, resasc)
    if ferr is not None:
        perr += half[:, None] * (wk @ (ferr * dens).reshape(shape))
    return kval, kabs, perr


def _drifted(built: np.ndarray, coords: np.ndarray) -> bool:
    """Has any crossing hyperplane y.delta = offset of the means `built` a rule was made for
    moved, for the means `coords`, within the region where it matters (|y| up to its distance
    from the origin + 4), by more than a quarter of a logit unit? Then the seeded panels may
    no longer fit."""
    j, other = _pairs(len(coords))
    half_now = 0.5 * np.sum(coords**2, axis=1)
    half_sq = 0.5 * np.sum(built**2, axis=1)
    delta = built[j] - built[other]
    offset = half_sq[j] - half_sq[other]
    norm = np.maximum(np.sqrt(np.sum(delta * delta, axis=1)), 1e-300)
    reach = np.minimum(np.abs(offset) / norm + 4.0, Y_MAX)
    moved = (coords[j] - coords[other]) - delta
    shift = (np.abs((half_now[j] - half_now[other]) - offset)
             + reach * np.sqrt(np.sum(moved * moved, axis=1)))
    return bool(np.any(shift > 0.25))


def reuse_rule(rule: FrozenRule, coords: np.ndarray, integrand: Integrand, gmat: np.ndarray,
               tol: float, bound: Callable[[], np.ndarray]
               ) -> tuple[CubatureResult | None, int]:
    """The integrals by a frozen `rule` for the means `coords` (the same shape as the rule's),
    or None when its thin axes are no longer thin, its crossings drifted or its Gauss-Kronrod
    (Gauss-Hermite) error estimate misses `tol` relative to the integral of |f| in a group
    (columns of `gmat`); and the integrand evaluations spent. `bound()` gives the componentwise
    bound of |f| (`GaussianCubature`'s), asked for only where nodes were skipped."""
    if rule.points is None:
        return None, 0
    if rule.block is not None:  # its axes must still be thin
        width = rule.block.points.shape[1]
        if np.any(np.ptp(coords[:, coords.shape[1] - width :], axis=0) > HERMITE_MAX_SPREAD):
            return None, 0
    if rule.tree is not None and _drifted(rule.coords, coords):
        return None, 0
    f = integrand(rule.points)
    spent = len(f)
    fabs, ferr = np.abs(f), None
    bound = cache(bound)  # asked for at most once per reuse
    if rule.block is not None:
        f, fabs, ferr = _block_reduce(f, rule.block, len(rule.live))
        if rule.levels:  # onto every node of the last panel level, skipped ones bounded
            n_last = len(rule.levels[-1][1])
            full = np.zeros((3, n_last, f.shape[1]))
            full[:, rule.live] = f, fabs, ferr
            f, fabs, ferr = full
            skipped = rule.levels[-1][3]
            if skipped is not None:
                ferr[skipped] = bound()
    for lev in range(len(rule.levels) - 1, -1, -1):
        half, t, owner, _, dens, _ = rule.levels[lev]
        kval, kabs, perr = _kronrod_reduce(f, fabs, ferr, t, half, dens)
        skipped = rule.levels[lev - 1][3] if lev > 0 else None  # nodes of the level above
        n_above = 1 if skipped is None else len(skipped)
        f, fabs, ferr = (_sum_by(x, owner, n_above) for x in (kval, kabs, perr))
        if skipped is not None:
            ferr[skipped] = bound()
            tail = rule.levels[lev - 1][5]
            if tail is not None:
                ferr += tail[:, None] * bound()
    val, absval, err = f[0], fabs[0], ferr[0]
    if not within_tol(err, absval, gmat, tol):
        return None, spent
    return CubatureResult(val, absval, err, spent, True, rule), spent


class _ThinFailed(Exception):
    """The Gauss-Hermite pair at the top of the ladder still missed its budget."""


class _OverBudget(Exception):
    """The cubature would exceed its `max_evaluations`."""


_BLOCK_POINTS = 200_000  # points per integrand call in a thin block (memory)


def _block_reduce(f: np.ndarray, block: ThinBlock, n_owner: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value, |value|, error) (O, C) from block node values f (O * B, C): the higher order,
    and the difference of the two orders as the estimate."""
    f3 = f.reshape(n_owner, len(block.points), f.shape[1])
    high = np.matmul(block.high, f3)
    return high, np.matmul(block.high, np.abs(f3)), np.abs(high - np.matmul(block.low, f3))


def _sum_by(x: np.ndarray, owner: np.ndarray, n_owner: int) -> np.ndarray:
    """Row sums of x grouped by owner, (n_owner, C)."""
    if n_owner == 1:
        return x.sum(axis=0, keepdims=True)
    out = np.zeros((n_owner, x.shape[1]))
    np.add.at(out, owner, x)
    return out
