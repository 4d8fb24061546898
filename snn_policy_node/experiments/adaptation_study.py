"""The deployment study of online r-STDP: every rule variant beside its controls, per task and profile.

The variants and the headline were fixed before any run (``VARIANTS``, ``HEADLINE``); each
variant runs with two controls that share its selection: the same updates' norm in a random
direction, and the rule with the other sign. Frozen weights play the same episodes. A task and
profile's population (every arm x every shipped model x the profile's 10 settings) is kept as
JSON in the work directory once it has finished, and a re-run reads it instead of running it; a
population that stopped part-way resumes from its ``*.state.pt`` there.

Statistics are taken over runs (models x settings, paired by run): the held-out mean per run is
one sample, so episodes of a run are never counted as independent.

Beside the arms stands what a sim-to-real user would try instead of adapting: a DSQN trained
under the profile itself (``train dsqn --randomization``, the shipped models' network, budget and
seeds). Its seed-k model is scored on the same settings and held-out seeds, and paired with the
runs of shipped model k.
"""

import functools
import json
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from scipy import stats

from snn_policy_node.atomic import atomic_path
from snn_policy_node.evaluation.batched import evaluate_population, stacked_weights
from snn_policy_node.evaluation.seeds import TUNING_SEEDS
from snn_policy_node.evaluation.statistics import paired
from snn_policy_node.experiments.deployment import Arm, DeploymentConfig, default_heldout, deploy
from snn_policy_node.experiments.grid import Compute, Grid
from snn_policy_node.experiments.rstdp_study import TUNING_SETTINGS_SEEDS, profile_settings
from snn_policy_node.policy.checkpoint import load_checkpoint, tensor_digest
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.snn.rstdp import ModulationRule, model_amplitudes
from snn_policy_node.tasks import dsqn_task
from snn_policy_node.tasks.adaptation import (
    EARNED_EXPLORATION,
    GUARD_CONFIDENCE,
    PAIR,
    ROLLBACK_SHRINK,
    SIGNIFICANCE_PAIR,
    pair_rule,
)

MAX_NORM = 0.01  # a bounded update moves the plastic weights by at most 1 % of their trained norm per episode
EXPLORATION = 0.3  # node perturbation's noise std, in units of the threshold
VARIANTS = {
    "paper": ModulationRule(),
    "rpe": ModulationRule("rpe"),
    "rpe_bounded": ModulationRule("rpe", max_norm=MAX_NORM),
    "rpe_bounded_guarded": ModulationRule("rpe", max_norm=MAX_NORM),
    "perturbation_guarded": ModulationRule("rpe", max_norm=MAX_NORM, exploration=EXPLORATION),
}
GUARDED = {"rpe_bounded_guarded", "perturbation_guarded"}
HEADLINE = "rpe_bounded_guarded"  # the compared method, named before the runs
# Acrobot's episodes cost 5 x CartPole's: it runs the paper's rule and the headline only (with their
# controls), so that a profile's population fits in one session here.
TASK_VARIANTS = {"Acrobot-v1": ("paper", HEADLINE)}
# Acrobot's three readings of its shaping differ by a constant, which a prediction error removes:
# they are compared on the paper's raw-reward rule only.
EXTRA_SHAPINGS = {"Acrobot-v1": ("acrobot_code", "acrobot_steps")}
BLOCK = 20  # episodes per block of the online return


# The pair rule (antithetic episodes of held node perturbation), studied after the first study's
# runs, twice: with the first study's guard (study 2), and with a guard that rolls back only on a
# significant drop (study 3, named after study 2's runs showed the first guard rolling back on noise).
# Each study's settings are the best held-out mean of its own tuning population (TUNING_GRID on
# CartPole-v0 extreme, TUNING_SETTINGS_SEEDS and TUNING_SEEDS): the reported populations never
# play the settings or score the seeds that chose them.
# The chosen settings live in tasks.adaptation, where a robot's defaults read them.
PAIR_HEADLINE = "pair_guarded"
SIGNIFICANCE_HEADLINE = "pair_significance_guarded"
CAUTIOUS_HEADLINE = "pair_cautious_guarded"  # study 4: study 3 with tasks.adaptation.ROLLBACK_SHRINK
EARNED_HEADLINE = "pair_earned_guarded"  # study 5: study 4 with tasks.adaptation.EARNED_EXPLORATION
TUNING_TASK = ("CartPole-v0", "extreme")
TUNING_GRID = tuple((exploration, step) for exploration in (0.1, 0.3, 1.0) for step in (0.005, 0.02, 0.05))


