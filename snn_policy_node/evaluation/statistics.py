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


def paired(a, b) -> dict:
    """Mean of a - b over paired samples, its 95 % confidence interval and the paired t-test's p (1 where
    every difference is 0, NaN for fewer than 2 pairs)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff = a - b
    if len(diff) < 2:
        p = np.nan
    else:
        p = float(stats.ttest_rel(a, b).pvalue) if np.any(diff != 0) else 1.0
    return {**mean_interval(diff), "p": p}
