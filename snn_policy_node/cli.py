"""``snn-robot``: the project's command line."""

import argparse
import dataclasses
import json
import os
import shlex
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from snn_policy_node.experiments.actor_deployment import ActorDeploymentConfig
from snn_policy_node.experiments.adaptation import AdaptationConfig
from snn_policy_node.experiments.deployment import DeploymentConfig
from snn_policy_node.experiments.grid import Grid, GridOptions
from snn_policy_node.policy.checkpoint import CheckpointError
from snn_policy_node.provenance import recorded_command
from snn_policy_node.tasks import DSQN_TASKS, MUJOCO_TASKS
from snn_policy_node.training.datasets import OnlineConfig
from snn_policy_node.training.dqn import DQNConfig
from snn_policy_node.training.td3bc import TD3BCConfig


def add_config_options(parser: argparse.ArgumentParser, config: type, fields: Iterable[str], *,
                       names: Mapping[str, str] | None = None, task_values: Mapping[str, Mapping] | None = None,
                       **options: dict) -> None:
    """Add an option ``--field-name`` per field of the dataclass ``config`` named in ``fields``.

    Type, default, help and choices come from the field (``metadata={"help": ..., "choices": ...}``);
    a field without a default is a required option. The option's dest is the field's name, so
    :func:`config_values` reads the options back. ``names`` gives an option another name than its
    field (``{"total_steps": "steps"}``: ``--steps``). ``task_values`` (field -> {task: value}) marks
    the fields whose default the task decides: the option's default is None, and its help lists
    each task's value. ``options`` (field -> add_argument arguments) adds to or overrides the rest.
    """
    names, task_values = names or {}, task_values or {}
    declared = {f.name: f for f in dataclasses.fields(config)}
    hints = typing.get_type_hints(config)
    for name in fields:
        f = declared[name]  # KeyError: no such field
        option = names.get(name, name.replace("_", "-"))
        arguments = {"dest": name, "type": _option_type(hints[name], f"{config.__name__}.{name}"),
                     "help": f.metadata.get("help")}
        if "choices" in f.metadata:
            arguments["choices"] = list(f.metadata["choices"])
        if name in task_values:
            values = ", ".join(f"{task} {_shown(v)}" for task, v in task_values[name].items())
            arguments.update(default=None, help=f"{arguments['help']} (default: the task's: {values})")
        elif f.default is not dataclasses.MISSING:
            arguments["default"] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            arguments["default"] = f.default_factory()
        else:
            arguments["required"] = True
        arguments.update(options.get(name, {}))
        if arguments.get("required"):
            arguments.pop("default", None)  # a required option has no default to show
        if "choices" not in arguments and option.replace("-", "_") != name:
            arguments["metavar"] = option.upper().replace("-", "_")  # as argparse names --OPTION's value
        parser.add_argument(f"--{option}", **arguments)