def with_controls(name: str, rule: ModulationRule, guard: bool) -> dict[str, Arm]:
    """The rule, its random-direction twin, its other-sign twin."""
    return {name: Arm(rule, guard=guard), f"{name}/random": Arm(replace(rule, direction="random"), guard=guard),
            f"{name}/other_sign": Arm(rule, sign=-1.0, guard=guard)}


def arms(env_id: str) -> dict[str, Arm]:
    """The first study: frozen, then every variant with its controls, and Acrobot's other shapings."""
    out = {"frozen": Arm(None)}
    for name in TASK_VARIANTS.get(env_id, VARIANTS):
        out.update(with_controls(name, VARIANTS[name], name in GUARDED))
    for shaping in EXTRA_SHAPINGS.get(env_id, ()):
        out[f"paper_{shaping}"] = Arm(VARIANTS["paper"], shaping=shaping)
        out[f"paper_{shaping}/random"] = Arm(ModulationRule(direction="random"), shaping=shaping)
    return out


def pair_arms(headline: str, exploration: float, step: float, **options) -> Callable[[str], dict[str, Arm]]:
    return lambda env_id: {"frozen": Arm(None), **with_controls(headline, pair_rule(exploration, step, **options), guard=True)}


def tuning_arms(headline: str) -> Callable[[str], dict[str, Arm]]:
    return lambda env_id: {"frozen": Arm(None), **{tuning_name(headline, *point): Arm(pair_rule(*point), guard=True)
                                                   for point in TUNING_GRID}}


def tuning_name(headline: str, exploration: float, step: float) -> str:
    return f"{headline}(exploration={exploration:g},step={step:g})"


@dataclass(frozen=True)
class Study:
    """A population per task and profile: its arms, the compared method named before its runs,
    whether it plays the tuning settings and scores the tuning seeds, and its guard's confidence."""

    suffix: str  # of its population files
    headline: str
    arms: Callable[[str], dict[str, Arm]]
    tuning: bool = False
    confidence: float = 0.0

    def config(self, config: DeploymentConfig) -> DeploymentConfig:
        config = replace(config, confidence=self.confidence)
        return replace(config, heldout_seeds=TUNING_SEEDS) if self.tuning else config


STUDIES = (
    Study("", HEADLINE, arms),
    Study("-pairs", PAIR_HEADLINE, pair_arms(PAIR_HEADLINE, **PAIR)),
    Study("-pairs-significance", SIGNIFICANCE_HEADLINE, pair_arms(SIGNIFICANCE_HEADLINE, **SIGNIFICANCE_PAIR),
          confidence=GUARD_CONFIDENCE),
    Study("-pairs-cautious", CAUTIOUS_HEADLINE,
          pair_arms(CAUTIOUS_HEADLINE, **SIGNIFICANCE_PAIR, rollback_shrink=ROLLBACK_SHRINK), confidence=GUARD_CONFIDENCE),
    Study("-pairs-earned", EARNED_HEADLINE,
          pair_arms(EARNED_HEADLINE, **SIGNIFICANCE_PAIR, rollback_shrink=ROLLBACK_SHRINK, **EARNED_EXPLORATION),
          confidence=GUARD_CONFIDENCE),
)
TUNINGS = (  # the tuning population of studies 2 and 3
    Study("-tuning", PAIR_HEADLINE, tuning_arms(PAIR_HEADLINE), tuning=True),
    Study("-tuning-significance", SIGNIFICANCE_HEADLINE, tuning_arms(SIGNIFICANCE_HEADLINE), tuning=True,
          confidence=GUARD_CONFIDENCE),
)


def study_compute(compute: Compute, study: Study, studies: Collection[str] | None) -> Compute:
    """What runs ``study``'s missing populations: ``compute``, unless ``studies`` names others only
    (their compared methods); then they are read where finished and left pending where not."""
    return compute if studies is None or study.headline in studies else False


