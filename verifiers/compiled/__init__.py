"""Gradient descent on frozen rules, compiled with JAX: the fast path of the engine's GD loops.

The numpy engine spends a GD step mostly on interpreter and call overhead: `population.evaluate`
reuses the rule of the previous step, after checking that it still fits the means and that its
error estimate still meets the tolerance. `advance` runs those reuses, checks included, in one
jit-compiled `lax.while_loop` (`kernels`), on the rule the numpy engine made (`plans`), and stops
before the first evaluation that fails a check; the numpy engine then refits, as it would have.
The compiled checks are strictly safer than the engine's (see `kernels`): a step it accepts, the
engine would have accepted with the same rule. JAX is imported on first use (`runtime`).

Contract for a GD driver (canonical means m, step `step`, the tolerance `tol` the rules are
made at, e.g. `population.default_tol(k)`):

    ev = evaluate(m, tol, rule)              # numpy: reuses the rule or refits
    rule = ev.rule; m = m - step * ev.grad   # one step on the numpy evaluation
    adv = advance(m, rule, step, tol, max_steps)
    if adv is None: ...                      # this rule is not compiled: keep to numpy
    else: m = adv.m                          # adv.steps more steps taken
        adv.evaluation                       # at adv.m on the same rule, or None: evaluate(adv.m,
                                             # tol, rule) with numpy next (it refits where needed)

A refusal at adv.m can be one the engine accepts (a margin gives away the last 2 % of the
tolerance, `kernels`); the numpy evaluation then keeps the rule, and a driver should take a few
numpy steps before it asks `advance` again when it got 0 steps. `advance_batch` does the same
for many runs in one compiled call, each run stopping at its own first failed check. The
driver keeps what the engine's loops record (`Evaluation.converged` is True for every compiled
evaluation: each met its tolerance) and may call `advance` with `max_steps` up to its next
recorded step. The package's GD loop does all this: `verifiers.dynamics.EngineSource` on the
jax backend.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scoreclaims.verifiers.compiled.plans import Plan, bucket, materialize, padded_sizes, plan_for
from scoreclaims.verifiers.population import Evaluation

__all__ = ["Advance", "advance", "advance_batch", "compiles", "nodes"]


@dataclass(frozen=True)
class Advance:
    """Where a compiled run stopped: `m` after `steps` steps, and the evaluation there on the
    same rule when it passed every check (None: evaluate at `m` with numpy; `m` itself is
    non-finite where a step overflowed, which the driver treats as the engine does)."""

    m: np.ndarray
    steps: int
    evaluation: Evaluation | None


_CACHE_NODES = 4_000_000  # plans kept (least recently used out), by their rules' nodes
_plans: OrderedDict[tuple, tuple[object, Plan | None, dict]] = OrderedDict()
_cached_nodes = 0


def _cached_plan(shape: tuple[int, int], rule: object) -> tuple[Plan | None, dict]:
    """The plan of `rule` (kept with the rule itself, so an id is never reused while cached)
    and a dict for its padded arrays (by padded sizes; "single": on the device)."""
    key = (id(rule), shape)
    hit = _plans.get(key)
    if hit is not None and hit[0] is rule:
        _plans.move_to_end(key)
        return hit[1], hit[2]
    global _cached_nodes
    plan = plan_for(np.empty(shape), rule)
    entry = _plans[key] = (rule, plan, {})
    _cached_nodes += _nodes(plan)
    while _cached_nodes > _CACHE_NODES and len(_plans) > 1:
        _cached_nodes -= _nodes(_plans.popitem(last=False)[1][1])
    return plan, entry[2]


def _nodes(plan: Plan | None) -> int:
    return 1 if plan is None else plan.nodes


def compiles(m: np.ndarray, rule: object) -> bool:
    """Does `advance` run `rule` for means shaped like `m`?"""
    return _cached_plan(np.shape(m), rule)[0] is not None


def nodes(m: np.ndarray, rule: object) -> int | None:
    """Integrand points of one compiled evaluation on `rule` (what the numpy engine counts as
    `evaluations` for one reuse of it); None when it is not compiled."""
    plan = _cached_plan(np.shape(m), rule)[0]
    return None if plan is None else plan.nodes


def advance(m: np.ndarray, rule: object, step: float, tol: float, max_steps: int
            ) -> Advance | None:
    """Up to `max_steps` GD steps m <- m - step grad from the canonical means `m` (n, d), each
    gradient from the frozen `rule` (an `Evaluation.rule` accepted at `tol`), checked at every
    step as the numpy engine checks a reused rule. None when this rule kind or frame is not
    compiled (trapezoid grids; k < d)."""
    from scoreclaims.verifiers.compiled.kernels import compiled
    from scoreclaims.verifiers.compiled.runtime import float64, jax_modules

    m = np.asarray(m, dtype=float)
    plan, device = _cached_plan(m.shape, rule)
    if plan is None:
        return None
    with float64():
        arrays = device.get("single")
        if arrays is None:
            put = jax_modules()[0].device_put
            arrays = device["single"] = put(materialize(plan, padded_sizes([plan])))
        out = compiled(plan.kind, plan.static, False)(arrays, m, float(step), float(tol),
                                                       int(max_steps))
        steps, m_out, ev = _fetch(out)
    return _advance(rule, plan, steps, m_out, ev)


def advance_batch(ms: np.ndarray | Sequence[np.ndarray], rules: Sequence[object], step: float,
                  tol: float, max_steps: int | Sequence[int]) -> list[Advance | None]:
    """`advance` for many runs (means ms[r], rule rules[r], one step and tolerance), in one
    compiled call per kind of rule (rules padded alike, the runs one after the other inside
    the call); each run stops at its own first failed check (or its own max_steps), the others
    go on. None for runs whose rule is not compiled."""
    from scoreclaims.verifiers.compiled.kernels import compiled
    from scoreclaims.verifiers.compiled.runtime import float64

    ms = [np.asarray(m, dtype=float) for m in ms]
    limits = np.broadcast_to(np.asarray(max_steps, dtype=np.int64), (len(ms),))
    out: list[Advance | None] = [None] * len(ms)
    groups: dict[tuple, list[tuple[int, Plan]]] = {}
    for r, (m, rule) in enumerate(zip(ms, rules, strict=True)):
        plan = _cached_plan(m.shape, rule)[0]
        if plan is not None:
            groups.setdefault(plan.signature, []).append((r, plan))
    with float64():
        for members in groups.values():
            runs = [r for r, _ in members]
            plans = [p for _, p in members]
            sizes = padded_sizes(plans)
            width = bucket(len(runs))
            pick = runs + [runs[0]] * (width - len(runs))  # padding runs take no step
            mats = [_padded(ms[r], rules[r], p, sizes) for r, p in members]
            mats += [mats[0]] * (width - len(runs))
            arrays = {key: np.stack([a[key] for a in mats]) for key in mats[0]}
            limit = np.concatenate([limits[runs], np.zeros(width - len(runs), dtype=np.int64)])
            res = compiled(plans[0].kind, plans[0].static, True)(
                arrays, np.stack([ms[r] for r in pick]), float(step), float(tol), limit)
            steps, m_out, ev = _fetch(res)
            for i, (r, plan) in enumerate(members):
                out[r] = _advance(rules[r], plan, steps[i], m_out[i],
                                  tuple(x[i] for x in ev))
    return out


def _padded(m: np.ndarray, rule: object, plan: Plan, sizes: dict[str, int]) -> dict:
    store = _cached_plan(m.shape, rule)[1]
    key = tuple(sorted(sizes.items()))
    if key not in store:
        store[key] = materialize(plan, sizes)
    return store[key]


def _fetch(result: tuple) -> tuple:
    from scoreclaims.verifiers.compiled.runtime import jax_modules

    steps, m, ev = jax_modules()[0].device_get(result)
    return steps, m, tuple(ev)


def _advance(rule: object, plan: Plan, steps: object, m: np.ndarray, ev: tuple) -> Advance:
    ok, loss, grad, loss_error, grad_error = ev
    evaluation = None
    if bool(ok):
        evaluation = Evaluation(float(loss), np.array(grad, dtype=float), float(loss_error),
                                float(grad_error), plan.nodes, True, rule)
    return Advance(np.array(m, dtype=float), int(steps), evaluation)
