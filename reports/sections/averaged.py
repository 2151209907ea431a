"""Report additions for claim AVG (the time-averaged loss, issue 27 question 2): the phase
diagram in (t_min, t_max) per n and M_0, and the loss-rate diagnostic. Reads only the claim's
entry of the results JSON (the summary metrics)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scoreclaims.reports.figures import legend_below, new_figure, styled
from scoreclaims.reports.hooks import ClaimContext, ClaimHooks
from scoreclaims.reports.markdown import fmt, table


def _phase(claim: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(((claim.get("metrics") or {}).get("phase") or {}).values())


@styled
def _phase_figure(rows: Sequence[Mapping[str, Any]]) -> Any:
    cells = sorted({(r["M0"], r["n"]) for r in rows})
    cols = min(3, len(cells))
    nrows = -(-len(cells) // cols)
    fig, axes = new_figure(3.6 * cols, 3.4 * nrows, rows=nrows, cols=cols, squeeze=False)
    flat = [ax for line in axes for ax in line]
    for ax in flat[len(cells):]:
        fig.delaxes(ax)
    marks = {"all": ("o", "tab:green", "every seed: all means converge"),
             "some": ("x", "tab:red", "a mean diverges (some seed)"),
             "open": ("s", "0.6", "every seed undecided"),
             "mixed": ("^", "tab:orange", "converging or undecided seeds")}
    for ax, (m0, n) in zip(flat, cells, strict=False):
        cell = [r for r in rows if r["n"] == n and r["M0"] == m0]
        used = set()
        for r in cell:
            if r["all_converge"] == r["seeds"]:
                key = "all"
            elif r["some_diverge"]:
                key = "some"
            elif r["undecided"] == r["seeds"]:
                key = "open"
            else:
                key = "mixed"
            mk, col, lab = marks[key]
            ax.scatter([r["t_min"]], [r["t_max"]], marker=mk, color=col, s=60,
                       label=None if key in used else lab)
            used.add(key)
            if r["above_threshold"] == r["seeds"]:
                ax.annotate("above", (r["t_min"], r["t_max"]), fontsize=6,
                            xytext=(4, 4), textcoords="offset points")
        tmins = [r["t_min"] for r in cell]
        tmaxs = [r["t_max"] for r in cell]
        ax.set(xlim=(min(tmins) - 0.25, max(tmins) + 0.25),
               ylim=(min(tmaxs) - 0.5, max(tmaxs) + 0.5), xlabel="t_min",
               ylabel="t_max", title=f"n = {n}, M_0 = {fmt(m0)}")
        legend_below(ax, fontsize=7)
    fig.suptitle("Averaged loss: outcome of GD from T3.5's far starts in (t_min, t_max)")
    fig.subplots_adjust(top=0.9, hspace=1.0, wspace=0.35)
    return fig


def key_figures(claim: Mapping[str, Any]) -> str:
    rows = _phase(claim)
    if not rows:
        return "–"
    seeds = sum(r["seeds"] for r in rows)
    return (f"{sum(r['all_converge'] for r in rows)} of {seeds} seeds all converge, "
            f"{sum(r['some_diverge'] for r in rows)} with a diverging mean, "
            f"{sum(r['undecided'] for r in rows)} undecided")


def _rule_agreement(claim: Mapping[str, Any]) -> tuple[int, int, int]:
    """(agree, disagree, undecided) of the n = 2 capture rule against GD, seeds inside."""
    agree = disagree = undecided = 0
    for e in claim.get("instances") or []:
        if not e.get("in_hypotheses"):
            continue
        for r in (e.get("metrics") or {}).get("runs") or []:
            if "rule_all_converge" not in r:
                continue
            if not r.get("decided"):
                undecided += 1
            elif bool(r.get("all_converge")) == bool(r["rule_all_converge"]):
                agree += 1
            else:
                disagree += 1
    return agree, disagree, undecided


def findings(claim: Mapping[str, Any]) -> Sequence[str]:
    rows = _phase(claim)
    out = []
    agree, disagree, undecided = _rule_agreement(claim)
    if agree + disagree + undecided:
        out.append(f"the capture rule (n = 2: every mean converges iff the farther one starts "
                   f"within R*_avg(t_min, t_max), derived) agrees with GD on {agree} of "
                   f"{agree + disagree} decided seeds inside ({undecided} undecided at the "
                   f"horizon); as R*_avg(0, T) grows only like sqrt(T) (derived; R*_avg(t_min, "
                   f"t_max) = e^t_min R*_avg(0, t_max - t_min)) while the threshold admits M "
                   f"up to e^(t_max - 2) / n, t_max above T2.1's threshold does not make "
                   f"convergence global.")
    above = [r for r in rows if r["some_diverge"] and r["above_threshold"]]
    if above:
        out.append("above T2.1's threshold a mean still diverges at "
                   + ", ".join(f"n = {r['n']}, M_0 = {fmt(r['M0'])}, t = [{fmt(r['t_min'])}, "
                               f"{fmt(r['t_max'])}]" for r in above) + ".")
    rates = (claim.get("metrics") or {}).get("rate_diagnostic") or []
    if rates:
        exps = [r["exponent"] for r in rates]
        out.append(f"diagnostic: loss exponent over [T/2, T] on converging runs "
                   f"{fmt(min(exps), 3)} to {fmt(max(exps), 3)} ({len(rates)} runs).")
    return out


def section(ctx: ClaimContext) -> str:
    rows = _phase(ctx.claim)
    if not rows:
        return ""
    parts = ["### Phase diagram in (t_min, t_max)"]
    parts.append(ctx.figure_once(
        "phase", ["avg-phase", [(r["n"], r["M0"], r["t_min"], r["t_max"], r["all_converge"],
                                 r["some_diverge"], r["undecided"]) for r in rows]],
        lambda: _phase_figure(rows), "averaged loss phase diagram",
        "*Per window [t_min, t_max] (uniform weight, 2 seeds a cell, horizon 2^11 steps): "
        "green, every seed has all means converging; red, a seed has a diverging mean; orange, "
        "seeds converging or undecided; grey, every seed undecided. 'above': every seed's "
        "t_max exceeds T2.1's threshold log n + log M + 2.*"))
    parts.append(table(
        ["n", "M_0", "t_min", "t_max", "all converge", "a mean diverges", "undecided",
         "above threshold", "R*_avg (n = 2 rule)"],
        [[r["n"], fmt(r["M0"]), fmt(r["t_min"]), fmt(r["t_max"]), r["all_converge"],
          r["some_diverge"], r["undecided"], f"{r['above_threshold']} / {r['seeds']}",
          fmt(r["capture_radius_n2"], 4)] for r in rows], align="rrrrrrrrr"))
    rates = (ctx.claim.get("metrics") or {}).get("rate_diagnostic") or []
    if rates:
        parts.append("### Loss rate along converging runs (diagnostic)")
        parts.append(table(["window", "seed", "tau", "exponent [95%]", "final L_avg"],
                           [[r["key"], r["seed"], r["tau"],
                             f"{fmt(r['exponent'], 3)} [{fmt(r['ci'][0], 3)}, "
                             f"{fmt(r['ci'][1], 3)}]", fmt(r["final_loss"], 3)]
                            for r in rates], align="lrrll"))
    return "\n\n".join(parts)


def stationary_findings(claim: Mapping[str, Any]) -> Sequence[str]:
    """AVG.stationary: does T3.1's stationary point survive averaging, window by window."""
    fams = [e for e in claim.get("instances") or []
            if e.get("in_hypotheses") and (e.get("metrics") or {}).get("kind") == "family"]
    if not fams:
        return []
    changed = [e for e in fams if (e.get("predicates") or {}).get("sign_change", {}).get("holds")]
    roots = [e for e in fams if (e.get("predicates") or {}).get("identity_root", {}).get("holds")]
    brackets = [e["metrics"]["bracket"] for e in changed if e["metrics"].get("bracket")]
    where = (f", s* between {fmt(min(b[0] for b in brackets), 4)} and "
             f"{fmt(max(b[1] for b in brackets), 4)}" if brackets else "")
    return [f"T3.1's stationary point survives averaging over t: dL_avg/ds changes sign (+ to -, "
            f"resolved by the error estimate) in {len(changed)} of {len(fams)} windows and "
            f"weights{where}, the ray identity's root inside the bracket in {len(roots)} of "
            f"{len(fams)}."]


HOOKS = {
    "AVG": ClaimHooks(key_figures=key_figures, findings=findings, section=section),
    "AVG.stationary": ClaimHooks(findings=stationary_findings),
    "AVG~global-above-threshold": ClaimHooks(),
    "AVG~below-threshold": ClaimHooks(),
    "AVG.stationary~removed-by-averaging": ClaimHooks(),
}
