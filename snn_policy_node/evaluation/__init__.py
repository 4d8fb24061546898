"""Scoring policies on their tasks: the one rollout loop for Gymnasium tasks, batched DSQN
evaluation on the project's seed streams, and the ANN and spiking variants of a TD3+BC actor.

It sits below ``training`` (which validates with it) and ``experiments`` (which score with it).
"""
