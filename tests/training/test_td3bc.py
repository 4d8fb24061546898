import re

import gymnasium as gym
import minari
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from snn_policy_node.cli import main
from snn_policy_node.policy.policy import Policy
from snn_policy_node.training.datasets import rollout_episodes, use_minari_root
from snn_policy_node.training.logs import rows
from snn_policy_node.training.td3 import TD3, TD3Config
from snn_policy_node.training.td3bc import DIAGNOSTICS, load_transitions


def batch(n=256, obs_dim=5, act_dim=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, obs_dim, generator=g)
    action = torch.tanh(obs[:, :act_dim] - 0.5 * obs[:, act_dim:2 * act_dim])  # a deterministic behaviour policy
    return obs, action, torch.randn(n, 1, generator=g), torch.randn(n, obs_dim, generator=g), torch.ones(n, 1)


def test_actor_loss_is_td3_bc_lambda_q_plus_behaviour_cloning():
    torch.manual_seed(0)
    agent = TD3(5, 2, 1.0, TD3Config(alpha=2.5, policy_freq=1))
    obs, action, *rest = batch()
    critic_before = {k: v.clone() for k, v in agent.critic.state_dict().items()}
    actor_before = {k: v.clone() for k, v in agent.actor.state_dict().items()}
    losses = agent.update(obs, action, *rest)
    # Recompute with the critic after its update and the actor before its own.
    critic = TD3(5, 2, 1.0, TD3Config(alpha=2.5)).critic
    critic.load_state_dict(critic_before)
    agent_check = TD3(5, 2, 1.0, TD3Config(alpha=2.5))
    agent_check.actor.load_state_dict(actor_before)
    pi = agent_check.actor(obs)
    q = agent.critic.q1(torch.cat([obs, pi], -1))
    expected = -(2.5 / q.abs().mean()) * q.mean() + F.mse_loss(pi, action)
    assert losses["actor_loss"] == pytest.approx(expected.item(), rel=1e-5)
    assert not all(torch.equal(critic_before[k], agent.critic.state_dict()[k]) for k in critic_before)


@pytest.mark.parametrize("activation", ["relu", "qcfs"])
def test_with_alpha_zero_the_actor_clones_the_behaviour(activation):
    torch.manual_seed(0)
    agent = TD3(5, 2, 1.0, TD3Config(alpha=0.0, policy_freq=1, activation=activation, lr=1e-3))
    obs, action, *rest = batch()
    before = F.mse_loss(agent.actor(obs), action).item()
    for _ in range(300):
        agent.update(obs, action, *rest)
    after = F.mse_loss(agent.actor(obs), action).item()
    assert after < 0.2 * before


@pytest.mark.slow
def test_train_td3bc_from_a_local_dataset_and_resume(tmp_path, capsys):
    torch.set_num_threads(1)
    use_minari_root(tmp_path / "minari")
    env = gym.make("Hopper-v5")
    actor = TD3(11, 3, 1.0).actor
    minari.create_dataset_from_buffers("test/hopper/random-v0", rollout_episodes(actor, "Hopper-v5", 300, 1.0, 0),
                                       env="Hopper-v5")
    out = tmp_path / "run"
    args = ["train", "td3bc", "--dataset", "test/hopper/random-v0", "--steps", "200", "--eval-every", "100",
            "--eval-episodes", "1", "--out", str(out), "--minari-root", str(tmp_path / "minari")]
    assert main(args) == 0
    assert main(args[:5] + ["400"] + args[6:]) == 0  # a longer run resumes the first
    log = (out / "train_log.csv").read_text().splitlines()
    assert [int(r.split(",")[0]) for r in log[1:]] == [100, 200, 300, 400]
    diagnosis = rows(out / "train_log.csv")[-1]  # the critic and actor on fixed dataset transitions
    assert all(np.isfinite(float(diagnosis[k])) for k in DIAGNOSTICS) and 0 <= float(diagnosis["saturated"]) <= 1
    assert main(args[:5] + ["400", "--activation", "relu"] + args[6:]) == 2
    assert "holds a run with other settings" in capsys.readouterr().err
    final = Policy.load(out / "spiking_actor.safetensors").checkpoint.provenance["final_evaluation"]
    written = {f.name: f.stat().st_mtime_ns for f in out.iterdir()}
    assert main(args[:5] + ["400"] + args[6:]) == 0  # a finished run re-run changes nothing
    assert {f.name: f.stat().st_mtime_ns for f in out.iterdir()} == written
    policy = Policy.load(out / "spiking_actor.safetensors")
    assert final["step"] == 400 and policy.checkpoint.provenance["final_evaluation"] == pytest.approx(final, abs=1e-3)
    card = (out / "card.md").read_text()
    assert "--steps 400`" in card and re.search(r"QCFS ANN -?[\d.]+; spiking actor .* adaptive I -?[\d.]+", card)
    assert policy.checkpoint.observation.mean is not None and policy.action.joints == ("thigh_joint", "leg_joint", "foot_joint")
    obs, _ = env.reset(seed=0)
    command = policy.act((obs - np.array(policy.checkpoint.observation.mean)) / np.array(policy.checkpoint.observation.std)).command
    assert command.shape == (3,) and np.all(np.abs(command) <= 1.0)

    # Conversion and calibration of the trained actor, on the states of its own dataset.
    buffer, _ = load_transitions("test/hopper/random-v0")
    spec = policy.checkpoint.observation
    states = torch.as_tensor((buffer.obs[: buffer.size] - np.array(spec.mean)) / np.array(spec.std), dtype=torch.float32)
    uncalibrated, calibrated = (policy.model.simulate(states, i) for i in (0, 1))
    assert calibrated.error_spikes.sum() < uncalibrated.error_spikes.sum()
    source = policy.model.source_action(states)
    assert (calibrated.action - source).abs().mean() < (uncalibrated.action - source).abs().mean()


def test_the_diagnosis_compares_the_critic_on_the_data_s_actions_and_the_actor_s():
    torch.manual_seed(0)
    agent = TD3(5, 2, 1.0, TD3Config(alpha=2.5))
    obs, action, *_ = batch()
    diagnosis = agent.diagnose(obs, action)
    pi = agent.actor(obs)
    assert diagnosis["q_data"] == pytest.approx(agent.critic.q1(torch.cat([obs, action], -1)).mean().item())
    assert diagnosis["q_policy"] == pytest.approx(agent.critic.q1(torch.cat([obs, pi], -1)).mean().item())
    assert diagnosis["bc_mse"] == pytest.approx(F.mse_loss(pi, action).item())
    assert diagnosis["saturated"] == 0.0  # a fresh actor acts near 0
    with torch.no_grad():
        agent.actor.linears[-1].bias.fill_(10.0)  # every action pushed to the bound
    assert agent.diagnose(obs, action)["saturated"] == 1.0


def test_an_unknown_device_is_refused_with_a_clear_message():
    with pytest.raises(SystemExit, match="'blah' is not a torch device"):
        main(["train", "td3bc", "--dataset", "test/hopper/random-v0", "--device", "blah"])
