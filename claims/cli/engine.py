"""`scoreclaims evaluate` and `scoreclaims run`: the float64 engine from the command line, and
with `--dps N` the arbitrary-precision one (`highprec`; numbers then travel as decimal strings,
means may be given as strings to carry more digits than a float), with `--certify` the certified
arb enclosures of `scoreclaims.highprec.certified`."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from scoreclaims.claims.cli.progress import Progress
from scoreclaims.claims.cli.terminal import sigterm_interrupts
from scoreclaims.verifiers import (
    CONVENTIONS,
    DEFAULT_TOL,
    DEFAULT_TOL_K3,
    INTERRUPTED,
    UsageError,
    as_means,
    as_noise_level,
    as_truth,
    atomic_path,
    check_writable,
    evaluate,
    run_gd,
    to_canonical,
)
from scoreclaims.verifiers.backend import BACKENDS, set_backend


def _json_arg(text: str, name: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{name} is not valid JSON ({exc.msg} at position {exc.pos})") from None


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


MAX_STEPS = 10**15  # far beyond any run's means; the step counter stays a 64-bit integer
MAX_DPS = 10_000  # an evaluation at 10,000 digits already takes minutes


def _positive_int(text: str, upper: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    if upper is not None and value > upper:
        raise argparse.ArgumentTypeError(f"must be <= {upper:.0e}, got {text}")
    return value


def _steps(text: str) -> int:
    return _positive_int(text, MAX_STEPS)


def _dps(text: str) -> int:
    return _positive_int(text, MAX_DPS)


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="the float64 engine's gradient descent: numpy, or jax (compiled "
                        "loops on the engine's frozen rules, the same checks at every step); "
                        "auto: jax where installed (default). A single evaluation and "
                        "arbitrary precision always run on numpy")




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


def _hp_problem(args: argparse.Namespace) -> tuple[object, object | None]:
    """Means and truth as parsed JSON with every number kept as its decimal string."""
    def parse(text: str, name: str) -> object:
        try:
            return json.loads(text, parse_float=str, parse_int=str)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{name} is not valid JSON ({exc.msg} at position {exc.pos})"
                             ) from None

    as_noise_level(args.t)
    means = parse(args.means, "--means")
    truth = None if args.truth is None else parse(args.truth, "--truth")
    return means, truth


def _hp_canonical(means: object, truth: object | None, t: float, dps: int | None
                  ) -> tuple[object, object]:
    """(canonical means e^{-t} (mu - truth), a bound on their rounding) from the inputs as
    given: exact rationals at t = 0 (each reader rounds them at its own precision and counts
    it), and for t > 0, where e^{-t} is irrational, mpf at `dps` digits (relative rounding
    below 8 units: the Fraction read, exp, the product)."""
    import mpmath

    from scoreclaims.highprec.policy import as_exact_means, to_mpf

    mu = as_exact_means(means, "--means")
    star = (np.zeros(mu.shape[1], dtype=object) if truth is None
            else as_exact_means([truth, truth], "--truth")[0])
    if len(star) != mu.shape[1]:
        raise UsageError(f"--truth must be a list of d = {mu.shape[1]} numbers")
    diff = mu - star
    if t == 0:
        return diff, 0
    with mpmath.workdps(dps):
        m = np.vectorize(to_mpf, otypes=[object])(diff) * mpmath.exp(-mpmath.mpf(t))
        big = max(abs(x) for x in m.reshape(-1))
        return m, big * mpmath.ldexp(1, 3 - mpmath.mp.prec)


def _hp_digits(means: object, truth: object | None, t: float, digits: int) -> int:
    """Digits for the canonical means at t > 0: `digits` of the evaluation beyond what the
    means' spread and size take (`policy.required_dps`), plus twice the guard."""
    import mpmath

    from scoreclaims.highprec.policy import GUARD_DIGITS, required_dps

    with mpmath.workdps(60):
        rough, _ = _hp_canonical(means, truth, t, 60)
    return required_dps(rough, digits) + 2 * GUARD_DIGITS


