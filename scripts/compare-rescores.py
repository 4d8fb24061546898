#!/usr/bin/env python
"""Compare two runs of scripts/rescore-shipped-models.py --json episode by episode (paired by seed).

Writes a Markdown table: per task and calibration setting, both means, the mean paired difference with
its 95 % confidence interval and the paired t-test's p, beside the spread of returns over seeds.
Usage: scripts/compare-rescores.py BEFORE.json AFTER.json OUT.md [WHAT BEFORE AND AFTER ARE]
"""

import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats


def main(before_path: str, after_path: str, out: str, what: str = "") -> None:
    before, after = (json.loads(Path(p).read_text()) for p in (before_path, after_path))
    lines = [f"# Closed-loop returns before and after the compiled engine ({after['episodes']} episodes, seeds 0-{after['episodes'] - 1})",
             "", f"Reproduce: `scripts/rescore-shipped-models.py --episodes {after['episodes']} --tasks ... --json` on each "
             "revision, then `scripts/compare-rescores.py before.json after.json OUT.md`. Returns, not normalised scores."
             + (f" {what}" if what else ""), "",
             "| task | setting | before | after | after - before [95 % CI] | p (paired t) | std over seeds |",
             "|---|---|---:|---:|---|---:|---:|"]
    for task, settings in after["returns"].items():
        for setting, returns in settings.items():
            a, b = np.asarray(before["returns"][task][setting]), np.asarray(returns)
            difference = b - a
            half = stats.t.ppf(0.975, len(a) - 1) * difference.std(ddof=1) / np.sqrt(len(a))
            p = stats.ttest_rel(b, a).pvalue
            lines.append(f"| {task} | {setting} | {a.mean():.1f} | {b.mean():.1f} | {difference.mean():+.1f} "
                         f"[{difference.mean() - half:+.1f}, {difference.mean() + half:+.1f}] | {p:.2g} | {a.std(ddof=1):.1f} |")
    Path(out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(*sys.argv[1:5])
