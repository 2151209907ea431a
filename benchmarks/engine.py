"""GD steps per second of the exact engine, and of a Monte-Carlo gradient (batch 20,000, as in
the paper's experiment) on the same trajectories, with that gradient's error against the exact;
then the per-step cost of rule reuse on T2.1's inside configurations (the large-noise regime,
where every axis is thin); then batched k = 1 runs (`verifiers.batch.run_gd_batch`) against the
same runs one by one; then sweep-like separated starts (`initial_means(n, 3, M0, seed)`, eta 0.1)
with the number of rules built (the trapezoid grid of `verifiers.trapezoid` for k = 2, 3); then
T3.5's n = 5, d = 3 sweep starts (`--table t35`: the first 64 steps of each M_0 in {4, 6, 8, 10},
seeds 0 to 4, each capped at `--t35-timeout` CPU seconds; nodes per evaluation, grids built,
steps on the adaptive cubature); `--table backends` (not part of `all`): the same GD runs on the
numpy engine and on the compiled one (`verifiers.compiled`, JAX), steps per CPU second of each,
the compile time apart and the largest relative difference of the final means (`--json`: one
JSON object instead of the table).

`python -m benchmarks.engine [--steps N] [--budget S] [--batch B] [--step-runs R] [--table T]
[--adaptive] [--t35-steps N] [--t35-seeds S] [--t35-timeout S] [--t35-tol TOL] [--json]
[--backend-scale X]`.
`--adaptive` turns the trapezoid grid off (the engine before it, for comparison).
Rates are per second of this process's CPU time (single-threaded), so other load on the
machine slows them less than wall-clock figures; the load average is printed with every line
all the same. Issue 2 targets on one core: n=2 d=1 >= 10,000 steps/s, n=5 d=1 >= 3,000,
n=5 d=3 >= 100 (at 1e-10 relative for k <= 2 and 1e-8 for k = 3). The separated k = 3
setting (n=5 d=3 random N(0,1)) runs `--k3-steps` steps (default 20; an adaptive evaluation
there takes about two minutes)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import time

import numpy as np

from scoreclaims.verifiers import population
from scoreclaims.verifiers.batch import run_gd_batch
from scoreclaims.verifiers.collinear import LineRule
from scoreclaims.verifiers.dynamics import Descent, EngineSource, run_gd
from scoreclaims.verifiers.geometry import reduce_means, to_canonical
from scoreclaims.verifiers.monte_carlo import mc_gradient
from scoreclaims.verifiers.population import Evaluation, default_tol, evaluate
from scoreclaims.verifiers.trapezoid import GridRule


def settings(rng: np.random.Generator) -> list[tuple[str, np.ndarray, float]]:
    """(label, start means in canonical coordinates, step) from the paper's regimes."""
    e1 = np.array([6.0, 0.0, 0.0]) + 1e-7 * rng.standard_normal((5, 3))
    return [
        ("n=2 d=1 far pair [[0],[14]]", np.array([[0.0], [14.0]]), 0.01),
        ("n=2 d=1 random N(0,1)", rng.standard_normal((2, 1)), 0.01),
        ("n=5 d=1 random N(0,1)", rng.standard_normal((5, 1)), 0.01),
        ("n=5 d=1 far (random init, spread 10)", 10 * rng.standard_normal((5, 1)), 0.01),
        ("n=3 d=3 random N(0,1) (k=2)", rng.standard_normal((3, 3)), 0.01),
        ("n=5 d=3 E1 clustered start M=6", e1, 0.01),
        ("n=5 d=3 random N(0,1) (k=3)", rng.standard_normal((5, 3)), 0.01),
    ]


def run_exact(m: np.ndarray, eta: float, steps: int, budget: float
              ) -> tuple[int, float, list[Evaluation], np.ndarray]:
    """GD with rule reuse; stops at `steps` or after `budget` CPU seconds."""
    rule = None
    evs = []
    t0 = time.process_time()
    done = 0
    while done < steps and time.process_time() - t0 < budget:
        ev = evaluate(m, rule=rule)
        rule = ev.rule
        evs.append(ev)
        m = m - eta * ev.grad
        done += 1
    return done, time.process_time() - t0, evs, m


