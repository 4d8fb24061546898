"""The pair rule's settings, as the deployment study chose them (``snn-robot report adaptation``,
docs/results/adaptation.md): each the best held-out mean of its tuning population, played on
settings and scored on seeds that no reported population uses. A robot's defaults are these."""

from snn_policy_node.snn.rstdp import ModulationRule

# Study 2: the pair rule under the first study's guard (confidence 0), tuned on CartPole-v0 extreme.
PAIR = {"exploration": 0.1, "step": 0.02}
# Study 3: the pair rule under a guard that rolls back only on a significant drop, tuned on
# CartPole-v0 extreme (DSQNs) and Hopper-v5 (spiking actors).
GUARD_CONFIDENCE = 2.33  # z of a one-sided 1 % test per check, fixed before any run
SIGNIFICANCE_PAIR = {"exploration": 0.3, "step": 0.02}
ACTOR_SIGNIFICANCE_PAIR = {"exploration": 0.3, "step": 0.02}
# Study 4: study 3's rule, settings and guard, its exploration halved at every rollback. Named after
# study 3's online returns stayed ~8 % below frozen on three MuJoCo tasks, as much in the random-
# direction control: the cost was the exploring itself. The factor was fixed before any run, untuned.
ROLLBACK_SHRINK = 0.5
# Study 5: study 4's rule, settings and guard, but a run starts at a quarter of the exploration and
# earns the rest: x2 after every guard window of explored episodes whose mean return kept the frozen
# baseline, up to the full exploration. Named after study 4's worst block was its first on Walker2d
# (-14.4 %), HalfCheetah (-9.2 %) and Acrobot extreme (-11.5 %): there a run explores fully before the
# guard has seen a window. Both factors were fixed before any run, untuned.
EARNED_EXPLORATION = {"exploration_start": 0.25, "success_grow": 2.0}


def pair_rule(exploration: float, step: float, **options) -> ModulationRule:
    """The pair rule with noise std ``exploration`` thresholds and updates of ``step`` x ||w_0|| at most."""
    return ModulationRule("pair", max_norm=step, exploration=exploration, hold="pair", **options)
