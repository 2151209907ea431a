"""One run of the phase-boundary experiment, classified: do all means converge, or one?

Start (canonical coordinates, truth at 0): m_i = M0 e_1 + delta z_i, z_i standard normal from
`seed` (as in the paper's experiment). Engines, in order:

1. while float64 cannot separate the means (relative spread < 1e-6): the arbitrary-precision
   engine (`highprec.dynamics.run_gd`, mpmath, verified steps, hand-over to float64) when the
   mean differences span k <= 1 dimensions; for k >= 2 (n >= 3, d >= 2), where that engine runs
   at ~1 step/s, the linearised map `highprec.collapsed.linear_phase` (its deviations are off by
   a relative few 1e-5 at the hand-over, checked against the arbitrary-precision engine);
2. then float64 GD (`verifiers.dynamics.run_gd`) in chunks of check_fraction n/(2 eta) steps,
   classifying after each chunk, so a run stops as soon as its outcome is settled.
If the centroid comes within r_in while the spread is still below float64's resolution, the
amplification is spent and every mean is within r_in and contracting: "all-converge".

Classification rule (a priori). Two radii: r_in = 1 (well inside the escape radius) and
R_out = 3 (beyond the escape radius: with the other means at the truth, a mean at distance R is
pushed away for R > 2.46 (n = 2), 2.57 (n = 3), 2.72 (n = 5), and pulled back below; measured with
the float64 engine, d = 1, see tests/test_phase_boundary.py). At a check, a mean is
- "near" if it is within r_in of the truth and its distance did not grow since the last check;
- "escaping" if it is beyond R_out, its distance did not shrink since the last check, and its
  radial gradient points away from the truth (sign established with a per-component error bound,
  `scoreclaims.verifiers.radial`).
All near: "all-converge". Every mean near or escaping, at least one of each: "one-converges" when
exactly one is near, else "k-converge" (k near; reported as such, never binned with one). Anything
else is not settled yet. Both settled states are absorbing for the dynamics: near means inside
r_in keep contracting (the large-noise regime), and an escaping mean beyond the escape radius
facing converged means is pushed further out. A run not settled by
tau_max = collapse_steps(M0 -> r_in) + relax_cap n/(2 eta) (relax_cap centroid e-folding times),
or whose float64 cubatures missed their tolerance, is "undecided" and flagged, never binned.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import mpmath
import numpy as np

from scoreclaims.claims.paper._low_noise_theory import collapse_steps
from scoreclaims.highprec.collapsed import linear_phase
from scoreclaims.highprec.dynamics import run_gd as hp_run_gd
from scoreclaims.highprec.policy import as_mp_means, resolvable_in_float64
from scoreclaims.verifiers import AWAY, radial_signs, run_gd

ALL, ONE, UNDECIDED = "all-converge", "one-converges", "undecided"


@dataclass(frozen=True)
class RunRule:
    """The classification rule's constants (see the module docstring)."""

    r_in: float = 1.0
    r_out: float = 3.0
    relax_cap: float = 100.0
    check_fraction: float = 0.5  # checks every check_fraction n/(2 eta) steps


@dataclass
class BoundaryRun:
    """A classified run. `pre_phase`: "float64" (separable from the start), "mp<dps>" (the
    arbitrary-precision engine, hand-over at `handover_tau`) or "linearised"."""

    log10_delta: float
    outcome: str
    near: int
    tau: int
    pre_phase: str
    handover_tau: int
    status: str
    final_distances: list[float] = field(default_factory=list)
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def start_means(n: int, d: int, big_m: float, log10_delta: float, seed: int) -> list[list[str]]:
    """m_i = M0 e_1 + delta z_i as decimal strings exact to the spread."""
    z = np.random.default_rng(seed).standard_normal((n, d))
    digits = max(30, int(-log10_delta) + 40)
    with mpmath.workdps(digits):
        delta = mpmath.mpf(10) ** mpmath.mpf(repr(log10_delta))
        rows = []
        for i in range(n):
            row = [delta * mpmath.mpf(float(x)) for x in z[i]]
            row[0] += mpmath.mpf(repr(big_m))
            rows.append([mpmath.nstr(x, digits, strip_zeros=False) for x in row])
    return rows


