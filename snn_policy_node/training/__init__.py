"""Training the policies: one module per algorithm, one replay buffer.

- ``dqn``: DQN with surrogate gradients for the DSQNs of paper 004.
- ``td3``: TD3 for ReLU and QCFS actors (online, for the datasets).
- ``td3bc``: TD3+BC offline on a Minari dataset (paper 000), saving the converted spiking actor.
- ``datasets``: online TD3 runs turned into D4RL-level Minari datasets.
- ``replay``: the transition buffer all three use, saved without pickle.
- ``logs``: the CSV training logs, resumed without duplicate rows.

Modules are imported by name (``from snn_policy_node.training.td3bc import train_td3bc``): each
pulls in its own heavy dependencies (Minari, Gymnasium).
"""

__all__ = ["dqn", "td3", "td3bc", "datasets", "replay", "logs"]
