"""Synthetic claims for the sweep tests (importable by worker processes).

`run_sweep` is deterministic given its instance, uses BLAS in a thread-sensitive way (a long dot
product, whose last bits depend on the BLAS thread count) and splits into `task_map` chunks. An
instance can ask to raise or to kill its own process. With ``$SWEEP_LOG`` set, every
start and end of a run or chunk is appended to that file with the process id; ``$SWEEP_SLEEP``
slows every chunk down by that many seconds (for the kill test).
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import numpy as np
import pandas as pd

from scoreclaims.claims._run.parallel import task_map
from scoreclaims.claims.model import Claim, Domain, InstanceOutcome, Predicate

LOG_ENV = "SWEEP_LOG"
DOT_LENGTH = 200_003  # long enough for OpenBLAS to split the dot product between threads


def log(event: str) -> None:
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as stream:  # O_APPEND: one short write per line
            stream.write(f"{event} {os.getpid()}\n")


def chunk(item: tuple[int, int]) -> dict[str, Any]:
    """One sub-task: seeded matrix work and a long dot product."""
    seed, size = item
    log(f"chunk-start {seed}")
    time.sleep(float(os.environ.get("SWEEP_SLEEP", "0")))  # timing only, never the result
    if seed < 0:
        raise ArithmeticError(f"chunk {seed} asked to raise")
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((size, 4 * size))
    gram = a @ a.T / size
    v = rng.standard_normal(size)
    x = np.linalg.solve(gram + np.eye(size), v)
    u, w = rng.standard_normal(DOT_LENGTH), rng.standard_normal(DOT_LENGTH)
    return {"seed": seed, "solve": float(v @ x), "dot": float(u @ w)}


def run_sweep(instance: dict[str, Any], params: dict[str, Any]) -> InstanceOutcome:
    ident = int(instance["id"])
    log(f"start {ident}")
    if instance.get("raise"):
        raise ValueError(f"instance {ident} asked to raise")
    if instance.get("die"):
        os.kill(os.getpid(), signal.SIGKILL)
    seeds = [ident * 100 + k for k in range(params["chunks"])] + instance.get("extra_seeds", [])
    parts = task_map(chunk, [(s, params["size"]) for s in seeds], label=f"chunks of {ident}")
    frame = pd.DataFrame(parts)
    total = float(frame["dot"].sum() + frame["solve"].sum())
    log(f"end {ident}")
    return InstanceOutcome(metrics={"total": total, "dots": frame["dot"].tolist()},
                           trajectory=frame, data={"total": total})


def _finite(outcome: InstanceOutcome, params: dict[str, Any]) -> tuple[bool, str]:
    total = outcome.data["total"]
    return bool(np.isfinite(total)), f"total {total!r}"


def _negative(outcome: InstanceOutcome, params: dict[str, Any]) -> tuple[bool, str]:
    total = outcome.data["total"]
    return total < -1e300, f"total {total!r}"


def instances(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": i, **extra} for i in range(1, count + 1)]


SWEEP = Claim(
    id="S.sweep",
    paper_ref="synthetic",
    regime="any",
    statement_md="Every seeded sweep total is finite (derived).",
    hypotheses=Domain(description="id >= 1", contains=lambda i: i["id"] >= 1,
                      instances={"quick": instances(6), "full": instances(12)}),
    conclusions=(Predicate("finite", "the total is finite", _finite),),
    run=run_sweep,
    parameters={"chunks": 3, "size": 60},
)
# Same run and parameters: its instances are the claim's jobs, computed once for both.
SWEEP_FALSE = SWEEP.variant("negative", "Every total is below -1e300 (derived), which is false.",
                            conclusions=(Predicate("negative", "total < -1e300", _negative),))

CLAIMS = (SWEEP, SWEEP_FALSE)
