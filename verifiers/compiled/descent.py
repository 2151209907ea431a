"""The smallest driver of the compiled path: GD steps that go to `advance` while the rule holds
and to the numpy engine (`population.evaluate`) wherever a compiled check stops them. It is the
pattern a full driver follows (the benchmark and the tests use it); it records nothing but the
end point and where the steps were made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scoreclaims.verifiers.compiled import advance
from scoreclaims.verifiers.population import evaluate

BACKOFF = 8  # numpy steps before asking again, after `advance` refused its very first evaluation


@dataclass(frozen=True)
class Descent:
    """`m` after `steps` steps (fewer when a step overflowed: m is then non-finite);
    `compiled` of them were taken by `advance`, `calls` the number of its calls, `rule` the
    last one in use."""

    m: np.ndarray
    steps: int
    compiled: int
    calls: int
    rule: object


def descend(m: np.ndarray, step: float, steps: int, tol: float, rule: object = None
            ) -> Descent:
    """`steps` GD steps m <- m - step grad from canonical means m at the engine tolerance
    `tol` (the same trajectory as `evaluate` + step with rule reuse, to rounding)."""
    m = np.asarray(m, dtype=float)
    done = compiled = calls = 0
    wait = 0
    while done < steps:
        if rule is not None and wait == 0:
            adv = advance(m, rule, step, tol, steps - done)
            if adv is not None:
                calls += 1
                m, done, compiled = adv.m, done + adv.steps, compiled + adv.steps
                wait = BACKOFF if adv.steps == 0 else 0
                if done == steps or not np.all(np.isfinite(m)):
                    break
        ev = evaluate(m, tol, rule)  # where a compiled check refused: the engine decides
        wait = max(wait - 1, 0) if ev.rule is rule else 0
        rule = ev.rule
        m = m - step * ev.grad
        done += 1
        if not np.all(np.isfinite(m)):
            break
    return Descent(m, done, compiled, calls, rule)


def descend_batch(ms: list[np.ndarray], step: float, steps: int, tol: float
                  ) -> list[np.ndarray]:
    """`descend` for many runs: the runs whose rules compile advance in one call
    (`advance_batch`), each as far as its own checks allow; the rest, and every run where a
    compiled check stopped it, take one numpy step before the next call. Returns the final
    means."""
    from scoreclaims.verifiers.compiled import advance_batch

    ms = [np.asarray(m, dtype=float) for m in ms]
    runs = len(ms)
    done = np.zeros(runs, dtype=np.int64)
    rules: list[object] = [None] * runs
    wait = np.zeros(runs, dtype=np.int64)
    live = np.ones(runs, dtype=bool)
    while live.any():
        ready = [r for r in np.flatnonzero(live) if rules[r] is not None and wait[r] == 0]
        numpy_runs = set(np.flatnonzero(live)) - set(ready)
        if ready:
            limits = steps - done[ready]
            advs = advance_batch([ms[r] for r in ready], [rules[r] for r in ready], step, tol,
                                 limits)
            for r, adv, limit in zip(ready, advs, limits, strict=True):
                if adv is None:
                    numpy_runs.add(r)
                    continue
                ms[r], done[r] = adv.m, done[r] + adv.steps
                wait[r] = BACKOFF if adv.steps == 0 else 0
                if done[r] == steps or not np.all(np.isfinite(ms[r])):
                    live[r] = False
                elif adv.evaluation is None:  # refused: the engine decides at this point
                    numpy_runs.add(r)
                elif adv.steps < limit:  # pragma: no cover - a pass stops only when refused
                    raise AssertionError("advance stopped without a refusal")
        for r in sorted(numpy_runs):
            ev = evaluate(ms[r], tol, rules[r])
            wait[r] = max(wait[r] - 1, 0) if ev.rule is rules[r] else 0
            rules[r] = ev.rule
            ms[r] = ms[r] - step * ev.grad
            done[r] += 1
            if done[r] == steps or not np.all(np.isfinite(ms[r])):
                live[r] = False
    return ms
