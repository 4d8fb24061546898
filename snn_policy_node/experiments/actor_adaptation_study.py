"""The deployment study of the converted IF actors' online plasticity, per MuJoCo task.

Four studies, each fixed before its runs: dense node perturbation (``RULE``, ``HEADLINE``);
the pair rule (antithetic episodes) with the significance guard (``adaptation_study.SIGNIFICANCE_HEADLINE``),
whose settings its tuning population chose on Hopper-v5 (``TUNING_SETTINGS`` settings drawn from
``TUNING_SETTINGS_SEED``, scored on ``TUNING_SEEDS``); the same, its exploration shrunk at every
rollback (``adaptation_study.CAUTIOUS_HEADLINE``, ``tasks.adaptation.ROLLBACK_SHRINK``); and that, its
exploration started small and earned (``adaptation_study.EARNED_HEADLINE``,
``tasks.adaptation.EARNED_EXPLORATION``). Each runs guarded, beside frozen weights,
the same steps in a random direction, and the other sign. The shipped actor of a task plays
``SETTINGS`` settings of the MuJoCo "normal" profile (drawn from ``SETTINGS_SEED``); populations
are kept as JSON in the same format as the DSQNs', so the same rows, statistics and curves
(:mod:`adaptation_study`) read them.
"""

from collections.abc import Callable, Collection
from dataclasses import asdict, replace
from pathlib import Path

from sim_bridge.randomization import draw_settings
from snn_policy_node.experiments.actor_deployment import (
    ActorArm,
    ActorDeploymentConfig,
    default_physics_heldout,
    deploy_actor,
)
from snn_policy_node.experiments.adaptation_study import (
    CAUTIOUS_HEADLINE,
    EARNED_HEADLINE,
    SIGNIFICANCE_HEADLINE,
    Study,
    by_arm,
    cached_population,
    config_record,
    deployment_rows,
    learning_curves,
    population_file,
    population_record,
    study_comparisons,
    study_compute,
    tuning_name,
    tuning_rows,
)
from snn_policy_node.experiments.grid import Compute
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.snn.node_perturbation import PerturbationRule
from snn_policy_node.tasks.adaptation import (
    ACTOR_SIGNIFICANCE_PAIR,
    EARNED_EXPLORATION,
    GUARD_CONFIDENCE,
    ROLLBACK_SHRINK,
    pair_rule,
)

RULE = PerturbationRule()
HEADLINE = "node_perturbation_guarded"  # the compared method, named before the runs
PROFILE = "normal"
SETTINGS = 15
SETTINGS_SEED = 0
TUNING_TASK = "Hopper-v5"
TUNING_GRID = ((0.3, 0.005), (0.3, 0.02), (1.0, 0.005), (1.0, 0.02))
TUNING_SETTINGS, TUNING_SETTINGS_SEED = 5, 1


def with_controls(name: str, rule, guard: bool = True) -> dict[str, ActorArm]:
    return {name: ActorArm(rule, guard=guard), f"{name}/random": ActorArm(replace(rule, direction="random"), guard=guard),
            f"{name}/other_sign": ActorArm(rule, sign=-1.0, guard=guard)}


def actor_arms(env_id: str | None = None) -> dict[str, ActorArm]:
    return {"frozen": ActorArm(None), **with_controls(HEADLINE, RULE)}


def actor_pair_arms(headline: str, **options) -> Callable[[str | None], dict[str, ActorArm]]:
    rule = pair_rule(**ACTOR_SIGNIFICANCE_PAIR, **options)
    return lambda env_id=None: {"frozen": ActorArm(None), **with_controls(headline, rule)}


def actor_tuning_arms(env_id: str | None = None) -> dict[str, ActorArm]:
    return {"frozen": ActorArm(None), **{tuning_name(SIGNIFICANCE_HEADLINE, *point): ActorArm(pair_rule(*point), guard=True)
                                         for point in TUNING_GRID}}


