"""The online rule's options (snn.rstdp.ModulationRule) against hand-computed weight changes."""

import math

import pytest
import torch

from snn_policy_node.snn.rstdp import (
    AntitheticPairs,
    ExplorationScale,
    ModulationRule,
    Modulator,
    PerturbationTrace,
    reward_shaping,
)


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


def pair_rule(**options):
    return ModulationRule("pair", max_norm=0.1, exploration=0.5, hold="pair", **options)


def test_antithetic_pairs_hold_xi_over_an_episode_then_play_minus_xi_and_start_afresh():
    pairs = AntitheticPairs(torch.tensor([0.5, 0.0]), n_post=3, n_pre=2, seed=1)
    both = torch.tensor([True, True])
    first = pairs.noise(both, threshold=2.0).clone()
    expected = torch.randn((2, 3), generator=torch.Generator().manual_seed(1)) * 0.5 * 2.0
    torch.testing.assert_close(first[0], expected[0])  # std = exploration x threshold
    assert first[1].abs().sum() == 0  # a run without pairs explores nothing
    pairs.episode_ended(torch.zeros(2, 3, 2), torch.zeros(2), torch.ones(2), both)
    torch.testing.assert_close(pairs.noise(both, 2.0), -first)
    pairs.episode_ended(torch.zeros(2, 3, 2), torch.zeros(2), torch.ones(2), both)
    third = pairs.noise(both, 2.0)
    assert not torch.allclose(third[0], first[0]) and not torch.allclose(third[0], -first[0])


def test_a_pairs_update_is_its_relative_return_difference_times_the_bound_along_c1_minus_c2():
    pairs = AntitheticPairs(torch.tensor([0.5]), n_post=1, n_pre=2)
    one, reference = torch.tensor([True]), torch.tensor([-200.0])
    xi = pairs.noise(one, 1.0)[0, 0]
    c1 = xi * torch.tensor([[[2.0, 0.0]]])  # c = xi N: N_1 = (2, 0)
    assert len(pairs.episode_ended(c1, torch.tensor([-100.0]), reference, one)[0]) == 0  # the pair is not complete
    pairs.noise(one, 1.0)
    c2 = -xi * torch.tensor([[[1.0, 3.0]]])  # -xi N_2: N_2 = (1, 3)
    runs, c, r = pairs.episode_ended(c2, torch.tensor([-150.0]), reference, one)
    torch.testing.assert_close(c, xi * torch.tensor([[[3.0, 3.0]]]))  # xi (N_1 + N_2)
    torch.testing.assert_close(r, torch.tensor([0.25], dtype=torch.float64))  # (-100 - -150) / |-200|
    modulator = Modulator([pair_rule()], torch.tensor([10.0]))
    dw = modulator.weight_change(c, r, torch.ones(1), runs)
    # sign x clip(m) x max_norm x ||w_0|| x c / ||c|| = 0.25 x 0.1 x 10 x sign(xi) (1, 1) / sqrt(2)
    torch.testing.assert_close(dw, torch.sign(xi) * 0.25 * torch.tensor([[[1.0, 1.0]]]) / math.sqrt(2))
    big = modulator.weight_change(c, torch.tensor([-3.0]), torch.ones(1), runs)  # m clipped to -1
    torch.testing.assert_close(big.norm(), torch.tensor(1.0))


def test_a_run_that_stops_exploring_drops_its_pair():
    pairs = AntitheticPairs(torch.tensor([0.5]), n_post=2, n_pre=2)
    one, none = torch.tensor([True]), torch.tensor([False])
    first = pairs.noise(one, 1.0).clone()
    pairs.episode_ended(torch.zeros(1, 2, 2), torch.zeros(1), torch.ones(1), one)
    assert pairs.noise(none, 1.0).abs().sum() == 0  # waiting after a rollback: no noise
    fresh = pairs.noise(one, 1.0)
    assert not torch.allclose(fresh, -first)  # a new pair, not the second half of the old one


