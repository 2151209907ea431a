"""Radial signs certified where float64 cannot resolve them: `verifiers.radial.radial_signs`
plus, for the means asked for whose float64 sign is unresolved (a component below float64's
range, or below its error bound), an arb enclosure of the radial component
(`certified.enclose_mean_gradient`; collinear means: rotate to d = 1 otherwise)."""

from __future__ import annotations

import numpy as np

from scoreclaims.highprec.certified import enclose_mean_gradient
from scoreclaims.verifiers.radial import AWAY, TOL, TOWARD, UNRESOLVED, RadialSign
from scoreclaims.verifiers.radial import radial_signs as float64_signs


def radial_signs(m: np.ndarray, certify: tuple[int, ...] = (), tol: float = TOL
                 ) -> list[RadialSign]:
    """The radial sign of every mean; those in `certify` left unresolved in float64 are
    certified (method "arb"), or stay unresolved when the enclosure contains 0."""
    m = np.asarray(m, dtype=float)
    out = float64_signs(m, tol)
    for i in range(len(out)):
        twin = next((j for j in range(i) if np.array_equal(m[j], m[i])), None)
        if twin is not None:  # identical means receive identical gradients (exactly)
            out[i] = out[twin]
        elif i in certify and out[i].sign == UNRESOLVED:
            _, radial, _ = enclose_mean_gradient(m.tolist(), i)
            sign = AWAY if radial < 0 else TOWARD if radial > 0 else UNRESOLVED
            out[i] = RadialSign(sign, out[i].value, out[i].error, "arb")
    return out
