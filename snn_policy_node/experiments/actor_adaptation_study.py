"""The deployment study of the converted IF actors' online plasticity, per MuJoCo task.

The rule and its step were fixed before any run (``RULE``, ``HEADLINE``); it runs guarded, beside
frozen weights, the same steps in a random direction, and the other sign. The shipped actor of a
task plays ``SETTINGS`` settings of the MuJoCo "normal" profile (drawn from ``SETTINGS_SEED``);
populations are kept as JSON in the same format as the DSQNs', so the same rows, statistics and
curves (:mod:`adaptation_study`) read them.
"""

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
    cached_population,
    config_record,
    deployment_rows,
    learning_curves,
    population_file,
    population_record,
)
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.snn.node_perturbation import PerturbationRule

RULE = PerturbationRule()
HEADLINE = "node_perturbation_guarded"  # the compared method, named before the runs
PROFILE = "normal"
SETTINGS = 15
SETTINGS_SEED = 0


def actor_arms() -> dict[str, ActorArm]:
    return {
        "frozen": ActorArm(None),
        HEADLINE: ActorArm(RULE, guard=True),
        f"{HEADLINE}/random": ActorArm(replace(RULE, direction="random"), guard=True),
        f"{HEADLINE}/other_sign": ActorArm(RULE, sign=-1.0, guard=True),
    }


def run_actor_population(env_id: str, model: Path, work_dir: Path, config: ActorDeploymentConfig,
                         compute: bool = True) -> dict | None:
    """The finished population of ``env_id``'s actor ``model``: read from ``work_dir``, or run and kept there."""
    named = actor_arms()

    def run(state_path: Path) -> dict:
        actor, checkpoint = load_model(model)
        settings = draw_settings(env_id, PROFILE, SETTINGS, SETTINGS_SEED)
        runs = deploy_actor(actor, checkpoint.observation, env_id, settings, list(named.values()), config,
                            progress=True, state_path=state_path)
        default = [float(default_physics_heldout(actor, checkpoint.observation, env_id, config).mean())]
        return population_record(env_id, PROFILE, list(named), [model], settings, config, runs, default, HEADLINE)

    return cached_population(population_file(work_dir, env_id, PROFILE), list(named), [model], config, run, compute)


def run_actor_study(models: dict[str, Path], work_dir: Path, config: ActorDeploymentConfig,
                    finished_only: bool = False) -> dict:
    """Every task's population (run, or read from ``work_dir``), as rows and curves."""
    deployment, curves, timing, pending = [], {}, {}, []
    for env_id, model in models.items():
        population = run_actor_population(env_id, model, work_dir, config, compute=not finished_only)
        if population is None:
            pending.append(f"{env_id} {PROFILE}")
            continue
        deployment += deployment_rows(population)
        curves[f"{env_id} {PROFILE}"] = learning_curves(population)
        timing[f"{env_id} {PROFILE}"] = population["seconds"]
    return {"deployment": deployment, "curves": curves, "seconds": timing, "pending": pending,
            "actor_config": config_record(config), "actor_rule": asdict(RULE), "actor_settings": SETTINGS,
            "actor_profile": PROFILE}
