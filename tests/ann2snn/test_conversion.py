import pytest
import torch

from snn_policy_node.ann2snn.calibration import CalibrationConfig
from snn_policy_node.ann2snn.conversion import SpikingActor
from snn_policy_node.ann2snn.qcfs import QCFS, MLPActor
from snn_policy_node.snn.neurons import IFNeuron


def converted_layer_output(z: torch.Tensor, lam: float, steps: int) -> torch.Tensor:
    """Average postsynaptic potential phi(T) of IF neurons with theta = lam, V(0) = theta/2."""
    neuron = IFNeuron(lam)
    neuron.reset(torch.full_like(z, lam / 2))
    spikes, _ = neuron.run(z.expand(steps, *z.shape))
    return lam * spikes.sum(0) / steps


def test_converted_layer_reproduces_qcfs_at_t_equal_l_and_drifts_away_from_it():
    torch.manual_seed(0)
    lam, levels = 2.0, 4
    z = torch.rand(50_000, dtype=torch.float64) * 3 - 0.5
    qcfs = QCFS(levels, lambda_init=lam).double()
    a = qcfs(z).detach()
    error = {t: (converted_layer_output(z, lam, t) - a).abs().mean().item() for t in range(1, 13)}
    assert error[levels] == 0.0
    assert all(error[t] > 0.05 for t in error if t != levels)
    # below L the error grows step by step as T moves away; above L it stays well above
    # zero, bounded by the quantisation of QCFS itself
    assert error[1] > error[2] > error[3] > error[4]
    assert min(error[t] for t in range(5, 13)) > 0.05


def test_qcfs_straight_through_gradient_reaches_input_and_threshold():
    qcfs = QCFS(4, lambda_init=2.0)
    z = torch.tensor([0.3, 1.1, 5.0], requires_grad=True)
    qcfs(z).sum().backward()
    assert z.grad.tolist() == [1.0, 1.0, 0.0]  # clipped above lambda
    assert qcfs.lam.grad is not None and qcfs.lam.grad.item() != 0


def test_source_network_of_a_converted_actor_is_the_qcfs_actor(random_qcfs_actor):
    actor = random_qcfs_actor(0)
    spiking = SpikingActor.from_qcfs(actor)
    obs = torch.randn(64, 11)
    torch.testing.assert_close(spiking.source_action(obs), actor(obs).detach())
    rates = spiking.source_rates(obs)
    for rate, activation, lam in zip(rates, actor.hidden_activations(obs), spiking.thresholds):
        torch.testing.assert_close(rate * lam, activation.detach())


def test_first_spiking_layer_matches_qcfs_exactly_for_its_constant_input(random_qcfs_actor):
    spiking = SpikingActor.from_qcfs(random_qcfs_actor(1))
    obs = torch.randn(64, 11)
    simulation = spiking.simulate(obs)
    assert simulation.error_spikes[:, 0].sum() == 0
    torch.testing.assert_close(simulation.spikes[0].mean(0), spiking.source_rates(obs)[0])


def test_conversion_refuses_a_relu_actor():
    with pytest.raises(ValueError, match="QCFS"):
        SpikingActor.from_qcfs(MLPActor(3, 1, activation="relu"))


def test_spiking_actor_batch_of_one_matches_the_batch(random_qcfs_actor):
    spiking = SpikingActor.from_qcfs(random_qcfs_actor(2), calibration=CalibrationConfig(rho=4))
    obs = torch.randn(16, 11)
    batch = spiking(obs, iterations=2)
    singles = torch.cat([spiking(o.unsqueeze(0), iterations=2) for o in obs])
    torch.testing.assert_close(singles, batch)


def test_loading_weights_into_a_spiking_actor_refolds_its_thresholds(random_qcfs_actor):
    source = SpikingActor.from_qcfs(random_qcfs_actor(0))
    other = SpikingActor.from_qcfs(random_qcfs_actor(1))
    x = torch.randn(5, 11)
    other.load_state_dict(source.state_dict())
    torch.testing.assert_close(other.simulate(x, 1).action, source.simulate(x, 1).action, rtol=0, atol=0)
