"""``snn-robot``: the project's command line."""

import argparse
import json
import sys

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
