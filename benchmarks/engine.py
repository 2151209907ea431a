"""GD steps per second of the exact engine, and of a Monte-Carlo gradient (batch 20,000, as in
the paper's experiment) on the same trajectories, with that gradient's error against the exact.

`python -m benchmarks.engine [--steps N]`. Single-threaded figures depend on machine load."""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from verifiers.monte_carlo import mc_gradient  # moved there (issue 9); kept importable here
from verifiers.population import Evaluation, evaluate


def settings(rng: np.random.Generator) -> list[tuple[str, np.ndarray, float]]:
    """(label, start means in canonical coordinates, step) from the paper's regimes."""
    e1 = np.array([6.0, 0.0, 0.0]) + 1e-7 * rng.standard_normal((5, 3))
    return [
        ("n=2 d=1 far pair [[0],[14]]", np.array([[0.0], [14.0]]), 0.01),
        ("n=2 d=1 random N(0,1)", rng.standard_normal((2, 1)), 0.01),
        ("n=5 d=1 random N(0,1)", rng.standard_normal((5, 1)), 0.01),
        ("n=5 d=1 far (random init, spread 10)", 10 * rng.standard_normal((5, 1)), 0.01),
        ("n=5 d=3 E1 clustered start M=6", e1, 0.01),
        ("n=5 d=3 random N(0,1)", rng.standard_normal((5, 3)), 0.01),
    ]


def run_exact(m: np.ndarray, eta: float, steps: int, budget: float
              ) -> tuple[int, float, list[Evaluation], np.ndarray]:
    """GD with rule reuse; stops at `steps` or after `budget` seconds."""
    rule = None
    evs = []
    t0 = time.perf_counter()
    done = 0
    while done < steps and time.perf_counter() - t0 < budget:
        ev = evaluate(m, rule=rule)
        rule = ev.rule
        evs.append(ev)
        m = m - eta * ev.grad
        done += 1
    return done, time.perf_counter() - t0, evs, m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per setting")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    print(f"pid {os.getpid()}; load average {os.getloadavg()[0]:.2f} (timings are single-core)")
    print(f"{'setting':40s} {'exact steps/s':>13s} {'max est. rel err':>16s} "
          f"{'reuse':>6s} {'MC steps/s':>10s} {'MC grad rel err':>15s} {'spread end':>10s}")
    for label, m0, eta in settings(rng):
        done, secs, evs, m_end = run_exact(m0, eta, args.steps, args.budget)
        reused = sum(1 for a, b in zip(evs, evs[1:], strict=False) if b.rule is a.rule
                     and a.rule is not None) / max(len(evs) - 1, 1)
        worst = max(max(e.relative_loss_error, e.relative_grad_error) for e in evs)
        # MC on the same configurations (every one for speed, a sample for the error).
        mc_t0 = time.perf_counter()
        m = m0.copy()
        n_mc = min(done, 200)
        for _ in range(n_mc):
            m = m - eta * mc_gradient(m, rng)
        mc_rate = n_mc / (time.perf_counter() - mc_t0)
        picks = evs[:: max(1, len(evs) // 10)]
        errs = []
        for ev, mm in zip(picks, _means_along(m0, evs, eta, picks), strict=True):
            g = mc_gradient(mm, rng)
            errs.append(np.linalg.norm(g - ev.grad) / np.linalg.norm(ev.grad))
        spread = float(np.max(np.ptp(m_end, axis=0)))
        print(f"{label:40s} {done / secs:13.0f} {worst:16.1e} {reused:6.0%} {mc_rate:10.0f} "
              f"{np.median(errs):15.1e} {spread:10.2e}", flush=True)


def _means_along(m0: np.ndarray, evs: list[Evaluation], eta: float, picks: list[Evaluation]
                 ) -> list[np.ndarray]:
    """The means at which the picked evaluations were made (replaying the exact trajectory)."""
    out, m, want = [], m0.copy(), {id(p) for p in picks}
    for ev in evs:
        if id(ev) in want:
            out.append(m.copy())
        m = m - eta * ev.grad
    return out


if __name__ == "__main__":
    main()