def _json_ready(x: object) -> object:
    """x with every non-finite float as None (NaN and Infinity are not JSON)."""
    if isinstance(x, dict):
        return {k: _json_ready(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_ready(v) for v in x]
    if isinstance(x, float | np.floating):
        return float(x) if math.isfinite(x) else None
    return x


def _print_json(result: dict) -> None:
    print(json.dumps(_json_ready(result), allow_nan=False))


def _problem_line(message: str) -> int:
    """One line on standard error; exit status 1 (a result that is not one)."""
    print(f"scoreclaims: {message}", file=sys.stderr)
    return 1


def _check_dps(dps: int | None) -> None:
    if dps is not None and dps < 15:
        raise UsageError(f"--dps must be >= 15, got {dps}")


class _RunProgress:
    """The progress line of `run` on a terminal (steps, rate, loss, time left); off a terminal,
    one line with the estimated time when a run is long."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.start = time.perf_counter()
        self.display = Progress(steps, delay=1.0)
        self.noted = False
        self.last = (0, self.start)

    def __enter__(self) -> _RunProgress:
        self.display.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.display.__exit__(*exc)

    def __call__(self, tau: int, point: object) -> None:
        now = time.perf_counter()
        elapsed = now - self.start
        rate = (tau - self.last[0]) / max(now - self.last[1], 1e-9)  # the latest chunk's
        self.last = (tau, now)
        left = (self.steps - tau) / rate if rate > 0 else math.inf
        loss = getattr(point, "loss", None)
        shown = "" if loss is None else f" · loss {float(loss):.4g}"
        self.display.update(f"{rate:,.0f} steps/s{shown} · about {_duration(left)} left",
                            done=tau)
        if not self.display.enabled and not self.noted and elapsed > 5 and left > 60:
            self.noted = True
            print(f"scoreclaims: {self.steps:,} steps at about {rate:,.0f} per second: about "
                  f"{_duration(left)} more (Ctrl-C keeps the rows computed so far)",
                  file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "an unknown time"
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.0f} s"


def _partial_path(out: str) -> Path:
    """Where an interrupted run's rows go: beside --out, named as partial (an earlier complete
    trajectory at --out is not overwritten by a partial one)."""
    p = Path(out)
    return p.with_name(f"{p.stem}.partial{p.suffix or '.csv'}")


def _write_trajectory(traj: object, frame: object, out: str, float_format: str | None) -> int:
    """Write the CSV (atomically); an interrupted run's to the partial path, exit 130."""
    interrupted = getattr(traj, "status", "") == INTERRUPTED
    path = _partial_path(out) if interrupted else Path(out)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format=float_format)  # type: ignore[attr-defined]
    if interrupted:
        last = int(frame["tau"].iloc[-1]) if len(frame) else 0  # type: ignore[index]
        print(f"scoreclaims: interrupted at tau {last} of {traj.steps}: the "  # type: ignore
              f"{len(frame)} rows computed so far are in {path} (partial)", file=sys.stderr)
        return 130
    return -1


def cmd_evaluate_hp(args: argparse.Namespace) -> int:
    import mpmath

    from scoreclaims.highprec.policy import GUARD_DIGITS, TARGET_DIGITS, to_decimal, verify_dps
    from scoreclaims.highprec.population import evaluate as evaluate_hp

    _check_dps(args.dps)
    means, truth = _hp_problem(args)
    work = None if args.t == 0 else verify_dps(
        args.dps if args.dps is not None else _hp_digits(means, truth, args.t, TARGET_DIGITS))
    m, _ = _hp_canonical(means, truth, args.t, work)  # rounding far below both passes'
    ev = evaluate_hp(m, dps=args.dps)
    digits = ev.dps
    with mpmath.workdps(ev.dps + GUARD_DIGITS):
        scale = mpmath.exp(-mpmath.mpf(args.t))  # d/dmu = e^{-t} d/dm
    with mpmath.workdps(ev.dps):
        grad = ev.grad * scale
        result = {
            "loss": to_decimal(ev.loss, digits),
            "gradient": [[to_decimal(x, digits) for x in row] for row in grad],
            "error_estimate": {"loss": to_decimal(ev.loss_error, 5),
                               "gradient": to_decimal(ev.grad_error * scale, 5),
                               "gradient_differences": to_decimal(ev.diff_error * scale, 5)},
            "converged": ev.converged, "dps": ev.dps, "method": ev.method,
            "verified_digits": ev.digits, "precise": ev.precise,
        }
    if args.json:
        _print_json(result)
    else:
        print(f"loss      {result['loss']}")
        print(f"gradient  (d loss / d means; {ev.dps} digits, {ev.method}, verified digits "
              f"{ev.digits:.1f})")
        for i, row in enumerate(result["gradient"]):
            print(f"  mean {i}: " + "  ".join(row))
    if not ev.precise:
        return _problem_line("warning: the evaluation is not precise to the target digits; see "
                             "the error estimates")
    return 0


