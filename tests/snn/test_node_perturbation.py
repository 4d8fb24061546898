"""Node perturbation against its equations, computed by hand on small numbers."""

import math

import pytest
import torch

from snn_policy_node.snn.node_perturbation import DenseEligibility, PerturbationRule, increments


def test_increments_sum_noise_times_presynaptic_spikes_over_the_simulated_steps():
    noise = torch.tensor([[[1.0, -2.0]], [[0.5, 0.0]], [[0.0, 3.0]]])  # [steps 3, batch 1, post 2]
    pre = torch.tensor([[[1, 0, 1]], [[1, 1, 0]], [[0, 1, 1]]])  # [steps 3, batch 1, pre 3]
    expected = torch.tensor([[[1.0 + 0.5, 0.5, 1.0], [-2.0, 3.0, -2.0 + 3.0]]])
    torch.testing.assert_close(increments(noise, pre), expected)


def test_eligibility_decays_per_environment_step_and_the_baseline_is_the_mean_of_the_window():
    rule = PerturbationRule(trace_steps=2.0, window=2, step=0.1)
    state = DenseEligibility(rule, n_pre=1, n_post=1, reference_norms=torch.ones(1))
    rows = torch.tensor([0])
    gamma = math.exp(-0.5)
    deltas, rewards = (1.0, 2.0, -1.0, 0.5), (3.0, 1.0, 2.0, 4.0)
    e, g, heard = 0.0, 0.0, []
    for delta, reward in zip(deltas, rewards):
        state.observe(torch.tensor([[[delta]]]), rows)
        m = state.credit(torch.tensor([reward]), rows)
        e = gamma * e + delta
        expected_m = 0.0 if not heard else reward - sum(heard[-2:]) / len(heard[-2:])
        g += expected_m * e
        heard.append(reward)
        assert m.item() == pytest.approx(expected_m)
        assert state.e.item() == pytest.approx(e, rel=1e-6) and state.g.item() == pytest.approx(g, rel=1e-6)
    assert state.credit(torch.tensor([0.0]), rows).item() == pytest.approx(0.0 - (2.0 + 4.0) / 2)  # 3, 1 have left


def test_an_update_moves_the_weights_by_step_times_the_trained_norm_along_g_and_starts_a_new_episode():
    rule = PerturbationRule(step=0.01)
    norms = torch.tensor([5.0, 2.0])
    state = DenseEligibility(rule, n_pre=3, n_post=2, reference_norms=norms)
    state.g[0] = torch.tensor([[3.0, 0.0, 0.0], [0.0, 4.0, 0.0]])  # ||G|| = 5; run 1 keeps G = 0
    state.e[:] = 1.0
    dw = state.weight_change(torch.tensor([-1.0, 1.0]), torch.tensor([0, 1]))
    torch.testing.assert_close(dw[0], -0.01 * 5.0 * torch.tensor([[0.6, 0.0, 0.0], [0.0, 0.8, 0.0]]))
    assert torch.all(dw[1] == 0)  # no reward varied: no change
    assert torch.all(state.e == 0) and torch.all(state.g == 0)


def test_the_random_control_moves_as_far_in_another_direction():
    rule = PerturbationRule(step=0.02, direction="random")
    state = DenseEligibility(rule, n_pre=4, n_post=3, reference_norms=torch.tensor([3.0]),
                             random=torch.tensor([True]))
    state.g[0] = torch.arange(12.0).reshape(3, 4)
    g = state.g[0].clone()
    dw = state.weight_change(torch.tensor([1.0]), torch.tensor([0]))[0]
    assert dw.norm().item() == pytest.approx(0.02 * 3.0, rel=1e-5)
    assert abs(torch.nn.functional.cosine_similarity(dw.flatten(), g.flatten(), dim=0).item()) < 0.9


def test_rows_in_any_order_update_their_own_runs():
    rule = PerturbationRule(window=3)
    everyone = DenseEligibility(rule, 2, 2, torch.ones(3))
    one_by_one = DenseEligibility(rule, 2, 2, torch.ones(3))
    generator = torch.Generator().manual_seed(0)
    for _ in range(4):
        delta = torch.randn(3, 2, 2, generator=generator)
        reward = torch.randn(3, generator=generator)
        rows = torch.tensor([2, 0, 1])
        everyone.observe(delta, rows)
        everyone.credit(reward, rows)
        for k, row in enumerate(rows.tolist()):
            one_by_one.observe(delta[k: k + 1], torch.tensor([row]))
            one_by_one.credit(reward[k: k + 1], torch.tensor([row]))
    torch.testing.assert_close(everyone.g, one_by_one.g)
    torch.testing.assert_close(everyone.e, one_by_one.e)


def test_a_reset_baseline_forgets_the_rewards_heard():
    state = DenseEligibility(PerturbationRule(window=2), 1, 1, torch.ones(1))
    rows = torch.tensor([0])
    state.credit(torch.tensor([10.0]), rows)
    state.reset_baseline(rows)
    assert state.credit(torch.tensor([3.0]), rows).item() == 0.0  # the first reward again: no error yet


@pytest.mark.parametrize("field, value", [("exploration", 0.0), ("trace_steps", -1.0), ("window", 0),
                                          ("step", 0.0), ("direction", "sideways")])
def test_a_rule_refuses_meaningless_settings(field, value):
    with pytest.raises(ValueError, match=field):
        PerturbationRule(**{field: value})
