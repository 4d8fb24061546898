"""The report of the deployment study of online r-STDP (``experiments.adaptation_study``):
``adaptation.{json,md,png}``, each variant beside frozen weights, a random direction of the same
size and the other sign; the rolling online return per episode. Runs nothing."""

from pathlib import Path

import matplotlib
import numpy as np

from snn_policy_node.reports.results import write_results

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def write_report(study: dict, out_dir: Path, command: str) -> dict:
    report = {"command": command, **study}
    return write_results(out_dir, "adaptation", report, markdown, figure)


def markdown(report: dict) -> str:
    lines = [
        "# Online r-STDP in deployment", "",
        f"Reproduce with: `{report['command']}`. Finished populations are read from `{report['work_dir']}` (one JSON "
        "file per task and profile, with every run's online return per episode and the digests of the weights it was "
        "measured on; the actors are kept beside them, in `actors/`); an empty `--work-dir` runs them again.", "",
        *summary(report["deployment"]),
        *dsqn_protocol(report),
        *pair_protocol(report),
        *actor_protocol(report),
        "Controls: frozen weights on the same episodes; the variant's updates turned in a random direction of the same "
        "norm, with the same guard (random); the variant with the other sign; for the DSQN tasks, what a sim-to-real "
        "user would try instead of adapting: DSQNs trained under the profile itself (`snn-robot train dsqn "
        "--randomization PROFILE`, the shipped models' network, budget and seeds; seed k paired with shipped model k). Statistics over runs, paired by run; p "
        "from a paired t-test, 95 % confidence intervals of the mean difference. Recovered: the held-out gain over "
        "frozen as a share of the drop from default physics to frozen. Worst block: the lowest 20-episode block of the "
        "online return, relative to frozen's on the same episodes.", "",
    ]
    for key in sorted({(r["task"], r["profile"]) for r in report["deployment"]}):
        rows = [r for r in report["deployment"] if (r["task"], r["profile"]) == key]
        seconds = report["seconds"].get(f"{key[0]} {key[1]}")
        randomized = rows[0]["randomized_training_heldout"]
        trained = "" if randomized is None else f", trained under the profile {randomized:.2f}"
        lines += [f"## {key[0]}, random {key[1]} ({rows[0]['runs']} runs; {seconds / 60:.1f} min here)", "",
                  f"Default physics {rows[0]['default_heldout']:.2f}, frozen {rows[0]['frozen_heldout']:.2f}{trained} "
                  "(held-out).", "",
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
    lines += study_comparison(report.get("study_comparisons", []))
    lines += tuning(report)
    if report["pending"]:
        lines += ["## Not finished yet", "", "`snn-robot report adaptation` runs these and reads the finished ones:", "",
                  *[f"- {p}" for p in report["pending"]], ""]
    lines += ["![rolling online return](adaptation.png)", ""]
    return "\n".join(lines)


STUDY_ORDER = ("rpe_bounded_guarded", "node_perturbation_guarded", "pair_guarded", "pair_significance_guarded",
               "pair_cautious_guarded", "pair_earned_guarded")
STUDY_COLOURS = {"rpe_bounded_guarded": "C1", "node_perturbation_guarded": "C1", "pair_guarded": "C2",
                 "pair_significance_guarded": "C3", "pair_cautious_guarded": "C4", "pair_earned_guarded": "C5"}
STUDY_NAMES = {
    "rpe_bounded_guarded": "Study 1 (DSQNs): r-STDP with a reward prediction error, bounded, guarded",
    "node_perturbation_guarded": "Study 1 (spiking actors): dense node perturbation, guarded",
    "pair_guarded": "Study 2: the pair rule under study 1's guard",
    "pair_significance_guarded": "Study 3: the pair rule under the significance guard",
    "pair_cautious_guarded": "Study 4: study 3, its exploration halved at every rollback",
    "pair_earned_guarded": "Study 5: study 4, its exploration started at a quarter and earned",
}


def summary(rows: list[dict]) -> list[str]:
    """The compared method of every study, task and profile, beside its two controls; a study after another."""
    headlines = [r for r in rows if r["headline"]]
    if not headlines:
        return []
    lines = ["## In short", "",
             "Each study named its compared method before its runs; a later study was designed after the earlier ones' "
             "results, and tuned only on settings and seeds of its own (the tuning tables below). Every arm of a study "
             "ran in one population, by one version of the code; populations of different studies may not have (and "
             "closed-loop returns amplify float-level differences), so compare arms within a study.", ""]
    for variant in sorted({r["variant"] for r in headlines}, key=lambda v: STUDY_ORDER.index(v) if v in STUDY_ORDER else 99):
        rows_of = sorted((r for r in headlines if r["variant"] == variant), key=lambda r: (r["task"], r["profile"]))
        better = sum(r["gain_vs_frozen"]["mean"] > 0 and r["p_vs_frozen"] < 0.05 for r in rows_of)
        beyond = sum(r["gain_vs_random"]["mean"] > 0 and r["p_vs_random"] < 0.05 for r in rows_of)
        lines += [f"**{STUDY_NAMES.get(variant, variant)}** (`{variant}`): beats frozen weights at p < 0.05 on {better} of "
                  f"{len(rows_of)} task-profiles, and its own updates turned in random directions on {beyond}.", "",
                  "| task, profile | runs | held-out: frozen / adapted | recovered | gain vs frozen [95 % CI] | p | "
                  "gain vs random [95 % CI] | p | worst block vs frozen | randomized training: held-out, adapted - it "
                  "[95 % CI], p |",
                  "|---|---:|---|---:|---|---:|---|---:|---:|---|"]
        for r in rows_of:
            gain, random = r["gain_vs_frozen"], r["gain_vs_random"]
            recovered = "-" if r["recovered_pct"] is None else f"{r['recovered_pct']:.0f} %"
            lines.append(f"| {r['task']}, {r['profile']} | {r['runs']} | {r['frozen_heldout']:.2f} / "
                         f"{r['adapted_heldout']:.2f} | {recovered} | {_interval(gain)} | {gain['p']:.2g} | "
                         f"{_interval(random)} | {random['p']:.2g} | {r['worst_block_vs_frozen_pct']:+.1f} % | "
                         f"{_randomized(r)} |")
        lines.append("")
    return lines


def study_comparison(comparisons: list[dict]) -> list[str]:
    """Study 5 against study 4 on each task and profile where both have run: its third pre-registered comparison."""
    if not comparisons:
        return []
    lines = ["## Study 5 against study 4", "",
             "Each run of `pair_earned_guarded` paired with the run of `pair_cautious_guarded` on the same model and "
             "setting, from the two studies' populations: sound where their frozen arms played identical returns "
             "(the same code and episodes), which the second column says. Differences are study 5 - study 4, with "
             "their 95 % intervals and paired p.", "",
             "| task, profile | frozen identical | runs | held-out | p | first block (online) | p | whole online mean "
             "| p | worst block vs frozen: study 5 / study 4 |",
             "|---|---|---:|---|---:|---|---:|---|---:|---|"]
    for c in comparisons:
        worst = c["worst_block_vs_frozen_pct"]
        lines.append(f"| {c['task']} {c['profile']} | {'yes' if c['frozen_identical'] else '**no**'} | {c['runs']} | "
                     f"{_interval(c['heldout_gain'])} | {c['heldout_gain']['p']:.2g} | {_interval(c['first_block_gain'])} | "
                     f"{c['first_block_gain']['p']:.2g} | {_interval(c['online_gain'])} | {c['online_gain']['p']:.2g} | "
                     f"{worst[c['later']]:+.1f} % / {worst[c['earlier']]:+.1f} % |")
    return [*lines, ""]


def tuning(report: dict) -> list[str]:
    """The tuning populations: every grid point's held-out mean on the tuning settings and seeds."""
    populations = [*report.get("tuning", []), *([report["actor_tuning"]] if report.get("actor_tuning") else [])]
    lines = []
    for t in populations:
        seeds = t["heldout_seeds"]
        settings = f"{t['settings']} settings" if "settings" in t else "10 settings"
        lines += [f"### Tuning `{t['headline']}` on {t['task']} {t['profile']} ({t['seconds'] / 60:.1f} min here)", "",
                  f"{settings} of the profile drawn with seed {t['settings_seed']} (the reported populations draw "
                  f"others), scored on held-out seeds {seeds[0]}-{seeds[-1]}; guard confidence z = {t['confidence']:g}. "
                  f"Frozen {t['frozen_heldout']:.2f}. The reported study takes the best held-out mean.", "",
                  "| rule and its settings | held-out | gain vs frozen [95 % CI] | p | worst block vs frozen | rollbacks per run |",
                  "|---|---:|---|---:|---:|---:|"]
        best = max(t["rows"], key=lambda r: r["heldout"])["variant"]
        for r in t["rows"]:
            name = f"**{r['variant']}**" if r["variant"] == best else r["variant"]
            gain = r["gain_vs_frozen"]
            lines.append(f"| {name} | {r['heldout']:.2f} | {_interval(gain)} | {gain['p']:.2g} | "
                         f"{r['worst_block_vs_frozen_pct']:+.1f} % | {r['rollbacks_per_run']:.1f} |")
        lines.append("")
    return ["## Tuning populations", "", *lines] if lines else []


def _randomized(row: dict) -> str:
    versus = row.get("gain_vs_randomized_training")
    if versus is None:
        return "-"
    return f"{row['randomized_training_heldout']:.2f}, {_interval(versus)}, {versus['p']:.2g}"


def _interval(paired: dict) -> str:
    return f"{paired['mean']:+.2f} [{paired['ci95'][0]:+.2f}, {paired['ci95'][1]:+.2f}]"


def dsqn_protocol(report: dict) -> list[str]:
    config = report["config"]
    acrobot = " Acrobot-v1 runs `paper` and `rpe_bounded_guarded` only (its episodes cost 5 x CartPole's), and `paper` " \
              "under the two other readings of its shaping." if any(r["task"] == "Acrobot-v1" for r in report["deployment"]) else ""
    return [
        f"DSQN tasks (r-STDP): each run (a shipped DSQN under one of the profile's 10 randomized settings) plays "
        f"{config['episodes']} online episodes on training seeds {config['train_seeds'][0]}-"
        f"{config['train_seeds'][config['episodes'] - 1]} and no evaluation episode. The first "
        f"{config['baseline_episodes']} play the trained weights (the frozen baseline); after every later episode the "
        "rule changes the plastic layer (hidden 1 -> hidden 2) once. A guarded run goes back to its trained weights when "
        f"its last {config['window']} returns average more than {100 * config['margin']:.0f} % below its baseline, and "
        f"skips its next {config['window']} updates. The weights a run holds at the end are scored on "
        f"{len(config['heldout_seeds'])} held-out seeds ({config['heldout_seeds'][0]}-{config['heldout_seeds'][-1]}).", "",
        f"Variants: `paper` dw = sign r c (eq. 7-9); `rpe` the third factor r - r_bar (running mean, rate 0.1); "
        f"`rpe_bounded` with ||dw|| <= {report['max_norm']} ||w_0|| per episode; `rpe_bounded_guarded` with the guard; "
        f"`perturbation_guarded` node perturbation (noise of std {report['exploration']} x the threshold on the plastic "
        "layer's postsynaptic currents while playing online, eligibility sum_t xi_i s_j) with the prediction error, the "
        f"bound and the guard. The compared method, named before the runs: **{report['headline']}**.{acrobot}", "",
    ]


def pair_protocol(report: dict) -> list[str]:
    """The pair rule's studies, when the report holds them."""
    studies = report.get("pair_studies")
    if not studies or not any(r["variant"].startswith("pair") for r in report["deployment"]):
        return []
    settings = "; ".join(f"`{s['headline']}` exploration {s['exploration']:g}, step {s['step']:g}, guard confidence "
                         f"z = {s['confidence']:g}" for s in studies)
    actor = report.get("actor_pair")
    actors = "" if actor is None else (f" The spiking actors (threshold 1 after folding) run it with exploration "
                                       f"{actor['exploration']:g}, step {actor['step']:g}, z = {actor['confidence']:g}, "
                                       "on their dense rewards summed into the episode return.")
    return [
        "The pair rule (`ModulationRule(hold=\"pair\")`, studies 2 to 5): after the baseline, a run draws xi ~ "
        "N(0, (exploration x threshold)^2) per postsynaptic neuron of the plastic layer, adds it to their currents at "
        "every simulated step of one episode and -xi over the next. Its eligibility c_k = sum_t xi_i s_j(t), and after "
        "the pair dw = clip((R_1 - R_2) / |R_0|, -1, 1) x step x ||w_0|| x (c_1 - c_2) / ||c_1 - c_2||, R_0 the frozen "
        "baseline's return: REINFORCE with the pair's mean return as its baseline, which ascends the return whatever "
        "the task's shaping. Per-step noise, as `perturbation_guarded` uses, averages out over an episode, so its return "
        "hardly depends on it; a held offset moves the whole episode, and the pair's two returns measure its effect. "
        "Runs explore only where an update may land (not in the baseline, not while a rolled-back run waits). The "
        "significance guard lowers the floor by z x the baseline returns' std x sqrt(1/10 + 1/10): study 1's guard "
        "rolled frozen weights back about 3 times per 100 CartPole episodes on noise alone, which study 2's runs "
        f"showed (tuning settings: {settings}).{actors}{_cautious(studies)}", "",
    ]


def _cautious(studies: list[dict]) -> str:
    shrink = next((s["rollback_shrink"] for s in studies if "rollback_shrink" in s), None)
    if shrink is None:
        return ""
    return (f" Study 4 (`pair_cautious_guarded`) keeps study 3's settings and guard, and multiplies a run's exploration "
            f"by {shrink:g} at every rollback: study 3's online returns on Hopper, HalfCheetah and Ant stayed ~8 % below "
            "frozen, as far in its random-direction control as in the rule, so the cost was the exploring itself, and an "
            "exploration halved costs a quarter. The factor was fixed before any of its runs." + _earned(studies))


def _earned(studies: list[dict]) -> str:
    earned = next((s for s in studies if "exploration_start" in s), None)
    if earned is None:
        return ""
    return (f" Study 5 (`pair_earned_guarded`) keeps study 4 and starts a run's exploration at "
            f"{earned['exploration_start']:g} x its own; after every guard window (10 explored episodes) whose mean return "
            f"kept the frozen baseline it multiplies by {earned['success_grow']:g}, up to study 4's. It was named after "
            "study 4's worst block was its first on Walker2d, HalfCheetah and Acrobot extreme, where a run explores fully "
            "before the guard has seen a window; both factors were fixed before any of its runs. Its comparisons, stated "
            "before them: (1) its worst block against frozen weights on every task, against the 5 % target; (2) its held-"
            "out gain against frozen weights and against its random-direction twin, paired by run; (3) against study 4, "
            "paired by (model, setting) across the two populations, which is sound only where their frozen arms played "
            "identical returns (the table below says where).")


def actor_protocol(report: dict) -> list[str]:
    """The MuJoCo tasks' protocol, when the report holds them."""
    config, rule = report.get("actor_config"), report.get("actor_rule")
    if config is None or not any(r["task"] not in ("CartPole-v0", "Acrobot-v1") for r in report["deployment"]):
        return []
    seeds = config["train_seeds"]
    return [
        f"MuJoCo tasks (node perturbation in the converted IF actor, `snn.node_perturbation`): the task's shipped spiking "
        f"actor (adaptive I, I <= {config['i_max']}) under {report['actor_settings']} settings of the "
        f"'{report['actor_profile']}' profile (so its runs share one network, and p speaks for that network) plays {config['episodes']} online episodes (seeds {seeds[0]}-"
        f"{seeds[config['episodes'] - 1]}), the first {config['baseline_episodes']} with the trained weights. While it "
        f"plays, every simulated step adds Gaussian noise xi of std {rule['exploration']} x the threshold to the currents "
        f"into weight layer {config['layer']}'s neurons; per environment step delta = sum_s xi_i s_j, e <- gamma e + delta "
        f"(gamma = exp(-1/{rule['trace_steps']:g})), G <- G + (r - r_bar) e with r_bar the mean of the run's last "
        f"{rule['window']} rewards; after each episode dw = sign x {rule['step']} ||w_0|| G / ||G||. The same guard "
        f"({config['window']} episodes, {100 * config['margin']:.0f} %). The final weights are scored without noise on "
        f"{config['heldout_episodes']} held-out seeds ({config['heldout_seeds'][0]}-"
        f"{config['heldout_seeds'][config['heldout_episodes'] - 1]}). The compared method, named before the runs: "
        "**node_perturbation_guarded**.", "",
    ]


def figure(report: dict, path: Path) -> None:
    """Per task and profile, every study's compared method (solid) and its random-direction twin (dashed,
    same colour): the rolling online return minus frozen weights' on the same episodes, mean and 95 %
    interval over runs (frozen is the zero line)."""
    panels = list(report["curves"])
    columns = min(len(panels), 4) or 1
    rows = (len(panels) + columns - 1) // columns or 1
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.6 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, panel in zip(axes.flat, panels):
        compared = sorted({r["variant"] for r in report["deployment"] if r["headline"] and f"{r['task']} {r['profile']}" == panel},
                          key=lambda v: STUDY_ORDER.index(v) if v in STUDY_ORDER else 99)
        roles = [(n, STUDY_COLOURS.get(v, "C7"), style) for v in compared for n, style in ((v, "-"), (f"{v}/random", "--"))]
        ax.axhline(0.0, color="C0", linewidth=1.0, label="frozen")
        for name, color, style in roles:
            curve = report["curves"][panel].get(name, {}).get("gain")
            if curve is None:
                continue
            x = np.arange(len(curve["mean"])) + 10
            ax.plot(x, curve["mean"], label=name, color=color, linestyle=style, linewidth=1.2)
            if style == "-":
                ax.fill_between(x, curve["low"], curve["high"], alpha=0.15, color=color)
        ax.set_title(panel)
        ax.set_xlabel("online episode")
        ax.set_ylabel("rolling return (10) - frozen's")
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