ACTOR_STUDIES = (Study("", HEADLINE, actor_arms),
                 Study("-pairs-significance", SIGNIFICANCE_HEADLINE, actor_pair_arms(SIGNIFICANCE_HEADLINE),
                       confidence=GUARD_CONFIDENCE),
                 Study("-pairs-cautious", CAUTIOUS_HEADLINE,
                       actor_pair_arms(CAUTIOUS_HEADLINE, rollback_shrink=ROLLBACK_SHRINK), confidence=GUARD_CONFIDENCE),
                 Study("-pairs-earned", EARNED_HEADLINE,
                       actor_pair_arms(EARNED_HEADLINE, rollback_shrink=ROLLBACK_SHRINK, **EARNED_EXPLORATION),
                       confidence=GUARD_CONFIDENCE))
ACTOR_TUNING = Study("-tuning-significance", SIGNIFICANCE_HEADLINE, actor_tuning_arms, tuning=True,
                     confidence=GUARD_CONFIDENCE)


def run_actor_population(env_id: str, model: Path, work_dir: Path, config: ActorDeploymentConfig,
                         compute: Compute = True, study: Study = ACTOR_STUDIES[0]) -> dict | None:
    """The finished population of ``study`` on ``env_id``'s actor ``model``: read from ``work_dir``, or run and kept there."""
    named, config = study.arms(env_id), study.config(config)

    def run(state_path: Path) -> dict:
        actor, checkpoint = load_model(model)
        settings = (draw_settings(env_id, PROFILE, TUNING_SETTINGS, TUNING_SETTINGS_SEED) if study.tuning
                    else draw_settings(env_id, PROFILE, SETTINGS, SETTINGS_SEED))
        runs = deploy_actor(actor, checkpoint.observation, env_id, settings, list(named.values()), config,
                            progress=True, state_path=state_path)
        default = [float(default_physics_heldout(actor, checkpoint.observation, env_id, config).mean())]
        return population_record(env_id, PROFILE, list(named), [model], settings, config, runs, default, study.headline)

    return cached_population(population_file(work_dir, env_id, PROFILE, study), list(named), [model], config, run, compute)


def run_actor_study(models: dict[str, Path], work_dir: Path, config: ActorDeploymentConfig,
                    compute: Compute = True, studies: Collection[str] | None = None) -> dict:
    """Every task's populations (run, or read from ``work_dir``), as rows and curves; the tuning
    population first, where its task is asked for. ``studies`` limits what runs (``study_compute``)."""
    deployment, curves, timing, pending, tuning = [], {}, {}, [], None
    if TUNING_TASK in models:
        population = run_actor_population(TUNING_TASK, models[TUNING_TASK], work_dir, config,
                                          study_compute(compute, ACTOR_TUNING, studies), ACTOR_TUNING)
        if population is None:
            pending.append(f"{TUNING_TASK} {PROFILE}: the pair rule's tuning population")
        else:
            tuning = {"task": TUNING_TASK, "profile": PROFILE, "headline": ACTOR_TUNING.headline, "settings": TUNING_SETTINGS,
                      "confidence": ACTOR_TUNING.confidence,
                      "settings_seed": TUNING_SETTINGS_SEED,
                      "heldout_seeds": population["config"]["heldout_seeds"][: config.heldout_episodes],
                      "seconds": population["seconds"], "frozen_heldout": float(by_arm(population)["frozen"]["heldout"].mean()),
                      "rows": tuning_rows(population)}
    comparisons = []
    for env_id, model in models.items():
        finished = {}
        for study in ACTOR_STUDIES:
            population = run_actor_population(env_id, model, work_dir, config, study_compute(compute, study, studies), study)
            if population is None:
                pending.append(f"{env_id} {PROFILE}{study.suffix}")
                continue
            finished[study.suffix] = population
            deployment += deployment_rows(population)
            curves.setdefault(f"{env_id} {PROFILE}", {}).update(learning_curves(population))
            timing[f"{env_id} {PROFILE}"] = timing.get(f"{env_id} {PROFILE}", 0.0) + population["seconds"]
        comparisons += study_comparisons(finished)
    return {"deployment": deployment, "curves": curves, "seconds": timing, "pending": pending,
            "study_comparisons": comparisons,
            "actor_config": config_record(config), "actor_rule": asdict(RULE), "actor_settings": SETTINGS,
            "actor_profile": PROFILE, "actor_tuning": tuning,
            "actor_pair": {**ACTOR_SIGNIFICANCE_PAIR, "confidence": GUARD_CONFIDENCE, "rollback_shrink": ROLLBACK_SHRINK}}
