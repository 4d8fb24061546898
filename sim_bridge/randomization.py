"""Domain randomization: seeded draws of physical parameters, and a wrapper that applies them.

Profiles and sweeps live in YAML (``profiles/paper_004.yaml`` holds Table 2 and the
single-parameter sweeps of paper 004); every draw is returned or recorded, so a run can be
repeated exactly.
"""

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import gymnasium as gym
import numpy as np
import yaml

from sim_bridge.physics import apply_physics, check_parameters, task_of
from sim_bridge.tasks import SIM_TASKS, physics_defaults

PACKAGED_PROFILES = ("paper_004.yaml", "mujoco.yaml")


@dataclass(frozen=True)
class Range:
    """Uniform distribution over a union of disjoint intervals."""

    intervals: tuple[tuple[float, float], ...]

    def __post_init__(self):
        if not self.intervals or any(not low < high for low, high in self.intervals):
            raise ValueError(f"a range needs intervals with low < high, got {self.intervals}")

    def sample(self, rng: np.random.Generator) -> float:
        widths = np.array([high - low for low, high in self.intervals])
        low, high = self.intervals[rng.choice(len(widths), p=widths / widths.sum())]
        return float(rng.uniform(low, high))

    def __contains__(self, value: float) -> bool:
        return any(low <= value <= high for low, high in self.intervals)


def load_randomization(path: str | Path | None = None) -> dict:
    """The randomization file ``path`` (default: the packaged profiles, all tasks), validated."""
    if path is None:
        data = {}
        for name in PACKAGED_PROFILES:
            data.update(yaml.safe_load(resources.files(__package__).joinpath("profiles", name).read_text()))
    else:
        data = yaml.safe_load(Path(path).read_text())
    for task, entry in data.items():
        if task not in SIM_TASKS:
            raise ValueError(f"randomization for unknown task {task!r}; known: {sorted(SIM_TASKS)}")
        for profile in entry.get("profiles", {}).values():
            check_parameters(task, {name: 1.0 for name in profile})
            for intervals in profile.values():
                Range(tuple(tuple(i) for i in intervals))
        check_parameters(task, {name: 1.0 for name in entry.get("sweeps", {})})
    return data


def profile(task: str, name: str, path: str | Path | None = None) -> dict[str, Range]:
    profiles = load_randomization(path).get(task, {}).get("profiles", {})
    if name not in profiles:
        raise ValueError(f"no randomization profile {name!r} for {task}; known: {sorted(profiles)}")
    return {param: Range(tuple(tuple(i) for i in intervals)) for param, intervals in profiles[name].items()}


def draw(ranges: dict[str, Range], rng: np.random.Generator) -> dict[str, float]:
    return {name: ranges[name].sample(rng) for name in sorted(ranges)}


def draw_settings(task: str, profile_name: str, count: int, seed: int, path=None) -> list[dict[str, float]]:
    """``count`` parameter settings of a profile, reproducible from ``seed``."""
    ranges = profile(task, profile_name, path)
    rng = np.random.default_rng(seed)
    return [draw(ranges, rng) for _ in range(count)]


def sweep_settings(task: str, parameter: str, points: int, path=None) -> list[dict[str, float]]:
    """Single-parameter settings, evenly spaced over the sweep's relative change."""
    sweeps = load_randomization(path).get(task, {}).get("sweeps", {})
    if parameter not in sweeps:
        raise ValueError(f"no sweep of {parameter!r} for {task}; known: {sorted(sweeps)}")
    default = physics_defaults(task)[parameter]
    return [{parameter: default * (1 + change)} for change in np.linspace(*sweeps[parameter], points)]


class RandomizedPhysics(gym.Wrapper):
    """Apply physical parameters at every reset: a fixed setting, or seeded draws from ranges.

    With ranges, a new draw is made at every reset, or with ``every_episode=False`` once at
    the first reset and again only after :meth:`redraw`. The parameters in force are
    returned in ``info["physics"]`` and kept in ``history``.
    """

    def __init__(self, env: gym.Env, ranges: dict[str, Range] | None = None, parameters: dict | None = None, seed=None,
                 every_episode: bool = True):
        super().__init__(env)
        if (ranges is None) == (parameters is None):
            raise ValueError("give either ranges to draw from or fixed parameters, not both")
        task = task_of(env)
        check_parameters(task, parameters if parameters is not None else {name: 1.0 for name in ranges})
        self.ranges, self.every_episode = ranges, every_episode
        self.parameters = dict(parameters) if parameters is not None else None
        self.rng = np.random.default_rng(seed)
        self.history: list[dict[str, float]] = []

    def redraw(self) -> None:
        """Make a new draw at the next reset."""
        if self.ranges is None:
            raise ValueError("fixed parameters cannot be redrawn; give ranges to draw from")
        self.parameters = None

    def reset(self, *, seed=None, options=None):
        if self.ranges is not None and (self.every_episode or self.parameters is None):
            self.parameters = draw(self.ranges, self.rng)
        physics = dict(self.parameters)
        apply_physics(self.env, physics)
        self.history.append(physics)
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, {**info, "physics": physics}
