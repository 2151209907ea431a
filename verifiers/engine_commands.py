"""`scoreclaims evaluate` and `scoreclaims run`: the float64 engine from the command line."""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from verifiers.atomic import atomic_path, check_writable
from verifiers.dynamics import CONVENTIONS, run_gd
from verifiers.errors import UsageError
from verifiers.geometry import as_means, as_noise_level, as_truth, to_canonical
from verifiers.population import DEFAULT_TOL, DEFAULT_TOL_K3, evaluate


def _json_arg(text: str, name: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{name} is not valid JSON ({exc.msg} at position {exc.pos})") from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text}")
    return value


def _add_problem_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--means", required=True,
                   help="JSON list of n >= 2 means, each a list of d numbers: '[[0.0],[14.0]]'")
    p.add_argument("--truth", help="JSON list of d numbers, the data mean (default: the origin)")
    p.add_argument("--t", type=_finite_float, default=0.0,
                   help="noise level t >= 0 (default 0: canonical coordinates)")
    p.add_argument("--tol", type=_positive_float, default=None,
                   help=f"relative tolerance of the cubature (default {DEFAULT_TOL:g}, or "
                   f"{DEFAULT_TOL_K3:g} when the means span 3 dimensions)")


def _problem(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, float]:
    means = as_means(_json_arg(args.means, "--means"), name="--means")
    truth = as_truth(None if args.truth is None else _json_arg(args.truth, "--truth"),
                     means.shape[1])
    return means, truth, as_noise_level(args.t)


def cmd_evaluate(args: argparse.Namespace) -> int:
    means, truth, t = _problem(args)
    ev = evaluate(to_canonical(means, truth, t), tol=args.tol)
    scale = math.exp(-t)  # gradient with respect to the means as given
    grad = scale * ev.grad
    result = {
        "loss": ev.loss,
        "gradient": grad.tolist(),
        "error_estimate": {"loss": ev.loss_error, "gradient": scale * ev.grad_error},
        "converged": ev.converged,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"loss      {ev.loss:.17g}  (error estimate {ev.loss_error:.2g})")
        print(f"gradient  (d loss / d means; error estimate {scale * ev.grad_error:.2g} in norm)")
        for i, row in enumerate(grad):
            print(f"  mean {i}: " + "  ".join(f"{x: .17g}" for x in row))
        if not ev.converged:
            print("warning: the cubature did not reach its tolerance; see the error estimates",
                  file=sys.stderr)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    means, truth, t = _problem(args)
    check_writable(args.out)
    traj = run_gd(means, args.eta, args.steps, truth=truth, t=t, convention=args.convention,
                  stride=args.stride, tol=args.tol)
    with atomic_path(args.out) as tmp:
        traj.frame.to_csv(tmp, index=False, float_format="%.17g")
    last = traj.frame.iloc[-1]
    print(f"{len(traj.frame)} rows to {args.out}; tau {int(last['tau'])}: loss {last['loss']:.6g}, "
          f"status {traj.status}")
    return 0 if traj.status == "ok" else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="population loss and gradient, with error estimates",
                       description="Exact population score-matching loss and its gradient with "
                       "respect to the given means, with error estimates.")
    _add_problem_args(p)
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: loss, gradient, error_estimate, converged")
    p.set_defaults(func=cmd_evaluate)

    r = sub.add_parser("run", help="gradient descent, trajectory to CSV",
                       description="Gradient descent on the exact population loss; writes the "
                       "trajectory (tau, loss, error estimates, every mean, distances to the "
                       "truth) at every stride-th step and every power of two. Exit 1 if the "
                       "run went non-finite or a cubature missed its tolerance.")
    _add_problem_args(r)
    r.add_argument("--eta", type=_positive_float, required=True, help="step size > 0")
    r.add_argument("--steps", type=_positive_int, required=True, help="number of GD steps >= 1")
    r.add_argument("--stride", type=_positive_int, default=None,
                   help="also record every K-th step (powers of two are always recorded)")
    r.add_argument("--convention", choices=CONVENTIONS, default="canonical",
                   help="canonical: step eta on m = e^{-t}(mu - truth) (default); "
                   "data: step eta on the data-space means (eta e^{-2t} in m)")
    r.add_argument("--out", required=True, help="trajectory CSV (written atomically)")
    r.set_defaults(func=cmd_run)
