"""Decimation against hand-computed command streams."""

import numpy as np
import pytest

from snn_policy_node.policy.decimation import Decimator, PeriodMeter


def stream(decimator: Decimator, outputs, ticks: int, tick: float) -> tuple[list[float], list[int]]:
    """Commands per tick, and the ticks where the network ran (its k-th run answers outputs[k])."""
    commands, runs = [], []
    for k in range(ticks):
        now = k * tick
        if decimator.due(now):
            decimator.push(np.array([outputs[len(runs)]]), now)
            runs.append(k)
        commands.append(float(decimator.command(now)[0]))
    return commands, runs


def test_hold_runs_the_network_once_per_period_and_holds_between():
    commands, runs = stream(Decimator(0.1, 0.02, "hold"), [1.0, 2.0, 3.0], 12, 0.02)
    assert runs == [0, 5, 10]
    assert commands == [1.0] * 5 + [2.0] * 5 + [3.0] * 2


def test_interpolate_ramps_from_the_previous_command_to_the_newest_over_one_period():
    commands, runs = stream(Decimator(0.1, 0.02, "interpolate"), [1.0, 2.0, -3.0], 12, 0.02)
    assert runs == [0, 5, 10]
    np.testing.assert_allclose(commands, [1.0] * 5 + [1.0, 1.2, 1.4, 1.6, 1.8] + [2.0, 1.0])


def test_a_tick_a_little_early_still_runs_the_network():
    decimator = Decimator(0.1, 0.02)
    decimator.push(np.zeros(1), 0.0)
    assert not decimator.due(0.089) and decimator.due(0.092)  # within half a tick of the period


@pytest.mark.parametrize("period, ticks, run_period", [(0.1, 5, 0.1), (0.03, 2, 0.04), (0.008, 1, 0.02), (0.05, 2, 0.04)])
def test_the_network_runs_every_whole_number_of_ticks_nearest_its_period(period, ticks, run_period):
    decimator = Decimator(period, 0.02)
    assert decimator.ticks == ticks and decimator.run_period == pytest.approx(run_period)
    _, runs = stream(decimator, [0.0] * 20, 12, 0.02)
    assert runs == list(range(0, 12, ticks))


def test_period_zero_runs_every_tick_whatever_the_clock_does():
    decimator = Decimator(0.0, 0.02, "interpolate")
    decimator.push(np.ones(1), 5.0)
    assert decimator.due(5.0) and decimator.due(0.0)  # a simulator's stamps restart with an episode
    assert decimator.command(5.0)[0] == 1.0


def test_reset_starts_afresh_without_a_ramp_from_before():
    decimator = Decimator(0.1, 0.02, "interpolate")
    decimator.push(np.array([5.0]), 0.0)
    decimator.reset()
    assert decimator.due(0.01)
    decimator.push(np.array([1.0]), 0.01)
    assert decimator.command(0.03)[0] == 1.0
    with pytest.raises(RuntimeError, match="push one first"):
        Decimator(0.1, 0.02).command(0.0)
    with pytest.raises(ValueError, match="fill 'linear'"):
        Decimator(0.1, 0.02, "linear")


def test_the_period_meter_reports_mean_and_largest_interval_and_skips_pauses():
    meter = PeriodMeter()
    for now in (0.0, 0.02, 0.05):
        meter.mark(now)
    assert meter.take() == pytest.approx({"mean_ms": 25.0, "max_ms": 30.0})
    assert meter.take() is None
    meter.restart()
    meter.mark(10.0)
    meter.mark(10.01)
    assert meter.take() == pytest.approx({"mean_ms": 10.0, "max_ms": 10.0})
