"""Writing results: Markdown, JSON and figures from what ``experiments`` returned, and shipping
models. Nothing here runs an experiment.

- ``rstdp``, ``calibration``, ``bench``: the three reports in ``docs/results/``.
- ``shipping``: a task's best spiking actor and its card to ``models/td3bc/<task>/``.
- ``results``: the JSON + Markdown + figure triple every report writes.
"""

__all__ = ["rstdp", "calibration", "bench", "shipping", "results"]
