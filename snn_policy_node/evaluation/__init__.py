"""Scoring policies on their tasks.

- ``rollout``: the one loop that plays a policy for whole episodes of a Gymnasium task.
- ``batched``: DSQN populations on the batched CartPole and Acrobot, each run with its own
  weights and physics, all seeds in one batch.
- ``actor_variants``: a TD3+BC actor as its ANN and as the spiking actor with I = 0..3 and adaptive I.
- ``seeds``: the disjoint seed streams (evaluation, adaptation, validation, held-out).

It sits below ``training`` (which validates with it) and ``experiments`` (which score with it),
so the import graph stays a DAG.
"""

from snn_policy_node.evaluation.batched import evaluate, evaluate_population, stacked_weights
from snn_policy_node.evaluation.rollout import evaluate_actor, play_episodes
from snn_policy_node.evaluation.seeds import ADAPT_SEEDS, EVAL_SEEDS, HELDOUT_SEEDS, VALIDATION_SEEDS

__all__ = ["evaluate", "evaluate_population", "stacked_weights", "evaluate_actor", "play_episodes", "ADAPT_SEEDS",
           "EVAL_SEEDS", "HELDOUT_SEEDS", "VALIDATION_SEEDS"]
