"""The float64 engine: the exact population loss and gradient with error estimates, gradient
descent on them, and rate fits. It imports nothing else of the package.

The names below are the engine's public API; claim code uses these and nothing deeper (the
modules beneath are the engine's own business and may change):

* evaluation: `evaluate` -> `Evaluation` (loss, gradient, their error bounds, the rule to reuse),
  `mean_error_bounds` (each mean's gradient error), `default_tol`, `radial_components` /
  `radial_signs` (each mean's radial gradient with its own error bound), `em_terms` /
  `stein_gradient` (Lemma 2.2's terms);
* dynamics: `run_gd`, `run_gd_batch`, `run_gd_mc`, the one loop `Descent` and its sources
  (`EngineSource`, `LineBatchSource`, `MonteCarloSource`), `Trajectory`, the run statuses;
* rates: `fit_rates` -> `RateFit`, and the model names; `fit_power` (one power law's least
  squares with its t-interval);
* coordinates: `as_means`, `as_truth`, `as_noise_level`, `to_canonical`, `from_canonical`;
* utilities for every layer: `UsageError` (a bad input: one line, exit 2), atomic writes.
"""

from scoreclaims.verifiers.atomic import atomic_path, check_writable, write_text_atomic
from scoreclaims.verifiers.batch import LineBatchSource, run_gd_batch
from scoreclaims.verifiers.dynamics import (
    CONVENTIONS,
    IMPRECISE,
    INACCURATE,
    INTERRUPTED,
    NON_FINITE,
    OK,
    OUT_OF_BUDGET,
    Descent,
    EngineSource,
    Record,
    Source,
    StepSource,
    Trajectory,
    record_taus,
    run_gd,
)
from scoreclaims.verifiers.errors import UsageError
from scoreclaims.verifiers.geometry import (
    as_means,
    as_noise_level,
    as_truth,
    from_canonical,
    to_canonical,
)
from scoreclaims.verifiers.monte_carlo import BATCH, MonteCarloSource, mc_estimate, run_gd_mc
from scoreclaims.verifiers.population import (
    DEFAULT_TOL,
    DEFAULT_TOL_K3,
    Evaluation,
    default_tol,
    evaluate,
    mean_error_bounds,
)
from scoreclaims.verifiers.radial import (
    AWAY,
    TOWARD,
    UNRESOLVED,
    RadialSign,
    radial_components,
    radial_signs,
)
from scoreclaims.verifiers.rates import (
    GEOMETRIC,
    POWER,
    POWER_LOG,
    UNDECIDED,
    RateFit,
    fit_power,
    fit_rates,
)
from scoreclaims.verifiers.stein import em_terms, stein_gradient

__all__ = [
    "AWAY", "BATCH", "CONVENTIONS", "DEFAULT_TOL", "DEFAULT_TOL_K3", "GEOMETRIC", "IMPRECISE",
    "INACCURATE", "INTERRUPTED", "NON_FINITE", "OK", "OUT_OF_BUDGET", "POWER", "POWER_LOG",
    "TOWARD", "UNDECIDED", "UNRESOLVED", "Descent", "EngineSource", "Evaluation",
    "LineBatchSource",
    "MonteCarloSource", "RadialSign", "RateFit", "Record", "Source", "StepSource", "Trajectory",
    "UsageError", "as_means", "as_noise_level", "as_truth", "atomic_path", "check_writable",
    "default_tol", "em_terms", "evaluate", "fit_power", "fit_rates", "from_canonical",
    "mc_estimate", "mean_error_bounds",
    "radial_components", "radial_signs", "record_taus", "run_gd", "run_gd_batch", "run_gd_mc",
    "stein_gradient", "to_canonical", "write_text_atomic",
]
