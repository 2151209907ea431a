"""Certified reference values for far-apart means (tests only): the loss and gradient of
n = 2 means [0, g] and n = 3 means [0, g, -1.1 g] on the line for gaps g from 10 to 90, where the
softmax transitions sit at g / 2 (and -0.55 g) in the Gaussian tail, up to and beyond float64's
underflow (the loss is about 1e-304 at g = 75 and below float64's smallest number from g = 78).

Computed by `scoreclaims.highprec.certified.enclose` (arb balls of relative radius 1e-16 on the
exact binary values of the means), independent of the float64 engine's cubature.
"""

from __future__ import annotations

import json
import sys
import time

import mpmath

GAPS = (10.0, 20.0, 30.0, 40.0, 50.0, 53.0, 55.0, 60.0, 65.0, 70.0, 72.0, 74.0, 75.0, 75.5,
        76.0, 76.5, 77.0, 78.0, 80.0, 90.0)


def configurations() -> list[list[list[float]]]:
    out = []
    for g in GAPS:
        out.append([[0.0], [g]])
        out.append([[0.0], [g], [-1.1 * g]])
    return out


def main() -> None:
    """python tests/far_tail_reference.py OUT.json (about five minutes on one core)."""
    from scoreclaims.highprec.certified import enclose

    rows = []
    for means in configurations():
        start = time.time()
        enc = enclose(means, digits=16)
        loss, grad = enc.midpoints()
        rows.append({"means": means, "certified": enc.certified,
                     "loss": mpmath.nstr(loss, 20), "gradient": [[mpmath.nstr(x, 20) for x in row]
                                                                 for row in grad],
                     "seconds": round(time.time() - start, 1)})
        print(means, enc.certified, rows[-1]["seconds"], flush=True)
    with open(sys.argv[1], "w") as fh:
        json.dump(rows, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