def _option_type(hint, where: str) -> type:
    """``int``, ``float`` or ``str`` of a field annotated as one of them (or as one of them | None)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = set(typing.get_args(hint)) - {type(None)}
        hint = members.pop() if len(members) == 1 else hint
    if hint not in (int, float, str):
        raise TypeError(f"{where}: no command-line option for fields of type {hint}")
    return hint


def _shown(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def config_values(args: argparse.Namespace, config: type) -> dict:
    """The parsed options of ``config``'s fields, by field name; options left None are left out (the dataclass
    or the task decides)."""
    given = vars(args)
    return {f.name: given[f.name] for f in dataclasses.fields(config) if given.get(f.name) is not None}


def _demo(args: argparse.Namespace) -> int:
    import torch

    from snn_policy_node.experiments.conversion_check import format_rows, run_check

    torch.set_num_threads(1)  # batch-of-one inference: threads only add synchronisation
    rows = run_check(args.env, episodes=args.episodes, max_steps=args.max_steps, seed=args.seed)
    print(f"\nConverted spiking actor on {args.env} (seed {args.seed}, T = 4, rho = 4), "
          f"against its QCFS source network on the same states:")
    print(format_rows(rows))
    return 0


def _upgrade_checkpoint(args: argparse.Namespace) -> int:
    from snn_policy_node.policy.checkpoint import upgrade_checkpoint
    from snn_policy_node.policy.model_io import load_model

    for path in args.checkpoints:
        upgraded = upgrade_checkpoint(path, _period(args.period))
        load_model(path)  # the re-saved file passes every check
        print(f"{path}: {'upgraded' if upgraded else 'already current'}")
    return 0


def _period(choice: str | None):
    """``--period``: None, seconds, or 'simulator': the step of the environment the file was trained on."""
    if choice is None:
        return None
    if choice != "simulator":
        seconds = float(choice)
        return lambda checkpoint: seconds
    from sim_bridge.tasks import make_task_env, step_period

    def simulator(checkpoint) -> float:
        env_id = checkpoint.provenance.get("env_id")
        if not env_id:
            raise ValueError("its provenance names no environment: give --period in seconds")
        return step_period(make_task_env(env_id))
    return simulator


def _keygen(args: argparse.Namespace) -> int:
    from snn_policy_node.policy.signing import generate_keys

    generate_keys(args.private, args.public)
    print(f"private key {args.private} (keep it off the robot), public key {args.public} (the robot's trusted_key)")
    return 0


def _sign(args: argparse.Namespace) -> int:
    from snn_policy_node.policy.signing import sign_checkpoint

    for path in args.checkpoints:
        sign_checkpoint(path, args.key)
        print(f"{path}: signed")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from snn_policy_node.policy.contract import describe
    from snn_policy_node.policy.model_io import load_model

    model, checkpoint = load_model(args.checkpoint, args.trusted_key)
    print(json.dumps(
        {
            "kind": checkpoint.kind,
            "model": checkpoint.model,
            "contract": describe(checkpoint),
            "provenance": checkpoint.provenance,
            "digest": checkpoint.digest,
            "signed": checkpoint.signature is not None,
            "parameters": sum(t.numel() for t in checkpoint.tensors.values()),
        },
        indent=2,
    ))
    return 0


def _export_nir(args: argparse.Namespace) -> int:
    try:
        from snn_policy_node.policy.nir_export import export_nir
    except ImportError as error:
        print(f"error: {error.name} is not installed: pip install '.[nir]'", file=sys.stderr)
        return 2
    graph = export_nir(args.checkpoint, args.out)
    print(f"{args.out}: {len(graph.nodes)} NIR nodes; dt {graph.metadata['dt']} s per step, "
          f"{graph.metadata['timesteps']} steps per observation")
    if "reset" in graph.metadata:
        print(f"reset: {graph.metadata['reset']}")
    return 0


def _render(args: argparse.Namespace) -> int:
    os.environ.setdefault("MUJOCO_GL", "egl")  # off-screen rendering, with or without a display
    from sim_bridge.randomization import draw_settings
    from snn_policy_node.evaluation.render import render_episode
    from snn_policy_node.policy.model_io import load_model

    _, checkpoint = load_model(args.checkpoint)
    if args.physics and args.profile:
        raise ValueError("give either --physics or --profile/--setting")
    physics = dict(args.physics or ())
    if args.profile:
        physics = draw_settings(checkpoint.provenance.get("env_id"), args.profile, args.setting + 1, 0)[args.setting]
    options = {"iterations": args.iterations} if checkpoint.kind == "spiking_actor" else {}
    episode = render_episode(args.checkpoint, args.out, physics, args.seed, args.steps, args.every, **options)
    print(f"{args.out}: {episode.frames} frames of {episode.steps} steps, return {episode.episode_return:.2f}, "
          f"physics {physics or 'default'}; mean spike rates " + ", ".join(f"{r:.3f}" for r in episode.mean_spike_rates))
    return 0


def _replay(args: argparse.Namespace) -> int:
    from snn_policy_node.reports.recording import recording_summary, summary_table

    if not Path(args.recording, "metadata.yaml").exists():
        print(f"error: {args.recording} is not a rosbag2 directory (no metadata.yaml)", file=sys.stderr)
        return 2
    if not args.summary and not args.policy:
        print("error: say what to do: --summary (what the recording holds) or --policy CHECKPOINT (replay into a "
              "policy node)", file=sys.stderr)
        return 2
    if args.summary:
        print(summary_table(recording_summary(args.recording)))
    if not args.policy:
        return 0
    from snn_policy_node.ros.launch_file import LaunchError
    from snn_policy_node.ros.replay import replay

    try:
        parameters = dict(_launch_argument(text) for text in args.param)
        result = replay(args.recording, args.policy, parameters, args.command_topic)
    except (LaunchError, ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(result.line())
    return 0 if result.reproduced else 1


def _train_dsqn(args: argparse.Namespace) -> int:
    import torch

    from snn_policy_node.training.dqn import train

    torch.set_num_threads(args.threads)
    values = config_values(args, DQNConfig)
    config = DQNConfig.for_task(values.pop("env_id"), **values)
    default = (f"models/dsqn/{config.env_id}" if config.randomization is None
               else f"models/dsqn-randomized/{config.env_id}/{config.randomization}")
    out = Path(args.out or f"{default}/seed{config.seed}")
    result = train(config, out)
    print(
        f"{config.env_id} seed {config.seed}: mean return {result['eval_return_mean']:.2f} +- "
        f"{result['eval_return_std']:.2f} on the 100 evaluation seeds; model in {out}/model.safetensors"
    )
    return 0


def _physics(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}") from None


def _adapt_rstdp(args: argparse.Namespace) -> int:
    import torch

    from snn_policy_node.experiments.adaptation import adapt
    from snn_policy_node.experiments.rstdp_study import profile_settings, stop_at
    from snn_policy_node.policy.model_io import load_model, save_model
    from snn_policy_node.snn.rstdp import AMPLITUDES_KEY, model_amplitudes
    from snn_policy_node.tasks import dsqn_task

    torch.set_num_threads(1)
    model, checkpoint = load_model(args.model)
    env_id = args.env or checkpoint.provenance.get("env_id")
    if checkpoint.kind != "dsqn" or env_id is None:
        print("error: r-STDP adaptation needs a DSQN checkpoint whose task is known (pass --env)", file=sys.stderr)
        return 2
    if args.physics and (args.profile or args.setting is not None):
        raise ValueError("give either --physics or --profile/--setting")
    if args.physics:
        setting = dict(args.physics)
    else:
        setting = profile_settings(env_id, args.profile or "normal")[args.setting or 0]
    sign = dsqn_task(env_id).sign if args.sign is None else args.sign
    config = AdaptationConfig(**{**config_values(args, AdaptationConfig), "sign": sign, "stop_at": stop_at(env_id)})
    amplitudes = model_amplitudes(model.layers[config.layer].weight, checkpoint.provenance)
    result = adapt(model, dsqn_task(env_id), setting, config, amplitudes)
    print(f"{env_id} under {setting}:")
    print(f"  mean return before r-STDP {result.before.mean():.2f}, after {result.after.mean():.2f} "
          f"(best weights after {result.best_episode} of {len(result.eval_means)} training episodes)")
    if args.out:
        provenance = {**checkpoint.provenance, "adapted": {"physics": setting, "sign": sign,
                      "best_episode": result.best_episode, "eval_return_mean": float(result.after.mean())},
                      AMPLITUDES_KEY: list(amplitudes)}
        save_model(args.out, model, checkpoint.observation, checkpoint.action, provenance)
        print(f"  adapted model written to {args.out}")
    return 0


def _dsqn_models(models_dir: str, envs: list[str]) -> dict[str, list[Path]] | None:
    """The trained DSQNs ``models_dir/ENV/seed*/model.safetensors`` of each task; None (said why) if a task has none."""
    models = {env_id: sorted(Path(models_dir, env_id).glob("seed*/model.safetensors")) for env_id in envs}
    missing = [env_id for env_id, paths in models.items() if not paths]
    if missing:
        print(f"error: no trained models under {models_dir} for {missing} (snn-robot train dsqn)", file=sys.stderr)
        return None
    return models


def _add_dsqn_models_options(parser: argparse.ArgumentParser) -> None:
    """--envs and --models-dir of a report over the trained DSQNs (read by :func:`_dsqn_models`)."""
    parser.add_argument("--envs", nargs="+", default=list(DSQN_TASKS), choices=list(DSQN_TASKS), help="tasks to report")
    parser.add_argument("--models-dir", default="models/dsqn", help="trained models: MODELS_DIR/ENV/seed*/")


def _report_rstdp(args: argparse.Namespace) -> int:
    import torch

    from snn_policy_node.experiments.rstdp_study import run_study
    from snn_policy_node.reports.rstdp import write_report

    torch.set_num_threads(1)
    models = _dsqn_models(args.models_dir, args.envs)
    if models is None:
        return 2
    command = recorded_command("snn-robot report rstdp")
    work_dir = Path(args.work_dir)

    def register(grid: Grid) -> None:
        run_study(models, args.profiles, work_dir, args.sign, args.episodes, args.sweep_points, args.sweep_parameters, grid)

    if not args.finished_only and not run_grid(register, args, "r-STDP populations"):
        return 1
    study = run_study(models, args.profiles, work_dir, args.sign, args.episodes, args.sweep_points,
                      args.sweep_parameters, False)
    report = write_report(study, Path(args.out), command)
    for env_id, profiles in report["results"].items():
        for profile, r in profiles.items():
            print(f"{env_id} {profile}: default {r['default_mean']:.2f}, randomized {r['before_mean']:.2f}, "
                  f"after r-STDP {r['after_mean']:.2f} (t = {r['t']:.2f}, p = {r['p']:.2g})")
    print(f"report written to {args.out}/rstdp.md")
    return 0


def _report_adaptation(args: argparse.Namespace) -> int:
    import torch

    from snn_policy_node.experiments.actor_adaptation_study import ACTOR_STUDIES, run_actor_study
    from snn_policy_node.experiments.adaptation_study import STUDIES, run_study
    from snn_policy_node.reports.adaptation import write_report

    torch.set_num_threads(1)
    known = {study.headline for study in (*STUDIES, *ACTOR_STUDIES)}
    if unknown := set(args.studies or ()) - known:
        print(f"error: no study compares {sorted(unknown)}; the studies' methods: {sorted(known)}", file=sys.stderr)
        return 2
    models = _dsqn_models(args.models_dir, [env_id for env_id in args.envs if env_id in DSQN_TASKS])
    actors = {env_id: Path(args.actors_dir, env_id, "spiking_actor.safetensors") for env_id in args.envs if env_id in MUJOCO_TASKS}
    missing = [str(path) for path in actors.values() if not path.exists()]
    if missing:
        print(f"error: no spiking actor at {missing} (snn-robot report calibration ships them to models/td3bc)", file=sys.stderr)
    if models is None or missing:
        return 2
    config = DeploymentConfig(**config_values(args, DeploymentConfig))
    actor_config = ActorDeploymentConfig(episodes=args.actor_episodes)
    work_dir, randomized_dir = Path(args.work_dir), Path(args.randomized_dir)

    def register(grid: Grid) -> None:
        run_study(models, args.profiles, work_dir, config, grid, randomized_dir, args.studies)
        run_actor_study(actors, work_dir, actor_config, grid, args.studies)

    if not args.finished_only and not run_grid(register, args, "adaptation populations"):
        return 1
    study = run_study(models, args.profiles, work_dir, config, False, randomized_dir)
    actor_study = run_actor_study(actors, work_dir, actor_config, False)
    for key, value in actor_study.items():  # rows and pending lists join, curves and timings merge, the rest is new
        if isinstance(value, list):
            study[key] += value
        elif key in study:
            study[key].update(value)
        else:
            study[key] = value
    report = write_report(study, Path(args.out), recorded_command("snn-robot report adaptation"))
    for row in report["deployment"]:
        print(f"{row['task']} {row['profile']} {row['variant']}: held-out {row['adapted_heldout']:.2f} (frozen "
              f"{row['frozen_heldout']:.2f}, random {row['random_control_heldout']:.2f}), p vs frozen "
              f"{row['p_vs_frozen']:.2g}, online first/last block {row['online_first_block']:.2f}/"
              f"{row['online_last_block']:.2f}")
    print(f"report written to {args.out}/adaptation.md")
    return 0


def run_grid(register: Callable[[Grid], None], args: argparse.Namespace, description: str) -> bool:
    """Run the units that ``register`` finds unfinished as a Ray grid, round after round (a unit may
    need another's result, as a control needs its population), until none is left; False if one failed."""
    grid = Grid()
    register(grid)
    while grid.units:
        ran = set(grid.units)
        failed = grid.run(GridOptions(args.workers, args.cpus_per_unit, args.ray_address, logs=Path(args.grid_logs)),
                          description)
        if failed:
            print(f"error: {len(failed)} units failed: {', '.join(failed)}", file=sys.stderr)
            return False
        register(grid)
        if again := ran & set(grid.units):
            print(f"error: units finished without writing their results: {', '.join(sorted(again))}", file=sys.stderr)
            return False
    return True


def _add_grid_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a job whose units run as a Ray grid (:mod:`snn_policy_node.experiments.grid`)."""
    group = parser.add_argument_group("grid (Ray)", "independent units run as Ray tasks: on a local Ray started on "
                                      "127.0.0.1, or on a running cluster (ray start --head; ray start --address)")
    group.add_argument("--workers", type=int, default=GridOptions.workers,
                       help="units at a time on the local Ray (a cluster runs as many as its CPUs allow)")
    group.add_argument("--cpus-per-unit", type=float, default=GridOptions.cpus_per_unit, help="CPUs Ray gives each unit")
    group.add_argument("--ray-address", default=None,
                       help="a running Ray cluster's address (default: RAY_ADDRESS, else a local Ray)")
    group.add_argument("--grid-logs", default=str(GridOptions.logs), help="each unit's output, NAME.log")


def _device(name: str) -> str:
    """The torch device of ``--device``: ``auto`` takes the GPU where there is one."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise SystemExit(f"error: --device {name!r} is not a torch device: {error}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"error: --device {name}: this machine's torch sees no GPU; use cpu or auto")
    return name