def test_a_rolled_back_run_explores_less_by_its_factor_and_its_state_keeps_it():
    """xi ~ N(0, (exploration theta)^2): after two rollbacks with factor 0.5 the same draw is a quarter."""
    rules = [pair_rule(rollback_shrink=0.5), pair_rule()]
    pairs = AntitheticPairs(torch.tensor([0.4, 0.4]), n_post=3, n_pre=2, seed=7, scale=ExplorationScale.of(rules, 10))
    state = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in pairs.state().items()}
    pairs.rolled_back(torch.tensor([0]))
    pairs.rolled_back(torch.tensor([0, 1]))
    torch.testing.assert_close(pairs.scale.scale, torch.tensor([0.25, 1.0]))
    shrunk = pairs.noise(torch.tensor([True, True]), 2.0).clone()
    saved = pairs.state()
    pairs.restore(state)  # the draw of a fresh pair from the same generator state, at full exploration
    full = pairs.noise(torch.tensor([True, True]), 2.0)
    torch.testing.assert_close(shrunk, full * torch.tensor([[0.25], [1.0]]))
    pairs.restore(saved)
    torch.testing.assert_close(pairs.scale.scale, torch.tensor([0.25, 1.0]))


def play_pairs(pairs: AntitheticPairs, first: list[float], second: list[float], reference: list[float]) -> None:
    """One pair of every run, with these returns, against these frozen baselines."""
    exploring, c = torch.ones(len(first), dtype=torch.bool), torch.zeros(len(first), 2, 2)
    for returns in (first, second):
        pairs.noise(exploring, 1.0)
        pairs.episode_ended(c, torch.tensor(returns), torch.tensor(reference), exploring)


def test_a_run_earns_its_exploration_by_windows_that_keep_the_baseline():
    """s starts at 0.25; after a window of 4 explored episodes averaging >= R_0 it doubles (up to 1),
    after one below R_0 it stays; a rollback halves it and starts a new window."""
    rule = pair_rule(rollback_shrink=0.5, exploration_start=0.25, success_grow=2.0)
    pairs = AntitheticPairs(torch.tensor([0.4, 0.4]), n_post=2, n_pre=2, scale=ExplorationScale.of([rule, rule], 4))
    play_pairs(pairs, [12.0, 12.0], [8.0, 7.0], [10.0, 10.0])
    torch.testing.assert_close(pairs.scale.scale, torch.tensor([0.25, 0.25]))  # half a window: no verdict yet
    play_pairs(pairs, [10.0, 10.0], [10.0, 10.0], [10.0, 10.0])  # means 10.0 and 9.75 over the window
    torch.testing.assert_close(pairs.scale.scale, torch.tensor([0.5, 0.25]))
    for _ in range(4):
        play_pairs(pairs, [11.0, 11.0], [11.0, 11.0], [10.0, 10.0])
    torch.testing.assert_close(pairs.scale.scale, torch.tensor([1.0, 1.0]))  # capped at the rule's exploration
    play_pairs(pairs, [20.0, 20.0], [20.0, 20.0], [10.0, 10.0])
    pairs.rolled_back(torch.tensor([0]))  # the window's first pair is forgotten with the rollback
    play_pairs(pairs, [20.0, 20.0], [20.0, 20.0], [10.0, 10.0])
    torch.testing.assert_close(pairs.scale.scale, torch.tensor([0.5, 1.0]))
    play_pairs(pairs, [0.0, 0.0], [0.0, 0.0], [10.0, 10.0])  # run 0's window: 20, 20, 0, 0 -> 10 >= 10
    torch.testing.assert_close(pairs.scale.scale, torch.tensor([1.0, 1.0]))


def test_the_pair_rule_needs_its_parts():
    for bad in (dict(hold="pair"), dict(third_factor="pair"), dict(third_factor="pair", hold="pair", exploration=0.3),
                dict(third_factor="pair", hold="pair", max_norm=0.1), dict(hold="episode"),
                dict(third_factor="pair", hold="pair", max_norm=0.1, exploration=0.3, rollback_shrink=0.0),
                dict(third_factor="pair", hold="pair", max_norm=0.1, exploration=0.3, rollback_shrink=1.5),
                dict(third_factor="pair", hold="pair", max_norm=0.1, exploration=0.3, exploration_start=0.0),
                dict(third_factor="pair", hold="pair", max_norm=0.1, exploration=0.3, success_grow=0.5)):
        with pytest.raises(ValueError):
            ModulationRule(**bad)
