"""The r-STDP service: owns the learning schedule of online adaptation.

The policy node has the spikes, so it keeps the eligibility; this node decides when and how
much to learn, as on neuromorphic hardware. Two protocols:

``online`` (the default; what a robot runs): every episode is played by the weights being
adapted, and no evaluation episode is needed. An episode's return comes from its ``/episode``
record (the sim bridge's, or any node's JSON with a ``return``), or, at a call of
``~/end_episode`` (std_srvs/Trigger), as the sum of the ``/reward`` values heard since the last
boundary. After each episode the schedule (``policy.online``) sends the modulation: nothing
changes during the first ``baseline_episodes`` (the frozen baseline); then a DSQN gets
sign x the third factor of its shaped return (``third_factor`` ``reward`` as paper 004, or
``rpe``, its prediction error), a spiking actor the sign (its third factor came with every
reward). With ``guard``, when the last ``window`` returns average more than ``margin`` x
|baseline| (less ``confidence`` standard errors) below the baseline, the trained weights come back
and the run waits ``window`` episodes before it learns again. With ``third_factor: pair`` (and the
policy node's ``rule: pair``) episodes come in pairs that explore +xi and -xi, and the
modulation ``[episode, m, explore]`` also says what the next episode explores. ``/rstdp/status`` says which weights are live and why. With
``drive_episodes`` the service starts each episode through the bridge and, with
``heldout_episodes``, scores the weights before and after on the bridge's evaluation seeds
(exploration off).

``paper`` (paper 004, section 3; needs ``drive_episodes``): an evaluation block
(``eval_episodes`` fixed evaluation seeds) before adaptation, then training episodes, each
followed by an evaluation block; the best weights so far are kept and restored at the end.

Current and best weights (online: current and trained) are saved after every change as
complete policy checkpoints (``adapted_dir/current.safetensors`` and ``best.safetensors``,
written atomically), so the policy node can load them directly, and a restarted service
resumes from them.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from rclpy.client import Client
from rclpy.node import Node
from rclpy.task import Future
from std_msgs.msg import Float32MultiArray, Float64, Float64MultiArray, String
from std_srvs.srv import SetBool, Trigger

from snn_policy_node.policy.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from snn_policy_node.policy.online import OnlineSchedule
from snn_policy_node.ros.common import messages
from snn_policy_node.ros.common.parameters import check_choice, declare_parameters
from snn_policy_node.ros.common.process import StartupError, end_process, run_node
from snn_policy_node.snn.rstdp import AMPLITUDES_KEY, THIRD_FACTORS, ModulationRule, model_amplitudes, reward_shaping
from snn_policy_node.tasks import DSQN_TASKS
from snn_policy_node.tasks.adaptation import EARNED_EXPLORATION, ROLLBACK_SHRINK, SIGNIFICANCE_PAIR, pair_rule

PARAMETERS = {
    "checkpoint": ("", "the policy's checkpoint: the weights adaptation starts from"),
    "plastic_layer": (1, "DSQN weight layer that learns (as the policy node's plastic_layer)"),
    "adapted_dir": ("", "directory for current.safetensors and best.safetensors; empty: nothing saved"),
    "shaping": ("", "reward shaping of the episode return: cartpole (eq. 8) or acrobot (eq. 9); empty: the "
                "checkpoint's task's"),
    "sign": (0.0, "dw = sign * r * c (eq. 7 has +1); 0: the checkpoint's task's (CartPole -1 as the authors' code, "
             "Acrobot +1)"),
    "train_episodes": (250, "training (online: all) episodes at most; online and not driven, 0: no end"),
    "eval_episodes": (100, "episodes per evaluation block (the bridge's evaluation seeds)"),
    "stop_at": (math.nan, "stop once the best evaluation mean reaches this; NaN: never"),
    "drive_episodes": (True, "run the protocol through the bridge's ~/evaluate and ~/start_episode"),
    "protocol": ("online", "'online': every episode adapts, guard rails, no evaluation needed; 'paper': evaluation "
                 "blocks between training episodes, the best weights kept (paper 004)"),
    "third_factor": ("rpe", "online: 'reward' (DSQN, m = r, paper 004), 'rpe' (DSQN, m = r - r_bar, running mean) or "
                     "'pair' (either kind, with the policy node's rule 'pair': m = clip((R_1 - R_2) / |R_0|) after "
                     "each pair of episodes, which play +xi and -xi; ascends the return, whatever sign says)"),
    "baseline_rate": (0.1, "online, DSQN: rate of the running mean r_bar"),
    "baseline_episodes": (10, "online: first episodes played unchanged; their mean return is the frozen baseline"),
    "guard": (True, "online: roll back to the trained weights when the online return falls below the baseline"),
    "window": (10, "online: episodes the guard averages, and waits after a rollback"),
    "margin": (0.05, "online: roll back below baseline - margin x |baseline| (- the confidence term)"),
    "confidence": (0.0, "online: z; the floor also lowered by z x the baseline returns' std x sqrt(1/baseline_episodes "
                   "+ 1/window), so that only a drop significant at one-sided Phi(-z) rolls back (2.33: 1 %)"),
    "rollback_shrink": (ROLLBACK_SHRINK, "online, pair rule: the exploration multiplies by this at every rollback (0 < f "
                        "<= 1; 1: never shrinks, as study 3); the next pair's scale goes to the policy node as the "
                        "magnitude of explore"),
    "exploration_start": (EARNED_EXPLORATION["exploration_start"], "online, pair rule: the first pair explores at "
                          "this fraction of the exploration (0 < s <= 1; 1: all of it, as studies 3 and 4)"),
    "success_grow": (EARNED_EXPLORATION["success_grow"], "online, pair rule: the exploration multiplies by this (up to "
                     "all of it) after every window of explored episodes whose mean return kept the baseline (>= 1; 1: "
                     "never grows, as studies 3 and 4)"),
    "heldout_episodes": (0, "online, driven: evaluation episodes before and after adapting; 0: none"),
    "bridge": ("sim_bridge", "the sim bridge node whose services are called (relative: in this node's namespace)"),
    "policy": ("snn_policy", "the policy node whose ~/reset_state is called before training episodes"),
    "exit_when_done": (False, "end the process after the protocol (for scenarios and tests)"),
    "service_timeout": (5.0, "seconds a bridge or policy service may take to answer before it is asked again"),
}


EXPLORATION_SCHEDULE = ("rollback_shrink", "exploration_start", "success_grow")  # the pair rule's, as parameters


@dataclass(eq=False)
class PendingCall:
    """A service call the protocol waits on, asked again if its answer never comes: Fast DDS
    drops an answer when the server has not yet matched the caller (right after start-up)."""

    client: Client
    request: object
    then: Callable[[object, bool], None]  # then(response, repeated)
    wanted: Callable[[], bool]  # asked again only while this holds
    future: Future
    deadline: float
    repeated: bool = False


class RSTDPService(Node):
    def __init__(self, name: str = "rstdp_service"):
        super().__init__(name)
        self.p = declare_parameters(self, PARAMETERS)
        if not self.p["service_timeout"] > 0:
            raise StartupError(f"service_timeout must be positive, got {self.p['service_timeout']}")
        try:
            check_choice("protocol", self.p["protocol"], ("online", "paper"))
            self.base = load_checkpoint(self.p["checkpoint"])
            self.dsqn = self.base.kind == "dsqn"
            if self.p["protocol"] == "paper" and not (self.dsqn and self.p["drive_episodes"]):
                raise ValueError("the paper protocol needs a DSQN checkpoint and drive_episodes")
            if self.dsqn:
                self._take_task_defaults(self.base.provenance.get("env_id"))
            self.shaping = reward_shaping(self.p["shaping"]) if self.dsqn else None
            self.key = f"layers.{self.p['plastic_layer']}.weight" if self.dsqn else f"weight{self.p['plastic_layer']}"
            if self.key not in self.base.tensors:
                raise ValueError(f"{self.p['checkpoint']} has no plastic layer {self.key!r}")
            self.amplitudes = model_amplitudes(self.base.tensors[self.key], self.base.provenance) if self.dsqn else None
            self.schedule = self._online_schedule() if self.p["protocol"] == "online" else None
        except (CheckpointError, ValueError) as error:
            raise StartupError(f"{self.get_name()}: {error}") from None
        self.trained = self.base.tensors[self.key].numpy().copy()
        self.episode_reward, self.rewards_heard = 0.0, 0
        self.heldout: dict[str, float] = {}  # online, driven: "before" and "after" means
        self.phase = "online"  # online, driven: "before", "online" or "after" (the held-out blocks)
        self.current = self.base.tensors[self.key].numpy().copy()
        self.best, self.best_return, self.best_episode = self.current.copy(), -math.inf, 0
        self.before = None
        self.train_count = 0
        self.learning = True
        self.paused = False  # a driven protocol waiting for learning to be enabled again
        self.awaiting_weights = False
        self.policy_weight = None
        self.eval_returns: list[float] = []
        self.history: list[dict] = []  # one entry per evaluation block, published on /rstdp/status
        self.episodes_heard = 0
        self.status_reason: str | None = None  # online: why the trained weights came back, if they did
        self.pending: list[PendingCall] = []
        self._restore()

        self.modulation_publisher = self.create_publisher(Float64MultiArray, messages.MODULATION, messages.EVENT_QOS)
        self.weights_publisher = self.create_publisher(Float32MultiArray, messages.RSTDP_WEIGHTS, messages.LATCHED_QOS)
        self.status_publisher = self.create_publisher(String, messages.RSTDP_STATUS, messages.LATCHED_QOS)
        self.episodes = self.create_subscription(String, messages.EPISODE, self.on_episode, messages.EVENT_QOS)
        self.create_subscription(Float32MultiArray, messages.PLASTIC_WEIGHTS, self.on_policy_weights, messages.LATCHED_QOS)
        self.create_subscription(Float64, messages.REWARD, self.on_reward, messages.EVENT_QOS)
        self.create_service(Trigger, "~/end_episode", self.on_end_episode)
        self.create_service(SetBool, "~/enable", self.on_enable)
        self.create_service(Trigger, "~/save", self.on_save)
        self.create_service(Trigger, "~/rollback", self.on_rollback)
        if self.restored:
            self.weights_publisher.publish(messages.matrix_message(self.current))
        if self.p["drive_episodes"]:
            bridge, policy = self.p["bridge"], self.p["policy"]
            self.evaluate_client = self.create_client(SetBool, f"{bridge}/evaluate")
            self.start_client = self.create_client(Trigger, f"{bridge}/start_episode")
            self.reset_client = self.create_client(Trigger, f"{policy}/reset_state")
            self.explore_client = self.create_client(SetBool, f"{policy}/explore")
            self.startup_timer = self.create_timer(0.2, self.start_when_ready)
            self.create_timer(0.5, self.ask_again_if_unanswered)

    # persistence ----------------------------------------------------------------------

    def _files(self) -> tuple[Path, Path] | None:
        directory = self.p["adapted_dir"]
        return (Path(directory) / "current.safetensors", Path(directory) / "best.safetensors") if directory else None

    def _restore(self) -> None:
        """Resume from saved weights; refuse files that do not belong to this policy."""
        files = self._files()
        self.restored = bool(files and files[0].exists() and files[1].exists())
        if not self.restored:
            return
        try:
            current, best = (load_checkpoint(f) for f in files)
        except CheckpointError as error:
            raise StartupError(f"cannot resume adaptation: {error}") from None
        for checkpoint, path in ((current, files[0]), (best, files[1])):
            if checkpoint.model != self.base.model or self.key not in checkpoint.tensors:
                raise StartupError(f"{path} holds a different network than {self.p['checkpoint']}; move it away to start afresh")
        self.current = current.tensors[self.key].numpy().copy()
        self.best = best.tensors[self.key].numpy().copy()
        state = best.provenance.get("adaptation", {})
        self.best_return, self.best_episode = state.get("best_return", -math.inf), state.get("best_episode", 0)
        self.before = state.get("before")
        self.train_count = current.provenance.get("adaptation", {}).get("train_episodes", 0)
        self.get_logger().info(f"resumed adaptation after {self.train_count} training episodes from {files[0].parent}")

    def _online_schedule(self) -> OnlineSchedule:
        check_choice("third_factor", self.p["third_factor"], THIRD_FACTORS)
        if self.p["third_factor"] == "pair":  # the schedule needs the rule's kind; the policy node holds its settings
            rule = pair_rule(**SIGNIFICANCE_PAIR, **{name: self.p[name] for name in EXPLORATION_SCHEDULE})
            sign = 1.0
        elif not self.dsqn:
            rule, sign = ModulationRule(), self.p["sign"] or 1.0
        else:
            rule, sign = ModulationRule(self.p["third_factor"], self.p["baseline_rate"]), self.p["sign"]
        return OnlineSchedule(self.shaping, sign, rule, self.p["guard"], self.p["baseline_episodes"], self.p["window"],
                              self.p["margin"], self.p["confidence"])

    def _take_task_defaults(self, env_id: str | None) -> None:
        """An empty shaping and a zero sign become those of the task the checkpoint was trained on."""
        if self.p["shaping"] and self.p["sign"]:
            return
        if env_id not in DSQN_TASKS:
            raise ValueError(f"the checkpoint names no task with r-STDP defaults ({env_id!r}); set shaping and sign")
        self.p["shaping"] = self.p["shaping"] or DSQN_TASKS[env_id].shaping
        self.p["sign"] = self.p["sign"] or DSQN_TASKS[env_id].sign

    def save(self) -> None:
        files = self._files()
        if files is None:
            return
        state = {"before": self.before, "best_return": self.best_return, "best_episode": self.best_episode,
                 "train_episodes": self.train_count, "shaping": self.p["shaping"], "sign": self.p["sign"]}
        for path, weight in zip(files, (self.current, self.best)):
            tensors = dict(self.base.tensors)
            tensors[self.key] = torch.from_numpy(weight)
            provenance = {**self.base.provenance, "adaptation": state, "adapted_from": self.p["checkpoint"]}
            if self.amplitudes is not None:  # a DSQN's STDP amplitudes stay those of its trained weights
                provenance[AMPLITUDES_KEY] = list(self.amplitudes)
            save_checkpoint(path, replace(self.base, tensors=tensors, provenance=provenance))

    # protocol -------------------------------------------------------------------------

    def start_when_ready(self) -> None:
        clients = (self.evaluate_client, self.start_client, self.reset_client, *[self.explore_client] * (self.schedule is not None))
        if not all(c.service_is_ready() for c in clients) or not self.policy_in_sync():
            return
        if self.episodes.get_publisher_count() == 0:  # a record sent before the bridge's writer matched is lost
            return
        self.startup_timer.cancel()
        if self.schedule is not None:
            self.start_online()
        elif self.before is None:
            self.get_logger().info(f"evaluating before adaptation on {self.p['eval_episodes']} episodes")
            self.begin_eval_block()
        elif self.train_count >= self.p["train_episodes"]:
            self.finish()
        else:
            self.begin_training_episode()

    def policy_in_sync(self) -> bool:
        """The policy has published its plastic layer, and it holds the weights adaptation starts from."""
        return self.policy_weight is not None and np.array_equal(self.policy_weight, self.current)

    def begin_eval_block(self) -> None:
        self.eval_returns = []
        self.call_then(self.evaluate_client, SetBool.Request(data=True), lambda *_: self.start_episode())

    def begin_training_episode(self) -> None:
        self.call_then(self.reset_client, Trigger.Request(),
                       lambda *_: self.call_then(self.evaluate_client, SetBool.Request(data=False),
                                                 lambda *_: self.start_episode()))

    def start_episode(self) -> None:
        heard = self.episodes_heard  # once the episode's record is heard, asking again would start another
        self.call_then(self.start_client, Trigger.Request(), self.check_started,
                       wanted=lambda: self.episodes_heard == heard)

    def check_started(self, response, repeated: bool) -> None:
        if response.success:
            return
        if repeated:  # the unanswered first ask may have started the episode the bridge is running
            self.get_logger().warning(f"a start asked again was refused: {response.message}")
        else:
            self.get_logger().error(f"bridge refused to start an episode: {response.message}")

    def call_then(self, client, request, then, wanted=lambda: True, repeated: bool = False) -> None:
        """Call a service without blocking the executor; ``then(response, repeated)`` gets the answer."""
        future = client.call_async(request)
        call = PendingCall(client, request, then, wanted, future, time.monotonic() + self.p["service_timeout"], repeated)
        self.pending.append(call)
        future.add_done_callback(lambda f: self.answered(call))

    def answered(self, call: PendingCall) -> None:
        if call in self.pending:
            self.pending.remove(call)
        if not call.future.cancelled():
            call.then(call.future.result(), call.repeated)

    def ask_again_if_unanswered(self) -> None:
        now = time.monotonic()
        for call in [c for c in self.pending if c.deadline < now]:
            self.pending.remove(call)
            call.future.cancel()
            if call.wanted():
                self.get_logger().warning(
                    f"{call.client.srv_name} did not answer within {self.p['service_timeout']} s: asking again")
                self.call_then(call.client, call.request, call.then, call.wanted, repeated=True)

    def on_episode(self, message: String) -> None:
        try:
            record = messages.message_json(message)
            phase, episode_return = record["phase"], float(record["return"])
        except (ValueError, KeyError, TypeError) as error:
            self.get_logger().warning(f"ignoring malformed episode record: {error}")
            return
        self.episodes_heard += 1
        if self.schedule is not None:
            self.online_episode(phase, episode_return)
            return
        if phase == "eval":
            self.eval_returns.append(episode_return)
            if len(self.eval_returns) < self.p["eval_episodes"]:
                self.start_episode()
            else:
                self.finish_eval_block()
        elif self.learning:
            self.modulate(record.get("episode", -1), episode_return)
            self.awaiting_weights = True  # the next evaluation starts once the policy has the new weights
        else:
            self.paused = True
            self.get_logger().info("learning disabled: the protocol waits until ~/enable turns it on again")
            self.publish_status(done=False)

    def modulate(self, episode: int, episode_return: float) -> None:
        self.train_count += 1
        r = self.p["sign"] * self.shaping(episode_return) or 0.0  # no "-0" after a perfect episode
        self.last_train = {"train_episode": self.train_count, "train_return": episode_return, "modulation": r}
        self.modulation_publisher.publish(messages.float64_array(np.array([episode, r])))

    # online protocol ------------------------------------------------------------------

    def on_reward(self, message: Float64) -> None:
        if np.isfinite(message.data):
            self.episode_reward += message.data
            self.rewards_heard += 1

    def on_end_episode(self, request, response):
        """An episode boundary from a robot without episode records: its return is the rewards' sum."""
        if self.schedule is None or self.p["drive_episodes"]:
            response.success, response.message = False, "~/end_episode serves the online protocol when it is not driven"
            return response
        episode_return, heard = self.episode_reward, self.rewards_heard
        self.online_episode("train", episode_return)
        response.success, response.message = True, f"episode ended: return {episode_return:.3f} from {heard} rewards"
        return response

    def start_online(self) -> None:
        """Driven: the held-out block before adapting (if asked for), then the online episodes."""
        if self.p["heldout_episodes"] > 0 and "before" not in self.heldout:
            self.begin_heldout_block("before")
        else:
            self.phase = "online"
            self.call_then(self.explore_client, SetBool.Request(data=True), lambda *_: self.begin_training_episode())

    def begin_heldout_block(self, phase: str) -> None:
        self.phase, self.eval_returns = phase, []
        self.get_logger().info(f"held-out block {phase} adaptation: {self.p['heldout_episodes']} evaluation episodes")
        self.call_then(self.explore_client, SetBool.Request(data=False),
                       lambda *_: self.call_then(self.reset_client, Trigger.Request(), lambda *_: self.begin_eval_block()))

    def online_episode(self, phase: str, episode_return: float) -> None:
        self.episode_reward, self.rewards_heard = 0.0, 0
        if phase == "eval":
            self.eval_returns.append(episode_return)
            if len(self.eval_returns) < self.p["heldout_episodes"]:
                self.start_episode()
            else:
                self.heldout[self.phase] = float(np.mean(self.eval_returns))
                self.get_logger().info(f"held-out return {self.phase} adaptation: {self.heldout[self.phase]:.2f}")
                self.publish_status(done=self.phase == "after")
                self.start_online() if self.phase == "before" else self.finish_online()
            return
        decision = self.schedule.episode_ended(episode_return, self.learning)
        self.train_count += 1
        if self.schedule.pair:  # every episode, a rolled-back one too (first): the policy draws its next xi with it
            modulation = [self.train_count, decision.modulation, decision.explore]
            self.modulation_publisher.publish(messages.float64_array(np.array(modulation)))
        elif decision.rollback is None:
            self.modulation_publisher.publish(messages.float64_array(np.array([self.train_count, decision.modulation])))
        if decision.rollback is not None:
            self.get_logger().warning(f"online episode {self.train_count}: rolled back to the trained weights: {decision.rollback}")
            self.current = self.trained.copy()
            self.weights_publisher.publish(messages.matrix_message(self.current))
        self.status_reason = decision.rollback
        self.awaiting_weights = self.p["drive_episodes"]  # the next episode starts once the policy has the update
        self.publish_status(done=False)
        if not self.p["drive_episodes"] and self.train_count == self.p["train_episodes"]:
            self.finish_online()

    def online_weights_applied(self) -> None:
        """Driven: the policy holds the episode's update; play the next episode, or finish."""
        self.save()
        if self.train_count < self.p["train_episodes"]:
            self.begin_training_episode()
        elif self.p["heldout_episodes"] > 0:
            self.begin_heldout_block("after")
        else:
            self.finish_online()

    def finish_online(self) -> None:
        blocks = self.schedule.blocks()
        held = "".join(f", held-out {k} {v:.2f}" for k, v in self.heldout.items())
        self.get_logger().info(
            f"online adaptation done after {self.train_count} episodes: online return first block {blocks[0]:.2f}, last "
            f"block {blocks[-1]:.2f}{held}; {self.schedule.updates} updates, {self.schedule.status()['rollbacks']} rollbacks")
        self.learning = False
        if self.schedule.pair:  # the last decision may have started a pair: the adapted policy plays without noise
            self.modulation_publisher.publish(messages.float64_array(np.array([self.train_count, 0.0, 0.0])))
        self.save()
        self.publish_status(done=True)
        if self.p["exit_when_done"]:
            self.create_timer(1.0, self.exit)

    def on_policy_weights(self, message: Float32MultiArray) -> None:
        try:
            weight = messages.message_matrix(message)
        except ValueError as error:
            self.get_logger().warning(f"ignoring policy weights: {error}")
            return
        if weight.shape != self.current.shape:
            self.get_logger().error(f"policy's plastic layer is {weight.shape}, expected {self.current.shape}")
            return
        self.policy_weight = weight
        if self.awaiting_weights and (self.schedule is None or self.status_reason is None
                                      or np.array_equal(weight, self.trained)):
            self.awaiting_weights = False
            self.current = weight
            if self.schedule is not None:
                self.online_weights_applied()
                return
            self.save()
            self.begin_eval_block()

    def finish_eval_block(self) -> None:
        mean = float(np.mean(self.eval_returns))
        if self.before is None:
            self.before = mean
            self.best_return = mean if not self.restored else self.best_return
            self.get_logger().info(f"return before adaptation: {mean:.2f} (mean of {len(self.eval_returns)} evaluation episodes)")
        else:
            if mean > self.best_return:
                self.best, self.best_return, self.best_episode = self.current.copy(), mean, self.train_count
            entry = {**self.last_train, "eval_return": mean, "best_return": self.best_return}
            self.history.append(entry)
            self.get_logger().info(
                f"training episode {self.train_count}: return {entry['train_return']:.1f}, r = {entry['modulation']:+.4f}; "
                f"evaluation {mean:.2f} (best {self.best_return:.2f} after episode {self.best_episode})")
        self.save()
        self.publish_status(done=False)
        stop_at = self.p["stop_at"]
        if self.train_count >= self.p["train_episodes"] or (not math.isnan(stop_at) and self.best_return >= stop_at):
            self.finish()
        else:
            self.begin_training_episode()

    def finish(self) -> None:
        self.rollback()
        self.get_logger().info(
            f"adaptation done: return before {self.before:.2f}, after {self.best_return:.2f} "
            f"(best weights from training episode {self.best_episode} of {self.train_count})")
        self.publish_status(done=True)
        if self.p["exit_when_done"]:
            self.create_timer(1.0, self.exit)  # let the latched messages reach their subscribers

    def exit(self) -> None:
        end_process(self)

    def rollback(self) -> None:
        self.current = self.best.copy()
        self.weights_publisher.publish(messages.matrix_message(self.current))
        self.save()

    def publish_status(self, done: bool) -> None:
        status = {"protocol": self.p["protocol"], "done": done, "paused": self.paused, "train_episodes": self.train_count,
                  "time": time.time()}
        if self.schedule is not None:
            status.update(self.schedule.status(), reason=self.status_reason, learning=self.learning,
                          heldout=self.heldout)
        else:
            status.update(before=self.before, best_return=self.best_return, best_episode=self.best_episode,
                          history=self.history)
        self.status_publisher.publish(messages.json_message(status))

    # services -------------------------------------------------------------------------

    def on_enable(self, request, response):
        self.learning = request.data
        response.success, response.message = True, f"learning {'enabled' if request.data else 'disabled'}"
        if self.learning and self.paused:
            self.paused = False
            self.begin_training_episode()
        return response

    def on_save(self, request, response):
        if self._files() is None:
            response.success, response.message = False, "parameter adapted_dir is empty"
            return response
        self.save()
        response.success, response.message = True, f"saved to {self._files()[0].parent}"
        return response

    def on_rollback(self, request, response):
        self.rollback()
        response.success, response.message = True, f"rolled back to the weights of training episode {self.best_episode}"
        return response


def main(args: list[str] | None = None) -> int:
    return run_node(RSTDPService, args)


if __name__ == "__main__":
    raise SystemExit(main())
