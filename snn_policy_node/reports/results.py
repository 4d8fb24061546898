"""Writing a results report: ``<stem>.json`` (the numbers), ``<stem>.md`` and ``<stem>.png``."""

import json
from collections.abc import Callable
from pathlib import Path


def write_results(out: Path, stem: str, report: dict, markdown: Callable[[dict], str],
                  figure: Callable[[dict, Path], None]) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / f"{stem}.md").write_text(markdown(report))
    figure(report, out / f"{stem}.png")
    return report
