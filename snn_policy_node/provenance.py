"""Where a written result came from: the command line that made it, printed into what it writes."""

import shlex
import sys


def recorded_command(fallback: str) -> str:
    """The ``snn-robot`` command line that is running, to print in what it writes (``fallback``
    when called from Python rather than from the console script)."""
    return shlex.join(["snn-robot", *sys.argv[1:]]) if sys.argv[0].endswith("snn-robot") else fallback