def cmd_certify(args: argparse.Namespace) -> int:
    import flint

    from scoreclaims.highprec.certified import DEFAULT_DIGITS, enclose

    means, truth = _hp_problem(args)
    # The balls hold for the means as given: exact rationals at t = 0; at t > 0 the canonical
    # means carry their rounding (40 digits beyond the certificate's) as the balls' radius.
    work = None if args.t == 0 else _hp_digits(means, truth, args.t, DEFAULT_DIGITS + 40)
    m, rounding = _hp_canonical(means, truth, args.t, work)
    enc = enclose(m, radius=rounding)
    old = flint.ctx.prec
    flint.ctx.prec = enc.prec
    try:
        grad = enc.grad * (-flint.arb(args.t)).exp()  # d/dmu = e^{-t} d/dm, as a ball
        loss, rows = enc.loss.str(30, radius=True), [[x.str(30, radius=True) for x in r]
                                                      for r in grad]
        signs = [[1 if x > 0 else -1 if x < 0 else 0 for x in r] for r in grad]
    finally:
        flint.ctx.prec = old
    result = {"loss": loss, "gradient": rows, "gradient_sign": signs,
              "certified": enc.certified, "digits": enc.digits}
    if args.json:
        _print_json(result)
    else:
        print(f"loss      {loss}")
        print("gradient  (d loss / d means; certified balls, sign)")
        for i, row in enumerate(rows):
            print(f"  mean {i}: " + "  ".join(f"{x} ({s:+d})" for x, s in
                                              zip(row, signs[i], strict=True)))
    if not enc.certified:
        return _problem_line(f"warning: not every ball reached relative radius "
                             f"1e-{enc.digits}; see the radii")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.certify:
        return cmd_certify(args)
    if args.dps is not None:
        return cmd_evaluate_hp(args)
    means, truth, t = _problem(args)
    set_backend(args.backend)  # a single evaluation is the numpy engine's on either backend
    ev = evaluate(to_canonical(means, truth, t), tol=args.tol)
    scale = math.exp(-t)  # gradient with respect to the means as given
    grad = scale * ev.grad
    result = {
        "loss": ev.loss,
        "gradient": grad.tolist(),
        "error_estimate": {"loss": ev.loss_error, "gradient": scale * ev.grad_error},
        "converged": bool(ev.converged),
    }
    if args.json:
        _print_json(result)
    else:
        print(f"loss      {ev.loss:.17g}  (error estimate {ev.loss_error:.2g})")
        print(f"gradient  (d loss / d means; error estimate {scale * ev.grad_error:.2g} in norm)")
        for i, row in enumerate(grad):
            print(f"  mean {i}: " + "  ".join(f"{x: .17g}" for x in row))
    finite = (math.isfinite(ev.loss) and bool(np.all(np.isfinite(grad)))
              and math.isfinite(ev.loss_error) and math.isfinite(ev.grad_error))
    if not finite:
        return _problem_line("error: the result is non-finite (not a number to use)")
    if not ev.converged:
        return _problem_line("warning: the cubature did not reach its tolerance (far tails near "
                             "float64's underflow, or a reduction it cannot resolve); see the "
                             "error estimates")
    return 0


def cmd_run_hp(args: argparse.Namespace) -> int:
    from scoreclaims.highprec.dynamics import decimal_frame
    from scoreclaims.highprec.dynamics import run_gd as run_gd_hp

    _check_dps(args.dps)
    means, truth = _hp_problem(args)
    check_writable(args.out)
    check_writable(_partial_path(args.out))
    with sigterm_interrupts(), _RunProgress(args.steps) as progress:
        traj = run_gd_hp(means, str(args.eta), args.steps, truth=truth, t=str(args.t),
                         convention=args.convention, stride=args.stride, dps=args.dps,
                         handover=not args.no_handover, tol=args.tol, progress=progress,
                         interruptible=True)
    frame = decimal_frame(traj)
    code = _write_trajectory(traj, frame, args.out, None)
    if code >= 0:
        return code
    last = traj.frame.iloc[-1]
    hand = "" if traj.handover_tau is None else f", float64 from tau {traj.handover_tau}"
    print(f"{len(frame)} rows to {args.out}; tau {int(last['tau'])}: "
          f"loss {float(last['loss']):.6g}, status {traj.status} ({traj.dps} digits{hand})")
    return _run_status(traj.status, int(last["tau"]), args.out)


