import json

import minari
import numpy as np
import pytest
import torch

from snn_policy_node.cli import main
from snn_policy_node.training import datasets as offline_data
from snn_policy_node.training.datasets import OnlineConfig, evaluate_actor, pick_policies, train_online
from snn_policy_node.training.replay import ReplayBuffer


def test_replay_buffer_round_trip_and_episode_boundaries(tmp_path):
    buffer = ReplayBuffer(obs_dim=2, act_dim=1, capacity=10)
    for k in range(7):
        buffer.add([k, k], [0.1 * k], float(k), [k + 1, k + 1], terminated=k == 2, episode_end=k in (2, 6))
    buffer.save(tmp_path / "replay.npz")
    loaded = ReplayBuffer.load(tmp_path / "replay.npz")
    assert loaded.size == 7 and loaded.capacity == 7
    np.testing.assert_array_equal(loaded.obs, buffer.obs[:7])
    assert loaded.not_done[:, 0].tolist() == [1, 1, 0, 1, 1, 1, 1]
    assert loaded.episodes() == [slice(0, 3), slice(3, 7)]
    assert loaded.episodes(end=5) == [slice(0, 3)]
    with pytest.raises(ValueError, match="full"):
        ReplayBuffer.load(tmp_path / "replay.npz").add([0, 0], [0], 0.0, [0, 0], False, False)


def test_medium_is_the_first_trained_policy_at_a_third_of_the_expert():
    # Steps 1 and 2 hold the untrained actor (random actions until step 2), which stands still on Ant.
    evaluations = [{"step": s, "eval_return_mean": r}
                   for s, r in ((1, 983.0), (2, 983.0), (3, 10.0), (4, 450.0), (5, 1300.0), (6, 900.0))]
    expert, medium = pick_policies(evaluations, start_steps=2)
    assert expert["step"] == 5 and medium["step"] == 4
    assert pick_policies(evaluations, start_steps=0)[1]["step"] == 1
    with pytest.raises(ValueError, match="no evaluations after its 6 random steps"):
        pick_policies(evaluations, start_steps=6)


@pytest.mark.slow
def test_online_run_resumes_exactly_and_writes_readable_datasets(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    config = dict(env_id="Hopper-v5", total_steps=600, start_steps=300, eval_every=200, eval_episodes=1,
                  checkpoint_every=200)
    straight = train_online(OnlineConfig(**config), tmp_path / "straight", progress=False)

    def crash_at_second_evaluation(*args, calls=[], **kwargs):
        calls.append(1)
        if len(calls) == 2:  # step 400: after the first checkpoint (an episode end past step 200)
            raise KeyboardInterrupt
        return evaluate_actor(*args, **kwargs)

    monkeypatch.setattr(offline_data, "evaluate_actor", crash_at_second_evaluation)
    with pytest.raises(KeyboardInterrupt):
        train_online(OnlineConfig(**config), tmp_path / "resumed", progress=False)
    monkeypatch.setattr(offline_data, "evaluate_actor", evaluate_actor)
    resumed = train_online(OnlineConfig(**config), tmp_path / "resumed", progress=False)
    assert [e["step"] for e in resumed.evaluations()] == [200, 400, 600]
    first, second = (torch.load(r.snapshot_file(600), weights_only=True) for r in (straight, resumed))
    assert all(torch.equal(first[k], second[k]) for k in first)  # same weights with or without the interruption
    with pytest.raises(ValueError, match="other settings"):
        train_online(OnlineConfig(**{**config, "expl_noise": 0.3}), tmp_path / "resumed", progress=False)

    root = tmp_path / "minari"
    generate = ["data", "generate", "--env", "Hopper-v5", "--steps", "600", "--start-steps", "300", "--eval-every", "200",
                "--eval-episodes", "1", "--checkpoint-every", "200", "--dataset-steps", "100",
                "--out", str(tmp_path / "straight"), "--minari-root", str(root)]
    assert main(generate) == 0
    summary = json.loads((tmp_path / "straight" / "datasets.json").read_text())
    built = (root / summary["datasets"]["expert"]["id"]).stat().st_mtime_ns
    assert main(generate) == 0  # a finished run's datasets are kept, not rebuilt
    assert (root / summary["datasets"]["expert"]["id"]).stat().st_mtime_ns == built
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    for level, entry in summary["datasets"].items():
        dataset = minari.load_dataset(entry["id"])
        assert dataset.total_steps == entry["transitions"] and dataset.total_episodes == entry["episodes"]
        episode = next(dataset.iterate_episodes())
        assert episode.observations.shape[1] == 11 and len(episode.observations) == len(episode.actions) + 1
    sizes = {level: e["transitions"] for level, e in summary["datasets"].items()}
    assert sizes["medium-expert"] == sizes["medium"] + sizes["expert"] and sizes["expert"] >= 100