def _pre_phase(means: list[list[str]], eta: float, n: int, d: int, r_in: float
               ) -> tuple[np.ndarray, int, str, str]:
    """(float64 means at the hand-over, steps taken, engine label, status). Status "collapsed":
    the centroid came within r_in while the spread was still below float64's resolution."""
    with mpmath.workdps(max(30, len(means[0][0]) + 10)):
        if resolvable_in_float64(as_mp_means(means)):
            return np.array([[float(x) for x in row] for row in means]), 0, "float64", "ok"
    if n == 2 or d == 1:
        taken, current, label = 0, means, ""
        while True:
            traj = hp_run_gd(current, repr(eta), 32, stride=32)
            label = label or f"mp{traj.dps}"
            taken += 32
            if traj.status != "ok":
                return np.zeros((n, d)), taken, label, traj.status
            final = np.asarray(traj.final_means)
            if traj.handover_tau is not None:
                return final.astype(float), taken, label, "ok"
            if max(float(mpmath.sqrt(mpmath.fsum(x * x for x in row))) for row in final) <= r_in:
                return final.astype(float), taken, label, "collapsed"
            current = traj.final_means
    c, f, steps = linear_phase(means, eta, stop_radius=r_in)
    status = "collapsed" if float(np.linalg.norm(c)) <= r_in else "ok"
    return c[None, :] + f, steps, "linearised", status


def _classify(m: np.ndarray, prev: np.ndarray, rule: RunRule) -> tuple[str, int, str]:
    dist = np.linalg.norm(m, axis=1)
    near = (dist <= rule.r_in) & (dist <= prev)
    if near.all():
        return ALL, len(dist), "every mean within r_in and not moving away"
    far = (dist >= rule.r_out) & (dist >= prev)
    if not (near | far).all() or not near.any():
        return "", 0, ""
    signs = radial_signs(m)
    if any(signs[j].sign != AWAY for j in np.flatnonzero(far)):
        return "", 0, ""
    k = int(near.sum())
    label = ONE if k == 1 else f"{k}-converge"
    return label, k, (f"{k} mean(s) within r_in, {int(far.sum())} beyond R_out moving away "
                      f"with outward gradient")


def classified_run(n: int, d: int, big_m: float, log10_delta: float, eta: float, seed: int,
                   rule: RunRule = RunRule()) -> BoundaryRun:
    """Run GD from M0 e_1 + delta z_i until its outcome is settled (or the cap)."""
    means = start_means(n, d, big_m, log10_delta, seed)
    m, tau, label, status = _pre_phase(means, eta, n, d, rule.r_in)
    if status == "collapsed":
        return BoundaryRun(log10_delta, ALL, n, tau, label, tau, "ok",
                           np.linalg.norm(m, axis=1).tolist(),
                           "the centroid reached r_in with the spread still below float64's "
                           "resolution: every mean within r_in, contracting")
    if status != "ok":
        return BoundaryRun(log10_delta, UNDECIDED, 0, tau, label, tau, status,
                           reason=f"arbitrary-precision phase status {status}")
    handover = tau
    chunk = max(1, math.ceil(rule.check_fraction * n / (2 * eta)))
    cap = collapse_steps(big_m, rule.r_in, eta, n) + math.ceil(rule.relax_cap * n / (2 * eta))
    prev = np.linalg.norm(m, axis=1)
    while tau < cap:
        traj = run_gd(m, eta, chunk, stride=chunk)
        m, tau = traj.final_means, tau + chunk
        if traj.status != "ok":
            return BoundaryRun(log10_delta, UNDECIDED, 0, tau, label, handover, traj.status,
                               np.linalg.norm(m, axis=1).tolist(),
                               f"float64 trajectory status {traj.status}")
        outcome, near, why = _classify(m, prev, rule)
        if outcome:
            return BoundaryRun(log10_delta, outcome, near, tau, label, handover, "ok",
                               np.linalg.norm(m, axis=1).tolist(), why)
        prev = np.linalg.norm(m, axis=1)
    return BoundaryRun(log10_delta, UNDECIDED, 0, tau, label, handover, "ok",
                       prev.tolist(), f"not settled by tau_max = {cap}")
