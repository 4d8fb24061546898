"""A checkpoint's network as a NIR graph (Neuromorphic Intermediate Representation), for other SNN
libraries and chips: the DSQN, and the converted spiking actor.

Both are built of NIR's CubaLIF, a continuous neuron,

    tau_syn dI/dt = -I + w_in S,   tau_mem dv/dt = (v_leak - v) + R I,   a spike where v > v_threshold,

whose forward-Euler step ``dt`` (I first, then v from the new I, as snnTorch's Synaptic steps it) gives a
discrete layer ``I = alpha I + S``, ``v = beta v + I`` exactly with

    tau_syn = dt / (1 - alpha),  w_in = tau_syn / dt,  tau_mem = dt / (1 - beta),  R = tau_mem / dt,  v_leak = 0.

**DSQN** (paper 004, eq. 1-2): the layer's own alpha and beta, v_threshold = theta and ``v -> v_reset = 0``
after a spike, as NIR says. NIR has no rectifier, so the graph's input is the two-neuron encoding
``[relu(obs), relu(-obs)]`` of the observation, held for T steps.

**Converted actor** (paper 000, eq. 10), with I = 0: an IF neuron is alpha = 0 (the current is this
step's input) and beta = 1 (no leak; tau_mem = dt 2^40 rounds beta to 1 in float32), threshold 1 in
folded units. Two of its ways NIR's CubaLIF does not have, resolved so:

- *Reset by subtraction* (``v -> v - 1``): the graph's metadata says ``reset: subtract``; a consumer resets
  so, checking for a spike on the potential before the step's reset (snnTorch: ``Synaptic(...,
  reset_mechanism="subtract", reset_delay=True)``), and must not reset to v_reset.
- *V(0) = 1/2*: an exact construction, no metadata. The input holds the observation and a start pulse,
  1 on an observation's first step and 0 after; weight 1/2 from the pulse starts the first layer's
  neurons. Each hidden layer has one more neuron, the pulse neuron, driven by the pulse (or the previous
  layer's pulse neuron) with weight 3/2: it fires on the first step only and starts the next layer's
  neurons with weight 1/2.

The IF spikes where v >= 1; a consumer that spikes where v > 1 (snnTorch, NIR's own definition) differs
where v lands on 1.0 exactly, and one that sums a neuron's inputs in another order (any BLAS) where v lies
within float32 rounding of 1: there the spike moves by a step. Algorithm 1's calibration (I >= 1, adaptive I) shifts V(0) by an
amount that depends on the observation and on the source QCFS network, which a NIR graph cannot hold:
the file is the actor at I = 0. The read-out integrates its current and never fires: its v after T steps
is the sum of the read-out currents, and the action is ``max_action tanh(v / T)`` (NIR has no tanh).
Parameters are stored in float64, so that a consumer computing in float32 recovers alpha and beta exactly.
"""

import json
from pathlib import Path

import nir
import numpy as np

from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.snn.dsqn import DSQN

DT = 1e-4  # seconds per step: the step snnTorch's importer assumes; any dt works with the mapping above
READOUT = "readout"
NO_LEAK = 2.0 ** -40  # 1 - beta of an IF neuron: beta rounds to 1 in float32
PULSE_DRIVE = 1.5  # the pulse neuron's input weight: v = 3/2 fires on the first step, v = 1/2 stays silent after


def _cuba_lif(size: int, alpha: float, beta: float, threshold: float) -> nir.CubaLIF:
    """CubaLIF neurons whose forward-Euler step is ``I = alpha I + S``, ``v = beta v + I``."""
    tau_syn, tau_mem = DT / (1.0 - alpha), DT / (1.0 - beta)

    def full(value: float) -> np.ndarray:
        return np.full(size, value, dtype=np.float64)

    return nir.CubaLIF(tau_syn=full(tau_syn), tau_mem=full(tau_mem), r=full(tau_mem / DT), v_leak=full(0.0),
                       v_threshold=full(threshold), v_reset=full(0.0), w_in=full(tau_syn / DT))


def _chain(nodes: dict[str, nir.NIRNode], inputs: int, outputs: int, metadata: dict) -> nir.NIRGraph:
    """``input -> nodes in order -> output``."""
    names = ["input", *nodes, "output"]
    return nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([inputs])}), **nodes,
                               "output": nir.Output(output_type={"output": np.array([outputs])})},
                        edges=list(zip(names[:-1], names[1:])), metadata=metadata)


