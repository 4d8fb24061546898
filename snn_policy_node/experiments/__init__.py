"""The studies the reports are made from, each resumable from what it saved.

- ``adaptation``: paper 004's r-STDP protocol for populations of runs.
- ``rstdp_study``: the random normal / extreme study and the single-parameter sweeps of paper 004.
- ``calibration_study``: paper 000's tables scored on the TD3+BC runs.
- ``conversion_check``: conversion and calibration in closed loop on a seeded actor.
- ``inference_bench``: spiking-actor against ANN inference time.

Nothing here writes a report; ``reports`` writes what these return.
"""

__all__ = ["adaptation", "rstdp_study", "calibration_study", "conversion_check", "inference_bench"]
