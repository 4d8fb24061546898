"""The online rule's options (snn.rstdp.ModulationRule) against hand-computed weight changes."""

import math

import pytest
import torch

from snn_policy_node.snn.rstdp import ModulationRule, Modulator, PerturbationTrace, reward_shaping


def eligibility():
    return torch.tensor([[[3.0, 4.0]], [[1.0, 0.0]]])  # two runs, ||c|| = 5 and 1


def test_the_papers_rule_is_sign_times_reward_times_eligibility():
    modulator = Modulator([ModulationRule(), ModulationRule()], torch.ones(2))
    dw = modulator.weight_change(eligibility(), torch.tensor([0.5, 2.0]), torch.tensor([-1.0, 1.0]), torch.arange(2))
    torch.testing.assert_close(dw, torch.tensor([[[-1.5, -2.0]], [[2.0, 0.0]]]))


def test_a_reward_prediction_error_starts_at_zero_and_follows_a_running_mean():
    modulator = Modulator([ModulationRule("rpe", baseline_rate=0.5)], torch.ones(1))
    c, runs, sign = eligibility()[:1], torch.arange(1), torch.ones(1)
    first = modulator.weight_change(c, torch.tensor([0.8]), sign, runs)  # baseline 0.8 -> m = 0
    second = modulator.weight_change(c, torch.tensor([0.2]), sign, runs)  # m = 0.2 - 0.8; baseline -> 0.5
    third = modulator.weight_change(c, torch.tensor([0.6]), sign, runs)  # m = 0.6 - 0.5
    assert first.abs().sum() == 0
    torch.testing.assert_close(second, -0.6 * c)
    torch.testing.assert_close(third, 0.1 * c, rtol=1e-6, atol=1e-7)
    modulator.reset(runs)
    assert modulator.weight_change(c, torch.tensor([5.0]), sign, runs).abs().sum() == 0


def test_the_update_norm_is_bounded_relative_to_the_trained_weights():
    modulator = Modulator([ModulationRule(max_norm=0.1), ModulationRule(max_norm=0.1)], torch.tensor([10.0, 10.0]))
    dw = modulator.weight_change(eligibility(), torch.tensor([1.0, 0.5]), torch.ones(2), torch.arange(2))
    torch.testing.assert_close(dw[0], torch.tensor([[0.6, 0.8]]))  # ||5|| clipped to 0.1 x 10 = 1
    torch.testing.assert_close(dw[1], torch.tensor([[0.5, 0.0]]))  # ||0.5|| is within the bound


def test_a_random_direction_keeps_the_rules_norm_and_repeats_with_its_seed():
    rules = [ModulationRule(direction="random")] * 2
    first = Modulator(rules, torch.ones(2), seed=3).weight_change(eligibility(), torch.tensor([2.0, 1.0]),
                                                                   torch.ones(2), torch.arange(2))
    again = Modulator(rules, torch.ones(2), seed=3).weight_change(eligibility(), torch.tensor([2.0, 1.0]),
                                                                   torch.ones(2), torch.arange(2))
    torch.testing.assert_close(first, again)
    torch.testing.assert_close(first.flatten(1).norm(dim=1), torch.tensor([10.0, 1.0]))
    assert not torch.allclose(first[0] / 10, eligibility()[0] / 5)


def test_acrobots_three_shaping_readings():
    assert reward_shaping("acrobot")(-85.0) == pytest.approx((-85 - 50) / -500)
    assert reward_shaping("acrobot_code")(-85.0) == pytest.approx(0.17)
    assert reward_shaping("acrobot_steps")(-85.0) == pytest.approx(0.07)
    assert reward_shaping("acrobot_steps")(-500.0) == pytest.approx(0.9)


def test_unknown_options_are_refused():
    for bad in (dict(third_factor="td"), dict(direction="up"), dict(baseline_rate=0.0), dict(max_norm=-1.0)):
        with pytest.raises(ValueError):
            ModulationRule(**bad)
    assert math.isinf(Modulator([ModulationRule()], torch.ones(1)).bound[0])


def test_the_perturbation_trace_sums_noise_times_presynaptic_spikes_where_runs_play():
    trace = PerturbationTrace(n_pre=2, n_post=1, batch_shape=(2,))
    noise = torch.tensor([[[0.5], [1.0]], [[-1.0], [2.0]]])  # [T = 2, runs, n_post]
    pre = torch.tensor([[[1.0, 0.0], [1.0, 1.0]], [[1.0, 1.0], [0.0, 1.0]]])  # [T, runs, n_pre]
    trace.accumulate(noise, pre, mask=torch.tensor([True, False]))
    torch.testing.assert_close(trace.c[0], torch.tensor([[0.5 - 1.0, -1.0]]))
    assert trace.c[1].abs().sum() == 0


def test_node_perturbation_enters_the_plastic_layers_currents_only_where_it_is_given():
    from snn_policy_node.snn.dsqn import DSQN

    torch.manual_seed(0)
    model = DSQN(4, 2, hidden=(16, 16), timesteps=4)
    obs = torch.randn(3, 4)
    clean = model.simulate(obs)
    zero = model.simulate(obs, noise={1: torch.zeros(4, 3, 16)})
    loud = model.simulate(obs, noise={1: torch.full((4, 3, 16), 2.0)})
    assert all(torch.equal(a, b) for a, b in zip(clean.spikes, zero.spikes))
    assert torch.equal(loud.spikes[0], clean.spikes[0]) and not torch.equal(loud.spikes[1], clean.spikes[1])
