"""The confidence interval every reported mean carries, against a hand computation."""

import math

import numpy as np

from snn_policy_node.evaluation.statistics import mean_interval


def test_the_interval_is_the_mean_plus_minus_t_times_the_standard_error():
    """Samples 1, 2, 3, 6: mean 3, s = sqrt(14/3), t(0.975, 3) = 3.182446."""
    interval = mean_interval([1.0, 2.0, 3.0, 6.0])
    half = 3.182446305284263 * math.sqrt(14 / 3) / 2
    assert interval["mean"] == 3.0
    np.testing.assert_allclose(interval["ci95"], [3.0 - half, 3.0 + half], atol=1e-9)


def test_one_sample_has_no_interval():
    interval = mean_interval([5.0])
    assert interval["mean"] == 5.0 and all(math.isnan(bound) for bound in interval["ci95"])
