"""The seed streams of every DSQN experiment, disjoint so that no episode is scored on the seeds
that chose it."""

# Disjoint seed sets: evaluation (the paper's 100 fixed initial conditions), r-STDP
# training episodes, and model selection during DQN training.
EVAL_SEEDS = range(0, 100)
ADAPT_SEEDS = range(10_000, 10_250)
VALIDATION_SEEDS = range(20_000, 20_100)
# Never used to train, validate or select weights: scores r-STDP's selected weights without the
# optimism of picking the best of many evaluations on EVAL_SEEDS.
HELDOUT_SEEDS = range(30_000, 30_100)
# Held-out seeds of the tuning populations, which choose a rule's settings on physics settings of
# their own (TUNING_SETTINGS_SEEDS): the reported populations never score the seeds that chose.
TUNING_SEEDS = range(40_000, 40_100)
