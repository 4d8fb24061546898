"""Batch-of-one inference time of every shipped model as a robot runs it, beside what a user would run instead.

Each shipped model is timed through :meth:`Policy.act` in its shipped configuration (adaptive I for the
spiking actors), and each actor's source QCFS network is timed on ONNX Runtime (what Isaac ROS and
legged_control deploy policies with) and as a plain NumPy forward. All candidates run in the same
process on one thread, interleaved in rounds so that the machine's load falls on them alike; each round
gives every candidate the median of its calls, and a ratio is taken within each round, so its spread
over the rounds shows how far the machine's noise moves it.
"""

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.policy.policy import Policy
from snn_policy_node.snn.dsqn import DSQN

REPO = Path(__file__).resolve().parents[2]
ACTOR_TASKS = ("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Ant-v5")
DSQN_TASKS = ("CartPole-v0", "Acrobot-v1")


def shipped_models() -> dict[str, tuple[Path, dict]]:
    """Label -> (checkpoint, Policy options) of every shipped model, in its shipped configuration."""
    models = {f"{task} spiking actor, adaptive I": (REPO / f"models/td3bc/{task}/spiking_actor.safetensors",
                                                    {"iterations": "adaptive"}) for task in ACTOR_TASKS}
    models.update({f"{task} DSQN": (REPO / f"models/dsqn/{task}/seed0/model.safetensors", {}) for task in DSQN_TASKS})
    return models


def qcfs_onnx_session(actor: SpikingActor):
    """The actor's source QCFS network as an ONNX graph on ONNX Runtime, one thread: MatMul, Add, the
    quantised clip ``clip(floor(x L / lambda + 1/2), 0, L) lambda / L`` (eq. 14), and tanh."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    nodes, constants, x = [], [], "obs"

    def constant(name: str, value) -> str:
        constants.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    layers = actor.source_weights()
    for k, (weight, bias) in enumerate(layers):
        nodes += [helper.make_node("MatMul", [x, constant(f"w{k}", weight.numpy().T)], [f"m{k}"]),
                  helper.make_node("Add", [f"m{k}", constant(f"b{k}", bias.numpy())], [f"z{k}"])]
        x = f"z{k}"
        if k < len(layers) - 1:
            lam, levels = float(actor.thresholds[k]), actor.levels
            nodes += [helper.make_node("Mul", [x, constant(f"s{k}", levels / lam)], [f"q{k}"]),
                      helper.make_node("Add", [f"q{k}", constant(f"h{k}", 0.5)], [f"r{k}"]),
                      helper.make_node("Floor", [f"r{k}"], [f"f{k}"]),
                      helper.make_node("Clip", [f"f{k}", constant(f"lo{k}", 0.0), constant(f"hi{k}", levels)], [f"c{k}"]),
                      helper.make_node("Mul", [f"c{k}", constant(f"u{k}", lam / levels)], [f"a{k}"])]
            x = f"a{k}"
    nodes += [helper.make_node("Tanh", [x], ["t"]), helper.make_node("Mul", ["t", constant("max", actor.max_action)], ["action"])]
    obs_dim, act_dim = layers[0][0].shape[1], layers[-1][0].shape[0]
    graph = helper.make_graph(nodes, "qcfs_actor", [helper.make_tensor_value_info("obs", TensorProto.FLOAT, [None, obs_dim])],
                              [helper.make_tensor_value_info("action", TensorProto.FLOAT, [None, act_dim])], constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def qcfs_numpy_forward(actor: SpikingActor) -> Callable[[np.ndarray], np.ndarray]:
    """The actor's source QCFS network as a plain NumPy forward (the arithmetic, nothing else)."""
    layers = [(np.ascontiguousarray(w.numpy().T), b.numpy()) for w, b in actor.source_weights()]
    scales = [(actor.levels / float(lam), float(lam) / actor.levels) for lam in actor.thresholds]

    def forward(x: np.ndarray) -> np.ndarray:
        for (weight_t, bias), (up, down) in zip(layers[:-1], scales):
            x = np.clip(np.floor((x @ weight_t + bias) * up + 0.5), 0, actor.levels) * down
        return actor.max_action * np.tanh(x @ layers[-1][0] + layers[-1][1])

    return forward


def candidates(models: dict[str, tuple[Path, dict]]) -> dict[str, tuple[Callable[[np.ndarray], object], int]]:
    """Name -> (batch-of-one call taking one observation, the observation's size)."""
    calls = {}
    for label, (path, options) in models.items():
        policy = Policy.load(path, **options)
        model = policy.model
        size = model.obs_dim if isinstance(model, DSQN) else model.weight0.shape[1]
        calls[label] = policy.act, size
        if isinstance(model, SpikingActor):
            task = label.split()[0]
            session = qcfs_onnx_session(model)
            calls[f"{task} QCFS ANN, ONNX Runtime"] = (lambda x, session=session: session.run(None, {"obs": x[None]})), size
            forward = qcfs_numpy_forward(model)
            calls[f"{task} QCFS ANN, NumPy"] = (lambda x, forward=forward: forward(x[None])), size
    return calls


def inference_bench(models: dict[str, tuple[Path, dict]] | None = None, rounds: int = 10, calls: int = 200,
                    seed: int = 0, progress=print) -> dict:
    """Per candidate: the median (over rounds) of each round's median microseconds per call, and the
    spread; per spiking actor, its ratio to its ONNX ANN within each round (median, min, max)."""
    torch.set_num_threads(1)
    models = models or shipped_models()
    found = candidates(models)
    functions = {name: call for name, (call, _) in found.items()}
    generator = np.random.default_rng(seed)
    inputs = {name: generator.standard_normal((calls, size)).astype(np.float32) for name, (_, size) in found.items()}
    per_round: dict[str, list[float]] = {name: [] for name in functions}
    for round_index in range(rounds + 1):  # round 0 warms up (compilation, caches)
        for name, function in functions.items():
            times = []
            for x in inputs[name]:
                start = time.perf_counter()
                function(x)
                times.append(time.perf_counter() - start)
            if round_index:
                per_round[name].append(float(np.median(times)) * 1e6)
        if round_index:
            progress(f"round {round_index}/{rounds} done")
    result = {"rounds": rounds, "calls_per_round": calls, "seed": seed, "models": {
        label: {"path": str(path.relative_to(REPO)), **options} for label, (path, options) in models.items()},
        "us": {name: _spread(values) for name, values in per_round.items()}, "ratios": {},
        "per_round_us": per_round}  # the data behind every figure: each round's median per candidate
    for name in functions:
        if "spiking actor" in name:
            task = name.split()[0]
            onnx = per_round[f"{task} QCFS ANN, ONNX Runtime"]
            result["ratios"][f"{task} spiking actor / ONNX ANN"] = _spread([a / b for a, b in zip(per_round[name], onnx)])
    return result


def _spread(values: list[float]) -> dict:
    return {"median": float(np.median(values)), "min": float(np.min(values)), "max": float(np.max(values))}