def _add_compute_arguments(parser: argparse.ArgumentParser) -> None:
    """``--threads`` and ``--device``, for the commands that train on torch."""
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (a GPU where there is one)")


def _train_td3bc(args: argparse.Namespace) -> int:
    import torch

    from snn_policy_node.training.datasets import use_minari_root
    from snn_policy_node.training.td3bc import train_td3bc

    torch.set_num_threads(args.threads)
    use_minari_root(args.minari_root)
    config = TD3BCConfig(**config_values(args, TD3BCConfig))
    out = Path(args.out or f"runs/td3bc/{config.dataset_id.replace('/', '_')}/{config.activation}-seed{config.seed}")
    result = train_td3bc(config, out, device=_device(args.device))
    print(f"{config.dataset_id} ({config.activation}, seed {config.seed}): return {result['return_mean']:.1f} +- "
          f"{result['return_std']:.1f}, D4RL-normalised {result['normalised_score']:.1f}; written to {out}")
    return 0


def _data_generate(args: argparse.Namespace) -> int:
    import torch

    from snn_policy_node.training.datasets import generate_datasets

    torch.set_num_threads(args.threads)
    config = OnlineConfig(**config_values(args, OnlineConfig))
    out = Path(args.out or f"runs/data/{config.env_id}/seed{config.seed}")
    summary = generate_datasets(config, out, Path(args.minari_root), args.dataset_steps, _device(args.device))
    print(f"{config.env_id}: expert = TD3 at step {summary['expert_step']} (evaluation return {summary['expert_eval_return']:.1f}), "
          f"medium = step {summary['medium_step']} ({summary['medium_eval_return']:.1f})")
    for level, d in summary["datasets"].items():
        print(f"  {d['id']}: {d['episodes']} episodes, {d['transitions']} transitions, mean return {d['return_mean']:.1f}")
    print(f"Minari datasets under {args.minari_root} (set MINARI_DATASETS_PATH to it to load them)")
    return 0


def _data_subset(args: argparse.Namespace) -> int:
    from snn_policy_node.training.datasets import use_minari_root
    from snn_policy_node.training.subsets import write_subset

    use_minari_root(args.minari_root)
    try:
        summary = write_subset(args.dataset, args.name, args.unterminated_only, args.transitions, args.seed)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{summary['id']}: {summary['rule']} of {summary['source']}: {summary['episodes']} episodes "
          f"({summary['terminated']} terminated), {summary['transitions']} transitions, mean return "
          f"{summary['return_mean']:.1f}")
    return 0


def _reproduce_calibration(args: argparse.Namespace) -> int:
    from snn_policy_node.experiments.calibration_pipeline import Pipeline, register
    from snn_policy_node.experiments.calibration_study import drop_scores

    pipeline = Pipeline(tuple(args.envs), tuple(args.levels), tuple(args.activations), tuple(args.seeds),
                        args.online_steps, args.dataset_steps, args.td3bc_steps, args.episodes, Path(args.runs_dir),
                        Path(args.data_dir))
    if args.rescore:
        drop_scores(pipeline.runs_dir)
    if not run_grid(lambda grid: register(grid, pipeline), args, "calibration pipeline"):
        return 1
    return _write_calibration_report(args, "snn-robot reproduce calibration")


def _report_calibration(args: argparse.Namespace) -> int:
    from snn_policy_node.experiments.calibration_study import drop_scores, register_scores

    if args.rescore:
        drop_scores(Path(args.runs_dir))
    if not run_grid(lambda grid: register_scores(grid, Path(args.runs_dir), args.episodes), args, "calibration scores"):
        return 1
    return _write_calibration_report(args, "snn-robot report calibration")


def _write_calibration_report(args: argparse.Namespace, fallback_command: str) -> int:
    import torch

    from snn_policy_node.reports.calibration import write_report

    torch.set_num_threads(1)
    command = recorded_command(fallback_command)
    report = write_report(Path(args.runs_dir), Path(args.out), args.episodes, command, Path(args.data_dir),
                          Path(args.models_dir) if args.models_dir else None, keep_missing=not args.drop_missing)
    for name, result in report["results"].items():
        print(name + ": " + ", ".join(f"{k} {v['mean']:.1f}" for k, v in result.items() if isinstance(v, dict)))
    for env_id, shipped in report.get("shipped", {}).items():
        print(f"{args.models_dir}/{env_id}: {shipped['run']} (adaptive I {shipped['adaptive_score']:.1f})")
    print(f"report written to {args.out}/calibration.md")
    return 0


def _report_fidelity(args: argparse.Namespace) -> int:
    import time

    import torch
    from tqdm import tqdm

    from snn_policy_node.experiments.conversion_fidelity import TIMESTEPS, VARIANTS, fidelity
    from snn_policy_node.policy.model_io import load_model
    from snn_policy_node.reports.fidelity import heldout_line, write_report
    from snn_policy_node.reports.shipping import write_heldout

    torch.set_num_threads(1)
    actors = {env_id: Path(args.actors_dir, env_id, "spiking_actor.safetensors") for env_id in args.envs}
    missing = [str(path) for path in actors.values() if not path.exists()]
    if missing:
        print(f"error: no shipped spiking actor at {missing} (snn-robot report calibration ships them)", file=sys.stderr)
        return 2
    started, tasks = time.perf_counter(), {}
    with tqdm(total=len(actors) * len(TIMESTEPS) * (len(VARIANTS) + 2), desc="open-loop fidelity", unit="variant") as bar:
        for env_id, path in actors.items():
            bar.set_postfix_str(env_id)
            actor, checkpoint = load_model(path)
            tasks[env_id] = fidelity(actor, checkpoint.observation, env_id, bar)
    command = recorded_command("snn-robot report fidelity")
    report = write_report(tasks, time.perf_counter() - started, Path(args.out), command)
    for env_id, path in actors.items():
        row = report["summary"]["closed_loop"][env_id]["adaptive I"]
        write_heldout(path.parent, heldout_line(env_id, row, tasks[env_id]["closed_loop"]["seeds"], command))
    for env_id, row in report["summary"]["tasks"].items():
        print(f"{env_id}: adaptive I / I = 0 at T = 4 {row['adaptive_over_i0']:.3f}; adaptive I at T = 4 "
              f"{row['adaptive_t4']:.5f}, CRPI at T = 16 {row['crpi_t16']:.5f}")
    print(f"report written to {args.out}/conversion_fidelity.md")
    return 0


