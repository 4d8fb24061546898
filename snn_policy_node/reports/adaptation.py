"""The report of the deployment study of online r-STDP (``experiments.adaptation_study``):
``adaptation.{json,md,png}``, each variant beside frozen weights, a random direction of the same
size and the other sign; the rolling online return per episode. Runs nothing."""

from pathlib import Path

import matplotlib
import numpy as np

from snn_policy_node.reports.results import write_results

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CURVE_ARMS = ("frozen", "paper", "paper/random")  # every panel; the headline variant and its random twin join them


def write_report(study: dict, out_dir: Path, command: str) -> dict:
    report = {"command": command, **study}
    return write_results(out_dir, "adaptation", report, markdown, figure)


def markdown(report: dict) -> str:
    config = report["config"]
    lines = [
        "# Online r-STDP in deployment", "",
        f"Reproduce with: `{report['command']}`. Finished populations are read from `{report['work_dir']}` (one JSON "
        "file per task and profile, with every run's online return per episode); an empty `--work-dir` runs them again.", "",
        f"Protocol: each run (a shipped DSQN under one of the profile's 10 randomized settings) plays {config['episodes']} "
        f"online episodes on training seeds {config['train_seeds'][0]}-{config['train_seeds'][config['episodes'] - 1]} "
        f"and no evaluation episode. The first {config['baseline_episodes']} play the trained weights (the frozen "
        "baseline); after every later episode the rule changes the plastic layer (hidden 1 -> hidden 2) once. A guarded "
        f"run goes back to its trained weights when its last {config['window']} returns average more than "
        f"{100 * config['margin']:.0f} % below its baseline, and plays {config['window']} episodes unchanged. The weights "
        f"a run holds at the end are scored on {len(config['heldout_seeds'])} held-out seeds "
        f"({config['heldout_seeds'][0]}-{config['heldout_seeds'][-1]}).", "",
        f"Variants: `paper` dw = sign r c (eq. 7-9); `rpe` the third factor r - r_bar (running mean, rate 0.1); "
        f"`rpe_bounded` with ||dw|| <= {report['max_norm']} ||w_0|| per episode; `rpe_bounded_guarded` with the guard; `perturbation_guarded` "
        f"node perturbation (noise of std {report.get('exploration', '-')} x the threshold on the plastic layer's "
        "postsynaptic currents while playing online, eligibility sum_t xi_i s_j) with the prediction error, the bound and "
        "the guard. "
        f"The compared method, named before the runs: **{report['headline']}**. Controls: frozen weights on the same "
        "episodes; the variant's updates turned in a random direction of the same norm, with the same guard (random); "
        "the variant with the other sign. Statistics over runs (models x settings), paired by run; p from a paired "
        "t-test, 95 % confidence intervals of the mean difference. Recovered: the held-out gain over frozen as a share "
        "of the drop from default physics to frozen. Worst block: the lowest 20-episode block of the online return, "
        "relative to frozen's on the same episodes.", "",
    ]
    for key in sorted({(r["task"], r["profile"]) for r in report["deployment"]}):
        rows = [r for r in report["deployment"] if (r["task"], r["profile"]) == key]
        seconds = report["seconds"].get(f"{key[0]} {key[1]}")
        lines += [f"## {key[0]}, random {key[1]} ({rows[0]['runs']} runs; {seconds / 60:.1f} min here)", "",
                  f"Default physics {rows[0]['default_heldout']:.2f}, frozen {rows[0]['frozen_heldout']:.2f} (held-out).", "",
                  "| variant | adapted | random | other sign | gain vs frozen [95 % CI] | p vs frozen | p vs random | "
                  "recovered | online first / last block (frozen last) | worst block vs frozen | rollbacks per run |",
                  "|---|---:|---:|---:|---|---:|---:|---:|---|---:|---:|"]
        for r in rows:
            gain = r["gain_vs_frozen"]
            other = "-" if r["other_sign_heldout"] is None else f"{r['other_sign_heldout']:.2f}"
            recovered = "-" if r["recovered_pct"] is None else f"{r['recovered_pct']:.0f} %"
            name = f"**{r['variant']}**" if r["headline"] else r["variant"]
            lines.append(
                f"| {name} | {r['adapted_heldout']:.2f} | {r['random_control_heldout']:.2f} | {other} | "
                f"{gain['mean']:+.2f} [{gain['ci95'][0]:+.2f}, {gain['ci95'][1]:+.2f}] | {r['p_vs_frozen']:.2g} | "
                f"{r['p_vs_random']:.2g} | {recovered} | {r['online_first_block']:.2f} / {r['online_last_block']:.2f} "
                f"({r['frozen_online_last_block']:.2f}) | {r['worst_block_vs_frozen_pct']:+.1f} % | "
                f"{r['rollbacks_per_run']:.1f} |")
        lines.append("")
    if report["pending"]:
        lines += ["## Not finished yet", "", "`snn-robot report adaptation` runs these and reads the finished ones:", "",
                  *[f"- {p}" for p in report["pending"]], ""]
    lines += ["![rolling online return](adaptation.png)", ""]
    return "\n".join(lines)


def figure(report: dict, path: Path) -> None:
    panels = list(report["curves"])
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4.5 * max(len(panels), 1), 3.6), squeeze=False)
    shown = (*CURVE_ARMS, report["headline"], f"{report['headline']}/random")
    for ax, panel in zip(axes[0], panels):
        for name in shown:
            curve = report["curves"][panel].get(name)
            if curve is None:
                continue
            x = np.arange(len(curve["mean"])) + 10
            ax.plot(x, curve["mean"], label=name)
            ax.fill_between(x, curve["low"], curve["high"], alpha=0.2)
        ax.set_title(panel)
        ax.set_xlabel("online episode")
        ax.set_ylabel("return, mean of the last 10")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
