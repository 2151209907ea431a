"""The leading-order law of T2.1's large-noise dynamics, for any n and d (derived here; the T2.1
runs measure how well it holds).

Canonical coordinates (truth 0): m_j = c + delta_j with c the centre (sum_j delta_j = 0) and the
scatter S = sum_j delta_j delta_j^T. For small means, with c = 0, the student's score gap is
S x / n plus terms even in x, so L = tr(S^2) / n^2 + O(|delta|^6) (the cross term is odd in x)
and grad_{m_j} L = (4 / n^2) S delta_j. GD maps delta_j -> (I - a S) delta_j, a = 4 eta / n^2,
so each eigenvalue of S goes lambda^-1 -> lambda^-1 + 2 a + 3 a^2 lambda + O(|delta|^2): to
leading order

    delta_j(tau) = (I + (8 eta tau / n^2) S0)^(-1/2) delta_j(0),

while the centre contracts like (1 - 2 eta / n)^tau (the collapsed gradient is (2/n) c). As tau
grows, |delta_j|^2 -> n^2 h_j / (8 eta tau), with h_j = delta_j(0)^T S0^+ delta_j(0) the leverage
of mean j (the h_j sum to rank S0), and L -> rank(S0) n^2 / (64 eta^2 tau^2). For n = 2 (h = 1/2)
this is r^-2 = r0^-2 + 4 eta tau, whose next order `claims.paper.large_noise.on_clock` adds.

The clocks: tau' at which the asymptotic power law gives the leading law's value, for the
largest distance and for the loss. They are deterministic functions of the start (nothing is
fitted), tau' - tau tends to a constant, and on tau' the leading law is an exact power: fitted on
tau', the exponents keep no algebraic transient of the law.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RANK_RTOL = 1e-12  # eigenvalues of S0 below this times the largest count as zero, and no
# spread at all below this relative to the means' size (coinciding means, to rounding)


@dataclass(frozen=True)
class SpreadLaw:
    """The law from a canonical start: centre `c0` (d,) and deviations `dev` (n, d) in the
    eigenbasis of S0, eigenvalues `lam` (d,), step `eta` (canonical)."""

    c0: np.ndarray
    dev: np.ndarray
    lam: np.ndarray
    eta: float

    @property
    def n(self) -> int:
        return self.dev.shape[0]

    @property
    def rank(self) -> int:
        return int(np.sum(self.lam > 0))

    @property
    def leverage(self) -> np.ndarray:
        """h_j = delta_j^T S0^+ delta_j (n,)."""
        live = self.lam > 0
        return np.sum(self.dev[:, live] ** 2 / self.lam[live], axis=1)

    def _factors(self, tau: np.ndarray) -> np.ndarray:
        """(T, d) the eigen-directions' factors (1 + 8 eta tau lambda / n^2)^-1/2."""
        return 1.0 / np.sqrt(1.0 + (8.0 * self.eta / self.n**2) * np.outer(tau, self.lam))

    def _centre(self, tau: np.ndarray) -> np.ndarray:
        return np.power(1.0 - 2.0 * self.eta / self.n, tau)

    def distance(self, tau: np.ndarray, centre: bool = True) -> np.ndarray:
        """The largest distance to the truth at each tau (T,); without the `centre`, the
        largest distance to the centre."""
        tau = np.asarray(tau, dtype=float)
        means = self._factors(tau)[:, None, :] * self.dev  # (T, n, d)
        if centre:
            means = means + self._centre(tau)[:, None, None] * self.c0
        return np.linalg.norm(means, axis=2).max(axis=1)

    def loss(self, tau: np.ndarray, centre: bool = True) -> np.ndarray:
        """|c(tau)|^2 (with the `centre`) + tr(S(tau)^2) / n^2 at each tau (T,)."""
        tau = np.asarray(tau, dtype=float)
        lam_t = self.lam * self._factors(tau) ** 2
        spread = np.sum(lam_t**2, axis=1) / self.n**2
        return spread + self._centre(tau) ** 2 * float(self.c0 @ self.c0) if centre else spread

    # The clocks leave the centre out: its geometric decay is over long before the power law
    # (n / (2 eta) steps), and with it the largest distance need not be monotone early on.
    def distance_clock(self, tau: np.ndarray) -> np.ndarray:
        """tau' with n^2 max_j h_j / (8 eta tau') = distance(tau, centre=False)^2."""
        h = float(self.leverage.max())
        return self.n**2 * h / (8.0 * self.eta * self.distance(tau, centre=False) ** 2)

    def loss_clock(self, tau: np.ndarray) -> np.ndarray:
        """tau' with rank n^2 / (64 eta^2 tau'^2) = loss(tau, centre=False)."""
        return self.n * math.sqrt(self.rank) / (8.0 * self.eta
                                                 * np.sqrt(self.loss(tau, centre=False)))


def spread_law(canonical_means: np.ndarray, eta: float) -> SpreadLaw | None:
    """The law from canonical means (n, d) and the canonical step; None when the means coincide
    to rounding (no spread: the collapsed dynamics are geometric, there is no power law)."""
    m = np.asarray(canonical_means, dtype=float)
    c0 = m.mean(axis=0)
    dev = m - c0
    lam, vec = np.linalg.eigh(dev.T @ dev)
    if lam[-1] <= len(m) * (RANK_RTOL * float(np.max(np.abs(m)))) ** 2:
        return None
    lam = np.where(lam > RANK_RTOL * lam[-1], lam, 0.0)
    return SpreadLaw(c0 @ vec, dev @ vec, lam, float(eta))