def population_file(work_dir: Path, env_id: str, profile: str, study: Study = STUDIES[0]) -> Path:
    return work_dir / f"{env_id}-{profile}{study.suffix}.json"


def run_population(env_id: str, profile: str, models: list[Path], work_dir: Path, config: DeploymentConfig,
                   compute: Compute = True, study: Study = STUDIES[0]) -> dict | None:
    """The finished population of ``study`` on ``env_id`` under ``profile``: read from ``work_dir``, or run and kept there."""
    named, config = study.arms(env_id), study.config(config)

    def run(state_path: Path) -> dict:
        task, settings = dsqn_task(env_id), profile_settings(env_id, profile, study.tuning)
        loaded = [load_model(m) for m in models]
        networks = [model for model, _ in loaded]
        amplitudes = [model_amplitudes(m.layers[config.layer].weight, c.provenance) for m, c in loaded]
        runs = deploy(networks, task, settings, list(named.values()), config, amplitudes, progress=True, state_path=state_path)
        default = default_heldout(networks, task, config.heldout_seeds).mean(1).tolist()
        return population_record(env_id, profile, list(named), models, settings, config, runs, default, study.headline)

    return cached_population(population_file(work_dir, env_id, profile, study), list(named), models, config, run, compute)


def randomized_training_control(population: dict, models: list[Path], work_dir: Path, compute: Compute = True) -> dict | None:
    """Held-out returns (per episode, and their mean) of the domain-randomized ``models`` (seed k
    beside shipped model k) on the population's settings and held-out seeds: read from
    ``work_dir``, or scored and kept there (``compute``: see :func:`cached_population`)."""
    env_id, profile, seeds = population["env_id"], population["profile"], population["config"]["heldout_seeds"]
    path = work_dir / f"{env_id}-{profile}-randomized-training.json"
    if path.exists():
        kept = json.loads(path.read_text())
        check_models(path, kept, models)
        if kept["settings"] != population["settings"]:
            raise ValueError(f"{path} scored other settings; move it away to score these")
        return kept
    if isinstance(compute, Grid):
        compute.add(path.stem, functools.partial(randomized_training_control, population, models, work_dir))
    if compute is not True:
        return None
    networks = [load_model(m)[0] for m in models]
    settings = population["settings"]
    runs = [(k, s) for k in range(len(networks)) for s in range(len(settings))]
    heldout = evaluate_population(networks[0], stacked_weights([networks[k] for k, _ in runs]), env_id, seeds,
                                  [settings[s] for _, s in runs])
    control = {"env_id": env_id, "profile": profile, **models_record(models), "settings": settings,
               "heldout_seeds": list(seeds),
               "runs": [{"model": k, "setting": s, "heldout_mean": float(h.mean()), "heldout": h.tolist()}
                        for (k, s), h in zip(runs, heldout)]}
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(control))
    return control


def models_record(models: list[Path]) -> dict:
    """Where the models were read from, and what identifies them: the digest of each one's weights
    (a path holds another model once a better one is shipped there; a re-saved header keeps the weights)."""
    return {"models": [str(m) for m in models], "model_weights": [tensor_digest(load_checkpoint(m).tensors) for m in models]}


def check_models(path: Path, kept: dict, models: list[Path]) -> None:
    """Refuse a kept result measured on other weights than ``models`` hold now: it would be reported as theirs."""
    if kept.get("model_weights") != models_record(models)["model_weights"]:
        raise ValueError(f"{path} was measured on {kept['models']}, whose weights differ from those in "
                         f"{[str(m) for m in models]} now: point the command at the models it measured (the file "
                         "records their weights' digests), or give another --work-dir")


def cached_population(path: Path, arm_names: list[str], models: list[Path], config, run, compute: Compute = True) -> dict | None:
    """The population kept at ``path`` (checked to be this one), else ``run(state_path)``'s, kept there.
    ``compute`` False leaves a missing population alone; a :class:`Grid` takes it as a unit to run."""
    if path.exists():
        kept = json.loads(path.read_text())
        if kept["arms"] != arm_names or kept["config"] != config_record(config):
            raise ValueError(f"{path} holds another population (arms or settings differ); give another --work-dir")
        check_models(path, kept, models)
        return kept
    if isinstance(compute, Grid):
        compute.add(path.stem, functools.partial(cached_population, path, arm_names, models, config, run))
    if compute is not True:
        return None
    state_path = path.with_suffix(".state.pt")
    population = run(state_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(population))
    state_path.unlink(missing_ok=True)
    return population


