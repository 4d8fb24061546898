import csv

from snn_policy_node.cli import main
from snn_policy_node.policy.model_io import load_model


def test_dqn_keeps_the_best_validated_weights_and_writes_its_files(tmp_path, capsys):
    out = tmp_path / "seed3"
    assert main(["train", "dsqn", "--env", "CartPole-v0", "--seed", "3", "--steps", "2000", "--out", str(out)]) == 0
    _, checkpoint = load_model(out / "model.safetensors")
    rows = list(csv.DictReader(open(out / "train_log.csv")))
    validations = [float(r["validation_return"]) for r in rows if r["validation_return"]]
    assert len(validations) == 1 and checkpoint.provenance["validation_return"] == validations[0]
    assert checkpoint.provenance["best_step"] == 2000 and checkpoint.provenance["seed"] == 3
    assert "mean return" in capsys.readouterr().out and (out / "card.md").exists()


def test_randomized_training_draws_new_physics_and_validates_on_settings_of_its_own(tmp_path, monkeypatch):
    from sim_bridge import randomization
    from snn_policy_node.training import dqn

    applied = []
    reset = randomization.RandomizedPhysics.reset
    monkeypatch.setattr(randomization.RandomizedPhysics, "reset",
                        lambda self, **kw: applied.append(self.parameters) or reset(self, **kw))
    validated = []
    monkeypatch.setattr(dqn, "validation_return", lambda net, env, settings: validated.append(settings) or 0.0)
    out = tmp_path / "seed0"
    assert main(["train", "dsqn", "--env", "CartPole-v0", "--steps", "2000", "--randomization", "extreme",
                 "--out", str(out)]) == 0
    draws = [p for p in applied if p is not None]
    assert len(applied) > 5 and len({tuple(sorted(p.items())) for p in draws}) == len(draws)  # every episode new
    assert validated == [dqn.validation_settings(dqn.DQNConfig(randomization="extreme"))]
    assert validated[0] != randomization.draw_settings("CartPole-v0", "extreme", 10, 4_001)  # not the study's
    _, checkpoint = load_model(out / "model.safetensors")
    assert checkpoint.provenance["randomization"] == "extreme"
    assert "under the 'extreme' randomization profile" in (out / "card.md").read_text()


def test_a_budget_that_ends_before_the_first_validation_is_refused(tmp_path, capsys):
    assert main(["train", "dsqn", "--env", "CartPole-v0", "--steps", "1500", "--out", str(tmp_path / "m")]) == 2
    assert "before the first validation (step 2000)" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
