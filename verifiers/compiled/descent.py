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
