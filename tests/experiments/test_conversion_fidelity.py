"""Open-loop fidelity on the shipped Hopper actor's own states: what the variants must show, and the
report and calibration summary built from it."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from snn_policy_node.experiments import conversion_fidelity as fidelity
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.reports.calibration import fidelity_summary
from snn_policy_node.reports.fidelity import write_report

HOPPER = Path(__file__).resolve().parents[2] / "models/td3bc/Hopper-v5/spiking_actor.safetensors"


@pytest.fixture(scope="module")
def hopper():
    actor, checkpoint = load_model(HOPPER)
    episodes = fidelity.source_episodes(actor, checkpoint.observation, "Hopper-v5", [90_000, 90_001], max_episode_steps=120)
    return actor, checkpoint, episodes


def error(actor, variant: fidelity.Variant, episodes, timesteps: int = 4) -> float:
    return float(fidelity.replay(variant.actor(actor, timesteps), variant.iterations, episodes)["action_error"].mean())


def test_the_source_network_s_episodes_are_what_it_visited(hopper):
    actor, _, episodes = hopper
    assert list(episodes.lengths) == [120, 120] and episodes.mask.all()
    assert torch.equal(actor.source_action(torch.from_numpy(episodes.states[0])), episodes.actions[0])


def test_two_accumulating_passes_reproduce_the_source_and_a_literal_second_pass_undoes_the_first(hopper):
    actor, _, episodes = hopper
    by_name = {v.name: v for v in fidelity.VARIANTS}
    i0, i1, i2 = (error(actor, by_name[n], episodes) for n in ("I = 0", "I = 1", "I = 2"))
    literal_2 = error(actor, by_name["I = 2, literal"], episodes)
    assert i0 > 0.01 and i1 < 0.1 * i0 and i2 < 1e-5
    assert literal_2 > 0.5 * i0  # back near I = 0: the second literal pass moved the neurons back
    assert error(actor, by_name["adaptive I"], episodes) < 0.75 * i0
    assert error(actor, by_name["I = 0, V(0) = 0"], episodes) > i0  # without phi = 1/2 the first layer errs too


def test_in_closed_loop_every_variant_plays_the_same_seeds_and_i0_is_not_the_source(hopper):
    actor, checkpoint, _ = hopper
    returns = fidelity.closed_loop(actor, checkpoint.observation, "Hopper-v5", [70_000, 70_001], max_episode_steps=80)
    assert set(returns) == {"QCFS", "I = 0", "adaptive I"} and all(len(r) == 2 for r in returns.values())
    again = fidelity.closed_loop(actor, checkpoint.observation, "Hopper-v5", [70_000, 70_001], max_episode_steps=80)
    assert again == returns  # seeded: the same episodes
    assert returns["I = 0"] != returns["QCFS"]


def test_crpi_s_carry_changes_the_actions_it_carries_into(hopper):
    actor, _, episodes = hopper
    alone, carried = fidelity.crpi_variants(0.5)
    assert error(actor, alone, episodes) != error(actor, fidelity.Variant("I = 0"), episodes)
    assert alone.iterations == 0 and carried.iterations is None and carried.carry == 0.5


def test_the_report_names_its_comparisons_and_feeds_the_calibration_summary(hopper, monkeypatch, tmp_path):
    actor, checkpoint, _ = hopper
    monkeypatch.setattr(fidelity, "VALIDATION_SEEDS", range(80_000, 80_001))
    monkeypatch.setattr(fidelity, "HELDOUT_SEEDS", range(90_000, 90_002))
    monkeypatch.setattr(fidelity, "ALPHAS", (0.3, 0.9))
    monkeypatch.setattr(fidelity, "CLOSED_LOOP_SEEDS", range(70_000, 70_003))
    monkeypatch.setattr(fidelity, "source_episodes", lambda *a: _short(*a))
    task = fidelity.fidelity(actor, checkpoint.observation, "Hopper-v5")
    assert set(task["timesteps"]) == {"4", "8", "16"}
    assert task["timesteps"]["4"]["crpi_alpha"] in (0.3, 0.9)
    report = write_report({"Hopper-v5": task}, 1.0, tmp_path, "snn-robot report fidelity")
    row = report["summary"]["tasks"]["Hopper-v5"]
    errors = task["timesteps"]["4"]["variants"]
    assert row["adaptive_over_i0"] == pytest.approx(np.mean(errors["adaptive I"]["action_error"])
                                                    / np.mean(errors["I = 0"]["action_error"]))
    text = (tmp_path / "conversion_fidelity.md").read_text()
    assert "named before the run" in text and "I = 2, literal" in text and "CRPI + adaptive I" in text
    assert (tmp_path / "conversion_fidelity.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "conversion_fidelity.json").read_text())["summary"] == report["summary"]
    closed = report["summary"]["closed_loop"]["Hopper-v5"]
    returns = task["closed_loop"]["returns"]
    assert closed["adaptive minus I = 0"]["mean"] == pytest.approx(np.mean(returns["adaptive I"]) - np.mean(returns["I = 0"]))
    assert "## Closed loop, on held-out seeds" in text
    assert fidelity_summary(tmp_path) == {"open_loop_error_ratio_adaptive_over_i0": row["adaptive_over_i0"],
                                          "crpi_compared": True, "literal_mode_reported": True,
                                          "shipped_heldout": {"Hopper-v5": closed["adaptive I"]["normalised"]}}
    assert fidelity_summary(tmp_path / "elsewhere") == {}


_ORIGINAL = fidelity.source_episodes


def _short(actor, observation, env_id, seeds):
    return _ORIGINAL(actor, observation, env_id, seeds, max_episode_steps=60)
