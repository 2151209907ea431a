"""GD steps per second of `highprec` (n = 2 and n = 3, d = 1) at 30, 100 and 1,000 digits, with
mpmath's gmpy2 backend and without it (a subprocess with MPMATH_NOGMPY=1: the backend is chosen at
import), and the certified python-flint enclosure time.

Each setting starts from means spread 10^-(dps - 27) around a centre at distance 2 from the truth
(the smallest spread the precision policy accepts at that many digits for a 15-digit target) and
runs GD with step 0.1 at that fixed precision, verifying at the recorded steps (0 and powers of
two) as `run_gd` does.
`python -m benchmarks.highprec [--seconds S]`. Single-threaded; figures depend on machine load."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import mpmath

DIGITS = (30, 100, 1000)
TARGET = 15


def means_for(n: int, dps: int) -> list[list[str]]:
    with mpmath.workdps(dps + 10):
        spread = mpmath.mpf(10) ** -(dps - 27)
        return [[mpmath.nstr(2 + i * spread, dps + 5)] for i in range(n)]


def measure(seconds: float) -> dict:
    from scoreclaims.highprec.dynamics import run_gd

    out = {"backend": mpmath.libmp.BACKEND}
    for n in (2, 3):
        for dps in DIGITS:
            means = means_for(n, dps)
            run_gd(means, 0.1, 2, dps=dps, digits=TARGET)  # rules cached, imports done
            steps, elapsed = 4, 0.0
            while True:
                t0 = time.perf_counter()
                traj = run_gd(means, 0.1, steps, dps=dps, digits=TARGET, handover=False)
                elapsed = time.perf_counter() - t0
                if elapsed > seconds or steps >= 4096:
                    break
                steps *= 2
            assert traj.status == "ok", traj.status
            out[f"n={n} dps={dps}"] = steps / elapsed
    return out


def certified() -> dict:
    from scoreclaims.highprec.certified import enclose

    out = {}
    for label, m in (("n=2 [[0.3],[1.1]]", [[0.3], [1.1]]),
                     ("n=3 [[0.5],[-0.2],[0.9]]", [[0.5], [-0.2], [0.9]]),
                     ("n=2 clustered 1e-33 at 2", means_for(2, 60))):
        t0 = time.perf_counter()
        enc = enclose(m)
        out[label] = (time.perf_counter() - t0, enc.certified)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per setting")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.seconds)))
        return
    with_gmpy = measure(args.seconds)
    env = dict(os.environ, MPMATH_NOGMPY="1")
    proc = subprocess.run([sys.executable, "-m", "benchmarks.highprec", "--child", "--seconds",
                           str(args.seconds)], env=env, capture_output=True, text=True,
                          check=True)
    without = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"GD steps/s (mpmath backend: {with_gmpy['backend']} | {without['backend']})")
    print(f"{'setting':<16}{'gmpy2':>12}{'python':>12}")
    for key in with_gmpy:
        if key != "backend":
            print(f"{key:<16}{with_gmpy[key]:>12.1f}{without[key]:>12.1f}")
    print("certified enclosures (python-flint arb, 25 digits): seconds, certified")
    for label, (sec, ok) in certified().items():
        print(f"  {label:<28}{sec:8.2f}  {ok}")


if __name__ == "__main__":
    main()
