"""Means with their 95 % confidence intervals: how every reported return states its uncertainty."""

import numpy as np
from scipy import stats


def mean_interval(values) -> dict:
    """The mean of independent samples and its two-sided 95 % Student-t interval (NaN bounds for fewer than 2)."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        return {"mean": mean, "ci95": [np.nan, np.nan]}
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return {"mean": mean, "ci95": [mean - half, mean + half]}
