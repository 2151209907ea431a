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
        return f"{len(pts)} boundary points"
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
    """The measured boundary beside the derived curves the claim wrote (`theory_curves`)."""
    from scoreclaims.reports.figures import COLORS, new_figure, styled

    @styled
    def build() -> Any:
        fig, (ax, bx) = new_figure(11.0, 4.4, 1, 2)
        curves: dict[tuple[int, int], list[Mapping[str, Any]]] = {}
        for p in pts:
            if p["eta"] == 0.01 and p.get("log10_delta_star") is not None:
                curves.setdefault((p["n"], p["d"]), []).append(p)
        top = 1.0
        for k, ((n, d), cps) in enumerate(sorted(curves.items())):
            cps = sorted(cps, key=lambda p: p["M0"])
            xs = [p["M0"] for p in cps]
            ys = [-p["log10_delta_star"] for p in cps]
            top = max(top, *ys)
            ax.plot(xs, ys, "o", color=COLORS[k], ms=5, label=f"measured, n = {n}, d = {d}")
        if fit and theory:
            xs = theory["m0_grid"]
            forms = fit["forms"]
            b = forms["gd-amplification"]["coefficients"]["b"]
            ax.plot(xs, [y + b for y in theory["gd_amplification"]], "-", color="k",
                    lw=1.2, label="GD amplification + b (n = 2, derived)")
            fb = forms["flow-limit"]["coefficients"]["b"]
            ax.plot(xs, [y + fb for y in theory["flow_amplification"]], ":", color="k",
                    lw=1.2, label="gradient flow M0²/ln10 + b")
            if fit["polynomial"]:
                coef = forms[fit["polynomial"]]["coefficients_high_first"]
                ax.plot(xs, [sum(c * x ** (len(coef) - 1 - i) for i, c in enumerate(coef))
                             for x in xs], "--", color="grey", lw=1,
                        label=f"{fit['polynomial']} fit")
            ax.plot(xs, [106 * 2 * x**3 / math.log(10) + math.log10(216) for x in xs], "-.",
                    color="tab:red", lw=1.2, label="T3.2 bound (n = 2, d = 1)")
            ax.plot(xs, [x / (100 * math.log(10)) for x in xs], "-.", color="tab:green", lw=1.2,
                    label="T3.4 gap exp(-M0/100)")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylim(-1, max(2e5, top * 2))
        ax.set_xlabel("M0 (distance of the collapsed start from the truth)")
        ax.set_ylabel("log10(1/δ*)  (decades)")
        ax.set_title("Critical spread, η = 0.01")
        ax.legend(fontsize=7, loc="upper left")
        by_m: dict[tuple[float, int], list[Mapping[str, Any]]] = {}
        for p in pts:
            if p["n"] == 2 and p["d"] == 1 and p.get("log10_delta_star") is not None:
                by_m.setdefault((p["M0"], p["seed"]), []).append(p)
        studies = sorted(((m, v) for (m, _), v in by_m.items()
                          if len({p["eta"] for p in v}) > 1), key=lambda x: x[0])
        for k, (m, mps) in enumerate(studies):
            mps = sorted(mps, key=lambda p: p["eta"])
            bx.plot([p["eta"] for p in mps], [-p["log10_delta_star"] for p in mps], "o",
                    color=COLORS[k], label=f"M0 = {fmt(m)} measured")
            ref = next((p for p in mps if p["eta"] == theory.get("reference_eta")), None)
            over_eta = theory.get("gd_amplification_over_eta", {}).get(repr(m))
            if ref is None or over_eta is None:
                continue
            b = -ref["log10_delta_star"] - theory["gd_amplification_at_reference"][repr(m)]
            bx.plot(theory["eta_grid"], [y + b for y in over_eta], "-", color=COLORS[k],
                    lw=1, label=f"M0 = {fmt(m)} GD product + b(η = {fmt(ref['eta'])})")
            bx.axhline(theory["flow_amplification_at"][repr(m)] + b, color=COLORS[k], ls=":",
                       lw=1)
        bx.set_xscale("log")
        bx.set_xlabel("step η")
        bx.set_ylabel("log10(1/δ*)")
        bx.set_title("Step dependence, n = 2, d = 1 (dotted: η → 0 limit)")
        if bx.get_legend_handles_labels()[0]:
            bx.legend(fontsize=7, loc="lower left")
        else:
            bx.set_visible(False)
        fig.subplots_adjust(left=0.07, right=0.98, top=0.92, bottom=0.12, wspace=0.25)
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
        "*Left: log10(1/δ*) against M0 (symlog), with the derived GD amplification, its "
        "gradient-flow limit, the chosen polynomial, T3.2's sufficient radius and T3.4's gap. "
        "Right: δ* against the step, with the GD product's prediction from the η = 0.01 offset "
        "and its η → 0 limit (dotted).*"))
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


def t34_section(ctx: ClaimContext) -> str:
    m = ctx.claim.get("metrics") or {}
    rows = [(r["n"], r["d"], fmt(r["M0"]), "+" if r["side"] > 0 else "-", r["verdict"],
             fmt(r["final_distances"][0], 4), fmt(max(r["final_distances"][1:]), 6),
             r["certified_signs"], r["unresolved_signs"])
            for key in ("inside", "opposite_side") for r in (m.get(key) or [])]
    if not rows:
        return ""
    return "### Outcomes\n\n" + table(
        ["n", "d", "M0", "truth side", "verdict", "mu_1 final distance",
         "others' largest final distance", "certified signs", "unchecked signs"], rows)


HOOKS = {
    "PB": ClaimHooks(key_figures=pb_key_figures, findings=pb_findings, section=pb_section),
    "L3.3": ClaimHooks(key_figures=l33_key_figures, findings=l33_findings),
    "T3.4": ClaimHooks(section=t34_section),
}