def dsqn_graph(model: DSQN) -> nir.NIRGraph:
    """``input -> fc0 -> lif0 -> fc1 -> ... -> fcN -> readout -> output``: Linear layers (the DSQN has no
    biases) and CubaLIF neurons with the DSQN's own float32 alpha, beta and threshold."""
    alpha, beta, threshold = (float(value) for value in model._lif_constants)
    weights = [layer.weight.detach().numpy().astype(np.float64) for layer in model.layers]
    nodes = {}
    for k, weight in enumerate(weights):
        last = k == len(weights) - 1
        nodes[f"fc{k}"] = nir.Linear(weight=weight)
        nodes[READOUT if last else f"lif{k}"] = _cuba_lif(weight.shape[0], alpha, beta, np.inf if last else threshold)
    return _chain(nodes, weights[0].shape[1], weights[-1].shape[0], {
        "dt": DT,
        "timesteps": model.timesteps,
        "input": "two-neuron encoding [relu(obs), relu(-obs)] of the observation (normalised as 'observation' "
                 "says), held constant for every step",
        "output": f"v of node '{READOUT}' after the last step: the Q-values (the read-out never fires)",
        "state": "every neuron starts at I = v = 0 for each observation",
        "discretisation": "forward Euler, I first, then v from the new I; a spike where v > v_threshold, then v = v_reset",
    })


def _with_pulse(weight: np.ndarray, bias: np.ndarray, start: float, pulse_neuron: bool) -> nir.Affine:
    """A weight layer that also reads the previous pulse (its last input): ``start`` into every neuron, and,
    with ``pulse_neuron``, ``PULSE_DRIVE`` into one more neuron, the layer's own pulse neuron."""
    rows, columns = weight.shape
    full = np.zeros((rows + pulse_neuron, columns + 1))
    full[:rows, :columns], full[:rows, columns] = weight, start
    if pulse_neuron:
        full[rows, columns] = PULSE_DRIVE
    return nir.Affine(weight=full, bias=np.concatenate([bias, np.zeros(int(pulse_neuron))]))


def actor_graph(actor: SpikingActor) -> nir.NIRGraph:
    """``input -> fc0 -> if0 -> fc1 -> ... -> fcN -> readout -> output``: the actor's folded (threshold 1)
    weights and biases as Affine layers, each hidden layer one pulse neuron larger, IF neurons as CubaLIF."""
    layers = [(actor.folded_weight(k).numpy().astype(np.float64), actor.folded_bias(k).numpy().astype(np.float64))
              for k in range(actor.depth)]
    nodes = {}
    for k, (weight, bias) in enumerate(layers):
        last = k == len(layers) - 1
        nodes[f"fc{k}"] = _with_pulse(weight, bias, 0.0 if last else actor.membrane.initial, not last)
        size = weight.shape[0] + (not last)
        nodes[READOUT if last else f"if{k}"] = _cuba_lif(size, 0.0, 1.0 - NO_LEAK, np.inf if last else 1.0)
    hidden = [f"if{k}" for k in range(len(layers) - 1)]
    return _chain(nodes, layers[0][0].shape[1] + 1, layers[-1][0].shape[0], {
        "dt": DT,
        "timesteps": actor.timesteps,
        "max_action": actor.max_action,
        "input": "the observation, normalised as 'observation' says, followed by a start pulse: 1 on an "
                 "observation's first step, 0 on the others",
        "output": f"v of node '{READOUT}' after the last step, the sum of the read-out currents: "
                  "the action is max_action tanh(v / timesteps)",
        "state": "every neuron starts at I = v = 0 for each observation; the pulse sets the IF neurons' V(0)",
        "reset": f"subtract: the neurons of {', '.join(hidden)} reset by v -> v - v_threshold, checked on the potential "
                 "before the step's reset, not by v -> v_reset",
        "pulse_neurons": f"the last neuron of each of {', '.join(hidden)}: an internal start signal, not the actor's",
        "calibration": "none (I = 0): Algorithm 1 shifts V(0) by an amount that depends on the observation",
        "spike": "where v >= v_threshold in the source; a consumer spiking where v > v_threshold differs only at "
                 "v == v_threshold exactly",
    })


def export_nir(checkpoint: str | Path, out: str | Path) -> nir.NIRGraph:
    """Write the checkpoint's network to ``out`` as a NIR file (HDF5), with its observation spec (JSON: the
    entries, then clipping and normalisation before the network) in the metadata; return the graph."""
    model, loaded = load_model(checkpoint)
    if isinstance(model, DSQN):
        graph = dsqn_graph(model)
    elif isinstance(model, SpikingActor):
        graph = actor_graph(model)
    else:
        raise ValueError(f"{checkpoint} holds a {loaded.kind}, which has no NIR form")
    graph.metadata["observation"] = json.dumps(loaded.observation.to_dict())
    nir.write(str(out), graph)
    return graph
