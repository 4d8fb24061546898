"""One robot's online schedule: the frozen baseline, the updates, the guard's rollback and its wait."""

import numpy as np
import pytest
import torch

from snn_policy_node.policy.guard import Guard
from snn_policy_node.policy.online import BLOCK, OnlineSchedule
from snn_policy_node.snn.rstdp import ModulationRule, reward_shaping


def test_the_baseline_episodes_play_the_trained_weights_then_each_episode_brings_sign_times_m():
    shaping = reward_shaping("cartpole")
    schedule = OnlineSchedule(shaping, sign=-1.0, rule=ModulationRule("rpe", baseline_rate=0.5), guard=False,
                              baseline_episodes=2, window=2)
    assert [schedule.episode_ended(r).modulation for r in (100.0, 120.0)] == [0.0, 0.0]
    assert schedule.status()["baseline"] == 110.0 and schedule.updates == 0
    # The prediction error starts at zero (the first baseline is the first reward), then follows
    # r_bar <- r_bar + 0.5 (r - r_bar).
    r1, r2 = shaping(150.0), shaping(50.0)
    assert schedule.episode_ended(150.0).modulation == 0.0
    assert schedule.episode_ended(50.0).modulation == pytest.approx(-1.0 * (r2 - r1))
    assert schedule.updates == 2 and schedule.status()["live"] == "adapting"


def test_a_run_that_falls_below_the_floor_rolls_back_and_waits_its_window():
    schedule = OnlineSchedule(lambda r: r, sign=1.0, rule=ModulationRule("reward"), guard=True, baseline_episodes=2,
                              window=2, margin=0.1)
    for r in (100.0, 100.0, 95.0):  # baseline 100, floor 90
        assert schedule.episode_ended(r).rollback is None
    decision = schedule.episode_ended(80.0)  # the last two average 87.5
    assert decision.modulation == 0.0
    assert decision.rollback == "the last 2 online returns average 87.50, below the floor 90.00 (baseline 100.00)"
    assert schedule.status()["live"] == "trained weights (rolled back)" and schedule.status()["rollbacks"] == 1
    # The next two updates are skipped; then the check resumes over the episodes the trained weights
    # played: still below the floor, the run waits again (a second rollback, to the same weights).
    assert [schedule.episode_ended(r).modulation for r in (10.0, 10.0)] == [0.0, 0.0]
    assert schedule.status()["rollbacks"] == 2
    assert [schedule.episode_ended(r).modulation for r in (100.0, 100.0)] == [0.0, 0.0]
    assert schedule.episode_ended(100.0).modulation == 100.0 and schedule.status()["rollbacks"] == 2


def test_disabled_learning_holds_the_weights_but_the_guard_still_watches():
    schedule = OnlineSchedule(lambda r: r, sign=1.0, rule=ModulationRule("reward"), baseline_episodes=1, window=1)
    schedule.episode_ended(100.0)
    assert schedule.episode_ended(100.0, learning=False).modulation == 0.0 and schedule.updates == 0
    assert schedule.episode_ended(10.0, learning=False).rollback is not None


def test_a_spiking_actor_schedule_sends_its_sign_as_the_modulation():
    schedule = OnlineSchedule(None, sign=-1.0, baseline_episodes=0, guard=False)
    assert schedule.episode_ended(1234.5).modulation == -1.0


def test_blocks_are_means_of_twenty_episodes_the_last_one_partial():
    schedule = OnlineSchedule(None, sign=1.0, baseline_episodes=0, guard=False)
    returns = np.arange(BLOCK + 5, dtype=float)
    for r in returns:
        schedule.episode_ended(r)
    assert schedule.blocks() == [returns[:BLOCK].mean(), returns[BLOCK:].mean()]


def test_a_return_that_is_not_finite_is_refused():
    schedule = OnlineSchedule(None, sign=1.0)
    with pytest.raises(ValueError, match="finite"):
        schedule.episode_ended(float("nan"))
    assert schedule.status()["episodes"] == 0


def test_the_guard_keeps_unguarded_runs_and_resumes_from_its_state():
    guard = Guard(torch.tensor([True, False]), baseline_episodes=1, window=1, margin=0.0)
    online = np.array([[10.0, 5.0, 10.0], [10.0, 5.0, 10.0]])
    assert guard.may_learn(online, 0) is None
    assert guard.may_learn(online, 1).tolist() == [True, True]
    assert guard.fallen(online, 1).tolist() == [0]  # the unguarded run is left alone
    again = Guard(torch.tensor([True, False]), 1, 1, 0.0)
    again.restore(guard.state())
    assert again.may_learn(online, 2).tolist() == [False, True] == guard.may_learn(online, 2).tolist()


