"""Arbitrary-precision population dynamics (mpmath + gmpy2) and certified enclosures
(python-flint arb) for exponentially small initialisations; see issue 3."""

from scoreclaims.highprec.certified import (
           Enclosure,
           SignChange,
           certify_sign,
           certify_sign_change,
           enclose,
)
from scoreclaims.highprec.dynamics import decimal_frame, run_gd
from scoreclaims.highprec.policy import required_dps, resolvable_in_float64
from scoreclaims.highprec.population import HPEvaluation, evaluate

__all__ = ["Enclosure", "HPEvaluation", "SignChange", "certify_sign", "decimal_frame",
           "certify_sign_change", "enclose", "evaluate", "required_dps", "resolvable_in_float64",
           "run_gd"]
