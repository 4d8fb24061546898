"""Greedy evaluation of DSQN policies on fixed seeds, all episodes as one batch.

A population of weight variants (the runs of an adaptation experiment) is evaluated in the
same batch: run r plays every seed with its own weights and its own physics.
"""

import numpy as np
import torch

from sim_bridge.physics import parameter_arrays
from sim_bridge.simulators.batch import make_batch
from snn_policy_node.evaluation.seeds import EVAL_SEEDS
from snn_policy_node.snn.dsqn import DSQN


def stacked_weights(models: list[DSQN]) -> list[torch.Tensor]:
    """Each layer's weights of ``models`` as one ``[runs, out, in]`` tensor."""
    return [torch.stack(layer_weights) for layer_weights in zip(*([layer.weight for layer in m.layers] for m in models))]


@torch.no_grad()
def evaluate_population(
    model: DSQN, weights: list[torch.Tensor], env_id: str, seeds, settings: list[dict]
) -> np.ndarray:
    """Returns ``[runs, seeds]``: run r uses ``weights[k][r]`` and the physics ``settings[r]``."""
    runs, n = len(settings), len(seeds)
    batch = make_batch(env_id, list(seeds) * runs, parameter_arrays(env_id, settings, repeat=n))
    obs = batch.reset()
    returns = np.zeros(runs * n)
    done = np.zeros(runs * n, dtype=bool)
    actions = np.zeros(runs * n, dtype=np.int64)
    while not done.all():
        # Simulate only the running copies: each run's running seeds first, cut to the widest run.
        running = ~done.reshape(runs, n)
        order = np.argsort(~running, axis=1, kind="stable")[:, : running.sum(1).max()]
        valid = np.take_along_axis(running, order, axis=1)
        live = valid.any(1)
        index = (order + n * np.arange(runs)[:, None])[live]
        variants = weights if live.all() else [w[torch.from_numpy(live)] for w in weights]
        chosen = model.simulate(torch.from_numpy(obs[index]), variants).q_values.argmax(-1).numpy()
        actions[index[valid[live]]] = chosen[valid[live]]
        obs, rewards, done = batch.step(actions)
        returns += rewards
    return returns.reshape(runs, n)


def evaluate(model: DSQN, env_id: str, seeds=EVAL_SEEDS, parameters: dict | None = None) -> np.ndarray:
    """Episode return of the greedy policy for every seed, under the physics ``parameters``."""
    weights = [layer.weight.unsqueeze(0) for layer in model.layers]
    return evaluate_population(model, weights, env_id, seeds, [parameters or {}])[0]
