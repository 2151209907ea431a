"""Report additions for T3.1 (issue 7): the stationary points of the family, their certificates
and spectra, GD next to them, and the census of stationary points beyond the paper.

Reads only the claim's entry of the results JSON (metrics of the family and census instances).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scoreclaims.reports.figures import color, legend_below, legend_outside, new_figure, styled
from scoreclaims.reports.hooks import ClaimContext, ClaimHooks
from scoreclaims.reports.markdown import fmt, table

CONVERGED_BELOW = 1.0  # in the GD figure, means ending below this are the converging ones
FLOOR = 1e-12  # distances below are drawn at this value (log axis)

SYMMETRY_MD = (
    "Symmetry argument (derived). L is invariant under permutations of the means and under any "
    "orthogonal map applied to all of them. At m = (s e_1, -s e_1, 0, ..., 0) the reflection "
    "x_1 -> -x_1 maps the configuration to itself with m_1 and m_2 swapped: so "
    "grad_{m_2} is the reflection of grad_{m_1}, and the e_1 component of grad_{m_i}, i >= 3, "
    "vanishes. The reflection x_j -> -x_j of a transverse coordinate fixes every mean, so every "
    "transverse component vanishes. Only dL/dm_{1,1} = -dL/dm_{2,1} = (1/2) dL/ds survives; "
    "its certified sign change on the interval below is a stationary point in every d.")


def _family(claim: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rows = [e for e in claim.get("instances") or []
            if (e.get("metrics") or {}).get("kind") == "family" and "s_star" in e["metrics"]]
    return sorted(rows, key=lambda e: e["metrics"]["n"])


def _census(claim: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rows = [e for e in claim.get("instances") or []
            if (e.get("metrics") or {}).get("kind") == "census"]
    return sorted(rows, key=lambda e: e["metrics"]["n"])


def key_figures(claim: Mapping[str, Any]) -> str:
    fam = _family(claim)
    if not fam:
        return ""
    first, last = fam[0]["metrics"], fam[-1]["metrics"]
    spec = first["spectrum"]
    text = (f"s* = {_num(first['s_star'])} (n = {first['n']}, L = {_num(first['loss'], 4)})"
            + (f" to {_num(last['s_star'])} (n = {last['n']}, L = {_num(last['loss'], 4)})"
               if len(fam) > 1 else "")
            + f"; index {spec['index_d1']} (d = 1), {spec['index_d3']} (d = 3)")
    pos = [(e["metrics"]["n"], len(e["metrics"]["points"])) for e in _census(claim)]
    if pos:
        text += "; census: " + ", ".join(f"n = {n}: {k} positive-loss point(s)" for n, k in pos)
    return text


def findings(claim: Mapping[str, Any]) -> Sequence[str]:
    out = []
    fam = _family(claim)
    if fam:
        ns = [e["metrics"]["n"] for e in fam]
        cert = all(e["metrics"]["certificate"]["certified"] for e in fam)
        idx = sorted({(e["metrics"]["spectrum"]["index_d1"], e["metrics"]["spectrum"]["index_d3"])
                      for e in fam})
        out.append(f"T3.1: for n = {ns[0]}..{ns[-1]} the family has one stationary point s* in "
                   f"(0, 10], s* from {fam[0]['metrics']['s_star'][:7]} to "
                   f"{fam[-1]['metrics']['s_star'][:7]}, loss from {fam[0]['metrics']['loss'][:6]}"
                   f" to {fam[-1]['metrics']['loss'][:6]}; sign change "
                   f"{'certified for every n' if cert else 'NOT certified for every n'}.")
        out.append(f"Every s* is a saddle, not a local minimum: (index d = 1, d = 3) = {idx}; the "
                   "d = 3 Hessian also has the rotation zero modes (2) and, for n >= 4, "
                   "2(n - 3) exact splitting zero modes of the coincident means at the truth.")
        dests = sorted({r["destination"] for e in fam for r in
                        (e["metrics"].get("gd") or {}).get("runs", [])})
        if dests:
            out.append("GD from next to s* goes to: " + "; ".join(dests) + " (loss -> 0 in every "
                       "run; 'escaping' means run away from the truth while the others converge).")
    for e in _census(claim):
        m = e["metrics"]
        pts = m["points"]
        if m["n"] == 2 and pts:
            out.append("Census, n = 2 (beyond the paper): stationary point(s) with positive loss "
                       "exist: " + "; ".join(f"{_short(q['means'])} (L = {q['loss'][:8]}, index "
                                             f"{q['spectrum']['index_d1']})" for q in pts)
                       + ": one mean at the truth, the other at the maximum of L(0, a); the "
                       "restriction n >= 3 of Thm 3.1 is not needed for a stationary point with "
                       "positive loss.")
        elif m["n"] == 2:
            out.append(f"Census, n = 2: no stationary point with positive loss found from "
                       f"{m['starts']} starts.")
        else:
            out.append(f"Census, n = {m['n']}: {len(pts)} stationary point(s) with positive loss "
                       f"(up to permutation and reflection) from {m['starts']} starts, indices "
                       f"{sorted(q['spectrum']['index_d1'] for q in pts)} (d = 1).")
    return out


def _short(means: Sequence[str], digits: int = 6) -> str:
    return "(" + ", ".join(_num(x, digits) for x in means) + ")"


def _num(x: str, digits: int = 6) -> str:
    """A decimal string cut to `digits` significant digits (from the string itself: the values
    carry 30 digits, more than a float), or 0 below 1e-30."""
    if abs(float(x)) < 1e-30:
        return "0"
    sign = "-" if x.startswith("-") else ""
    body = x.lstrip("+-")
    if "e" in body.lower():
        return f"{float(x):.{min(digits, 16)}g}"
    lead = len(body) - len(body.lstrip("0."))
    return sign + body[:lead + digits + (1 if "." in body[lead:lead + digits + 1] else 0)]


def _family_table(fam: list[Mapping[str, Any]]) -> str:
    rows = []
    for e in fam:
        m = e["metrics"]
        g, c, sp = m["gradient"], m["certificate"], m["spectrum"]
        rows.append([
            m["n"], f"`{m['s_star']}`", f"{m['loss'][:14]} ± {fmt(m['loss_error'], 2)}",
            f"[{c['s_lo'][:16]}, {c['s_hi'][:16]}]: {c['slope_lo']} / {c['slope_hi']}"
            + ("" if c["certified"] else " **not certified**"),
            f"{fmt(g['d1_max_abs'] + g['d1_error'], 2)} / "
            f"{fmt(g['d3_max_abs'] + g['d3_error'], 2)}",
            ", ".join(fmt(x, 4) for x in sp["along"]),
            ", ".join(fmt(x, 4) for x in sp["transverse"]),
            f"{sp['index_d1']} / {sp['index_d3']}",
            f"{sp['zero_modes_d3']['rotation']} rot., {sp['zero_modes_d3']['splitting']} split.",
            fmt(max(m["fd_check"]["par"], m["fd_check"]["perp"]), 2),
        ])
    return table(["n", "s* (40 digits)", "L(s*)", "certified interval: dL/ds at its ends",
                  "max grad (d=1 / d=3)", "eig. along the line", "eig. transverse (off null)",
                  "index d=1 / d=3", "zero modes (d=3)", "FD check"], rows, align="rlllllllll")


@styled
def _profile_figure(fam: list[Mapping[str, Any]]) -> Any:
    fig, axes = new_figure(9.0, 3.6, cols=2)
    for k, e in enumerate(fam):
        scan = e["metrics"]["scan"]
        s = [r[0] for r in scan]
        axes[0].plot(s, [r[3] for r in scan], color=color(k))
        axes[1].plot(s, [r[1] for r in scan], color=color(k), label=f"n = {e['metrics']['n']}")
        axes[1].axvline(float(e["metrics"]["s_star"][:18]), color=color(k), lw=0.6, ls=":")
    axes[0].set(xlabel="s", ylabel="L(s, -s, 0, ..., 0)", title="loss along the family")
    axes[1].set(xlabel="s", ylabel="dL/ds", title="slope (dotted: s* for each n)")
    axes[1].axhline(0.0, color="k", lw=0.5)
    legend_outside(axes[1], title="means")
    fig.suptitle("T3.1: the family (s, -s, 0, ..., 0), float64 engine")
    fig.subplots_adjust(top=0.84, wspace=0.3)
    return fig


@styled
def _runs_figure(runs: list[tuple[str, Mapping[str, Any], int]], title: str) -> Any:
    """Loss and the largest |m_i| (and the largest of the means that converge) along GD runs
    started next to stationary points; one colour and legend entry per run. Distances below
    FLOOR (means sitting at the truth to round-off) are drawn at FLOOR."""
    fig, axes = new_figure(9.0, 3.8, cols=2)
    for k, (label, run, n) in enumerate(runs):
        rows = run["rows"]
        tau = [max(r[0], 0.5) for r in rows]
        staying = [i for i in range(n) if rows[-1][2 + i] < CONVERGED_BELOW]
        axes[0].loglog(tau, [max(r[1], 1e-300) for r in rows], color=color(k + 1), label=label)
        axes[1].loglog(tau, [max(r[2:2 + n]) for r in rows], color=color(k + 1))
        if staying:
            axes[1].loglog(tau, [max(max(r[2 + i] for i in staying), FLOOR) for r in rows],
                           color=color(k + 1), ls="--")
    axes[0].set(xlabel="tau (0 shown at 0.5)", ylabel="loss", title="loss")
    axes[1].set(xlabel="tau (0 shown at 0.5)", ylabel="|m_i| (canonical)",
                title=f"max |m_i| (solid), of those ending < {CONVERGED_BELOW:g} (dashed)")
    legend_below(axes[0], ncol=2, fontsize=7)
    fig.suptitle(title)
    fig.subplots_adjust(top=0.84, wspace=0.3)
    return fig


def _gd_table(fam: list[Mapping[str, Any]]) -> tuple[str, list[tuple[str, Mapping[str, Any], int]]]:
    rows, runs = [], []
    for e in fam:
        gd = e["metrics"].get("gd")
        if not gd:
            continue
        n = e["metrics"]["n"]
        for r in gd["runs"]:
            rows.append([n, r["label"], r["destination"], r["detail"]])
            runs.append((f"n={n} {r['label']}", r, n))
        rows.append([n, f"(eta = {fmt(gd['eta'], 4)}, eps = {fmt(gd['eps'], 2)}, "
                        f"{gd['steps']} steps)", "", ""])
    if not rows:
        return "", []
    return table(["n", "start", "destination", "at the horizon"], rows, align="rlll"), runs


def _census_tables(cen: list[Mapping[str, Any]]) -> tuple[str, list[tuple[str, Any, int]]]:
    rows, effort, runs = [], [], []
    for e in cen:
        m = e["metrics"]
        n = m["n"]
        rows.append([n, "(0, ..., 0) (truth)", "0", "–", "degenerate minimum", "–", "–", "–"])
        for q in m["points"]:
            sp = q["spectrum"]
            cert = q.get("certificate")
            rows.append([n, "`(" + ", ".join(_num(x, 25) for x in q["means"]) + ")`",
                         f"{q['loss'][:14]}", f"{sp['index_d1']} / {sp['index_d3']}",
                         ", ".join(fmt(x, 4) for x in sp["along"]),
                         "yes (arb)" if cert and cert["certified"] else "–",
                         q["basin"], q["gd"]["destination"]])
            if q["gd"].get("rows"):
                runs.append((f"n={n} {_short(q['means'], 4)}", q["gd"], n))
        effort.append([n, m["starts"], m["sobol_starts"], m["pattern_starts"],
                       m.get("grid_points", "–"), m.get("grid_sign_change_cells", "–"),
                       ", ".join(f"{k}: {v}" for k, v in sorted(m["outcomes"].items())),
                       len(m["rejected"]), len(m["unresolved"]), fmt(m["truth_radius"], 3)])
    points = table(["n", "means (canonical form, 25 digits)", "loss", "index d=1 / d=3",
                    "eigenvalues (d = 1)", "sign change certified", "starts reaching it",
                    "GD from nearby"], rows, align="rlllllrl")
    work = table(["n", "starts", "Sobol", "in coincidence patterns", "grid points",
                  "grid cells with both signs changing", "float64 outcomes",
                  "candidates rejected in high precision", "unresolved", "truth radius"],
                 effort, align="rrrrrrlrrr")
    return points + "\n\n**How hard we looked.**\n\n" + work, runs


def section(ctx: ClaimContext) -> str:
    claim = ctx.claim
    fam, cen = _family(claim), _census(claim)
    parts = ["### Stationary points of the family (T3.1)", SYMMETRY_MD]
    if fam:
        parts.append(_family_table(fam))
        parts.append("Eigenvalues are those of the derived Hessian blocks at 40+ digits (error "
                     "bars: Weyl's bound from the quadrature estimates, listed in the JSON); "
                     "'FD check' is the largest difference from central differences of the "
                     "float64 engine (independent quadrature and formula). The transverse block "
                     "appears d - 1 times in d dimensions.")
        parts.append(ctx.figure_once("family-profile", ["profile", [e["metrics"]["n"]
                                                                    for e in fam]],
                                     lambda: _profile_figure(fam),
                                     "Loss and dL/ds along the family",
                                     "*Loss and dL/ds along (s, -s, 0, ..., 0), float64 engine.*"))
        gd_text, runs = _gd_table(fam)
        if gd_text:
            parts += ["### Gradient descent from next to s*", gd_text]
            parts.append(ctx.figure_once("gd-near-s-star", ["gd", [r[0] for r in runs]],
                                         lambda: _runs_figure(
                                             runs, "T3.1: gradient descent from next to s*"),
                                         "GD next to s*"))
    if cen:
        parts.append("### Census of stationary points, d = 1 (beyond the paper)")
        text, cruns = _census_tables(cen)
        parts.append(text)
        parts.append("Points are accepted only after Newton at 40+ digits converged (steps below "
                     "1e-30) with every gradient component below 1e-30 of the integral of its "
                     "own |integrand|, so a flat region (far-apart means, gradient "
                     "~exp(-R^2/8)) is never mistaken for a root; float64 runs leaving "
                     "1.5 x the box count as 'left the box'. Runs ending within the truth "
                     "radius e^-2/n are counted as the truth (T2.1's region, reported).")
        if cruns:
            parts.append(ctx.figure_once("census-gd", ["census-gd", [r[0] for r in cruns]],
                                         lambda: _runs_figure(
                                             cruns, "T3.1: gradient descent from next to the "
                                             "census points (d = 1)"),
                                         "GD next to the census points"))
    return "\n\n".join(parts)


HOOKS = {
    "T3.1": ClaimHooks(key_figures=key_figures, findings=findings, section=section,
                       generic_figures=False),
    "T3.1~no-stationary-n3": ClaimHooks(),
    "T3.1~local-minimum": ClaimHooks(),
    "T3.1~n2-family": ClaimHooks(),
}