def single_runs(args: argparse.Namespace, rng: np.random.Generator) -> None:
    print(f"{'setting':40s} {'steps':>6s} {'steps/s':>9s} {'max est. rel err':>16s} "
          f"{'rules kept':>10s} {'MC steps/s':>10s} {'MC grad rel err':>15s} {'load':>5s}")
    for label, m0, eta in settings(rng):
        steps = args.k3_steps if "(k=3)" in label else args.steps
        if steps < 1:  # e.g. --k3-steps 0: skip the setting
            continue
        done, secs, evs, _ = run_exact(m0, eta, steps, args.budget)
        kept = sum(1 for a, b in zip(evs, evs[1:], strict=False) if b.rule is a.rule
                   and a.rule is not None) / max(len(evs) - 1, 1)
        worst = max(max(e.relative_loss_error, e.relative_grad_error) for e in evs)
        mc_t0 = time.process_time()
        m = m0.copy()
        n_mc = min(done, 200)
        for _ in range(n_mc):
            m = m - eta * mc_gradient(m, rng)
        mc_rate = n_mc / max(time.process_time() - mc_t0, 1e-9)
        picks = evs[:: max(1, len(evs) // 10)]
        errs = []
        for ev, mm in zip(picks, _means_along(m0, evs, eta, picks), strict=True):
            g = mc_gradient(mm, rng)
            errs.append(np.linalg.norm(g - ev.grad) / np.linalg.norm(ev.grad))
        print(f"{label:40s} {done:6d} {done / secs:9.4g} {worst:16.1e} {kept:10.0%} "
              f"{mc_rate:10.0f} {np.median(errs):15.1e} {os.getloadavg()[0]:5.1f}", flush=True)


T21_CONFIGS = ((2, 1), (3, 1), (5, 1), (3, 2), (3, 3), (5, 2), (5, 3))


def _rule_kind(rule: object) -> str:
    if isinstance(rule, LineRule):
        return f"line {rule.kind}"
    if isinstance(rule, GridRule):
        return "trapezoid"
    if rule.tree is None:
        return "thin block"
    return "panels" if rule.block is None else "panels + thin"


def t21_per_step(args: argparse.Namespace) -> None:
    """Microseconds per GD step with the rule reused, on T2.1's inside instances: `evaluate`
    in a bare loop (after 50 warm-up steps) and `run_gd` itself (recording and its first, adaptive
    evaluation included)."""
    from scoreclaims.claims.paper.large_noise import _inside

    print(f"\n{'T2.1 inside, per step':22s} {'k':>2s} {'rule':>14s} {'nodes':>6s} "
          f"{'evaluate us':>11s} {'run_gd us':>9s} {'steps/s':>8s} {'kept':>5s} {'load':>5s}")
    for n, d in T21_CONFIGS:
        inst = _inside(n, d, 10)
        mu, truth = np.array(inst["means"]), np.array(inst["truth"])
        m = to_canonical(mu, truth, inst["t"])
        eta = inst["eta"]
        rule = None
        for _ in range(50):
            ev = evaluate(m, rule=rule)
            rule = ev.rule
            m = m - eta * ev.grad
        kept = 0
        t0 = time.process_time()
        for _ in range(args.step_runs):
            ev = evaluate(m, rule=rule)
            kept += ev.rule is rule
            rule = ev.rule
            m = m - eta * ev.grad
        per_eval = (time.process_time() - t0) / args.step_runs
        t0 = time.process_time()
        run_gd(inst["means"], eta, args.step_runs, truth=inst["truth"], t=inst["t"])
        per_gd = (time.process_time() - t0) / args.step_runs
        print(f"{f'n={n} d={d}':22s} {reduce_means(m).k:2d} {_rule_kind(rule):>14s} "
              f"{len(rule.points):6d} {1e6 * per_eval:11.1f} {1e6 * per_gd:9.1f} "
              f"{1 / per_gd:8.0f} {kept / args.step_runs:5.0%} {os.getloadavg()[0]:5.1f}",
              flush=True)


def batched_runs(args: argparse.Namespace, rng: np.random.Generator) -> None:
    """Trajectory-steps per CPU second: `run_gd_batch` on B starts against `run_gd` on a
    sample of the same starts (k = 1, d = 1, starts N(0, s^2))."""
    print(f"\n{'batched k = 1 runs':40s} {'runs':>5s} {'batch traj-steps/s':>18s} "
          f"{'single traj-steps/s':>19s} {'gain':>5s} {'load':>5s}")
    steps = 200
    for n, spread in ((2, 1.0), (3, 1.0), (5, 1.0), (3, 5.0)):
        starts = [(spread * rng.standard_normal((n, 1))).tolist() for _ in range(args.batch)]
        t0 = time.process_time()
        run_gd_batch(starts, 0.01, steps)
        batch_rate = args.batch * steps / (time.process_time() - t0)
        sample = starts[: max(2, args.batch // 20)]
        t0 = time.process_time()
        for s in sample:
            run_gd(s, 0.01, steps)
        single_rate = len(sample) * steps / (time.process_time() - t0)
        label = f"n={n} d=1 N(0,{spread:g}^2) x {steps} steps"
        print(f"{label:40s} {args.batch:5d} {batch_rate:18.0f} {single_rate:19.0f} "
              f"{batch_rate / single_rate:5.1f} {os.getloadavg()[0]:5.1f}", flush=True)


SWEEP_STARTS = ((3, 4.0, 0, 300), (3, 4.0, 1, 300), (3, 10.0, 0, 300), (3, 10.0, 1, 300),
                (5, 4.0, 0, 10))


def sweep_runs(args: argparse.Namespace) -> None:
    """GD from `initial_means(n, 3, M0, seed)` (separated means, issue 9's d = 3 sweeps),
    eta 0.1: steps per CPU second, rules built (first one included), the rule kind and nodes
    at the end, the largest estimated relative error."""
    from scoreclaims.claims.paper._random_init_runs import initial_means

    print(f"\n{'sweep-like starts, eta 0.1':32s} {'k':>2s} {'steps':>5s} {'steps/s':>8s} "
          f"{'built':>5s} {'last rule':>13s} {'nodes':>8s} {'max est. rel err':>16s} "
          f"{'load':>5s}")
    for n, m0, seed, steps in SWEEP_STARTS:
        if n == 5 and args.k3_steps < 1:
            continue
        steps = min(steps, args.k3_steps) if n == 5 else steps
        m = initial_means(n, 3, m0, seed)
        rule, built, worst = None, 0, 0.0
        t0 = time.process_time()
        for _ in range(steps):
            ev = evaluate(m, rule=rule)
            built += ev.rule is not rule or ev.rule is None
            rule = ev.rule
            worst = max(worst, ev.relative_loss_error, ev.relative_grad_error)
            m = m - 0.1 * ev.grad
        secs = time.process_time() - t0
        kind = "none" if rule is None else _rule_kind(rule)
        nodes = "-" if rule is None else str(len(rule.points))
        label = f"n={n} d=3 M0={m0:g} seed={seed}"
        print(f"{label:32s} {reduce_means(m).k:2d} {steps:5d} {steps / secs:8.3g} {built:5d} "
              f"{kind:>13s} {nodes:>8s} {worst:16.1e} {os.getloadavg()[0]:5.1f}", flush=True)


T35_M0 = (4.0, 6.0, 8.0, 10.0)


class _Timeout(Exception):
    pass


def _on_timer(signum: int, frame: object) -> None:
    raise _Timeout


def t35_probes(args: argparse.Namespace) -> None:
    """T3.5's n = 5, d = 3 sweep starts `initial_means(5, 3, M0, seed)`, eta 0.1: the first
    `--t35-steps` GD steps each, reusing rules as `claims.paper._random_init_runs.gd_window` does.
    Each probe is capped at `--t35-timeout` CPU seconds (an adaptive k = 3 evaluation can take
    minutes); per probe: steps done, CPU seconds, steps/s, mean nodes per evaluation (integrand
    points, refused reuses included), grids built, steps on the adaptive cubature (fallbacks).
    `--t35-tol`: the cubature tolerance (default the engine's; the sweeps run at
    `scoreclaims.claims.paper.random_init.SWEEP_TOL_K3`)."""
    from scoreclaims.claims.paper._random_init_runs import initial_means

    tol_label = "default tol" if args.t35_tol is None else f"tol {args.t35_tol:g}"
    print(f"\n{'T3.5 n=5 d=3, ' + tol_label:22s} {'steps':>5s} {'cpu s':>6s} {'steps/s':>8s} "
          f"{'nodes/eval':>10s} {'built':>5s} {'fallback':>8s} {'max est. rel err':>16s} "
          f"{'':8s} {'load':>5s}")
    signal.signal(signal.SIGVTALRM, _on_timer)
    for m0 in T35_M0:
        for seed in range(args.t35_seeds):
            m = initial_means(5, 3, m0, seed)
            rule, done, nodes, built, fallback, worst = None, 0, 0, 0, 0, 0.0
            note = ""
            t0 = time.process_time()
            signal.setitimer(signal.ITIMER_VIRTUAL, args.t35_timeout)
            try:
                for _ in range(args.t35_steps):
                    ev = evaluate(m, args.t35_tol, rule=rule)
                    built += isinstance(ev.rule, GridRule) and ev.rule is not rule
                    fallback += not isinstance(ev.rule, GridRule)
                    nodes += ev.evaluations
                    worst = max(worst, ev.relative_loss_error, ev.relative_grad_error)
                    rule = ev.rule
                    m = m - 0.1 * ev.grad
                    done += 1
            except _Timeout:
                note = "timeout"
            finally:
                signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            secs = time.process_time() - t0
            label = f"M0={m0:g} seed={seed}"
            print(f"{label:22s} {done:5d} {secs:6.1f} {done / secs:8.3g} "
                  f"{nodes / max(done, 1):10.3g} {built:5d} {fallback:8d} {worst:16.1e} "
                  f"{note:8s} {os.getloadavg()[0]:5.1f}", flush=True)


def backend_cases(scale: float = 1.0) -> list[tuple[str, list[np.ndarray], float, int]]:
    """(case, starts in canonical coordinates, step, steps) of `--table backends`: the single
    runs' starts of `settings` (the same generator, E1 at M = 6 drawn first), T2.1's clustered
    n = 5 instances inside the step condition (`large_noise._inside`), and 200 n = 3, d = 1
    starts N(0, 1) as in the batched table."""
    from scoreclaims.claims.paper.large_noise import _inside

    rng = np.random.default_rng(7)
    e1 = np.array([6.0, 0.0, 0.0]) + 1e-7 * rng.standard_normal((5, 3))
    near = rng.standard_normal((2, 1))
    n5 = rng.standard_normal((5, 1))
    t21 = {}
    for d in (2, 3):
        inst = _inside(5, d, 1)
        t21[d] = (to_canonical(np.array(inst["means"]), np.array(inst["truth"]), inst["t"]),
                  inst["eta"])
    batch = [rng.standard_normal((3, 1)) for _ in range(200)]

    def steps(count: int) -> int:
        return max(1, int(count * scale))

    return [("n2-d1-near", [near], 0.01, steps(20_000)),
            ("n2-d1-far", [np.array([[0.0], [14.0]])], 0.01, steps(20_000)),
            ("n5-d1", [n5], 0.01, steps(10_000)),
            ("t21-n5-d2", [t21[2][0]], t21[2][1], steps(10_000)),
            ("t21-n5-d3", [t21[3][0]], t21[3][1], steps(5_000)),
            ("e1", [e1], 0.01, steps(2_000)),
            ("batch-n3-d1-200", batch, 0.01, steps(200))]


def numpy_descent(m: np.ndarray, step: float, steps: int, tol: float) -> np.ndarray:
    """The reference loop: `steps` GD steps on the numpy engine, each evaluation reusing the
    previous one's rule, nothing else (no Descent, no compiled path). Also the tests' reference
    for the compiled loops."""
    rule = None
    for _ in range(steps):
        ev = evaluate(m, tol, rule)
        rule = ev.rule
        m = m - step * ev.grad
    return m


def _descent(m: np.ndarray, step: float, steps: int, tol: float, backend: str) -> np.ndarray:
    """The means after `steps` steps of the one GD loop on `backend`, nothing recorded."""
    source = EngineSource(tol, backend=backend)
    descent = Descent(source, m, step)
    descent.run(steps)
    return descent.m


def _cpu(fn: object, *args: object) -> tuple[object, float]:
    t0 = time.process_time()
    out = fn(*args)  # type: ignore[operator]
    return out, time.process_time() - t0


def backends(args: argparse.Namespace) -> None:
    """Per case: the numpy engine's loop (evaluate + step, rules reused as `run_gd` does; for
    the batch, `run_gd_batch`) and the compiled path (the GD loop's `EngineSource` on the jax
    backend: `compiled.advance`, numpy where a compiled check stops it) from the same start, in
    this process, on one core. The
    compiled path runs twice: the second run's CPU time gives its rate, the difference of the
    two the compile time. max_rel_diff: the largest difference of the final means over the
    largest |mean| (the batch: against `run_gd_batch`)."""
    from threadpoolctl import threadpool_limits

    from scoreclaims.verifiers.backend import using
    from scoreclaims.verifiers.compiled.runtime import jax_modules

    cases = []
    with threadpool_limits(limits=1):
        jax = jax_modules()[0]
        if not args.json:
            print(f"\nbackends on {jax.devices()[0].device_kind}, one core; rates per CPU "
                  f"second\n{'case':18s} {'steps':>6s} {'numpy/s':>9s} {'jax/s':>9s} "
                  f"{'ratio':>6s} {'compile s':>9s} {'max rel diff':>12s} {'load':>5s}")
        for name, starts, step, steps in backend_cases(args.backend_scale):
            if len(starts) > 1:
                runs = [m.tolist() for m in starts]
                trajs, numpy_s = _cpu(run_gd_batch, runs, step, steps)
                ref = [t.final_means for t in trajs]
                with using("jax"):
                    _, first = _cpu(run_gd_batch, runs, step, steps)
                    trajs, jax_s = _cpu(run_gd_batch, runs, step, steps)
                got = [t.final_means for t in trajs]
            else:
                m0 = starts[0]
                tol = default_tol(reduce_means(m0).k)
                out, numpy_s = _cpu(numpy_descent, m0, step, steps, tol)
                ref = [out]
                _, first = _cpu(_descent, m0, step, steps, tol, "jax")
                res, jax_s = _cpu(_descent, m0, step, steps, tol, "jax")
                got = [res]
            diff = max(float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
                       for a, b in zip(got, ref, strict=True))
            total = steps * len(starts)
            row = {"case": name, "numpy_steps_per_s": total / numpy_s,
                   "jax_steps_per_s": total / jax_s, "compile_s": max(first - jax_s, 0.0),
                   "max_rel_diff": diff}
            cases.append(row)
            if not args.json:
                print(f"{name:18s} {total:6d} {row['numpy_steps_per_s']:9.0f} "
                      f"{row['jax_steps_per_s']:9.0f} "
                      f"{row['jax_steps_per_s'] / row['numpy_steps_per_s']:6.1f} "
                      f"{row['compile_s']:9.2f} {diff:12.1e} {os.getloadavg()[0]:5.1f}",
                      flush=True)
    if args.json:
        print(json.dumps({"cases": cases}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--k3-steps", type=int, default=20)
    parser.add_argument("--budget", type=float, default=20.0, help="CPU seconds per setting")
    parser.add_argument("--batch", type=int, default=200, help="runs per batched setting")
    parser.add_argument("--step-runs", type=int, default=2000,
                        help="timed steps per T2.1 configuration")
    parser.add_argument("--t35-steps", type=int, default=64)
    parser.add_argument("--t35-seeds", type=int, default=5)
    parser.add_argument("--t35-timeout", type=float, default=60.0,
                        help="CPU seconds per T3.5 probe")
    parser.add_argument("--t35-tol", type=float, default=None,
                        help="cubature tolerance of the T3.5 probes (default: the engine's)")
    parser.add_argument("--table", choices=("all", "single", "t21", "batched", "sweep", "t35",
                                            "backends"), default="all")
    parser.add_argument("--json", action="store_true",
                        help="--table backends: print one JSON object instead of the table")
    parser.add_argument("--backend-scale", type=float, default=1.0,
                        help="--table backends: steps per case times this")
    parser.add_argument("--adaptive", action="store_true",
                        help="no trapezoid grid (the adaptive cubature alone, as before it)")
    args = parser.parse_args()
    if args.adaptive:
        population.TRAPEZOID_K = ()
    rng = np.random.default_rng(7)
    evaluate(np.array([[0.0], [1.0]]))  # derives and caches the Gauss-Kronrod rule (0.15 s)
    if args.table == "backends":
        backends(args)
        return
    print(f"pid {os.getpid()}; load average {os.getloadavg()[0]:.2f}; rates per CPU second")
    if args.table in ("all", "single"):
        single_runs(args, rng)
    if args.table in ("all", "t21"):
        t21_per_step(args)
    if args.table in ("all", "batched"):
        batched_runs(args, rng)
    if args.table in ("all", "sweep"):
        sweep_runs(args)
    if args.table in ("all", "t35"):
        t35_probes(args)


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
