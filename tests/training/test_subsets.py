"""Dataset subsets for ablations: which episodes a rule keeps, and a real Minari round trip."""

import minari
import numpy as np
import pytest
from minari.data_collector import EpisodeBuffer

from snn_policy_node.cli import main
from snn_policy_node.training.subsets import pick_episodes

TERMINATED = [True, False, True, False, False, True]
LENGTHS = [5, 10, 7, 10, 10, 3]


def test_the_unterminated_rule_keeps_exactly_the_episodes_that_never_end_in_a_terminal_state():
    assert pick_episodes(TERMINATED, LENGTHS, unterminated_only=True, transitions=None, seed=0) == [1, 3, 4]
    assert pick_episodes(TERMINATED, LENGTHS, unterminated_only=False, transitions=None, seed=0) == list(range(6))


@pytest.mark.parametrize("seed", range(5))
def test_a_draw_takes_whole_episodes_until_it_has_the_transitions_asked_and_no_episode_more(seed):
    picked = pick_episodes(TERMINATED, LENGTHS, unterminated_only=False, transitions=20, seed=seed)
    total = sum(LENGTHS[k] for k in picked)
    assert picked == sorted(set(picked)) and total >= 20
    assert min(total - LENGTHS[k] for k in picked) < 20  # without the last episode drawn it falls short
    assert picked == pick_episodes(TERMINATED, LENGTHS, unterminated_only=False, transitions=20, seed=seed)
    drawn = pick_episodes(TERMINATED, LENGTHS, unterminated_only=True, transitions=15, seed=seed)
    assert set(drawn) <= {1, 3, 4} and len(drawn) == 2


def test_a_draw_larger_than_the_eligible_episodes_is_refused():
    with pytest.raises(ValueError, match="hold only 30"):
        pick_episodes(TERMINATED, LENGTHS, unterminated_only=True, transitions=31, seed=0)


def _episode(k: int, length: int, terminated: bool) -> EpisodeBuffer:
    rng = np.random.default_rng(k)
    return EpisodeBuffer(id=k, observations=list(rng.normal(size=(length + 1, 11))),
                         actions=list(rng.uniform(-1, 1, size=(length, 3)).astype(np.float32)),
                         rewards=[float(k)] * length, terminations=[False] * (length - 1) + [terminated],
                         truncations=[False] * (length - 1) + [not terminated])


def test_the_subset_is_a_minari_dataset_of_the_kept_episodes_unchanged(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))  # restored after the test, which the command sets too
    source = [_episode(k, n, t) for k, (n, t) in enumerate(zip(LENGTHS, TERMINATED))]
    minari.create_dataset_from_buffers("test/hopper/source-v0", source, env="Hopper-v5")
    arguments = ["data", "subset", "--dataset", "test/hopper/source-v0", "--minari-root", str(tmp_path)]
    assert main([*arguments, "--name", "test/hopper/unterminated-v0", "--unterminated-only"]) == 0
    assert "3 episodes (0 terminated), 30 transitions, mean return 26.7" in capsys.readouterr().out
    subset = minari.load_dataset("test/hopper/unterminated-v0")
    kept = list(subset.iterate_episodes())
    assert [len(e.actions) for e in kept] == [10, 10, 10] and not any(e.terminations.any() for e in kept)
    for episode, k in zip(kept, (1, 3, 4)):
        np.testing.assert_array_equal(episode.observations, np.asarray(source[k].observations))
        np.testing.assert_array_equal(episode.actions, np.asarray(source[k].actions))
        assert episode.rewards.tolist() == source[k].rewards
    assert main([*arguments, "--name", "test/hopper/source-v0"]) == 2  # never replaces its source
    assert "a name of its own" in capsys.readouterr().err
    assert main([*arguments, "--name", "test/hopper/big-v0", "--transitions", "100"]) == 2
    assert "hold only 45" in capsys.readouterr().err