def population_record(env_id: str, profile: str, arm_names: list[str], models: list[Path], settings: list[dict], config,
                      runs, default_heldout: list[float], headline: str = HEADLINE) -> dict:
    """A finished population as JSON: every run's online return per episode and held-out mean."""
    return {
        "env_id": env_id, "profile": profile, "arms": arm_names, **models_record(models),
        "settings": settings, "config": config_record(config), "seconds": runs.seconds, "headline": headline,
        "default_heldout": default_heldout,
        "runs": [{"arm": arm_names[int(a)], "model": int(m), "setting": int(s), "online": online.tolist(),
                  "rollbacks": int(back), "heldout_mean": float(heldout.mean())}
                 for a, m, s, online, back, heldout in zip(runs.arm, runs.model, runs.setting, runs.online,
                                                           runs.rollbacks, runs.heldout)],
    }


LATER_FIELDS = {"confidence": 0.0}  # fields added after populations were kept: recorded only when not at these values


def config_record(config: DeploymentConfig) -> dict:
    return {k: (list(v) if isinstance(v, range) else v) for k, v in asdict(config).items()
            if k not in LATER_FIELDS or v != LATER_FIELDS[k]}


def by_arm(population: dict) -> dict[str, dict[str, np.ndarray]]:
    """Per arm: held-out means, online returns and rollbacks, rows in the same (model, setting) order."""
    out = {}
    for name in population["arms"]:
        rows = sorted((r for r in population["runs"] if r["arm"] == name), key=lambda r: (r["model"], r["setting"]))
        out[name] = {"heldout": np.array([r["heldout_mean"] for r in rows]),
                     "online": np.array([r["online"] for r in rows]),
                     "rollbacks": np.array([r["rollbacks"] for r in rows]),
                     "model": np.array([r["model"] for r in rows])}
    return out


def deployment_rows(population: dict, randomized: dict | None = None) -> list[dict]:
    """One row per variant: held-out returns of the adapted weights beside frozen, random and other
    sign, and (``randomized``: :func:`randomized_training_control`) beside domain-randomized training."""
    arms_of, default = by_arm(population), np.array(population["default_heldout"])
    frozen = arms_of["frozen"]
    default_per_run = default[frozen["model"]]
    drop = float((default_per_run - frozen["heldout"]).mean())
    trained_randomized = None
    if randomized is not None:
        means = {(r["model"], r["setting"]): r["heldout_mean"] for r in randomized["runs"]}
        order = sorted((r["model"], r["setting"]) for r in population["runs"] if r["arm"] == "frozen")
        trained_randomized = np.array([means[key] for key in order])
    rows = []
    for name in arms_of:
        if name == "frozen" or "/" in name:
            continue
        adapted, random = arms_of[name], arms_of[f"{name}/random"]
        other = arms_of.get(f"{name}/other_sign")
        gain, versus_random = paired(adapted["heldout"], frozen["heldout"]), paired(adapted["heldout"], random["heldout"])
        blocks, frozen_blocks = _blocks(adapted["online"]), _blocks(frozen["online"])
        rows.append({
            "task": population["env_id"], "profile": population["profile"], "variant": name,
            "runs": len(adapted["heldout"]),
            "frozen_heldout": float(frozen["heldout"].mean()), "adapted_heldout": float(adapted["heldout"].mean()),
            "random_control_heldout": float(random["heldout"].mean()),
            "other_sign_heldout": float(other["heldout"].mean()) if other is not None else None,
            "default_heldout": float(default_per_run.mean()),
            "recovered_pct": 100.0 * gain["mean"] / drop if drop > 0 else None,
            "gain_vs_frozen": gain, "p_vs_frozen": gain["p"],
            "gain_vs_random": versus_random, "p_vs_random": versus_random["p"],
            "online_first_block": float(blocks[0]), "online_last_block": float(blocks[-1]),
            "frozen_online_last_block": float(frozen_blocks[-1]),
            "worst_block_vs_frozen_pct": float(100.0 * np.min((blocks - frozen_blocks) / np.abs(frozen_blocks))),
            "rollbacks_per_run": float(adapted["rollbacks"].mean()),
            "headline": name == population.get("headline", HEADLINE),
            **_versus_randomized_training(adapted["heldout"], trained_randomized),
        })
    return rows