def _bench_loop(args: argparse.Namespace) -> int:
    from snn_policy_node.experiments.inference_bench import inference_bench
    from snn_policy_node.reports.bench import write_bench_report
    from snn_policy_node.ros.bench_loop import as_records, run_loop_bench

    try:
        results, soaked = run_loop_bench(args.model, args.rates, args.seconds, args.windows, args.soak_seconds, args.soak_rate)
        inference = inference_bench(rounds=args.rounds)
    except (CheckpointError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ImportError as error:
        print(f"error: {error}; the benchmark's ONNX baseline needs: pip install -r requirements-test.txt", file=sys.stderr)
        return 2
    command = recorded_command("snn-robot bench loop")
    report = write_bench_report(as_records(results), inference, args.model, args.seconds, command, Path(args.out), soaked)
    s = report["summary"]
    print(f"spiking actor (adaptive I) / ONNX ANN: {s['actor_adaptive_over_onnx_ann']:.2f}; DSQN {s['dsqn_us']:.1f} us; "
          f"report written to {args.out}/bench.md")
    return 0


def _run(args: argparse.Namespace) -> int:
    from snn_policy_node.ros.launch_file import LaunchError, live_view_node, parse_launch, recording_node, resolve_launch_file
    from snn_policy_node.ros.launch_runner import run

    try:
        arguments = dict(_launch_argument(text) for text in args.arguments)
        record, live = arguments.pop("record", None), arguments.pop("live", None)
        nodes = parse_launch(resolve_launch_file(args.launch), arguments)
        if live is not None:
            nodes.insert(0, live_view_node(live))
        if record is not None:
            nodes.insert(0, recording_node(record))  # first, so that it sees the other nodes' topics appear
    except LaunchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.print:
        for node in nodes:
            print(f"{node.label}: {shlex.join(node.command())}")
        return 0
    return run(nodes)


def _launch_argument(text: str) -> tuple[str, str]:
    from snn_policy_node.ros.launch_file import LaunchError

    name, separator, value = text.partition(":=")
    if not separator or not name:
        raise LaunchError(f"launch arguments look like NAME:=VALUE, got {text!r}")
    if not value:  # ros2 launch refuses it too ("malformed launch argument")
        raise LaunchError(f"malformed launch argument {text!r}: an empty value is written {name}:=\"''\"")
    return name, value


def _add_demo(commands) -> None:
    """``demo``: the closed-loop conversion check."""
    demo = commands.add_parser(
        "demo",
        help="convert a QCFS actor to a spiking actor and drive a MuJoCo task (default Hopper-v5) with every calibration setting",
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


def _add_train(commands) -> None:
    """``train dsqn`` and ``train td3bc``."""
    train = commands.add_parser("train", help="train a policy: train dsqn (DQN, paper 004) or train td3bc (offline, paper 000)")
    trainers = train.add_subparsers(dest="trainer", required=True, metavar="ALGORITHM")
    dsqn = trainers.add_parser(
        "dsqn",
        help="train a Deep Spiking Q-Network with DQN and surrogate gradients",
        description="DQN (double, Huber loss, hard target updates) on the DSQN of Table 1 of paper 004. The weights "
        "kept are those with the best mean return on 100 validation seeds (20000-20099); the reported score uses "
        "the 100 evaluation seeds (0-99). Writes model.safetensors, train_log.csv and card.md.",
    )
    add_config_options(dsqn, DQNConfig, ["env_id", "seed", "total_steps", "randomization"],
                       names={"env_id": "env", "total_steps": "steps"},
                       task_values={"total_steps": {env: DQNConfig.for_task(env).total_steps for env in DSQN_TASKS}},
                       env_id={"required": True, "choices": list(DSQN_TASKS)}, randomization={"choices": ["normal", "extreme"]})
    dsqn.add_argument("--out", default=None, help="output folder (default: models/dsqn/ENV/seedS; randomized: "
                      "models/dsqn-randomized/ENV/PROFILE/seedS)")
    dsqn.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    dsqn.set_defaults(run=_train_dsqn)

    td3bc = trainers.add_parser(
        "td3bc",
        help="train a ReLU or QCFS actor offline with TD3+BC on a local Minari dataset",
        description="TD3+BC with the authors' hyperparameters (alpha 2.5, state normalisation, policy noise 0.2 "
        "clipped at 0.5, actor every 2 updates, Adam 3e-4, batch 256, 256-256). Evaluates every --eval-every steps "
        "(D4RL-normalised score), checkpoints every 10000 steps and resumes (a finished run is left as it is). Writes "
        "train_log.csv, actor.pt and, for a QCFS actor, spiking_actor.safetensors (converted, with the observation spec by joint name).",
    )
    add_config_options(td3bc, TD3BCConfig, ["dataset_id", "activation", "seed", "steps", "eval_every", "eval_episodes"],
                       names={"dataset_id": "dataset"})
    td3bc.add_argument("--out", default=None, help="output folder (default: runs/td3bc/DATASET/ACTIVATION-seedS)")
    td3bc.add_argument("--minari-root", default="runs/data/minari", help="where the Minari datasets are")
    _add_compute_arguments(td3bc)
    td3bc.set_defaults(run=_train_td3bc)


def _add_adapt(commands) -> None:
    """``adapt rstdp``."""
    adapt = commands.add_parser("adapt", help="adapt a trained policy online (see adapt rstdp --help)")
    adapters = adapt.add_subparsers(dest="adapter", required=True, metavar="RULE")
    rstdp = adapters.add_parser(
        "rstdp",
        help="fine-tune a DSQN to randomized physics with reward-modulated STDP",
        description="Paper 004's protocol: one training episode at a time on the randomized task (seeds "
        "10000-10249), dw = sign * r * c once per episode on hidden1->hidden2, evaluation on seeds 0-99 after each, "
        "best weights kept. The physics is a setting of a Table 2 profile (--profile/--setting) or explicit "
        "NAME=VALUE pairs (--physics force_mag=5 length=0.9).",
    )
    rstdp.add_argument("--model", required=True, help="DSQN checkpoint")
    rstdp.add_argument("--env", default=None, help="task id (default: from the checkpoint)")
    rstdp.add_argument("--profile", choices=["normal", "extreme"], default=None,
                       help="Table 2 randomization profile (default: normal)")
    rstdp.add_argument("--setting", type=int, default=None, choices=range(10),
                       help="which of the profile's 10 seeded settings (default: 0)")
    rstdp.add_argument("--physics", type=_physics, nargs="+", metavar="NAME=VALUE",
                       help="explicit physics instead of a profile setting")
    signs = {env: task.sign for env, task in DSQN_TASKS.items()}
    add_config_options(rstdp, AdaptationConfig, ["episodes", "sign"], task_values={"sign": signs})
    rstdp.add_argument("--out", default=None, help="write the adapted model here")
    rstdp.set_defaults(run=_adapt_rstdp)


def _add_calibration_report_arguments(parser: argparse.ArgumentParser) -> None:
    """Where paper 000's runs are, and where its report and shipped actors go."""
    parser.add_argument("--runs-dir", default="runs/td3bc", help="runs of snn-robot train td3bc")
    parser.add_argument("--data-dir", default="runs/data", help="runs of snn-robot data generate (datasets.json)")
    parser.add_argument("--episodes", type=int, default=50, help="evaluation episodes per training seed (the run-level "
                        "comparison counts pairs scored on at least 50)")
    parser.add_argument("--out", default="docs/results", help="where calibration.md, .json and .png go")
    parser.add_argument("--models-dir", default="models/td3bc",
                        help="where each task's best spiking actor (adaptive I) goes, with its card: "
                        "MODELS_DIR/ENV/; '' ships nothing")
    parser.add_argument("--rescore", action="store_true",
                        help="score every run again; by default a run's scores.json is reused while its actors "
                        "and --episodes are unchanged (after a change to the evaluation code, rescore)")
    parser.add_argument("--drop-missing", action="store_true",
                        help="leave out the pairs, datasets and shipped models of the report already in OUT whose "
                        "runs are not under RUNS_DIR; by default they are kept (runs made on another machine or "
                        "in an earlier checkout), and the report says which")


def _add_reproduce(commands) -> None:
    """``reproduce calibration`` and ``reproduce dsqn``: a paper's pipeline as a Ray grid."""
    reproduce = commands.add_parser("reproduce", help="a paper's pipeline, as a Ray grid: reproduce calibration, "
                                    "reproduce dsqn")
    pipelines = reproduce.add_subparsers(dest="pipeline", required=True, metavar="PIPELINE")
    calibration = pipelines.add_parser(
        "calibration",
        help="paper 000 on this machine's own data: online TD3 -> datasets -> TD3+BC actors -> scores -> report",
        description="Runs every unit of paper 000's pipeline that has not finished, as Ray tasks: per task, online "
        "TD3 and its four Minari datasets (runs/data/ENV/seed0/); per dataset, activation (QCFS and ReLU) and seed, a "
        "TD3+BC run (runs/td3bc/); per training seed, the scores of every variant (scores.json); then writes the "
        "report as `snn-robot report calibration` does. Every unit resumes from its own checkpoint, so the same "
        "command, run again after an interruption, goes on where it stopped.",
    )
    calibration.add_argument("--envs", nargs="+", default=["Hopper-v5"], choices=list(MUJOCO_TASKS), help="tasks")
    calibration.add_argument("--levels", nargs="+", default=["medium", "expert", "medium-replay", "medium-expert"],
                             choices=["medium", "expert", "medium-replay", "medium-expert"], help="dataset levels")
    calibration.add_argument("--activations", nargs="+", default=["qcfs", "relu"], choices=["qcfs", "relu"],
                             help="TD3+BC actors per dataset and seed: QCFS makes every spiking column and the "
                             "comparisons named before the runs; ReLU the ANN baseline (half the training time)")
    calibration.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4],
                             help="TD3+BC seeds (the run-level comparison counts pairs with at least 5)")
    calibration.add_argument("--online-steps", type=int, default=None,
                             help="online TD3 steps per task (default 500000; Ant-v5 300000)")
    calibration.add_argument("--dataset-steps", type=int, default=1_000_000,
                             help="transitions per rolled-out dataset (D4RL's scale)")
    calibration.add_argument("--td3bc-steps", type=int, default=100_000, help="TD3+BC gradient steps per run")
    _add_calibration_report_arguments(calibration)
    _add_grid_arguments(calibration)
    calibration.set_defaults(run=_reproduce_calibration)
    _add_reproduce_dsqn(pipelines)


