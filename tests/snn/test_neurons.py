import numpy as np
import pytest
import torch

from snn_policy_node.engine import lif_layers
from snn_policy_node.snn.neurons import IFNeuron, SynapticLIF


def test_if_soft_reset_satisfies_the_firing_rate_identity_of_eq_9():
    """theta * sum_t s(t) = sum_t C(t) + V(0) - V(T), exactly, for any input sequence."""
    torch.manual_seed(0)
    steps, shape = 16, (32, 200)
    threshold = torch.rand(shape, dtype=torch.float64) * 2 + 0.1
    currents = torch.randn(steps, *shape, dtype=torch.float64) * threshold
    v0 = torch.rand(shape, dtype=torch.float64) * threshold
    neuron = IFNeuron(threshold)
    neuron.reset(v0)
    spikes, potentials = neuron.run(currents)
    assert spikes.sum() > 0 and (spikes == 0).sum() > 0
    lhs = threshold * spikes.sum(0)
    rhs = currents.sum(0) + v0 - potentials[-1]
    torch.testing.assert_close(lhs, rhs, rtol=0, atol=1e-12)


def test_if_fires_on_reaching_threshold_and_subtracts_it():
    neuron = IFNeuron(1.0)
    neuron.reset(torch.tensor([0.5]))
    spikes, potentials = neuron.run(torch.tensor([[0.5], [0.2], [1.7], [-3.0]]))
    assert spikes.flatten().tolist() == [1.0, 0.0, 1.0, 0.0]
    torch.testing.assert_close(potentials.flatten(), torch.tensor([0.0, 0.2, 0.9, -2.1]))


def test_synaptic_lif_integrates_filters_and_resets_to_zero():
    neuron = SynapticLIF(alpha=0.5, beta=0.5, threshold=1.0)
    neuron.reset(torch.zeros(1))
    # syn: 0.6, 0.9, 0.45; mem: 0.6, 1.2 -> spike, reset to 0, then 0.45
    out = [neuron.step(torch.tensor([c])).item() for c in (0.6, 0.6, 0.0)]
    assert out == [0.0, 1.0, 0.0]
    assert neuron.mem.item() == pytest.approx(0.45)


def test_synaptic_lif_spikes_only_strictly_above_threshold():
    neuron = SynapticLIF(alpha=0.0, beta=0.0, threshold=0.5)
    neuron.reset(torch.zeros(2))
    assert neuron.step(torch.tensor([0.5, 0.5001])).tolist() == [0.0, 1.0]


def test_surrogate_gradient_is_the_fast_sigmoid_of_scale_100():
    neuron = SynapticLIF(alpha=0.0, beta=0.0, threshold=0.5)
    current = torch.tensor([0.51, 0.4], requires_grad=True)
    neuron.reset(current.detach())
    neuron.step(current).sum().backward()
    expected = 1 / (100 * torch.tensor([0.01, 0.1]) + 1) ** 2
    torch.testing.assert_close(current.grad, expected)


@pytest.mark.parametrize("shape", [(8, 5, 32), (8, 1, 64), (3, 40, 256)])
def test_compiled_lif_layers_step_like_the_training_neuron_bit_for_bit(shape):
    torch.manual_seed(0)
    currents = torch.randn(*shape)
    alpha, beta, threshold = np.float32(0.8), np.float32(0.7), np.float32(0.5)
    spikes = lif_layers.fire(currents.numpy(), alpha, beta, threshold, np.empty(shape, np.float32),
                             np.empty(shape[1:], np.float32))
    assert 0 < spikes.mean() < 1
    assert torch.equal(torch.from_numpy(spikes), SynapticLIF(0.8, 0.7, 0.5).run(currents))
    potentials = np.empty(shape[1:], np.float32)
    lif_layers.fire(currents.numpy(), alpha, beta, np.float32(np.inf), np.empty(shape, np.float32), potentials)
    assert torch.equal(torch.from_numpy(potentials), SynapticLIF(0.8, 0.7, 0.5, spiking=False).run(currents)[-1])