def study_against(later: dict, earlier: dict) -> dict:
    """``later``'s compared method against ``earlier``'s (two studies' populations of one task and
    profile), paired by (model, setting): sound only where the two frozen arms played identical
    returns, which ``frozen_identical`` says."""
    new, old = by_arm(later), by_arm(earlier)
    frozen_identical = all(np.array_equal(new["frozen"][key], old["frozen"][key]) for key in ("online", "heldout"))
    a, b = new[later["headline"]], old[earlier["headline"]]
    frozen_blocks = _blocks(new["frozen"]["online"])
    return {"task": later["env_id"], "profile": later["profile"], "later": later["headline"],
            "earlier": earlier["headline"], "runs": len(a["heldout"]), "frozen_identical": frozen_identical,
            "heldout_gain": paired(a["heldout"], b["heldout"]),
            "first_block_gain": paired(a["online"][:, :BLOCK].mean(1), b["online"][:, :BLOCK].mean(1)),
            "online_gain": paired(a["online"].mean(1), b["online"].mean(1)),
            "worst_block_vs_frozen_pct": {name: float(100.0 * np.min((_blocks(arm["online"]) - frozen_blocks)
                                                                     / np.abs(frozen_blocks)))
                                          for name, arm in ((later["headline"], a), (earlier["headline"], b))}}


def study_comparisons(populations: dict[str, dict]) -> list[dict]:
    """Study 5 against study 4 (its pre-registered comparison), where both populations of a task and
    profile (``populations``, by study suffix) have finished."""
    later, earlier = (populations.get(suffix) for suffix in ("-pairs-earned", "-pairs-cautious"))
    return [] if later is None or earlier is None else [study_against(later, earlier)]


def tuning_rows(population: dict) -> list[dict]:
    """Per grid point of the tuning population: its held-out mean beside frozen's, paired by run."""
    arms_of = by_arm(population)
    frozen = arms_of["frozen"]
    frozen_blocks = _blocks(frozen["online"])
    return [{"variant": name, "heldout": float(arm["heldout"].mean()), "gain_vs_frozen": paired(arm["heldout"], frozen["heldout"]),
             "worst_block_vs_frozen_pct": float(100.0 * np.min((_blocks(arm["online"]) - frozen_blocks) / np.abs(frozen_blocks))),
             "rollbacks_per_run": float(arm["rollbacks"].mean())}
            for name, arm in arms_of.items() if name != "frozen"]


def _versus_randomized_training(adapted: np.ndarray, trained_randomized: np.ndarray | None) -> dict:
    if trained_randomized is None:
        return {"randomized_training_heldout": None, "gain_vs_randomized_training": None}
    return {"randomized_training_heldout": float(trained_randomized.mean()),
            "gain_vs_randomized_training": paired(adapted, trained_randomized)}


def _blocks(online: np.ndarray) -> np.ndarray:
    """Mean online return per block of ``BLOCK`` episodes, over runs."""
    episodes = online.shape[1] - online.shape[1] % BLOCK
    return online[:, :episodes].reshape(len(online), -1, BLOCK).mean((0, 2))


def learning_curves(population: dict, window: int = 10) -> dict[str, dict[str, list[float]]]:
    """Per arm: the rolling online return (mean of the last ``window`` episodes) per episode, and
    (``gain``) its difference from frozen weights' on the same episodes of the same run; each as the
    mean and 95 % interval over runs. Settings differ far more than arms do, so only the paired
    difference shows an arm's effect."""
    kernel = np.ones(window) / window
    rolling = {name: np.array([np.convolve(run, kernel, mode="valid") for run in arm["online"]])
               for name, arm in by_arm(population).items()}
    return {name: {**_band(values), "gain": _band(values - rolling["frozen"])} for name, values in rolling.items()}