def _add_reproduce_dsqn(pipelines) -> None:
    dsqn = pipelines.add_parser(
        "dsqn",
        help="paper 004's DSQNs: the shipped models and their domain-randomized controls, trained as a grid",
        description="Trains, as Ray tasks, every DSQN not yet written: per task, randomization and seed, `snn-robot "
        "train dsqn` into models/dsqn/ENV/seedK (default physics) or models/dsqn-randomized/ENV/PROFILE/seedK. A "
        "finished model (its model.safetensors) is skipped, so the same command, run again, trains only what is "
        "missing; a unit whose worker died trains again from its start, to the same model.",
    )
    dsqn.add_argument("--envs", nargs="+", default=list(DSQN_TASKS), choices=list(DSQN_TASKS), help="tasks")
    dsqn.add_argument("--randomizations", nargs="+", default=["none"], choices=["none", "normal", "extreme"],
                      help="physics to train under: none (default physics: the shipped models) or a Table 2 profile")
    dsqn.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="training seeds")
    dsqn.add_argument("--models-dir", default="models/dsqn", help="where default-physics models go: DIR/ENV/seedK")
    dsqn.add_argument("--randomized-dir", default="models/dsqn-randomized",
                      help="where randomized models go: DIR/ENV/PROFILE/seedK")
    _add_grid_arguments(dsqn)
    dsqn.set_defaults(run=_reproduce_dsqn)


def _reproduce_dsqn(args: argparse.Namespace) -> int:
    from snn_policy_node.experiments.dsqn_training import model_dir, register

    randomizations = [None if r == "none" else r for r in args.randomizations]
    folders = Path(args.models_dir), Path(args.randomized_dir)
    if not run_grid(lambda grid: register(grid, args.envs, randomizations, args.seeds, *folders), args, "DSQN models"):
        return 1
    for env_id in args.envs:
        for randomization in randomizations:
            for seed in args.seeds:
                print(f"{model_dir(env_id, randomization, seed, *folders)}/model.safetensors")
    return 0


