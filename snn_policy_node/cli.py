"""``snn-robot``: the project's command line."""

import argparse
import json
import sys
from pathlib import Path

from .checkpoint import CheckpointError


def _demo(args: argparse.Namespace) -> int:
    import torch

    from .conversion_check import format_rows, run_check

    torch.set_num_threads(1)  # batch-of-one inference: threads only add synchronisation
    rows = run_check(args.env, episodes=args.episodes, max_steps=args.max_steps, seed=args.seed)
    print(f"\nConverted spiking actor on {args.env} (seed {args.seed}, T = 4, rho = 4), "
          f"against its QCFS source network on the same states:")
    print(format_rows(rows))
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from .model_io import load_model

    try:
        model, checkpoint = load_model(args.checkpoint)
    except CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(
        {
            "kind": checkpoint.kind,
            "model": checkpoint.model,
            "observation": checkpoint.observation.to_dict(),
            "action": checkpoint.action.to_dict(),
            "provenance": checkpoint.provenance,
            "parameters": sum(t.numel() for t in checkpoint.tensors.values()),
        },
        indent=2,
    ))
    return 0


def _train_dsqn(args: argparse.Namespace) -> int:
    import torch

    from .dqn import DQNConfig, train

    torch.set_num_threads(args.threads)
    out = Path(args.out or f"models/dsqn/{args.env}/seed{args.seed}")
    result = train(DQNConfig(env_id=args.env, seed=args.seed, total_steps=args.steps), out)
    print(
        f"{args.env} seed {args.seed}: mean return {result['eval_return_mean']:.2f} +- "
        f"{result['eval_return_std']:.2f} on the 100 evaluation seeds; model in {out}/model.safetensors"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snn-robot",
        description="Spiking neural network policies for robots: conversion, calibration, DSQN, r-STDP.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="convert a QCFS actor to a spiking actor and drive MuJoCo Hopper with every calibration setting",
        description="Build a seeded QCFS actor (thresholds from the 99th percentile of its pre-activations), "
        "convert it to IF neurons (T = 4) and drive the MuJoCo environment with I = 0..3 calibration passes and "
        "with adaptive I (Algorithm 2), reporting return, action error against the QCFS source and error spikes "
        "per layer. The actor is untrained: the check measures conversion fidelity, not task skill.",
    )
    demo.add_argument("--env", default="Hopper-v5", help="Gymnasium environment id with a Box action space")
    demo.add_argument("--episodes", type=int, default=2, help="episodes per calibration setting")
    demo.add_argument("--max-steps", type=int, default=200, help="time limit of each episode")
    demo.add_argument("--seed", type=int, default=0, help="seed of the actor and of the episodes")
    demo.set_defaults(run=_demo)

    train = commands.add_parser("train", help="train a policy (see train dsqn --help)")
    trainers = train.add_subparsers(dest="trainer", required=True, metavar="ALGORITHM")
    dsqn = trainers.add_parser(
        "dsqn",
        help="train a Deep Spiking Q-Network with DQN and surrogate gradients",
        description="DQN (double, Huber loss, hard target updates) on the DSQN of Table 1 of paper 004. The weights "
        "kept are those with the best mean return on 100 validation seeds (20000-20099); the reported score uses "
        "the 100 evaluation seeds (0-99). Writes model.safetensors, train_log.csv and card.md.",
    )
    dsqn.add_argument("--env", required=True, choices=["CartPole-v0", "Acrobot-v1"])
    dsqn.add_argument("--seed", type=int, default=0)
    dsqn.add_argument("--steps", type=int, default=None, help="environment steps (default: 60000 / 100000)")
    dsqn.add_argument("--out", default=None, help="output folder (default: models/dsqn/ENV/seedS)")
    dsqn.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    dsqn.set_defaults(run=_train_dsqn)

    inspect = commands.add_parser(
        "inspect",
        help="validate a checkpoint and print its metadata",
        description="Load a checkpoint with every validation (format, version, digest, shapes, specs) and print "
        "its header as JSON. Exit status 2 and a one-line reason if the file is not a usable checkpoint.",
    )
    inspect.add_argument("checkpoint", help="path to a .safetensors checkpoint")
    inspect.set_defaults(run=_inspect)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
