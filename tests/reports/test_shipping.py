"""A shipped card: its held-out line written from the fidelity report's closed-loop returns, replaced, never
doubled, and kept when the card is recounted; a kept model whose training collapsed, said so and replaced."""

from collections import Counter

import pytest

from snn_policy_node.reports.fidelity import closed_loop_row, heldout_line
from snn_policy_node.reports.shipping import recount, ship_best, write_card, write_heldout
from snn_policy_node.tasks import normalised_score

CARD = "# Calibrated spiking actor for Hopper-v5\n\n- Trained by TD3+BC."


def test_the_held_out_line_states_the_score_its_interval_and_seeds():
    returns = [1000.0, 2000.0, 3000.0]  # mean 2000, s = 1000, t(0.975, 2) = 4.302653
    row = closed_loop_row("Hopper-v5", {"QCFS": returns, "I = 0": returns, "adaptive I": returns})["adaptive I"]
    line = heldout_line("Hopper-v5", row, [70000, 70001, 70002], "snn-robot report fidelity")
    half = 4.302652729749464 * 1000.0 / 3 ** 0.5
    low, high = normalised_score("Hopper-v5", 2000.0 - half), normalised_score("Hopper-v5", 2000.0 + half)
    assert line.startswith(f"D4RL-normalised {normalised_score('Hopper-v5', 2000.0):.1f} [95 % CI {low:.1f}, {high:.1f}]")
    assert "over 3 episodes of default physics (seeds 70000-70002)" in line


def test_a_card_keeps_one_held_out_line_after_its_shipped_line(tmp_path):
    write_card(tmp_path, CARD, "Hopper-v5", 12, 66.8, "snn-robot report calibration")
    write_heldout(tmp_path, "D4RL-normalised 70.0, first")
    write_heldout(tmp_path, "D4RL-normalised 71.0, again")
    card = (tmp_path / "card.md").read_text()
    assert card.startswith(CARD + "\n- Shipped as the best finished one of 12 QCFS actors")
    assert card.endswith("\n- Held-out: D4RL-normalised 71.0, again\n") and card.count("Held-out") == 1


def test_no_card_no_line(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_heldout(tmp_path, "anything")


def test_recounting_a_kept_model_keeps_its_held_out_line(tmp_path):
    """The same model, more runs compared: the count changes, the held-out score of the model stays."""
    write_card(tmp_path, CARD, "Hopper-v5", 12, 66.8, "snn-robot report calibration")
    write_heldout(tmp_path, "D4RL-normalised 70.0 over 50 episodes")
    entry = recount(tmp_path, {"run": "r", "adaptive_score": 66.8, "runs": 12}, "Hopper-v5", 15, "snn-robot report calibration")
    card = (tmp_path / "card.md").read_text()
    assert entry["runs"] == 15 and "best finished one of 15 QCFS actors" in card and "one of 12" not in card
    assert card.endswith("\n- Held-out: D4RL-normalised 70.0 over 50 episodes\n") and card.count("Held-out") == 1


LOG = "step,return_mean,return_std,normalised_score\n"
COLLAPSING = LOG + "5000,1,0,14.1\n55000,1,0,85.4\n85000,1,0,-0.1\n90000,1,0,-0.1\n100000,1,0,75.3\n"  # shipped before
STEADY = LOG + "5000,1,0,14.1\n55000,1,0,70.2\n100000,1,0,70.0\n"


def test_a_kept_model_whose_training_collapsed_is_said_so_and_gives_way(tmp_path):
    """A kept model that scored higher, but whose curve fell to nothing on the way, stays only while no run
    that held replaces it; its card says why."""
    models, command = tmp_path / "models", "snn-robot report calibration"
    target = models / "Walker2d-v5"
    target.mkdir(parents=True)
    (target / "train_log.csv").write_text(COLLAPSING)
    write_card(target, CARD, "Walker2d-v5", 6, 84.3, command)
    kept = {"Walker2d-v5": {"run": "old/qcfs-seed1", "adaptive_score": 84.3, "runs": 6}}

    assert ship_best({}, models, None, command, kept, Counter({"Walker2d-v5": 6})) == kept
    assert "Its training curve collapsed (`train_log.csv`)" in (target / "card.md").read_text()

    run = tmp_path / "runs" / "snn-robot_walker2d_expert-v0" / "qcfs-seed0"
    run.mkdir(parents=True)
    for name, text in {"actor.pt": "a", "spiking_actor.safetensors": "new actor", "card.md": CARD, "train_log.csv": STEADY}.items():
        (run / name).write_text(text)
    shipped = ship_best({"Walker2d-v5": [(run, 70.0)]}, models, None, command, kept, Counter({"Walker2d-v5": 6}))
    assert shipped == {"Walker2d-v5": {"run": "snn-robot_walker2d_expert-v0/qcfs-seed0", "adaptive_score": 70.0, "runs": 7}}
    assert (target / "spiking_actor.safetensors").read_text() == "new actor"
    assert "collapsed" not in (target / "card.md").read_text()


def test_reporting_again_keeps_the_shipped_models_held_out_line(tmp_path):
    """The report after the fidelity report finds the best run already shipped: the held-out score of that model
    stays on its card, whatever the kept list says (here, nothing: the first report after a manual copy)."""
    models, command = tmp_path / "models", "snn-robot report calibration"
    run = tmp_path / "runs" / "snn-robot_hopper_expert-v0" / "qcfs-seed0"
    run.mkdir(parents=True)
    for name, text in {"actor.pt": "a", "spiking_actor.safetensors": "actor", "card.md": CARD, "train_log.csv": STEADY}.items():
        (run / name).write_text(text)
    first = ship_best({"Hopper-v5": [(run, 84.0)]}, models, None, command, {}, Counter())
    write_heldout(models / "Hopper-v5", "D4RL-normalised 82.0 over 50 episodes")
    again = ship_best({"Hopper-v5": [(run, 84.0)]}, models, None, command, first, Counter())
    assert again == first == {"Hopper-v5": {"run": "snn-robot_hopper_expert-v0/qcfs-seed0", "adaptive_score": 84.0, "runs": 1}}
    assert (models / "Hopper-v5/card.md").read_text().endswith("\n- Held-out: D4RL-normalised 82.0 over 50 episodes\n")
    (run / "spiking_actor.safetensors").write_text("another actor under the same name")
    ship_best({"Hopper-v5": [(run, 85.0)]}, models, None, command, first, Counter())
    assert "Held-out" not in (models / "Hopper-v5/card.md").read_text()  # a new model: its old line would lie


def test_a_kept_model_keeps_the_command_that_scored_it(tmp_path):
    """A report that scores other runs on 50 episodes does not claim to have scored the kept model, scored on 10."""
    (tmp_path / "Ant-v5").mkdir()
    write_card(tmp_path / "Ant-v5", CARD, "Ant-v5", 6, 90.6, "snn-robot report calibration --episodes 10")
    kept = {"Ant-v5": {"run": "old/qcfs-seed1", "adaptive_score": 90.6, "runs": 6}}
    ship_best({}, tmp_path, None, "snn-robot report calibration --episodes 50", kept, Counter({"Ant-v5": 6}))
    card = (tmp_path / "Ant-v5/card.md").read_text()
    assert "by `snn-robot report calibration --episodes 10`." in card and "--episodes 50" not in card