def _add_report(commands) -> None:
    """``report rstdp``, ``report adaptation``, ``report calibration`` and ``report fidelity``."""
    report = commands.add_parser("report", help="results reports: report rstdp (paper 004), report adaptation (online r-STDP), "
                                 "report calibration (paper 000), report fidelity (conversion, open loop)")
    reports = report.add_subparsers(dest="report", required=True, metavar="REPORT")
    rstdp_report = reports.add_parser(
        "rstdp",
        help="paper 004's random normal / random extreme experiment, before and after r-STDP",
        description="For every task: 10 seeded settings per profile x every model under MODELS_DIR/ENV/seed*/ x "
        "100 evaluation seeds. Each finished run is kept in WORK_DIR, so an interrupted report resumes. Writes "
        "rstdp.md, rstdp.json and rstdp.png to OUT.",
    )
    _add_dsqn_models_options(rstdp_report)
    rstdp_report.add_argument("--profiles", nargs="*", default=["normal", "extreme"], choices=["normal", "extreme"],
                              help="Table 2 randomization profiles; none (a bare --profiles) for sweeps only")
    rstdp_report.add_argument("--work-dir", default="docs/results/rstdp_runs",
                              help="finished runs (a JSON file per task, profile or sweep, and sign: committed, so the "
                              "report is rebuilt from them) and interrupted populations (*.state.pt, resumed; not "
                              "committed); an empty folder recomputes every run")
    rstdp_report.add_argument("--out", default="docs/results", help="where rstdp.md, .json and .png go")
    add_config_options(rstdp_report, AdaptationConfig, ["episodes", "sign"],
                       episodes={"help": "at most this many training episodes per run (at most 250)"},
                       sign={"help": "dw = sign * r * c for every task (default: each task's own)"})
    rstdp_report.add_argument("--sweep-points", type=int, default=5,
                              help="points per single-parameter sweep (section 3); 0 skips the sweeps")
    rstdp_report.add_argument("--sweep-parameters", nargs="+", default=None, metavar="NAME",
                              help="sweep only these parameters (default: all of each task's: CartPole force_mag, "
                              "length, masspole; Acrobot link_length, link_mass, link_moi)")
    rstdp_report.add_argument("--finished-only", action="store_true",
                              help="report the populations that have finished and list the others with how far they "
                              "got, adapting nothing (the default returns are still played); for a look at a long "
                              "report while it runs, best with another --out")
    _add_grid_arguments(rstdp_report)
    rstdp_report.set_defaults(run=_report_rstdp)

    adaptation = reports.add_parser(
        "adaptation",
        help="online r-STDP as deployed: every rule variant beside frozen, random-direction and other-sign controls",
        description="For every task and profile: each shipped model under MODELS_DIR/ENV/seed*/ x the profile's 10 "
        "settings plays online episodes only, adapting as its variant says; the final weights are scored on held-out "
        "seeds. A finished population is kept in WORK_DIR (a JSON file per task and profile). Writes adaptation.md, "
        "adaptation.json and adaptation.png to OUT.",
    )
    adaptation.add_argument("--envs", nargs="+", default=[*DSQN_TASKS, *MUJOCO_TASKS], choices=[*DSQN_TASKS, *MUJOCO_TASKS],
                            help="tasks to report: the DSQN tasks (r-STDP) and the MuJoCo tasks (node perturbation in the "
                            "converted spiking actor)")
    adaptation.add_argument("--models-dir", default="models/dsqn", help="trained DSQNs: MODELS_DIR/ENV/seed*/")
    adaptation.add_argument("--actors-dir", default="docs/results/adaptation_runs/actors",
                            help="spiking actors: ACTORS_DIR/ENV/; by default those the committed populations were "
                            "measured on (an actor shipped later to models/td3bc is studied with --actors-dir "
                            "models/td3bc and another --work-dir)")
    adaptation.add_argument("--randomized-dir", default="models/dsqn-randomized",
                            help="the control of domain-randomized DSQNs: RANDOMIZED_DIR/ENV/PROFILE/seed*/ "
                            "(scripts/train-randomized-dsqns.sh trains them)")
    adaptation.add_argument("--profiles", nargs="+", default=["normal", "extreme"], choices=["normal", "extreme"],
                            help="Table 2 randomization profiles of the DSQN tasks (the MuJoCo tasks play 'normal')")
    adaptation.add_argument("--actor-episodes", type=int, default=ActorDeploymentConfig.episodes,
                            help="online episodes per MuJoCo run")
    adaptation.add_argument("--work-dir", default="docs/results/adaptation_runs",
                            help="finished populations (committed: the report is rebuilt from them); an empty folder "
                            "runs them again")
    adaptation.add_argument("--out", default="docs/results", help="where adaptation.md, .json and .png go")
    add_config_options(adaptation, DeploymentConfig, ["episodes", "baseline_episodes", "window", "margin"])
    adaptation.add_argument("--finished-only", action="store_true",
                            help="report the populations that have finished and list the others, running nothing")
    adaptation.add_argument("--studies", nargs="+", metavar="METHOD",
                            help="run only the missing populations of these studies, named by their compared method "
                            "(e.g. pair_earned_guarded); the others are read where finished (default: run all)")
    _add_grid_arguments(adaptation)
    adaptation.set_defaults(run=_report_adaptation)

    calibration = reports.add_parser(
        "calibration",
        help="paper 000's Tables 1-2: ReLU, QCFS, and the spiking actor with I = 0..3 and adaptive I",
        description="For every dataset under RUNS_DIR (runs of `snn-robot train td3bc`, one folder per "
        "activation and seed): D4RL-normalised scores of the ReLU and QCFS actors and of the converted spiking "
        "actor (T = 4, rho = 4) with I = 0, 1, 2, 3 and adaptive I, mean +- std over seeds, and error spikes per "
        "layer. Writes calibration.md, calibration.json and calibration.png to OUT, and copies each task's "
        "best spiking actor (by its adaptive-I score) with its card to MODELS_DIR/ENV/. Each run's scores are kept "
        "in its scores.json, so a re-run scores only the runs that are new or changed.",
    )
    _add_calibration_report_arguments(calibration)
    _add_grid_arguments(calibration)
    calibration.set_defaults(run=_report_calibration)

    fidelity = reports.add_parser(
        "fidelity",
        help="open-loop fidelity of conversion: every calibration variant and CRPI against the source QCFS network",
        description="For each shipped spiking actor (ACTORS_DIR/ENV/spiking_actor.safetensors): its source QCFS "
        "network plays 10 held-out episodes on default physics (seeds 90000-90009), and every converted variant "
        "replays their states in order: I = 0 with V(0) = 0 and theta/2, I = 1..3 and adaptive I under the "
        "accumulating and the literal reading of Algorithm 1, and CRPI's residual carry-over alone and with adaptive "
        "I (alpha chosen on seeds 80000-80004), at T = 4, 8 and 16. Reports the mean |a - a_QCFS|, error spikes per "
        "layer and time per action, and in closed loop (50 held-out episodes, seeds 70000-70049) the return of the "
        "QCFS network, I = 0 and adaptive I. Writes conversion_fidelity.md, .json (every episode's figures) and .png "
        "to OUT, and each actor's held-out score into its card (ACTORS_DIR/ENV/card.md); a later `snn-robot report "
        "calibration` takes its summary into calibration.json.",
    )
    fidelity.add_argument("--envs", nargs="+", default=list(MUJOCO_TASKS), choices=list(MUJOCO_TASKS), help="tasks")
    fidelity.add_argument("--actors-dir", default="models/td3bc", help="shipped spiking actors: ACTORS_DIR/ENV/")
    fidelity.add_argument("--out", default="docs/results", help="where conversion_fidelity.md, .json and .png go")
    fidelity.set_defaults(run=_report_fidelity)


def _add_run(commands) -> None:
    """``run``: a ROS 2 graph from a launch file."""
    launch = commands.add_parser(
        "run",
        help="start a ROS 2 graph from a launch file or scenario, each node in its own process",
        description="Reads a ROS 2 YAML launch file (the same files `ros2 launch` uses on a full ROS install) and "
        "starts its nodes with real DDS between them; no ROS install needed. Scenarios are the files in the "
        "package's launch/ folder: cartpole_rstdp (a randomized CartPole adapted online by r-STDP), mujoco_rstdp (a "
        "shipped spiking actor adapting online by node perturbation; env:=, episodes:=), mujoco_spiking (a MuJoCo "
        "robot driven by its shipped calibrated spiking actor on randomized physics; env:=Hopper-v5 by default, or any "
        "task with an actor under models/td3bc/; episodes:=5; profile:=extreme, or profile:=\"''\" for the default "
        "physics: as under ros2 launch, an empty value is written as two quotes) and two_robots (mujoco_spiking twice, "
        "under /robot1 and /robot2; robot1_env:=, robot2_env:=, episodes:=). The graph ends as under ros2 launch: when a node "
        "marked on_exit: shutdown exits (the exit status is that node's), or when every node has exited. "
        "record:=DIR also starts a recorder that writes every topic of the graph to the rosbag2 directory DIR "
        "(MCAP storage: ros2 bag info, Foxglove and rosbags read it). live:=PORT also starts a live view: every "
        "topic streamed to Foxglove over its WebSocket protocol on ws://127.0.0.1:PORT (pip install '.[viz]'; "
        "layout in docs/foxglove_layout.json).",
    )
    launch.add_argument("launch", help="scenario name (e.g. cartpole_rstdp) or path to a .launch.yaml file")
    launch.add_argument("arguments", nargs="*", metavar="NAME:=VALUE", help="launch arguments, e.g. env:=HalfCheetah-v5 or model:=path")
    launch.add_argument("-p", "--print", action="store_true",
                        help="print each node's command line (namespace, remaps, parameters resolved) and start nothing")
    launch.set_defaults(run=_run)


