"""A bound on a trapezoid lattice's aliasing error for the `score_integrands` components, from
their analytic continuation (k = 2, 3 separated means; `verifiers.trapezoid` uses it).

For f = phi g (phi the standard Gaussian density in R^k, g one component) and the lattice of
steps h, Poisson summation makes the rule's error the sum over nu != 0 of F(2 pi nu / h), F the
Fourier transform of f (any offset of the lattice only turns the terms' phases). For an imaginary
shift eta in P = {eta : |(p_i - p_j) . eta| < pi} the softmax has no pole on y + i t eta,
t in [0, 1] (P is convex and holds 0; differentiate the shifted integral in t and integrate by
parts in y), so

    |F(w)| <= exp(-|w . eta| + |eta|^2 / 2) E_phi sup |g(y + i eta)|.

On such a shift the phases p_l . eta lie within theta = max_ij |(p_i - p_j) . eta| < pi of each
other, so |sum_l a_l e^{i p_l . eta}| >= cos(theta / 2) sum_l a_l and |w_j(y + i eta)| <=
w_j(y) / c, c = cos(theta / 2). With U = sum_l w_l |p_l|, U_e = sum_l w_l |p_le| and
S_j = |p_j| U + U^2 (all at real y), and c <= 1:

    |u . u| <= U^2 / c^2,   |s_j| <= S_j / c^2,
    |2 w_j (u_e + s_j (y_e + i eta_e - p_je))| <= (2 / c^3) w_j (U_e + S_j |y_e - p_je|
                                                                   + S_j |eta_e|),
    |2 w_j (1 - s_j)| <= (2 / c^3) w_j (1 + S_j).

Per frequency and component the bound takes the best of the shifts s v (v a vertex of P, or the
frequency's own direction scaled into P, the Gaussian's best shift where P allows it; s in
SHIFTS); the frequencies with |nu|_inf <= BOX are summed one by one, the rest by a geometric
series per axis with shifts in a box inside s P. The choice of shifts is kept (`ShiftPlan`) and
reused for the same steps, each shift scaled back into P where the means have moved: any shift
in P gives a valid bound, so only the bound's tightness depends on the choice.

The majorants' expectations (`Majorants`) are the one quantity not bounded: they are computed by
two of the grid's sub-lattices (the larger plus their difference, `Majorants.covering`), times
MAJORANT_SAFETY, plus the Gaussian weight the grid leaves out times their bounds on the box
(`trapezoid.rule_majorants`). `benchmarks/alias_bound.py` holds them and the whole bound against
a reference at four times the node density of the grid the estimate alone accepts.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from scoreclaims.verifiers.formulation import softmax_weights
from scoreclaims.verifiers.quadrature import Y_MAX

SHIFTS = np.array([0.3, 0.5, 0.65, 0.8, 0.9, 0.96])  # fractions of P the shifts may use
BOX = 3  # frequencies bounded one by one: |nu|_inf <= BOX
MAJORANT_SAFETY = 2.0  # on the majorants' expectations, computed by two sub-lattices
KEPT_SPREAD = 0.8 * np.pi  # a kept shift may spread the phases this much before it is scaled
MAX_COMBOS = 5_000  # pair triples beyond which P is not enumerated (n >= 9 for k = 3: ~0.25 s)
_CHUNK = 32_768


@dataclass(frozen=True)
class Majorants:
    """E_phi of the real-y majorant parts: `loss` U^2; `a` (n, k) w_j U_e; `b` (n, k)
    w_j S_j |y_e - p_je|; `c` (n,) w_j S_j; `last` (n,) w_j + w_j S_j."""

    loss: float
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    last: np.ndarray

    def scaled(self, factor: float) -> Majorants:
        return Majorants(factor * self.loss, factor * self.a, factor * self.b, factor * self.c,
                         factor * self.last)

    def covering(self, other: Majorants) -> Majorants:
        """Part by part, the larger of two rules' expectations plus their difference (two
        sub-lattices of a grid: their difference is about either's error)."""
        def up(x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
            return np.maximum(x, y) + np.abs(np.subtract(x, y))

        return Majorants(float(up(self.loss, other.loss)), up(self.a, other.a),
                         up(self.b, other.b), up(self.c, other.c), up(self.last, other.last))

    def plus_left_out(self, weight: float, coords: np.ndarray) -> Majorants:
        """Add `weight` (Gaussian weight a rule leaves out) times each part's bound on the box
        |y_e| <= Y_MAX (w <= 1, U <= P = max |p_j|, S_j <= 2 P^2)."""
        big = float(np.max(np.linalg.norm(coords, axis=1)))
        s_max = 2 * big * big
        return Majorants(self.loss + weight * big**2, self.a + weight * big,
                         self.b + weight * s_max * (Y_MAX + big), self.c + weight * s_max,
                         self.last + weight * (1 + s_max))

    def parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per component (1 + n k + n,): the shift-free part, the coefficient of |eta_e|, the
        axis e it multiplies (0 where none), and the power of 1 / c; the factor 2 included."""
        n, k = self.a.shape
        base = np.concatenate([[self.loss], 2 * (self.a + self.b).ravel(), 2 * self.last])
        coef = np.concatenate([[0.0], 2 * np.repeat(self.c, k), np.zeros(n)])
        axis = np.concatenate([[0], np.tile(np.arange(k), n), np.zeros(n, dtype=int)])
        power = np.concatenate([[2.0], np.full(n * k + n, 3.0)])
        return base, coef, axis, power


def majorants(points: np.ndarray, weight: np.ndarray, coords: np.ndarray) -> Majorants:
    """The majorant parts' expectations by the rule (points (N, k), weight (N,))."""
    n, k = coords.shape
    pabs, pn = np.abs(coords), np.linalg.norm(coords, axis=1)
    loss, a, b, c, last = 0.0, np.zeros((n, k)), np.zeros((n, k)), np.zeros(n), np.zeros(n)
    for lo in range(0, len(points), _CHUNK):
        y, ww = points[lo : lo + _CHUNK], weight[lo : lo + _CHUNK]
        w = softmax_weights(y, coords).T  # (n, N)
        big_u = pn @ w
        ws = w * (pn[:, None] * big_u + big_u**2)
        loss += float(ww @ big_u**2)
        a += (w * ww) @ (pabs.T @ w).T
        b += np.einsum("jN,jeN->je", ws * ww, np.abs(y.T[None] - coords[:, :, None]))
        c += ws @ ww
        last += (w + ws) @ ww
    return Majorants(loss, a, b, c, last)


@dataclass(frozen=True)
class ShiftPlan:
    """The shift chosen per frequency and component (`eta` (F, C, k)) for lattice steps
    `step`; `freq` (F, k) the frequencies 2 pi nu / step; `theta` (F, C) each shift's phase
    spread when chosen (below pi)."""

    step: np.ndarray
    freq: np.ndarray
    eta: np.ndarray
    theta: np.ndarray


def strip_polytope(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The vertices (V, k) of P = {eta : |(p_i - p_j) . eta| <= pi for all pairs}, the
    imaginary shifts of y under which the softmax has no pole, and the pair differences; no
    vertices when more than MAX_COMBOS k-subsets of pairs would be tried."""
    k = coords.shape[1]
    dp = _pairs(coords)
    dp = dp[np.linalg.norm(dp, axis=1) > 0]
    if math.comb(len(dp), k) > MAX_COMBOS:  # many means, k = 3: the cost; callers fall back
        return np.zeros((0, k)), dp
    combos = np.array(list(itertools.combinations(range(len(dp)), k)))
    if len(combos) == 0:
        return np.zeros((0, k)), dp
    a = dp[combos]
    scale = float(np.max(np.abs(dp))) ** k
    a = a[np.abs(np.linalg.det(a)) > 1e-9 * scale]
    signs = np.pi * np.array(list(itertools.product((-1.0, 1.0), repeat=k)))
    inv = np.linalg.inv(a)  # (C, k, k)
    v = np.einsum("cij,sj->csi", inv, signs).reshape(-1, k)
    v = v[np.all(np.abs(v @ dp.T) <= np.pi * (1 + 1e-9), axis=1)]
    return v, dp


def _pairs(coords: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(len(coords), 1)
    return coords[i] - coords[j]


def _frequencies(step: np.ndarray) -> np.ndarray:
    """2 pi nu / step for the nu with |nu|_inf <= BOX whose first nonzero entry is positive: the
    integrands are real, so the term at -nu has the same modulus (`_sum` counts each twice)."""
    k = len(step)
    nus = np.array([v for v in itertools.product(range(-BOX, BOX + 1), repeat=k)
                    if any(v) and v[np.flatnonzero(v)[0]] > 0], dtype=float)
    return 2 * np.pi * nus / step


def _shift_logs(eta: np.ndarray, dp: np.ndarray, maj: Majorants) -> np.ndarray:
    """(..., C) log of the frequency-free factor of each component's bound under the shifts
    eta (..., k): the majorant over c^power times exp(|eta|^2 / 2); +inf where eta leaves P."""
    base, coef, axis, power = maj.parts()
    theta = np.max(np.abs(eta @ dp.T), axis=-1)
    inside = theta < np.pi
    logc = np.log(np.cos(np.where(inside, theta, 0.0) / 2))
    with np.errstate(divide="ignore"):
        out = (np.log(base + coef * np.abs(eta[..., axis])) - power * logc[..., None]
               + 0.5 * np.sum(eta**2, axis=-1)[..., None])
    return np.where(inside[..., None], out, np.inf)


def _search(freq: np.ndarray, dp: np.ndarray, vert: np.ndarray, maj: Majorants) -> np.ndarray:
    """(F, C, k): per frequency and component, the best of the candidate shifts: s v for the
    vertices v of P (v and -v bound alike) and the frequency's own direction scaled into s P."""
    k = freq.shape[1]
    fixed = (SHIFTS[:, None, None] * vert[None]).reshape(-1, k)
    fixed_log = _shift_logs(fixed, dp, maj)  # (m, C)
    out = np.empty((len(freq), len(maj.parts()[0]), k))
    for lo in range(0, len(freq), 64):
        om = freq[lo : lo + 64]
        proj = np.max(np.abs(om @ dp.T), axis=1)
        own = om[:, None, :] * np.minimum(1.0, SHIFTS[None, :, None] * np.pi
                                          / np.maximum(proj, 1e-300)[:, None, None])
        own_log = (_shift_logs(own, dp, maj)
                   - np.abs(np.einsum("fk,fsk->fs", om, own))[..., None])  # (F, s, C)
        logs = np.concatenate([-np.abs(om @ fixed.T)[..., None] + fixed_log[None], own_log],
                              axis=1)
        cands = np.concatenate([np.broadcast_to(fixed, (len(om), *fixed.shape)), own], axis=1)
        best = np.argmin(logs, axis=1)  # (F, C)
        out[lo : lo + 64] = np.take_along_axis(cands, best[:, :, None], axis=1)
    return out


def _tail(step: np.ndarray, width: np.ndarray, dp: np.ndarray, maj: Majorants) -> np.ndarray:
    """(C,) the frequencies with |nu|_inf > BOX, each bounded under the shift sign(nu) b, b a
    box inside s P (sum_e |dp_e| b_e <= s pi for every pair): a geometric series per axis."""
    k = len(step)
    base, coef, axis, power = maj.parts()
    best = np.full(len(base), np.inf)
    for s in SHIFTS:
        b = s * np.pi / (k * np.maximum(width, 1e-300))
        theta = float(np.max(np.abs(dp) @ b)) if len(dp) else 0.0
        q = np.exp(-2 * np.pi * b / step)
        whole = np.prod(1 + 2 * q / (1 - q))
        box = np.prod(1 + 2 * q * (1 - q**BOX) / (1 - q))
        term = ((whole - box) * np.exp(0.5 * b @ b) * (base + coef * b[axis])
                / np.cos(theta / 2) ** power)
        best = np.minimum(best, term)
    return best


def _sum(plan: ShiftPlan, dp: np.ndarray, maj: Majorants) -> np.ndarray:
    """(C,) the plan's terms summed for the pairs dp, each for nu and -nu. A shift whose phase
    spread theta has grown since the plan was made (the means moved) past the larger of its
    spread then and KEPT_SPREAD is scaled back to that, so it stays inside P."""
    base, coef, axis, power = maj.parts()
    theta = np.max(np.abs(plan.eta @ dp.T), axis=-1)  # (F, C)
    cap = np.maximum(plan.theta, KEPT_SPREAD)
    with np.errstate(divide="ignore", invalid="ignore"):
        shrink = np.where(theta > cap, cap / theta, 1.0)
    eta = plan.eta * shrink[..., None]
    theta = np.minimum(theta, cap)
    value = base + coef * np.abs(np.take_along_axis(eta, axis[None, :, None], axis=2)[..., 0])
    expo = -np.abs(np.einsum("fk,fck->fc", plan.freq, eta)) + 0.5 * np.sum(eta**2, axis=-1)
    return 2 * np.sum(value * np.exp(expo) / np.cos(theta / 2) ** power, axis=0)


def aliasing_bound(coords: np.ndarray, step: np.ndarray, maj: Majorants,
                   plan: ShiftPlan | None = None) -> tuple[np.ndarray, ShiftPlan]:
    """(1 + n k + n,) a bound of |lattice rule - integral| for each `score_integrands`
    component (the whole lattice of steps `step`, any offset, before truncation), and the plan
    of shifts it used: `plan` when its steps are `step` (its shifts scaled back into P where
    the means moved: `_sum`), else a fresh search."""
    step = np.asarray(step, dtype=float)
    dp = _pairs(coords)
    tail = _tail(step, np.ptp(coords, axis=0), dp, maj)
    if plan is None or not np.array_equal(plan.step, step):
        vert, _ = strip_polytope(coords)
        freq = _frequencies(step)
        eta = _search(freq, dp, vert, maj)
        plan = ShiftPlan(step, freq, eta, np.max(np.abs(eta @ dp.T), axis=-1))
    return _sum(plan, dp, maj) + tail, plan