def _band(values: np.ndarray) -> dict[str, list[float]]:
    mean = values.mean(0)
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(0, ddof=1) / np.sqrt(len(values))
    return {"mean": mean.tolist(), "low": (mean - half).tolist(), "high": (mean + half).tolist()}


def run_study(models: dict[str, list[Path]], profiles: list[str], work_dir: Path, config: DeploymentConfig,
              compute: Compute = True, randomized_dir: Path | None = None, studies: Collection[str] | None = None) -> dict:
    """Every task and profile's population (run as ``compute`` says, or read from ``work_dir``), as rows
    and curves; with the domain-randomized models ``randomized_dir/ENV/PROFILE/seed*/`` where they have
    been trained. ``studies`` (compared methods) limits what runs: :func:`study_compute`."""
    deployment, curves, timing, pending, tuning = [], {}, {}, [], []
    env_id, profile = TUNING_TASK
    for study in TUNINGS if env_id in models and profile in profiles else ():
        population = run_population(env_id, profile, models[env_id], work_dir, config,
                                    study_compute(compute, study, studies), study)
        if population is None:
            pending.append(f"{env_id} {profile}{study.suffix}")
            continue
        tuning.append({"task": env_id, "profile": profile, "headline": study.headline, "confidence": study.confidence,
                       "settings_seed": TUNING_SETTINGS_SEEDS[profile], "heldout_seeds": population["config"]["heldout_seeds"],
                       "seconds": population["seconds"], "frozen_heldout": float(by_arm(population)["frozen"]["heldout"].mean()),
                       "rows": tuning_rows(population)})
    comparisons = []
    for env_id, paths in models.items():
        for profile in profiles:
            finished = {}
            for study in STUDIES:
                population = run_population(env_id, profile, paths, work_dir, config,
                                            study_compute(compute, study, studies), study)
                if population is None:
                    pending.append(f"{env_id} {profile}{study.suffix}")
                    continue
                finished[study.suffix] = population
                deployment += deployment_rows(population, randomized_control(population, paths, work_dir, randomized_dir,
                                                                              compute, pending))
                curves.setdefault(f"{env_id} {profile}", {}).update(learning_curves(population))
                timing[f"{env_id} {profile}"] = timing.get(f"{env_id} {profile}", 0.0) + population["seconds"]
            comparisons += study_comparisons(finished)
    return {"work_dir": str(work_dir), "config": config_record(config), "headline": HEADLINE, "max_norm": MAX_NORM, "exploration": EXPLORATION,
            "pair_studies": [{"headline": PAIR_HEADLINE, **PAIR, "confidence": 0.0},
                             {"headline": SIGNIFICANCE_HEADLINE, **SIGNIFICANCE_PAIR, "confidence": GUARD_CONFIDENCE},
                             {"headline": CAUTIOUS_HEADLINE, **SIGNIFICANCE_PAIR, "confidence": GUARD_CONFIDENCE,
                              "rollback_shrink": ROLLBACK_SHRINK},
                             {"headline": EARNED_HEADLINE, **SIGNIFICANCE_PAIR, "confidence": GUARD_CONFIDENCE,
                              "rollback_shrink": ROLLBACK_SHRINK, **EARNED_EXPLORATION}],
            "tuning": tuning,
            "block": BLOCK, "deployment": deployment, "curves": curves, "seconds": timing, "pending": pending,
            "study_comparisons": comparisons}


def randomized_control(population: dict, paths: list[Path], work_dir: Path, randomized_dir: Path | None,
                       compute: Compute, pending: list[str]) -> dict | None:
    """:func:`randomized_training_control` of the population's task and profile, where its models are all trained."""
    if randomized_dir is None:
        return None
    env_id, profile = population["env_id"], population["profile"]
    trained = sorted(Path(randomized_dir, env_id, profile).glob("seed*/model.safetensors"))
    randomized = None
    if len(trained) == len(paths):
        randomized = randomized_training_control(population, trained, work_dir, compute)
    message = (f"{env_id} {profile}: the domain-randomized control (scripts/train-randomized-dsqns.sh {env_id} {profile}, "
               f"{len(trained)} of {len(paths)} trained)")
    if randomized is None and message not in pending:
        pending.append(message)
    return randomized