def _add_data(commands) -> None:
    """``data generate`` and ``data subset``."""
    data = commands.add_parser("data", help="make offline RL datasets (see data generate --help, data subset --help)")
    data_commands = data.add_subparsers(dest="data", required=True, metavar="ACTION")
    generate = data_commands.add_parser(
        "generate",
        help="train TD3 online and write D4RL-level Minari datasets (expert, medium, medium-replay, medium-expert)",
        description="Online TD3 on the MuJoCo task (checkpointed every 50000 steps; rerunning the same command "
        "resumes), then, among the snapshots after --start-steps: expert = the best evaluated one, medium = the "
        "first to reach a third of the expert's return, both rolled out with action noise 0.1 for --dataset-steps "
        "transitions; medium-replay = the replay buffer up to the medium snapshot; medium-expert = medium + expert. "
        "Writes local Minari datasets snn-robot/<task>/<level>-v0 and OUT/datasets.json.",
    )
    add_config_options(generate, OnlineConfig, ["env_id", "seed", "total_steps", "start_steps", "eval_every", "eval_episodes",
                                                "checkpoint_every"],
                       names={"env_id": "env", "total_steps": "steps"}, env_id={"choices": list(MUJOCO_TASKS)})
    generate.add_argument("--dataset-steps", type=int, default=1_000_000,
                          help="transitions per rolled-out dataset (D4RL's scale)")
    generate.add_argument("--out", default=None, help="run folder (default: runs/data/ENV/seedS)")
    generate.add_argument("--minari-root", default="runs/data/minari", help="where the Minari datasets are written")
    _add_compute_arguments(generate)
    generate.set_defaults(run=_data_generate)
    subset = data_commands.add_parser(
        "subset", help="a subset of a dataset, for an ablation: the episodes that never terminate, or random ones",
        description="Write the episodes of DATASET that the rule keeps as the local Minari dataset NAME: with "
        "--unterminated-only, those that never terminate (a walker that never falls); with --transitions N, a random "
        "draw of whole episodes (--seed) until at least N transitions. Both together draw among the unterminated. "
        "Train on it with snn-robot train td3bc --dataset NAME.",
        epilog="Example, the Walker2d collapse ablation: data subset --dataset snn-robot/walker2d/expert-v0 --name "
        "snn-robot/walker2d/expert-unterminated-v0 --unterminated-only, and its control of the same size: data "
        "subset --dataset snn-robot/walker2d/expert-v0 --name snn-robot/walker2d/expert-any-v0 --transitions 84000")
    subset.add_argument("--dataset", required=True, help="source Minari dataset id, e.g. snn-robot/walker2d/expert-v0")
    subset.add_argument("--name", required=True, help="the subset's dataset id (replaced if it exists)")
    subset.add_argument("--unterminated-only", action="store_true", help="keep only episodes that never terminate")
    subset.add_argument("--transitions", type=int, default=None, help="draw whole episodes until this many transitions")
    subset.add_argument("--seed", type=int, default=0, help="seed of the draw")
    subset.add_argument("--minari-root", default="runs/data/minari", help="where the Minari datasets are")
    subset.set_defaults(run=_data_subset)


def _bench_recording(args: argparse.Namespace) -> int:
    from snn_policy_node.reports.recording import write_overhead_report
    from snn_policy_node.ros.bench_loop import as_records, run_recording_bench

    try:
        results = run_recording_bench(args.model, args.rate, args.seconds, args.windows)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report = write_overhead_report(as_records(results), args.model, args.seconds,
                                   recorded_command("snn-robot bench recording"), Path(args.out))
    for rate, ratio in report["ratios"].items():
        print(f"{rate} Hz: recorded p99 / plain p99 {ratio['p99_over_policy']['median']:.3f} "
              f"[{ratio['p99_over_policy']['min']:.3f}, {ratio['p99_over_policy']['max']:.3f}] over {ratio['windows']} windows")
    print(f"report written to {args.out}/recording_overhead.md")
    return 0


def _add_bench(commands) -> None:
    """``bench loop``, ``bench recording`` and ``bench grid``."""
    bench = commands.add_parser("bench", help="benchmarks that print figures (bench loop, bench recording, bench grid)")
    benches = bench.add_subparsers(dest="bench", required=True, metavar="BENCHMARK")
    loop = benches.add_parser(
        "loop",
        help="joint-state -> command round trip of the policy node against a bare echo node; inference time",
        description="Runs a bare rclpy echo node and the policy node side by side (each in its own process, real DDS "
        "on loopback) and drives them with joint states in alternating windows of SECONDS at each rate, WINDOWS per node "
        "and rate; reports round-trip p50/p99 and drops of both, and each ratio's median and spread over the windows. "
        "Then times every shipped model's batch-of-one Policy.act in its shipped configuration against each actor's ANN "
        "on ONNX Runtime and in NumPy, in ROUNDS interleaved rounds. With --soak-seconds, the policy alone at "
        "--soak-rate for that long, with its latency histogram. Writes bench.md, bench.json and bench.png to OUT.",
    )
    loop.add_argument("--model", default="models/dsqn/CartPole-v0/seed0/model.safetensors", help="policy checkpoint")
    loop.add_argument("--rates", type=float, nargs="+", default=[100.0, 500.0, 1000.0], help="joint-state rates in Hz")
    loop.add_argument("--seconds", type=float, default=5.0, help="length of one window")
    loop.add_argument("--windows", type=int, default=6, help="windows per node and rate")
    loop.add_argument("--rounds", type=int, default=10, help="interleaved rounds of the inference benchmark")
    loop.add_argument("--soak-seconds", type=float, default=0.0, help="length of the soak (0: none; the report's: 600)")
    loop.add_argument("--soak-rate", type=float, default=500.0, help="joint-state rate of the soak in Hz")
    loop.add_argument("--out", default="docs/results", help="where bench.md, .json and .png go")
    loop.set_defaults(run=_bench_loop)
    recording = benches.add_parser(
        "recording", help="what recording (record:=DIR) costs the policy's round trip",
        description="Runs two policy nodes of MODEL side by side (each in its own process, real DDS on loopback) and "
        "the recorder on every topic of the second, drives both with joint states at RATE in alternating windows of "
        "SECONDS, WINDOWS per node, and reports the recorded node's round-trip p99 and drops over the plain one's, "
        "window by window. Writes recording_overhead.md, .json and .png to OUT.")
    recording.add_argument("--model", default="models/dsqn/CartPole-v0/seed0/model.safetensors", help="policy checkpoint")
    recording.add_argument("--rate", type=float, default=100.0, help="joint-state rate in Hz")
    recording.add_argument("--seconds", type=float, default=5.0, help="length of one window")
    recording.add_argument("--windows", type=int, default=10, help="windows per node")
    recording.add_argument("--out", default="docs/results", help="where recording_overhead.md, .json and .png go")
    recording.set_defaults(run=_bench_recording)
    _add_bench_grid(benches)


def _add_bench_grid(benches) -> None:
    grid = benches.add_parser(
        "grid", help="the Ray grid's throughput on a slice of the calibration pipeline, with 1 and 2 workers",
        description="Makes small Hopper datasets once, then runs the calibration pipeline's TD3+BC round on them (4 "
        "units: expert and medium, QCFS and ReLU) through the grid with 1 and with 2 workers, alternating, "
        "REPETITIONS times each, every time from scratch on a fresh local Ray; times a grid of one empty unit (Ray's "
        "start-up); writes grid_throughput.md, .json and .png to OUT, with the scaling plan for a cluster read from "
        "the committed reports in RESULTS.")
    grid.add_argument("--td3bc-steps", type=int, default=3000, help="gradient steps per TD3+BC unit of the slice")
    grid.add_argument("--repetitions", type=int, default=2, help="runs of the slice per worker count")
    grid.add_argument("--work-dir", default="runs/bench-grid", help="where the slice's datasets and runs go")
    grid.add_argument("--results", default="docs/results", help="the committed reports the scaling plan reads")
    grid.add_argument("--out", default="docs/results", help="where grid_throughput.md, .json and .png go")
    grid.set_defaults(run=_bench_grid)