def cmd_run(args: argparse.Namespace) -> int:
    if args.no_handover and args.dps is None:
        raise UsageError("--no-handover applies to --dps runs (float64 runs have nothing to "
                         "hand over)")
    if args.dps is not None:
        return cmd_run_hp(args)
    means, truth, t = _problem(args)
    set_backend(args.backend)
    check_writable(args.out)
    check_writable(_partial_path(args.out))
    # A run that blows up overflows in the step and the recorded norms; its status says so.
    with (np.errstate(over="ignore", invalid="ignore"), sigterm_interrupts(),
          _RunProgress(args.steps) as progress):
        traj = run_gd(means, args.eta, args.steps, truth=truth, t=t, convention=args.convention,
                      stride=args.stride, tol=args.tol, progress=progress, interruptible=True)
    code = _write_trajectory(traj, traj.frame, args.out, "%.17g")
    if code >= 0:
        return code
    last = traj.frame.iloc[-1]
    print(f"{len(traj.frame)} rows to {args.out}; tau {int(last['tau'])}: loss {last['loss']:.6g}, "
          f"status {traj.status}")
    return _run_status(traj.status, int(last["tau"]), args.out)


def _run_status(status: str, tau: int, out: str) -> int:
    """0 for a run whose status is "ok", else one line on standard error and 1."""
    if status == "ok":
        return 0
    if status == "non-finite":
        return _problem_line(f"error: the run became non-finite and stopped (last recorded "
                             f"tau {tau} in {out})")
    return _problem_line(f"warning: run status {status}: some evaluation missed its tolerance "
                         f"or precision; see the error columns of {out}")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="population loss and gradient, with error estimates",
                       description="Exact population score-matching loss and its gradient with "
                       "respect to the given means, with error estimates.")
    _add_problem_args(p)
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: loss, gradient, error_estimate, converged")
    p.add_argument("--dps", type=_dps, default=None,
                   help="evaluate in arbitrary precision with N decimal digits (15 to 10,000; "
                   "highprec); "
                   "numbers are printed as decimal strings; exit 1 if not precise")
    p.add_argument("--certify", action="store_true",
                   help="print certified enclosures (arb balls) of the loss and gradient; "
                   "needs collinear means (d = 1 or along an axis)")
    add_backend_option(p)
    p.set_defaults(func=cmd_evaluate)

    r = sub.add_parser("run", help="gradient descent, trajectory to CSV",
                       description="Gradient descent on the exact population loss; writes the "
                       "trajectory (tau, loss, error estimates, every mean, distances to the "
                       "truth) at every stride-th step and every power of two. Exit 1 if the "
                       "run went non-finite or a cubature missed its tolerance.")
    _add_problem_args(r)
    r.add_argument("--eta", type=_positive_float, required=True, help="step size > 0")
    r.add_argument("--steps", type=_steps, required=True,
                   help="number of GD steps, 1 to 1e15; on a terminal a progress line shows "
                   "the rate and the time left, and Ctrl-C writes the rows computed so far to "
                   "OUT's .partial file (exit 130)")
    r.add_argument("--stride", type=_positive_int, default=None,
                   help="also record every K-th step (powers of two are always recorded)")
    r.add_argument("--convention", choices=CONVENTIONS, default="canonical",
                   help="canonical: step eta on m = e^{-t}(mu - truth) (default); "
                   "data: step eta on the data-space means (eta e^{-2t} in m)")
    r.add_argument("--out", required=True, help="trajectory CSV (written atomically)")
    r.add_argument("--dps", type=_dps, default=None,
                   help="run in arbitrary precision from N decimal digits (15 to 10,000; "
                   "highprec; the CSV "
                   "then holds decimal strings and an engine column)")
    r.add_argument("--no-handover", action="store_true",
                   help="with --dps: stay in arbitrary precision even when float64 resolves "
                   "the means")
    add_backend_option(r)
    r.set_defaults(func=cmd_run)
