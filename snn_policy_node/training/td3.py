"""TD3 and TD3+BC (Fujimoto et al. 2018; Fujimoto and Gu 2021) for ReLU and QCFS actors.

One agent serves both: online TD3 collects the datasets, and with ``alpha`` set the actor
loss becomes TD3+BC's ``-lambda Q(s, pi(s)) + (pi(s) - a)^2`` with
``lambda = alpha / mean|Q|``, the offline learner of paper 000. Defaults are the TD3+BC
authors' (discount 0.99, tau 0.005, policy noise 0.2 clipped at 0.5, actor every 2 critic
updates, Adam 3e-4, batch 256, 256-256 networks).
"""

import copy
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from snn_policy_node.ann2snn.qcfs import MLPActor


@dataclass(frozen=True)
class TD3Config:
    discount: float = 0.99
    tau: float = 0.005
    policy_noise: float = 0.2  # relative to max_action
    noise_clip: float = 0.5
    policy_freq: int = 2
    lr: float = 3e-4
    batch_size: int = 256
    alpha: float | None = None  # TD3+BC's weight of the Q term; None: plain TD3
    activation: str = "relu"  # actor hidden activation: relu or qcfs
    levels: int = 4  # QCFS quantization steps L
    hidden: tuple[int, ...] = (256, 256)


class Critic(nn.Module):
    """Twin Q-networks on (state, action)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden=(256, 256)):
        super().__init__()

        def q_net():
            sizes, layers = [obs_dim + act_dim, *hidden], []
            for a, b in zip(sizes[:-1], sizes[1:]):
                layers += [nn.Linear(a, b), nn.ReLU()]
            return nn.Sequential(*layers, nn.Linear(sizes[-1], 1))

        self.q1, self.q2 = q_net(), q_net()

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([obs, action], dim=-1)
        return self.q1(x), self.q2(x)


class TD3:
    """Actor, twin critics, their targets and optimizers, on ``device`` (batches are moved there)."""

    def __init__(self, obs_dim: int, act_dim: int, max_action: float, config: TD3Config = TD3Config(),
                 device: str | torch.device = "cpu"):
        self.config, self.max_action, self.device = config, max_action, torch.device(device)
        self.actor = MLPActor(obs_dim, act_dim, config.hidden, config.activation, config.levels,
                              max_action=max_action).to(self.device)
        self.critic = Critic(obs_dim, act_dim, config.hidden).to(self.device)
        self.actor_target, self.critic_target = copy.deepcopy(self.actor), copy.deepcopy(self.critic)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=config.lr)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.lr)
        self.updates = 0

    def update(self, obs, action, reward, next_obs, not_done) -> dict[str, float]:
        """One critic update (and every ``policy_freq``-th an actor and target update)."""
        c = self.config
        obs, action, reward, next_obs, not_done = (t.to(self.device) for t in (obs, action, reward, next_obs, not_done))
        self.updates += 1
        with torch.no_grad():
            noise = (torch.randn_like(action) * c.policy_noise).clamp(-c.noise_clip, c.noise_clip) * self.max_action
            next_action = (self.actor_target(next_obs) + noise).clamp(-self.max_action, self.max_action)
            target_q = torch.min(*self.critic_target(next_obs, next_action))
            target_q = reward + not_done * c.discount * target_q
        q1, q2 = self.critic(obs, action)
        critic_loss = F.mse_loss(q1, target_q) + F.mse_loss(q2, target_q)
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()
        losses = {"critic_loss": critic_loss.item()}
        if self.updates % c.policy_freq == 0:
            pi = self.actor(obs)
            q = self.critic.q1(torch.cat([obs, pi], dim=-1))
            if c.alpha is None:
                actor_loss = -q.mean()
            else:
                lam = c.alpha / q.abs().mean().detach()
                actor_loss = -lam * q.mean() + F.mse_loss(pi, action)
            self.actor_optimizer.zero_grad()
            actor_loss.backward()
            self.actor_optimizer.step()
            self._soft_update()
            losses["actor_loss"] = actor_loss.item()
        return losses

    @torch.no_grad()
    def diagnose(self, obs: torch.Tensor, action: torch.Tensor) -> dict[str, float]:
        """What a diverging offline learner shows first, on a fixed batch of dataset transitions: the critic's
        mean Q of the data's actions and of the actor's (a growing gap is value over-estimated off the data),
        the actor's squared distance to the data's actions, and the share of its actions at the bounds."""
        obs, action = obs.to(self.device), action.to(self.device)
        pi = self.actor(obs)
        return {"q_data": self.critic.q1(torch.cat([obs, action], dim=-1)).mean().item(),
                "q_policy": self.critic.q1(torch.cat([obs, pi], dim=-1)).mean().item(),
                "bc_mse": F.mse_loss(pi, action).item(),
                "saturated": (pi.abs() > 0.99 * self.max_action).float().mean().item()}

    @torch.no_grad()
    def _soft_update(self) -> None:
        for net, target in ((self.actor, self.actor_target), (self.critic, self.critic_target)):
            for p, tp in zip(net.parameters(), target.parameters()):
                tp.lerp_(p, self.config.tau)

    def state_dict(self) -> dict:
        """Everything to resume training: tensors and numbers only (loads with weights_only)."""
        return {
            "config": asdict(self.config),
            "updates": self.updates,
            **{name: getattr(self, name).state_dict() for name in
               ("actor", "critic", "actor_target", "critic_target", "actor_optimizer", "critic_optimizer")},
        }

    def random_state(self) -> dict:
        """torch's generators that updates draw from (the CPU one, and the GPU's when training
        there), as checkpoint entries ``torch_rng`` and ``cuda_rng``."""
        state = {"torch_rng": torch.get_rng_state()}
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def set_random_state(self, checkpoint: dict) -> None:
        torch.set_rng_state(checkpoint["torch_rng"])
        if "cuda_rng" in checkpoint and self.device.type == "cuda":
            torch.cuda.set_rng_state(checkpoint["cuda_rng"], self.device)

    def load_state_dict(self, state: dict) -> None:
        if state["config"] != asdict(self.config):
            raise ValueError(f"saved agent has config {state['config']}, this one {asdict(self.config)}")
        self.updates = state["updates"]
        for name in ("actor", "critic", "actor_target", "critic_target", "actor_optimizer", "critic_optimizer"):
            getattr(self, name).load_state_dict(state[name])