def _bench_grid(args: argparse.Namespace) -> int:
    from snn_policy_node.experiments.grid_bench import grid_bench
    from snn_policy_node.reports.grid import write_report

    measured = grid_bench(Path(args.work_dir), args.td3bc_steps, args.repetitions)
    report = write_report(measured, Path(args.results), Path(args.out), recorded_command("snn-robot bench grid"))
    s = report["summary"]
    print(f"2 workers over 1: {s['speedup_2_over_1']:.2f} x; units per hour {s['units_per_hour'][1]:.0f} (1 worker), "
          f"{s['units_per_hour'][2]:.0f} (2); Ray start-up {s['startup_seconds']:.1f} s")
    print(f"report written to {args.out}/grid_throughput.md")
    return 0


def _add_inspect(commands) -> None:
    """``inspect``."""
    inspect = commands.add_parser(
        "inspect",
        help="validate a checkpoint and print its I/O contract and metadata",
        description="Load a checkpoint with every validation (format, version, digest, shapes, specs) and print, "
        "as JSON, its header and its I/O contract with a robot: the joints and fields it reads (joint_states, "
        "floating_base), each observation entry's normalisation, the command interface, joints (in command "
        "order), range, scale and offset, and the control period it was trained at. Exit status 2 and a one-line "
        "reason if the file is not a usable checkpoint.",
    )
    inspect.add_argument("checkpoint", help="path to a .safetensors checkpoint")
    inspect.add_argument("--trusted-key", help="also require a signature by this Ed25519 public key (PEM)")
    inspect.set_defaults(run=_inspect)
    upgrade = commands.add_parser(
        "upgrade-checkpoint",
        help="re-save older checkpoints so that their digest covers their header (and record a control period)",
        description="Version 1 checkpoints digest their tensors only: an edited header (commands, joints, "
        "normalisation) went unnoticed. This re-saves each file in the current format, trusting the header "
        "it holds now, so run it only on files you trust. With --period, a file that records no control period "
        "gets one (a recorded one is never changed). Files already current are left as they are.",
    )
    upgrade.add_argument("checkpoints", nargs="+", help=".safetensors checkpoints to upgrade in place")
    upgrade.add_argument("--period", help="the control period the policy was trained at: seconds, or 'simulator' "
                         "for the step of the environment its provenance names (env_id)")
    upgrade.set_defaults(run=_upgrade_checkpoint)
    keygen = commands.add_parser(
        "keygen", help="make an Ed25519 key pair for signing checkpoints",
        description="Writes a private key (PEM, mode 600: keep it where models are made) and its public key "
        "(PEM: give it to the robot's policy node as parameter trusted_key, and it loads only models you signed).")
    keygen.add_argument("private", help="where the private key goes")
    keygen.add_argument("public", help="where the public key goes")
    keygen.set_defaults(run=_keygen)
    sign = commands.add_parser(
        "sign", help="sign checkpoints with a private key (snn-robot keygen)",
        description="Checks each checkpoint as loading does, then signs its digest, which covers header and "
        "tensors, and writes the signature into the file. Re-saving a checkpoint drops its signature.")
    sign.add_argument("checkpoints", nargs="+", help=".safetensors checkpoints to sign in place")
    sign.add_argument("--key", required=True, help="the Ed25519 private key (PEM)")
    sign.set_defaults(run=_sign)


def _add_render(commands) -> None:
    """``render``."""
    render = commands.add_parser(
        "render", help="an episode of a policy as a GIF, the robot beside its spikes",
        description="Plays one episode of the checkpoint's task with the policy (a spiking actor in adaptive I by "
        "default) and writes every EVERY-th step as a frame of an animated GIF: the MuJoCo scene beside a scrolling "
        "raster of each hidden layer's per-neuron firing rate (white: a spike at every simulated step). Physics: "
        "default, a setting of a randomization profile (--profile normal --setting K: the K-th drawn with seed 0, as "
        "the adaptation report draws them) or NAME=VALUE pairs. Renders off-screen through EGL unless MUJOCO_GL says otherwise.")
    render.add_argument("checkpoint", help="a policy checkpoint whose provenance names its task")
    render.add_argument("out", help="the .gif to write")
    render.add_argument("--profile", choices=["normal", "extreme"], default=None, help="draw the physics from this profile")
    render.add_argument("--setting", type=int, default=0, help="which of the profile's settings (0: the first drawn)")
    render.add_argument("--physics", type=_physics, nargs="+", metavar="NAME=VALUE", help="explicit physics")
    render.add_argument("--seed", type=int, default=0, help="the episode's reset seed")
    render.add_argument("--steps", type=int, default=300, help="the episode's step limit")
    render.add_argument("--every", type=int, default=2, help="a frame every this many control steps")
    render.add_argument("--iterations", default="adaptive", type=lambda v: v if v == "adaptive" else int(v),
                        help="a spiking actor's calibration I (0..3, or adaptive)")
    render.set_defaults(run=_render)


def _add_replay(commands) -> None:
    """``replay``."""
    replay = commands.add_parser(
        "replay", help="what a recorded graph holds, or its readings played back into a policy node",
        description="Reads a rosbag2 directory (the recorder's, or ros2 bag record's, MCAP or SQLite storage). With "
        "--summary, lists every topic with its message type, message count, rate over its own span and the times of "
        "its first and last message from the recording's start. With --policy, starts a policy node with that "
        "checkpoint (in the namespace /replay, on this ROS domain), publishes every recorded joint state, odometry "
        "and IMU message again in recorded order, each joint state waiting for its answer, and compares the answers "
        "with the recorded commands: exit 0 when every command is reproduced, 1 otherwise. Give the recorded run's "
        "policy parameters with --param (a recording holds topics, not parameters); the command format follows the "
        "recorded commands' type.")
    replay.add_argument("recording", help="a rosbag2 directory")
    replay.add_argument("--summary", action="store_true", help="list the topics, counts and rates")
    replay.add_argument("--policy", metavar="CHECKPOINT", help="replay into a policy node with this checkpoint")
    replay.add_argument("--param", action="append", default=[], metavar="NAME:=VALUE",
                        help="a policy node parameter of the recorded run (repeatable)")
    replay.add_argument("--command-topic", default="policy_controller/commands",
                        help="the recorded commands' topic (default: %(default)s)")
    replay.set_defaults(run=_replay)


def _add_export(commands) -> None:
    """``export nir``."""
    export = commands.add_parser("export", help="write a checkpoint's network in another format (see export nir --help)")
    formats = export.add_subparsers(dest="format", required=True, metavar="FORMAT")
    to_nir = formats.add_parser(
        "nir", help="a DSQN or a converted actor as a NIR graph (Neuromorphic Intermediate Representation)",
        description="Writes the network as a NIR graph (HDF5): Linear/Affine layers and CubaLIF neurons whose "
        "forward-Euler step with the graph's dt is the network's discrete step exactly, the read-out a CubaLIF that "
        "never fires. A DSQN's input is the two-neuron encoding [relu(obs), relu(-obs)], its Q-values the read-out's v "
        "after the last step. A converted actor is written at I = 0 (calibration depends on each observation); its "
        "input is the observation and a start pulse (1 on the first step), its action max_action tanh(v / T), and its "
        "IF neurons reset by subtraction, which a consumer must apply (NIR's CubaLIF resets to v_reset). All of it is in "
        "the graph's metadata; the mapping is in snn_policy_node/policy/nir_export.py. snnTorch's import_from_nir "
        "reproduces the shipped DSQNs' Q-values and spike trains, and the shipped actors' actions and spike trains "
        "except where a potential lies within float rounding of the threshold (1 state in 3248 tested).")
    to_nir.add_argument("checkpoint", help="a DSQN or spiking-actor .safetensors checkpoint")
    to_nir.add_argument("out", help="the .nir file to write")
    to_nir.set_defaults(run=_export_nir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snn-robot",
        description="Spiking neural network policies for robots: conversion, calibration, DSQN, r-STDP.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for add in (_add_demo, _add_train, _add_adapt, _add_report, _add_reproduce, _add_run, _add_data, _add_bench,
                _add_inspect, _add_export, _add_render, _add_replay):
        add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, CheckpointError) as error:  # bad settings or files: say why, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
