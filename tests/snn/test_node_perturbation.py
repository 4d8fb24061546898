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
        state.observe(torch.tensor([[[delta]]]), torch.ones(1, 1, 1), rows)  # delta = xi pre over one step
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
    shuffled = DenseEligibility(rule, 2, 2, torch.ones(3))
    ordered = DenseEligibility(rule, 2, 2, torch.ones(3))
    generator = torch.Generator().manual_seed(0)
    rows = torch.tensor([2, 0, 1])
    order = torch.argsort(rows)
    for _ in range(4):
        noise, pre = torch.randn(2, 3, 2, generator=generator), torch.randn(2, 3, 2, generator=generator)
        reward = torch.randn(3, generator=generator)
        shuffled.observe(noise, pre, rows)
        shuffled.credit(reward, rows)
        ordered.observe(noise[:, order], pre[:, order], torch.arange(3))
        ordered.credit(reward[order], torch.arange(3))
    assert shuffled.g.abs().sum() > 0
    torch.testing.assert_close(shuffled.g, ordered.g)
    torch.testing.assert_close(shuffled.e, ordered.e)


def test_steps_folded_by_the_chunk_give_the_step_by_step_traces():
    """Runs that stop acting part way (an episode that ended) and steps observed but never credited (a
    reward that did not come) included; 7 does not divide the 30 steps, so a partial chunk folds too."""
    rule = PerturbationRule(window=5, trace_steps=4.0)
    stepwise = DenseEligibility(rule, 6, 5, torch.ones(4))
    chunked = DenseEligibility(rule, 6, 5, torch.ones(4), chunk=7)
    generator = torch.Generator().manual_seed(1)
    for step in range(30):
        rows = torch.tensor([0, 1, 2, 3] if step < 12 else [3, 1])
        noise, pre = torch.randn(4, len(rows), 5, generator=generator), (torch.rand(4, len(rows), 6, generator=generator) < 0.3)
        reward = torch.randn(len(rows), generator=generator, dtype=torch.float64)
        for state in (stepwise, chunked):
            state.observe(noise, pre, rows)
            if step % 9 != 4:
                state.credit(reward, rows)
    assert stepwise.g.abs().sum() > 0
    torch.testing.assert_close(chunked.g, stepwise.g, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(chunked.e, stepwise.e, rtol=1e-5, atol=1e-5)
    dw_stepwise = stepwise.weight_change(torch.ones(4), torch.arange(4))
    torch.testing.assert_close(chunked.weight_change(torch.ones(4), torch.arange(4)), dw_stepwise, rtol=1e-5, atol=1e-7)


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
