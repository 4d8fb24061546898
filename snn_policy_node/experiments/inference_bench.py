"""Batch-of-one inference time of a converted spiking actor against its source ANN.

Both networks are timed in the same process, alternating in rounds, so machine load
affects them alike; the figure reported is the median time per call.
"""

import time

import torch

from sim_bridge.tasks import make_task_env
from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.experiments.conversion_check import percentile_actor, random_states


def median_call_seconds(function, inputs: torch.Tensor, rounds: int) -> float:
    times = []
    for k in range(rounds):
        x = inputs[k % len(inputs)].unsqueeze(0)
        start = time.perf_counter()
        function(x)
        times.append(time.perf_counter() - start)
    return float(torch.tensor(times).median())


@torch.no_grad()
def spiking_vs_ann(env_id: str = "Hopper-v5", rounds: int = 3000, seed: int = 0) -> dict:
    """Median seconds per action: QCFS ANN, and its spiking actor (T = 4) with I = 0 and I = 1."""
    torch.set_num_threads(1)
    obs = torch.as_tensor(random_states(env_id, 500, seed), dtype=torch.float32)
    ann = percentile_actor(obs, act_dim=make_task_env(env_id).action_space.shape[0], seed=seed).eval()
    snn = SpikingActor.from_qcfs(ann, timesteps=4)
    candidates = {
        "ann": ann,
        "snn_i0": lambda x: snn.simulate(x, 0, errors=False),
        "snn_i1": lambda x: snn.simulate(x, 1, errors=False),
    }
    for function in candidates.values():  # warm-up
        median_call_seconds(function, obs, 200)
    totals = {name: [] for name in candidates}
    for _ in range(5):  # interleaved rounds
        for name, function in candidates.items():
            totals[name].append(median_call_seconds(function, obs, rounds // 5))
    result = {name: float(torch.tensor(values).median()) for name, values in totals.items()}
    result.update(env_id=env_id, obs_dim=obs.shape[1], hidden=[256, 256], act_dim=ann.linears[-1].out_features,
                  timesteps=4, rounds=rounds)
    return result
