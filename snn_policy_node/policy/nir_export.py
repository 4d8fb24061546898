"""A DSQN as a NIR graph (Neuromorphic Intermediate Representation), for other SNN libraries and chips.

The DSQN's LIF layers are discrete: at each of T steps ``syn = alpha syn + I``, ``mem = beta mem + syn``,
a spike where ``mem > theta``, and ``mem = 0`` there (paper 004, eq. 1-2). NIR's CubaLIF is continuous,

    tau_syn dI/dt = -I + w_in S,   tau_mem dv/dt = (v_leak - v) + R I,   v -> v_reset after a spike,

and stepping it by forward Euler with step ``dt`` (I first, then v from the new I, as snnTorch's
Synaptic does) gives the discrete layer exactly with

    tau_syn = dt / (1 - alpha),  w_in = tau_syn / dt,  tau_mem = dt / (1 - beta),  R = tau_mem / dt,
    v_leak = 0,  v_reset = 0,  v_threshold = theta.

The read-out is a CubaLIF that never fires (v_threshold = inf): its v after T steps are the Q-values.
NIR has no rectifier, so the graph's input is the two-neuron encoding ``[relu(obs), relu(-obs)]`` of
the observation, which the consumer computes and holds for T steps; the graph's metadata says so,
with ``dt``, T and where the Q-values are read. Parameters are stored in float64, so that a consumer
that computes in float32 recovers alpha and beta exactly.
"""

from pathlib import Path

import nir
import numpy as np

from snn_policy_node.policy.model_io import load_model
from snn_policy_node.snn.dsqn import DSQN

DT = 1e-4  # seconds per step: the step snnTorch's importer assumes; any dt works with the mapping above
READOUT = "readout"


def _cuba_lif(size: int, alpha: float, beta: float, threshold: float) -> nir.CubaLIF:
    tau_syn, tau_mem = DT / (1.0 - alpha), DT / (1.0 - beta)

    def full(value: float) -> np.ndarray:
        return np.full(size, value, dtype=np.float64)

    return nir.CubaLIF(tau_syn=full(tau_syn), tau_mem=full(tau_mem), r=full(tau_mem / DT), v_leak=full(0.0),
                       v_threshold=full(threshold), v_reset=full(0.0), w_in=full(tau_syn / DT))


def dsqn_graph(model: DSQN) -> nir.NIRGraph:
    """``input -> fc0 -> lif0 -> fc1 -> ... -> fcN -> readout -> output``: Linear layers (the DSQN has no
    biases) and CubaLIF neurons with the DSQN's own float32 alpha, beta and threshold."""
    alpha, beta, threshold = (float(value) for value in model._lif_constants)
    weights = [layer.weight.detach().numpy().astype(np.float64) for layer in model.layers]
    nodes = {"input": nir.Input(input_type={"input": np.array([weights[0].shape[1]])})}
    chain = ["input"]
    for k, weight in enumerate(weights):
        nodes[f"fc{k}"] = nir.Linear(weight=weight)
        last = k == len(weights) - 1
        neuron = READOUT if last else f"lif{k}"
        nodes[neuron] = _cuba_lif(weight.shape[0], alpha, beta, np.inf if last else threshold)
        chain += [f"fc{k}", neuron]
    nodes["output"] = nir.Output(output_type={"output": np.array([weights[-1].shape[0]])})
    chain.append("output")
    metadata = {
        "dt": DT,
        "timesteps": model.timesteps,
        "input": "two-neuron encoding [relu(obs), relu(-obs)] of the observation, held constant for every step",
        "output": f"v of node '{READOUT}' after the last step: the Q-values (the read-out never fires)",
        "state": "every neuron starts at I = v = 0 for each observation",
        "discretisation": "forward Euler, I first, then v from the new I; a spike where v > v_threshold, then v = v_reset",
    }
    return nir.NIRGraph(nodes=nodes, edges=list(zip(chain[:-1], chain[1:])), metadata=metadata)


def export_nir(checkpoint: str | Path, out: str | Path) -> nir.NIRGraph:
    """Write the checkpoint's network to ``out`` as a NIR file (HDF5); return the graph."""
    model, loaded = load_model(checkpoint)
    if not isinstance(model, DSQN):
        raise ValueError(f"{checkpoint} holds a {loaded.kind}: only DSQN checkpoints export to NIR so far (the converted "
                         "actor's IF neurons reset by subtraction, which NIR's IF, resetting to v_reset, does not express)")
    graph = dsqn_graph(model)
    nir.write(str(out), graph)
    return graph
