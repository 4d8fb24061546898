"""Writing a results report: ``<stem>.json`` (the numbers), ``<stem>.md`` and ``<stem>.png``."""

import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path


def recorded_command(fallback: str) -> str:
    """The ``snn-robot`` command line that is running, to print in what it writes (``fallback``
    when called from Python rather than from the console script)."""
    return shlex.join(["snn-robot", *sys.argv[1:]]) if sys.argv[0].endswith("snn-robot") else fallback


def write_results(out: Path, stem: str, report: dict, markdown: Callable[[dict], str],
                  figure: Callable[[dict, Path], None]) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / f"{stem}.md").write_text(markdown(report))
    figure(report, out / f"{stem}.png")
    return report
