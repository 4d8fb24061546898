"""The confidence interval every reported mean carries, and the paired test of every comparison, against
hand computations."""

import math

import numpy as np
import pytest

from snn_policy_node.evaluation.statistics import mean_interval, paired


def test_the_interval_is_the_mean_plus_minus_t_times_the_standard_error():
    """Samples 1, 2, 3, 6: mean 3, s = sqrt(14/3), t(0.975, 3) = 3.182446."""
    interval = mean_interval([1.0, 2.0, 3.0, 6.0])
    half = 3.182446305284263 * math.sqrt(14 / 3) / 2
    assert interval["mean"] == 3.0
    np.testing.assert_allclose(interval["ci95"], [3.0 - half, 3.0 + half], atol=1e-9)


def test_one_sample_has_no_interval():
    interval = mean_interval([5.0])
    assert interval["mean"] == 5.0 and all(math.isnan(bound) for bound in interval["ci95"])


def test_paired_statistics_are_taken_over_the_pairs():
    """Differences 1, 1, 2, 2: mean 1.5, s = sqrt(1/3), t = 1.5 / (s / 2) = 5.196, two-sided p(3 dof) = 0.0138."""
    result = paired([1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 1.0, 2.0])
    assert result["mean"] == 1.5 and result["ci95"][0] < 1.5 < result["ci95"][1]
    assert result["p"] == pytest.approx(0.013846, abs=1e-5)
    assert paired(np.ones(3), np.ones(3))["p"] == 1.0  # no difference at all
    assert math.isnan(paired([2.0], [1.0])["p"])  # one pair tests nothing
