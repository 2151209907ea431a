"""The time-averaged loss over noise levels (claim AVG, issue 27 question 2, reviewer 3).

The student's data-space means mu_tilde_i are shared across noise levels: mu_{i,t} = e^{-t}
mu_tilde_i, the truth mu*_t = e^{-t} mu_tilde*. In canonical coordinates at level t,
m_i(t) = e^{-t} m_tilde_i with m_tilde = mu_tilde - mu_tilde*, so L_t(mu_tilde) = L(e^{-t} m_tilde)
with L the engine's canonical loss (**(derived)**, PAPER.md sec. 1). The averaged loss is

    L_avg(m_tilde) = int_{t_min}^{t_max} lambda(t) L(e^{-t} m_tilde) dt,

lambda normalised to integrate to 1 over [t_min, t_max] (so L_avg is a weighted mean of the
levels' losses): "uniform" (1 / (t_max - t_min)) or "ddpm" ((1 - e^{-2t}) / Z, the usual
weight, the variance of the noise at level t). The integral is a Gauss-Legendre rule in t with
`nodes` nodes; its gradient is exact term by term,

    grad_{m_tilde} L_avg = sum_q W_q e^{-t_q} (grad L)(e^{-t_q} m_tilde),  W_q = w_q lambda(t_q),

from the engine's gradient at each node (no differentiation of the rule). Error estimate: the
difference between the rule and one with twice the nodes, plus the weighted sum of the engine's
per-node error estimates (each level's own bound, carried through the weights).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from scoreclaims.verifiers import NON_FINITE, OK, Descent, StepSource, evaluate

WEIGHTS = ("uniform", "ddpm")


def weight_function(kind: str, t_min: float, t_max: float) -> Any:
    """lambda(t) normalised to integrate to 1 over [t_min, t_max]."""
    if not t_max > t_min >= 0:
        raise ValueError(f"need 0 <= t_min < t_max, got [{t_min}, {t_max}]")
    if kind == "uniform":
        z = t_max - t_min
        return lambda t: np.full_like(np.asarray(t, dtype=float), 1.0 / z)
    if kind == "ddpm":  # int (1 - e^{-2t}) dt = t + e^{-2t} / 2
        z = (t_max - t_min) + 0.5 * (math.exp(-2 * t_max) - math.exp(-2 * t_min))
        return lambda t: (1.0 - np.exp(-2.0 * np.asarray(t, dtype=float))) / z
    raise ValueError(f"unknown weight {kind!r}: one of {WEIGHTS}")


@dataclass(frozen=True)
class Rule:
    """Gauss-Legendre nodes t_q on [t_min, t_max] and the weights W_q = w_q lambda(t_q)."""

    t: np.ndarray
    w: np.ndarray

    @classmethod
    def make(cls, kind: str, t_min: float, t_max: float, nodes: int) -> Rule:
        x, w = np.polynomial.legendre.leggauss(int(nodes))
        half = 0.5 * (t_max - t_min)
        t = t_min + half * (x + 1.0)
        return cls(t, half * w * weight_function(kind, t_min, t_max)(t))


@dataclass
class Averaged:
    loss: float
    grad: np.ndarray
    loss_error: float  # engine part only unless `with_rule_error`
    grad_error: float
    converged: bool
    rule_loss_error: float | None = None
    rule_grad_error: float | None = None


def average(m_tilde: np.ndarray, rule: Rule, rules: list[Any] | None = None) -> Averaged:
    """L_avg and its gradient with the rule `rule`; `rules`: the engine's rules per node (a list
    reused and updated in place across GD steps, for speed)."""
    m = np.asarray(m_tilde, dtype=float)
    loss, grad = 0.0, np.zeros_like(m)
    loss_err = grad_err = 0.0
    ok = True
    for q, (t, wq) in enumerate(zip(rule.t, rule.w, strict=True)):
        s = math.exp(-t)
        ev = evaluate(s * m, rule=None if rules is None else rules[q])
        if rules is not None:
            rules[q] = ev.rule
        loss += wq * ev.loss
        grad += (wq * s) * ev.grad
        loss_err += abs(wq) * ev.loss_error
        grad_err += abs(wq) * s * ev.grad_error
        ok = ok and ev.converged
    return Averaged(float(loss), grad, float(loss_err), float(grad_err), ok)


def average_checked(m_tilde: np.ndarray, kind: str, t_min: float, t_max: float,
                    nodes: int) -> Averaged:
    """`average` with the rule's own error estimate: |Q-node rule - 2Q-node rule| added to the
    engine's weighted per-node errors (of the 2Q-node rule, whose values are returned)."""
    a = average(m_tilde, Rule.make(kind, t_min, t_max, nodes))
    b = average(m_tilde, Rule.make(kind, t_min, t_max, 2 * nodes))
    rl = abs(a.loss - b.loss)
    rg = float(np.linalg.norm(a.grad - b.grad))
    return Averaged(b.loss, b.grad, b.loss_error + rl, b.grad_error + rg,
                    a.converged and b.converged, rl, rg)


def threshold(m_tilde: np.ndarray) -> float:
    """T2.1's level: log n + log M + 2, M the largest data-space distance to the truth."""
    m = np.asarray(m_tilde, dtype=float)
    return math.log(m.shape[0]) + math.log(float(np.linalg.norm(m, axis=1).max())) + 2.0


class AveragedSource(StepSource):
    """Gradients of L_avg for the suite's one GD loop (`Descent`): the engine's rules per node
    are kept across steps; an evaluation that misses its tolerance or is not finite stops the
    run (`status` says which)."""

    def __init__(self, rule: Rule, rules: list[Any] | None = None) -> None:
        self.rule = rule
        self.rules = [None] * len(rule.t) if rules is None else rules

    def evaluate(self, m: Any) -> Averaged | None:
        a = average(m, self.rule, self.rules)
        if not np.all(np.isfinite(a.grad)):
            self.status = NON_FINITE
            return None
        self.note(a.converged)
        return a if a.converged else None


def descend(m0: np.ndarray, rule: Rule, eta: float, steps: int, start: int = 0,
            rules: list[Any] | None = None, record_from: int = 0
            ) -> tuple[np.ndarray, list[tuple[int, np.ndarray, float]], bool]:
    """GD on the data-space means, m_tilde <- m_tilde - eta grad_{m_tilde} L_avg, from step
    `start` to `steps` (the one GD loop, `Descent`, on an `AveragedSource`); records (tau,
    means, L_avg) at every tau >= record_from. Returns (final means, records, all accurate)."""
    source = AveragedSource(rule, rules)
    descent = Descent(source, np.array(m0, dtype=float), float(eta), tau=start)
    out = descent.run(steps, range(max(start, record_from), steps + 1))
    records = [(r.tau, np.array(r.m, dtype=float), float(r.point.loss)) for r in out]
    return descent.m, records, source.status == OK