def test_a_confident_guard_lowers_its_floor_by_z_times_the_standard_error_of_the_two_means():
    # baseline returns 90, 110 (mean 100, std 14.14); margin 5 %; z = 2, windows of 2:
    # floor 95 - 2 x 14.14 x sqrt(1/2 + 1/2) = 66.7
    online = np.array([[90.0, 110.0, 70.0, 70.0, 60.0, 60.0]])
    plain, confident = (Guard(torch.tensor([True]), 2, 2, 0.05, confidence) for confidence in (0.0, 2.0))
    fallen = {id(plain): [], id(confident): []}
    for episode in range(6):
        for guard in (plain, confident):
            guard.may_learn(online, episode)
            if guard.waiting[0] == 0 and len(guard.fallen(online, episode)):
                fallen[id(guard)].append(episode)
    assert float(confident.floor()[0]) == pytest.approx(95.0 - 2.0 * np.std([90.0, 110.0], ddof=1))
    assert fallen[id(plain)] == [3, 5]  # 70 is below 95: a plain guard rolls back, waits, and rolls back again
    assert fallen[id(confident)] == [4]  # 70 is within the noise of two 2-episode means; 65 is not
    again = Guard(torch.tensor([True]), 2, 2, 0.05, 2.0)
    again.restore(confident.state())
    assert float(again.floor()[0]) == float(confident.floor()[0])


@pytest.mark.parametrize("arguments", [(-1, 1, 0.0), (1, 0, 0.0), (1, 1, -0.1), (1, 1, float("nan")), (2, 1, 0.0, -1.0),
                                       (1, 1, 0.0, 2.0)])
def test_a_guard_refuses_meaningless_settings(arguments):
    with pytest.raises(ValueError, match="baseline episodes|baseline_episodes"):
        Guard(torch.tensor([True]), *arguments)


def test_the_pair_rule_explores_after_the_baseline_in_pairs_and_sends_each_pairs_relative_return_difference():
    rule = ModulationRule("pair", max_norm=0.02, exploration=0.1, hold="pair")
    schedule = OnlineSchedule(None, sign=1.0, rule=rule, guard=True, baseline_episodes=2, window=2, margin=0.05)
    decisions = [schedule.episode_ended(r) for r in (100.0, 100.0)]  # baseline 100
    assert [(d.modulation, d.explore) for d in decisions] == [(0.0, 0), (0.0, 1)]  # a pair starts after the baseline
    first, second = schedule.episode_ended(120.0), schedule.episode_ended(90.0)
    assert (first.modulation, first.explore) == (0.0, -1)
    assert second.modulation == pytest.approx((120.0 - 90.0) / 100.0) and second.explore == 1
    assert schedule.updates == 1
    huge = [schedule.episode_ended(r) for r in (400.0, 100.0)]
    assert huge[1].modulation == 1.0  # clipped
    fallen = schedule.episode_ended(50.0)  # a pair's first half; the last two average 75, below the floor 95
    assert fallen.rollback is not None and fallen.explore == 0 and fallen.modulation == 0.0
    waiting = [schedule.episode_ended(100.0) for _ in range(2)]  # the wait: no noise, then a fresh pair
    assert [d.explore for d in waiting] == [0, 1]
    assert schedule.episode_ended(100.0, learning=False).explore == 0  # learning off: no noise, the pair dropped
    assert schedule.episode_ended(100.0).explore == 1


def test_the_pair_rules_exploration_shrinks_by_its_factor_at_every_rollback():
    rule = ModulationRule("pair", max_norm=0.02, exploration=0.1, hold="pair", rollback_shrink=0.5)
    schedule = OnlineSchedule(None, sign=1.0, rule=rule, guard=True, baseline_episodes=2, window=2, margin=0.05)
    explores = [schedule.episode_ended(r).explore for r in (100.0, 100.0, 100.0, 100.0)]
    assert explores == [0, 1.0, -1.0, 1.0]
    assert schedule.episode_ended(50.0).rollback is not None  # 100 and 50 average 75, below the floor 95
    explores = [schedule.episode_ended(r).explore for r in (100.0, 100.0, 100.0, 100.0)]
    assert explores == [0, 0.5, -0.5, 0.5] and schedule.status()["exploration_scale"] == 0.5
    assert schedule.episode_ended(40.0).rollback is not None
    assert [schedule.episode_ended(100.0).explore for _ in range(3)] == [0, 0.25, -0.25]


def test_the_pair_rules_exploration_starts_small_and_doubles_after_a_window_that_kept_the_baseline():
    rule = ModulationRule("pair", max_norm=0.02, exploration=0.1, hold="pair", exploration_start=0.25, success_grow=2.0)
    schedule = OnlineSchedule(None, sign=1.0, rule=rule, guard=True, baseline_episodes=2, window=4, margin=0.5)
    explores = [schedule.episode_ended(r).explore for r in (100.0, 100.0, 100.0, 100.0)]
    assert explores == [0, 0.25, -0.25, 0.25]  # one pair: half a window, no verdict yet
    explores = [schedule.episode_ended(r).explore for r in (101.0, 98.0, 110.0, 90.0)]  # window 100, 100, 101, 98: 99.75
    assert explores == [-0.25, 0.25, -0.25, 0.25]  # below the baseline 100: the scale stays
    explores = [schedule.episode_ended(r).explore for r in (101.0, 99.0, 100.0, 100.0)]  # window 110, 90, 101, 99: 100
    assert explores == [-0.25, 0.5, -0.5, 0.5] and schedule.status()["exploration_scale"] == 0.5
