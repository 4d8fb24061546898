import math

import pytest
import torch

from snn_policy_node.snn.dsqn import DSQN
from snn_policy_node.snn.rstdp import (
    AMPLITUDES_KEY,
    EligibilityTrace,
    RSTDPParams,
    model_amplitudes,
    reward_shaping,
    synapse_spikes,
    weight_amplitudes,
)
from snn_policy_node.tasks import DSQN_TASKS


def test_traces_eligibility_and_weight_change_match_a_hand_computation():
    """One presynaptic neuron j and one postsynaptic neuron i, three steps.

    pre  s_j = 1, 0, 0
    post s_i = 0, 1, 1
    With tau+ = tau- = 2 (d = e^-1/2), tau_c = 4, C = 0.5, A+ = 2, A- = 3, from c = 0:
      t=0: k+ = 0, k- = 0              -> c = 0;                         then k+ = 1, k- = 0
      t=1: post fires, k+ = 1          -> c = 0 + 0.5 * 2 * 1 = 1;        then k+ = d, k- = 1
      t=2: post fires, k+ = d          -> c = 1 - 1/4 + 0.5 * 2 * d;      then k+ = d^2, k- = 1 + d
    A second observation restarts k+/k- but keeps c:
    pre s_j = 0, 1; post s_i = 1, 0
      t=0: post fires, k+ = 0          -> c = c2 - c2/4
      t=1: pre fires, k- = 1           -> c = c3 - c3/4 - 0.5 * 3 * 1
    """
    d = math.exp(-0.5)
    params = RSTDPParams(tau_plus=2, tau_minus=2, tau_c=4, scale=0.5, a_plus=2, a_minus=3)
    trace = EligibilityTrace(params, n_pre=1, n_post=1)
    trace.accumulate(torch.tensor([[1.0], [0.0], [0.0]]), torch.tensor([[0.0], [1.0], [1.0]]))
    c2 = 1 - 1 / 4 + d
    assert trace.c.item() == pytest.approx(c2)
    trace.accumulate(torch.tensor([[0.0], [1.0]]), torch.tensor([[1.0], [0.0]]))
    c3 = c2 * 0.75
    c4 = c3 * 0.75 - 1.5
    assert trace.c.item() == pytest.approx(c4)
    assert trace.weight_change(0.25).item() == pytest.approx(0.25 * c4)
    trace.reset()
    assert trace.c.item() == 0


def test_eligibility_layout_matches_linear_weights():
    """c[i, j]: potentiation lands on the synapse from the firing pre j to the firing post i."""
    trace = EligibilityTrace(RSTDPParams(), n_pre=3, n_post=2)
    pre = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    post = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    trace.accumulate(pre, post)
    assert trace.c.shape == (2, 3)
    assert trace.c[0, 1] > 0 and trace.c.abs().sum() == trace.c[0, 1]


def test_batched_trace_equals_separate_traces():
    torch.manual_seed(0)
    pre = (torch.rand(8, 5, 6) < 0.3).float()
    post = (torch.rand(8, 5, 4) < 0.3).float()
    params = DSQN_TASKS["CartPole-v0"].rstdp
    batched = EligibilityTrace(params, 6, 4, batch_shape=(5,))
    batched.accumulate(pre, post)
    for b in range(5):
        single = EligibilityTrace(params, 6, 4)
        single.accumulate(pre[:, b], post[:, b])
        torch.testing.assert_close(batched.c[b], single.c)
    dw = batched.weight_change(torch.arange(5.0))
    torch.testing.assert_close(dw[3], 3 * batched.c[3])


def stepwise_eligibility(params, c, pre, post, a_plus, a_minus):
    """Eq. 4-6 one simulation step at a time, as printed: the reference for the unrolled trace."""
    k_plus, k_minus = torch.zeros_like(pre[0]), torch.zeros_like(post[0])
    for s_pre, s_post in zip(pre, post):
        potentiation = a_plus * s_post.unsqueeze(-1) * k_plus.unsqueeze(-2)
        depression = a_minus * k_minus.unsqueeze(-1) * s_pre.unsqueeze(-2)
        c = c - c / params.tau_c + params.scale * (potentiation - depression)
        k_plus = k_plus * math.exp(-1 / params.tau_plus) + s_pre
        k_minus = k_minus * math.exp(-1 / params.tau_minus) + s_post
    return c


@pytest.mark.parametrize("env_id, steps", [("CartPole-v0", 8), ("Acrobot-v1", 3)])
def test_trace_over_many_observations_matches_eq_6_step_by_step(env_id, steps):
    """Per-run amplitudes, and runs that end early (masked) keep their trace unchanged."""
    torch.manual_seed(1)
    params, runs = DSQN_TASKS[env_id].rstdp, 4
    a_plus, a_minus = torch.rand(runs) + 0.5, torch.rand(runs) + 0.5
    trace = EligibilityTrace(params, 7, 5, batch_shape=(runs,), amplitudes=(a_plus, a_minus))
    expected = torch.zeros(runs, 5, 7)
    for observation in range(20):
        pre, post = (torch.rand(steps, runs, 7) < 0.4).float(), (torch.rand(steps, runs, 5) < 0.4).float()
        mask = torch.arange(runs) < runs - observation // 6  # run 3 ends after 6 observations, ...
        trace.accumulate(pre, post, mask=mask)
        stepped = stepwise_eligibility(params, expected, pre, post, a_plus[:, None, None], a_minus[:, None, None])
        expected = torch.where(mask[:, None, None], stepped, expected)
    assert expected.abs().max() > 0.05
    torch.testing.assert_close(trace.c, expected, rtol=1e-5, atol=1e-6)


def test_amplitudes_are_mean_positive_and_absolute_mean_negative_weight():
    weight = torch.tensor([[1.0, -2.0], [3.0, -4.0]])
    assert weight_amplitudes(weight) == (2.0, 3.0)
    with pytest.raises(ValueError):
        weight_amplitudes(torch.ones(2, 2))


def test_amplitudes_recorded_at_adaptation_outlive_the_weights_they_came_from():
    adapted = torch.tensor([[5.0, -1.0], [3.0, -1.0]])
    assert model_amplitudes(adapted, {}) == (4.0, 1.0)
    assert model_amplitudes(adapted, {AMPLITUDES_KEY: [2.0, 3.0]}) == (2.0, 3.0)
    for bad in ([2.0], [2.0, -3.0], [2.0, float("nan")], "2 3", [2.0, "3"]):
        with pytest.raises(ValueError, match="two positive numbers"):
            model_amplitudes(adapted, {AMPLITUDES_KEY: bad})


def test_reward_shaping_follows_eq_8_and_9():
    cartpole = reward_shaping("cartpole")
    assert cartpole(200.0) == 0.0 and cartpole(50.0) == 0.75
    acrobot = reward_shaping("acrobot")
    assert acrobot(-500.0) == pytest.approx(1.1) and acrobot(-100.0) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="unknown reward shaping"):
        reward_shaping("mountaincar")


def test_plastic_layer_defaults_to_hidden1_hidden2_and_rejects_non_spiking_sides():
    model = DSQN(4, 2, hidden=(64, 32, 16))
    spikes = model.simulate(torch.randn(2, 4)).spikes
    pre, post = synapse_spikes(spikes, 1)
    assert pre.shape[-1] == 64 and post.shape[-1] == 32
    pre, post = synapse_spikes(spikes, 2)
    assert pre.shape[-1] == 32 and post.shape[-1] == 16
    for layer in (0, 3):
        with pytest.raises(ValueError, match="spiking neurons on both sides"):
            synapse_spikes(spikes, layer)
