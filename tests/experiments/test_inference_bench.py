from pathlib import Path

import numpy as np
import torch

from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.experiments.inference_bench import inference_bench, qcfs_numpy_forward, qcfs_onnx_session
from snn_policy_node.policy.model_io import load_model

REPO = Path(__file__).resolve().parents[2]


def test_the_onnx_and_numpy_baselines_are_the_actor_s_source_qcfs_network(random_qcfs_actor):
    for actor in (SpikingActor.from_qcfs(random_qcfs_actor(0)), load_model(REPO / "models/td3bc/Hopper-v5/spiking_actor.safetensors")[0]):
        obs = torch.randn(256, actor.weight0.shape[1], generator=torch.Generator().manual_seed(0))
        expected = actor.source_action(obs).numpy()
        onnx = qcfs_onnx_session(actor).run(None, {"obs": obs.numpy()})[0]
        np.testing.assert_allclose(onnx, expected, rtol=0, atol=1e-5)
        np.testing.assert_allclose(qcfs_numpy_forward(actor)(obs.numpy()), expected, rtol=0, atol=1e-5)


def test_the_benchmark_times_every_candidate_and_takes_ratios_within_rounds():
    models = {"Hopper-v5 spiking actor, adaptive I": (REPO / "models/td3bc/Hopper-v5/spiking_actor.safetensors",
                                                      {"iterations": "adaptive"}),
              "CartPole-v0 DSQN": (REPO / "models/dsqn/CartPole-v0/seed0/model.safetensors", {})}
    result = inference_bench(models, rounds=2, calls=20, progress=lambda _: None)
    assert set(result["us"]) == {*models, "Hopper-v5 QCFS ANN, ONNX Runtime", "Hopper-v5 QCFS ANN, NumPy"}
    assert all(0 < s["min"] <= s["median"] <= s["max"] for s in result["us"].values())
    assert all(len(values) == 2 and min(values) == result["us"][name]["min"] for name, values in result["per_round_us"].items())
    ratio = result["ratios"]["Hopper-v5 spiking actor / ONNX ANN"]
    assert ratio["min"] <= ratio["median"] <= ratio["max"] and ratio["median"] > 0
