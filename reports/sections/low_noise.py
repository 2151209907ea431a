"""Report additions for the low-noise claims (issue 8): the phase-boundary figure and tables (PB),
the contraction factor and amplification of L3.3, the outcome table of T3.4. Hooks read only the
claim's entry of the results JSON."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from scoreclaims.reports.hooks import ClaimContext, ClaimHooks
from scoreclaims.reports.markdown import fmt, table


def _points(claim: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list((claim.get("metrics") or {}).get("phase_boundary") or [])


def _main_fit(claim: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return (claim.get("metrics") or {}).get("boundary_fit")


def _signed(b: float) -> str:
    return f"{'-' if b < 0 else '+'} {fmt(abs(b), 3)}"


def pb_key_figures(claim: Mapping[str, Any]) -> str:
    fit = _main_fit(claim)
    pts = [p for p in _points(claim) if p.get("log10_delta_star") is not None]
    if not fit:
        return f"{len(pts)} boundary points" if pts else ""
    gd = fit["forms"]["gd-amplification"]
    return (f"{len(pts)} points; n = 2: log10(1/δ*) = log10 A_GD "
            f"{_signed(gd['coefficients']['b'])} (max residual {fmt(gd['max_abs_residual'], 2)}); "
            f"chosen form {fit['chosen']}; lowest polynomial within {fmt(fit['fit_tol'])}: "
            f"{fit['polynomial'] or 'none'}")


def pb_findings(claim: Mapping[str, Any]) -> list[str]:
    fit = _main_fit(claim)
    pts = [p for p in _points(claim) if p.get("log10_delta_star") is not None]
    out = []
    if fit:
        d, f = fit["forms"]["gd-amplification"], fit["forms"]["flow-limit"]
        out.append(
            f"the measured boundary follows the linearised GD amplification: log10(1/δ*) = "
            f"log10 prod_t (1 + (4η/n)c_t²) {_signed(d['coefficients']['b'])} within "
            f"{fmt(d['max_abs_residual'], 2)} decades over M0 = {fmt(min(fit['M0']))}.."
            f"{fmt(max(fit['M0']))} (n = 2, d = 1, η = 0.01); the gradient-flow form "
            f"M0²/ln 10 + b misses by up to {fmt(f['max_abs_residual'], 3)} decades at this step;"
            f" lowest polynomial within {fmt(fit['fit_tol'])} decades: "
            f"{fit['polynomial'] or 'none'}.")
    uni = (claim.get("metrics") or {}).get("spread_times_amplification")
    if uni:
        out.append(
            f"the boundary is one number across n, d and seeds: the initial spread along e_1, "
            f"s* = δ* max_i |(z_i - z̄).e_1|, times the GD amplification A(M0, η, n) is "
            f"10^{fmt(uni['median'], 4)} (range {fmt(uni['min'], 4)}..{fmt(uni['max'], 4)} over "
            f"{uni['points']} points with M0 >= 4, curves (n, d, seed) "
            f"{', '.join(str(tuple(c)) for c in uni['curves'])}).")
    slack = [p["slack_decades"] for p in pts if p.get("slack_decades") is not None]
    if slack:
        out.append(f"T3.2's sufficient radius is loose by {fmt(min(slack), 3)} to "
                   f"{fmt(max(slack), 3)} orders of magnitude against the measured boundary (a "
                   f"reported figure: a margin that size is not a conclusion that could fail).")
    beyond = [p for p in (claim.get("metrics") or {}).get("phase_boundary_beyond") or []
              if p.get("log10_delta_star") is not None]
    if beyond:
        out.append("beyond PB's domain of validity (exploration, not in the verdict): "
                   + "; ".join(f"M0 = {fmt(p['M0'])}, η = {fmt(p['eta'])}: log10 δ* = "
                               f"{fmt(p['log10_delta_star'], 4)}"
                               + (f", offset b = {fmt(p['offset_b'], 3)}"
                                  if p.get("offset_b") is not None else "")
                               for p in beyond) + ".")
    steps = (claim.get("metrics") or {}).get("step_dependence") or []
    if steps:
        worst = max(abs(r["residual"]) for r in steps)
        small = min(steps, key=lambda r: (r["eta"], -r["M0"]))
        out.append(
            f"the step dependence follows the GD product: predicted from the η = 0.01 offset, "
            f"log10(1/δ*) is within {fmt(worst, 2)} decades at η = "
            f"{', '.join(fmt(e) for e in sorted({r['eta'] for r in steps}))}; as η → 0 it "
            f"approaches the gradient-flow value M0²/ln 10 + b (at M0 = {fmt(small['M0'])}, "
            f"η = {fmt(small['eta'])}: {fmt(small['log10_inv_delta_star'], 4)} measured, "
            f"{fmt(small['flow_limit'], 4)} in the limit).")
    multi = sorted({(p["n"], p["d"], p["upper_outcome"]) for p in pts if p["n"] > 2})
    if multi:
        bands = {}
        for p in pts:
            if p["n"] > 2 and p.get("log10_delta_one") is not None:
                bands.setdefault((p["n"], p["d"]), []).append(
                    p["log10_delta_one"] - p["log10_delta_star"])
        out.append("for n > 2 the outcome just above δ* is not 'one converges' but "
                   + ", ".join(f"'{o}' (n = {n}, d = {d})" for n, d, o in multi)
                   + "; exactly one converges only above δ_one, "
                   + ", ".join(f"{fmt(min(v), 3)}..{fmt(max(v), 3)} decades higher (n = {n}, "
                               f"d = {d})" for (n, d), v in sorted(bands.items())) + ".")
    return out


def _pb_figure(pts: Sequence[Mapping[str, Any]], fit: Mapping[str, Any] | None,
               theory: Mapping[str, Any]) -> Any:
    """The measured boundary beside the derived curves the claim wrote (`theory_curves`, when the
    results have them), the fitted polynomial and the two theorems' radii; the step dependence.
    Axes span what is drawn; legends sit under the panels."""
    from scoreclaims.reports.figures import COLORS, legend_below, new_figure, styled

    @styled
    def build() -> Any:
        fig, (ax, bx) = new_figure(11.0, 4.4, 1, 2)
        curves: dict[tuple[int, int], list[Mapping[str, Any]]] = {}
        for p in pts:
            if p["eta"] == 0.01 and p.get("log10_delta_star") is not None:
                curves.setdefault((p["n"], p["d"]), []).append(p)
        ys_all: list[float] = []
        m0s = sorted({p["M0"] for cps in curves.values() for p in cps})
        for k, ((n, d), cps) in enumerate(sorted(curves.items())):
            cps = sorted(cps, key=lambda p: p["M0"])
            ys = [-p["log10_delta_star"] for p in cps]
            ys_all += ys
            ax.plot([p["M0"] for p in cps], ys, "o", color=COLORS[k], ms=5,
                    label=f"measured, n = {n}, d = {d}")
        xs = list(theory.get("m0_grid") or [])
        if not xs and m0s:
            xs = [m0s[0] + (m0s[-1] - m0s[0]) * i / 100 for i in range(101)]
        if fit and xs:
            forms = fit["forms"]
            if theory.get("gd_amplification"):
                b = forms["gd-amplification"]["coefficients"]["b"]
                ys = [y + b for y in theory["gd_amplification"]]
                ax.plot(xs, ys, "-", color="k", lw=1.2,
                        label="GD amplification + b (n = 2, derived)")
                ys_all += ys
            if theory.get("flow_amplification"):
                fb = forms["flow-limit"]["coefficients"]["b"]
                ys = [y + fb for y in theory["flow_amplification"]]
                ax.plot(xs, ys, ":", color="k", lw=1.2, label="gradient flow M0²/ln10 + b")
                ys_all += ys
            if fit["polynomial"]:
                coef = forms[fit["polynomial"]]["coefficients_high_first"]
                ys = [sum(c * x ** (len(coef) - 1 - i) for i, c in enumerate(coef)) for x in xs]
                ax.plot(xs, ys, "--", color="grey", lw=1, label=f"{fit['polynomial']} fit")
                ys_all += ys
            ys = [106 * 2 * x**3 / math.log(10) + math.log10(216) for x in xs]
            ax.plot(xs, ys, "-.", color="tab:red", lw=1.2, label="T3.2 radius (n = 2, d = 1)")
            ys_all += ys
            ys = [x / (100 * math.log(10)) for x in xs]
            ax.plot(xs, ys, "-.", color="tab:green", lw=1.2, label="T3.4 gap exp(-M0/100)")
            ys_all += ys
        ax.set_yscale("symlog", linthresh=1.0)
        if ys_all:
            lo, hi = min(ys_all), max(ys_all)
            ax.set_ylim(lo - 0.5 if lo > -1 else lo * 1.5, hi * 2 if hi > 1 else hi + 0.5)
        ax.set_xlabel("M0 (distance of the collapsed start from the truth)")
        ax.set_ylabel("log10(1/δ*)  (decades, symlog)")
        ax.set_title("critical spread δ* at η = 0.01")
        legend_below(ax, ncol=2)
        by_m: dict[tuple[float, int], list[Mapping[str, Any]]] = {}
        for p in pts:
            if p["n"] == 2 and p["d"] == 1 and p.get("log10_delta_star") is not None:
                by_m.setdefault((p["M0"], p["seed"]), []).append(p)
        studies = sorted(((m, v) for (m, _), v in by_m.items()
                          if len({p["eta"] for p in v}) > 1), key=lambda x: x[0])
        for k, (m, mps) in enumerate(studies):
            mps = sorted(mps, key=lambda p: p["eta"])
            bx.plot([p["eta"] for p in mps], [-p["log10_delta_star"] for p in mps], "o",
                    color=COLORS[k], label=f"M0 = {fmt(m)}: measured")
            ref = next((p for p in mps if p["eta"] == theory.get("reference_eta")), None)
            over_eta = theory.get("gd_amplification_over_eta", {}).get(repr(m))
            if ref is None or over_eta is None:
                continue
            b = -ref["log10_delta_star"] - theory["gd_amplification_at_reference"][repr(m)]
            bx.plot(theory["eta_grid"], [y + b for y in over_eta], "-", color=COLORS[k],
                    lw=1, label=f"M0 = {fmt(m)}: GD product + b(η = {fmt(ref['eta'])})")
            bx.axhline(theory["flow_amplification_at"][repr(m)] + b, color=COLORS[k], ls=":",
                       lw=1, label=f"M0 = {fmt(m)}: η → 0 limit")
        bx.set_xscale("log")
        bx.set_xlabel("step η")
        bx.set_ylabel("log10(1/δ*)  (decades)")
        bx.set_title("step dependence, n = 2, d = 1")
        if bx.get_legend_handles_labels()[0]:
            legend_below(bx, ncol=2)
        else:
            bx.set_visible(False)
        fig.suptitle("PB: the phase boundary between T3.2 (all converge) and T3.4 (one "
                     "converges)")
        fig.subplots_adjust(top=0.86, wspace=0.25)
        return fig

    return build()


def pb_section(ctx: ClaimContext) -> str:
    pts = _points(ctx.claim)
    if not pts:
        return ""
    fit = _main_fit(ctx.claim)
    rows = [(p["n"], p["d"], fmt(p["M0"]), fmt(p["eta"]), fmt(p["log10_delta_star"], 5),
             fmt(p.get("bracket")), p.get("upper_outcome"), fmt(p.get("log10_delta_one"), 5),
             fmt(p.get("slack_decades"), 5), fmt(p.get("log10_t34_gap"), 3), p["seed"])
            for p in pts]
    out = ["### Phase boundary", "",
           "δ* separates all-converge (below) from the outcome in the next column (above); "
           "δ_one is where exactly one mean converges from (n > 2). Slack: decades between "
           "T3.2's radius and the largest initial |m_i - M0 e_1| at the all-converge end.", "",
           table(["n", "d", "M0", "η", "log10 δ*", "bracket", "just above δ*", "log10 δ_one",
                  "slack over T3.2", "log10 T3.4 gap", "seed"], rows), ""]
    key = ["pb", [[p["n"], p["d"], p["M0"], p["eta"], p["log10_delta_star"]] for p in pts]]
    out.append(ctx.figure_once(
        "phase-boundary", key,
        lambda: _pb_figure(pts, fit, (ctx.claim.get("metrics") or {}).get("theory_curves") or {}),
        "Phase boundary",
        "*Left: log10(1/δ*) against M0 (symlog), with the chosen polynomial, T3.2's sufficient "
        "radius and T3.4's gap, and, where the results carry them, the derived GD amplification "
        "and its gradient-flow limit. Right: δ* against the step, with the GD product's "
        "prediction from the η = 0.01 offset and its η → 0 limit (dotted).*"))
    if fit:
        rows = []
        for name, f in fit["forms"].items():
            coef = f.get("coefficients_high_first") or f.get("coefficients")
            rows.append((name + (" (chosen)" if name == fit["chosen"] else ""), f["form"],
                         fmt(coef, 5), f["parameters"], fmt(f["max_abs_residual"])))
        out += ["", table(["form", "", "coefficients", "parameters", "max |residual|"], rows)]
    steps = (ctx.claim.get("metrics") or {}).get("step_dependence") or []
    if steps:
        out += ["", "Step dependence (n = 2, d = 1): measured against the GD product with the "
                "offset b of η = 0.01, and the gradient-flow limit.", "",
                table(["M0", "η", "log10(1/δ*) measured", "GD product + b", "residual",
                       "flow limit (η → 0)"],
                      [(fmt(r["M0"]), fmt(r["eta"]), fmt(r["log10_inv_delta_star"], 5),
                        fmt(r["predicted_gd"], 5), fmt(r["residual"], 2),
                        fmt(r["flow_limit"], 5)) for r in steps])]
    return "\n".join(out)


def l33_key_figures(claim: Mapping[str, Any]) -> str:
    m = claim.get("metrics") or {}
    if "max_contraction_rel_dev_derived" not in m:
        return "–"
    return (f"|A| ratio = 1 - 2η/n to {fmt(m['max_contraction_rel_dev_derived'], 2)}; off "
            f"1 - η/n by {fmt(m['min_contraction_rel_dev_reported'], 3)}; amplification to "
            f"{fmt(m['max_amplification_rel_dev'], 2)}")


def l33_findings(claim: Mapping[str, Any]) -> list[str]:
    m = claim.get("metrics") or {}
    if "max_contraction_rel_dev_derived" not in m:
        return []
    return [f"the reference point contracts by exactly (1 - 2η/n) per step (PAPER.md's derived "
            f"factor; largest relative deviation {fmt(m['max_contraction_rel_dev_derived'], 2)}),"
            f" not by the reported (1 - η/n), which is off by "
            f"{fmt(m['min_contraction_rel_dev_reported'], 3)} per step; the means stay within "
            f"10^{fmt(m['max_log10_deviation_while_far'], 4)} of it while |A| > 1/(6n), and the "
            f"deviations follow the linearised amplification to "
            f"{fmt(m['max_amplification_rel_dev'], 2)}."]


def _t34_rows(m: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [r for key in ("inside", "opposite_side") for r in (m.get(key) or [])]


def t34_key_figures(claim: Mapping[str, Any]) -> str:
    m = claim.get("metrics") or {}
    parts = []
    for key, what in (("inside", "truth at +M0 e_1"), ("opposite_side", "truth at -M0 e_1")):
        rows = m.get(key) or []
        if not rows:
            continue
        passed = sum(r["verdict"] == "pass" for r in rows)
        first = [r["final_distances"][0] for r in rows]
        others = [x for r in rows for x in r["final_distances"][1:]]
        parts.append(f"{what}: {passed} of {len(rows)} pass, final distance of mu_1 "
                     f"{fmt(min(first), 3)} to {fmt(max(first), 3)}, of the others "
                     f"{fmt(min(others), 3)} to {fmt(max(others), 3)}")
    return "; ".join(parts)


def t34_section(ctx: ClaimContext) -> str:
    """The outcomes as one row per (truth side, n, d), one column per M0: mu_1's final distance
    and the others' largest; the per-instance numbers (signs certified or left unchecked too)
    are in the instance detail."""
    rows = _t34_rows(ctx.claim.get("metrics") or {})
    if not rows:
        return ""
    m0s = sorted({r["M0"] for r in rows})
    cells: dict[tuple[int, int, int], dict[float, str]] = {}
    for r in rows:
        text = (f"{fmt(r['final_distances'][0], 4)} / {fmt(max(r['final_distances'][1:]), 6)}"
                + ("" if r["verdict"] == "pass" else f" ({r['verdict']})"))
        signs = (r["certified_signs"], r["unresolved_signs"])
        if any(signs):
            text += f"; signs {signs[0]} cert., {signs[1]} unchecked"
        cells.setdefault((-r["side"], r["n"], r["d"]), {})[r["M0"]] = text
    body = [["+" if side < 0 else "-", n, d, *(c.get(m, "–") for m in m0s)]
            for (side, n, d), c in sorted(cells.items())]
    return ("### Outcomes\n\nEach cell: mu_1's final distance to the truth / the other means' "
            "largest, then how many radial-gradient signs were certified (arb) or left unchecked "
            "where any were; '(fail)' where the instance fails. Truth side + is inside the "
            "hypotheses, - is exploration.\n\n"
            + table(["truth side", "n", "d", *(f"M0 = {fmt(m)}" for m in m0s)], body,
                    align="lrr" + "l" * len(m0s)))


HOOKS = {
    "PB": ClaimHooks(key_figures=pb_key_figures, findings=pb_findings, section=pb_section),
    "L3.3": ClaimHooks(key_figures=l33_key_figures, findings=l33_findings),
    "T3.4": ClaimHooks(key_figures=t34_key_figures, section=t34_section),
}
