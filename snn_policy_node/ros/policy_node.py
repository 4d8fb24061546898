"""The spiking policy node: joint states in, ros2_control-style commands out.

A managed (lifecycle) node. Configuring loads the checkpoint and wires the topics;
activating starts commanding. With ``autostart`` (the default) it configures and activates
itself, as a lifecycle manager would. In ``event`` mode every valid joint-state message is
answered with one command; in ``rate`` mode a timer commands at ``rate_hz`` from the
newest message. Either way no command goes out for a faulty reading or once the newest
reading is older than ``command_timeout`` seconds: a silent robot is never driven blind.
A reading seen again (same stamp, same values: a lockstep simulator re-offering a state)
is answered with the command it got, without running the network a second time.

A policy that observes a floating base also reads odometry (nav_msgs/Odometry). A joint
state is acted on together with odometry at least as new as it (by header stamp): a
simulator's pair with equal stamps is always matched, whichever message arrives first.

With ``plastic_layer`` >= 1 the node keeps that layer's eligibility: r-STDP's trace in a
DSQN, node perturbation in a spiking actor, which explores with noise in the layer's currents
(``~/explore`` turns it off for evaluation) and credits every ``/reward`` to the step it
answers. When the r-STDP service sends the episode's modulation (``/rstdp/modulation``,
``[episode, r]``) the update is applied between two inferences (DSQN dw = r c, bounded by
``max_weight_change``; actor one step of ``step_size`` times r), and the layer is published on
``/policy/plastic_weights``. Weights arriving on ``/rstdp/weights`` (restored or rolled back)
replace the layer.
"""

import time
from collections import Counter

import numpy as np
import torch
from nav_msgs.msg import Odometry
from rclpy.exceptions import NameValidationException
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.lifecycle import State, TransitionCallbackReturn
from rclpy.publisher import Publisher
from rclpy.service import Service
from rclpy.subscription import Subscription
from rclpy.timer import Timer
from sensor_msgs.msg import JointState
from std_msgs.msg import Float32MultiArray, Float64, Float64MultiArray
from std_srvs.srv import SetBool, Trigger

from snn_policy_node.policy.checkpoint import CheckpointError
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.policy.observation import FAULT_KINDS, InputFault, JointReading, ObservationBuilder
from snn_policy_node.policy.plasticity import PerturbationPlasticity
from snn_policy_node.policy.policy import Inference, Policy
from snn_policy_node.ros.common import diagnostics, messages
from snn_policy_node.ros.common.parameters import check_choice, declare_parameters
from snn_policy_node.ros.common.process import StartupError, run_node
from snn_policy_node.snn.dsqn import DSQN
from snn_policy_node.snn.node_perturbation import PerturbationRule
from snn_policy_node.tasks import dsqn_task

PARAMETERS = {
    "checkpoint": ("", "policy checkpoint (.safetensors) to load"),
    "joint_states_topic": (messages.JOINT_STATES, "sensor_msgs/JointState input"),
    "odometry_topic": (messages.ODOMETRY, "nav_msgs/Odometry input, read when the policy observes a floating base"),
    "command_topic": (messages.COMMANDS, "std_msgs/Float64MultiArray output, in the action spec's joint order"),
    "command_format": ("float64_multiarray", "'float64_multiarray' (ros2_control forward command controllers) or "
                       "'joint_state' (JointState efforts stamped with the joint state they answer)"),
    "mode": ("event", "'event': one command per joint-state message; 'rate': commands at rate_hz"),
    "rate_hz": (50.0, "command rate in rate mode"),
    "command_timeout": (0.5, "seconds after the newest joint state when commanding stops"),
    "calibration_iterations": ("0", "spiking actor calibration I: 0, 1, 2, ... or 'adaptive'"),
    "plastic_layer": (-1, "weight layer that learns online (DSQN: r-STDP; spiking actor: node perturbation); -1: none"),
    "max_weight_change": (0.0, "DSQN: ||dw|| per update at most this share of the trained weights' norm; 0: unbounded"),
    "exploration": (PerturbationRule.exploration, "spiking actor: noise std in the plastic layer's currents, in thresholds"),
    "trace_steps": (PerturbationRule.trace_steps, "spiking actor: eligibility decay time, in control steps"),
    "reward_window": (PerturbationRule.window, "spiking actor: rewards the baseline of the prediction error averages"),
    "step_size": (PerturbationRule.step, "spiking actor: ||dw|| per update, as a share of the trained weights' norm"),
    "diagnostics_period": (1.0, "seconds between /diagnostics reports"),
    "autostart": (True, "configure and activate at start-up"),
}


class PolicyNode(LifecycleNode):
    def __init__(self, name: str = "snn_policy", **node_options):
        super().__init__(name, **node_options)
        declare_parameters(self, PARAMETERS, dynamic_typing={"calibration_iterations"})
        self.policy: Policy | None = None
        self.entities: list = []  # publishers, subscriptions, timers and services of the configured node
        self.active = False
        self.faults: Counter = Counter()  # since start-up
        self.reported_faults: Counter = Counter()  # as of the last /diagnostics report
        self.window: list[Inference] = []
        self.last_reading_time = None
        self.pending = None  # rate mode: the newest observation and its stamp
        self.joint_reading = None  # a joint state waiting for odometry as new as it, and its stamp
        self.odometry = None  # the newest odometry reading and its stamp
        self.answered = None  # the last reading acted on (stamp in ns, observation) and the command sent for it
        self.repeats = 0  # readings answered again from that command
        self.startup_error = "configuration failed (see the log above)"
        if self.param("autostart"):
            if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                raise StartupError(self.startup_error)
            self.trigger_activate()

    def param(self, key: str):
        return self.get_parameter(key).value

    # lifecycle ------------------------------------------------------------------------

    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            self._check_parameters()
            self.policy = self._load_policy()
            self._create_entities()
        except (CheckpointError, ValueError, OSError, NameValidationException) as error:
            self.startup_error = f"{self.get_name()}: cannot configure: {error}"
            self.get_logger().error(self.startup_error)
            self.on_cleanup(state)
            return TransitionCallbackReturn.FAILURE
        model = self.policy.checkpoint
        self.get_logger().info(
            f"loaded {model.kind} from {self.param('checkpoint')}: observes {[f'{e.name}.{e.field}' for e in model.observation.entries]}, "
            f"commands {list(model.action.joints)} on {self.param('command_topic')} ({self.param('mode')} mode)"
        )
        return TransitionCallbackReturn.SUCCESS

    def _create_entities(self) -> None:
        """Publishers, subscriptions, timers and services of the configured node, for its policy."""
        self.builder = ObservationBuilder(self.policy.checkpoint.observation)
        self.mode, self.timeout = self.param("mode"), self.param("command_timeout")
        stamped = self.param("command_format") == "joint_state"
        self.command_publisher = self._own(self.create_publisher(
            JointState if stamped else Float64MultiArray, self.param("command_topic"), messages.COMMAND_QOS))
        self.command_message = (
            (lambda values, stamp: messages.joint_command(self.policy.action.joints, values, stamp)) if stamped
            else (lambda values, stamp: messages.float64_array(values)))
        self.diagnostics_publisher = self._own(diagnostics.diagnostics_publisher(self))
        self._own(self.create_subscription(JointState, self.param("joint_states_topic"), self.on_joint_state,
                                           messages.NEWEST_SENSOR_QOS))
        if self.builder.needs_odometry:
            self._own(self.create_subscription(Odometry, self.param("odometry_topic"), self.on_odometry,
                                               messages.NEWEST_SENSOR_QOS))
        if self.param("mode") == "rate":
            self._own(self.create_timer(1.0 / self.param("rate_hz"), self.on_tick))
        self._own(self.create_timer(self.param("diagnostics_period"), self.publish_diagnostics))
        self._own(self.create_service(Trigger, "~/reset_state", self.on_reset_state))
        if self.policy.plasticity is not None:
            self.weights_publisher = self._own(self.create_publisher(
                Float32MultiArray, messages.PLASTIC_WEIGHTS, messages.LATCHED_QOS))
            self._own(self.create_subscription(
                Float64MultiArray, messages.MODULATION, self.on_modulation, messages.EVENT_QOS))
            self._own(self.create_subscription(
                Float32MultiArray, messages.RSTDP_WEIGHTS, self.on_weights, messages.LATCHED_QOS))
            self._own(self.create_subscription(Float64, messages.REWARD, self.on_reward, messages.EVENT_QOS))
            self._own(self.create_service(SetBool, "~/explore", self.on_explore))
            self.publish_plastic_weights()

    def _check_parameters(self) -> None:
        """Refuse settings that would fail half-way through configuration."""
        if not self.param("checkpoint"):
            raise ValueError("parameter 'checkpoint' is empty; give the path of a .safetensors policy")
        check_choice("mode", self.param("mode"), ("event", "rate"))
        if not self.param("max_weight_change") >= 0:
            raise ValueError(f"max_weight_change must be >= 0 (0: unbounded), got {self.param('max_weight_change')!r}")
        check_choice("command_format", self.param("command_format"), messages.COMMAND_FORMATS)
        for key in ("rate_hz", "command_timeout", "diagnostics_period"):
            if not self.param(key) > 0:  # NaN too
                raise ValueError(f"{key} must be a positive number of {'Hz' if key == 'rate_hz' else 'seconds'}, "
                                 f"got {self.param(key)!r}")

    def _load_policy(self) -> Policy:
        path = self.param("checkpoint")
        iterations = self.param("calibration_iterations")
        iterations = iterations if iterations == "adaptive" else int(iterations)
        layer = self.param("plastic_layer")
        model, checkpoint = load_model(path)
        if layer < 0:
            return Policy(model, checkpoint, iterations=iterations)
        if isinstance(model, DSQN):
            rstdp = dsqn_task(checkpoint.provenance.get("env_id", "")).rstdp
            bound = self.param("max_weight_change") or None
            return Policy(model, checkpoint, iterations=iterations, plastic_layer=layer, rstdp=rstdp, max_change=bound)
        rule = PerturbationRule(self.param("exploration"), self.param("trace_steps"), self.param("reward_window"),
                                self.param("step_size"))
        return Policy(model, checkpoint, iterations=iterations, plastic_layer=layer, perturbation=rule)

    def _own(self, entity):
        """Keep an entity made at configuration, so that cleanup can remove it."""
        self.entities.append(entity)
        return entity

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        destroy = {Publisher: self.destroy_publisher, Subscription: self.destroy_subscription,
                   Timer: self.destroy_timer, Service: self.destroy_service}
        for entity in self.entities:
            destroy[type(entity)](entity)
        self.entities, self.policy, self.pending, self.joint_reading, self.odometry = [], None, None, None, None
        self.forget_answer()
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        self.active = True
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self.active = False
        return super().on_deactivate(state)

    # control --------------------------------------------------------------------------

    def on_joint_state(self, message: JointState) -> None:
        if self.joint_reading is not None:
            self.faults["missing_odometry"] += 1  # replaced before odometry as new as it came
        self.joint_reading = JointReading(message.name, message.position, message.velocity, message.effort), message.header.stamp
        self.observe()

    def on_odometry(self, message: Odometry) -> None:
        self.odometry = messages.message_odometry(message), message.header.stamp
        self.observe()

    def observe(self) -> None:
        """Build the observation of the waiting joint state once odometry (if needed) is as new."""
        if self.joint_reading is None:
            return
        (reading, stamp), odometry = self.joint_reading, None
        if self.builder.needs_odometry:
            if self.odometry is None or messages.stamp_nanoseconds(self.odometry[1]) < messages.stamp_nanoseconds(stamp):
                return
            odometry = self.odometry[0]
        self.joint_reading = None
        try:
            obs = self.builder.build(reading, odometry)
        except InputFault as fault:
            self.faults[fault.kind] += 1
            return
        self.last_reading_time = time.monotonic()
        if self.mode == "event":
            self.command(obs, stamp)
        else:
            self.pending = obs, stamp

    def on_tick(self) -> None:
        if self.pending is not None and not self.stale():
            self.command(*self.pending)

    def stale(self) -> bool:
        return self.last_reading_time is None or time.monotonic() - self.last_reading_time > self.timeout

    def command(self, obs: np.ndarray, stamp) -> None:
        """Act on a reading; the same reading again (a re-sent state, or a rate-mode tick with
        nothing newer) gets the same command without a second inference, which would move
        the network's state (eligibility trace, adaptive calibration) twice for one step."""
        if not self.active:
            return
        key = messages.stamp_nanoseconds(stamp)
        if self.answered is not None and self.answered[0] == key and np.array_equal(self.answered[1], obs):
            self.repeats += 1
            self.command_publisher.publish(self.answered[2])
            return
        inference = self.policy.act(obs)
        if not np.isfinite(inference.command).all():
            self.faults["non_finite_output"] += 1
            return
        message = self.command_message(inference.command, stamp)
        self.command_publisher.publish(message)
        self.answered = key, obs, message
        self.window.append(inference)

    def forget_answer(self) -> None:
        """The network changed: a reading seen before gets a fresh inference."""
        self.answered = None

    # r-STDP ---------------------------------------------------------------------------

    def on_modulation(self, message: Float64MultiArray) -> None:
        if len(message.data) != 2 or not np.isfinite(message.data).all():
            self.get_logger().warning(f"ignoring modulation {list(message.data)}: expected finite [episode, r]")
            return
        episode, modulation = message.data
        self.policy.apply_modulation(modulation)
        self.forget_answer()
        self.get_logger().debug(f"episode {int(episode)}: applied dw = r c with r = {modulation:.4f}")
        self.publish_plastic_weights()

    def on_reward(self, message: Float64) -> None:
        if not np.isfinite(message.data):
            self.faults["non_finite_reward"] += 1
            return
        self.policy.reward(message.data)

    def on_explore(self, request, response):
        explores = isinstance(self.policy.plasticity, PerturbationPlasticity)
        if explores:
            self.policy.plasticity.exploring = request.data
            self.forget_answer()
        response.success = explores
        response.message = (f"exploration {'on' if request.data else 'off'}" if explores
                            else "only a spiking actor's plasticity explores")
        return response

    def on_weights(self, message: Float32MultiArray) -> None:
        try:  # applied and answered even when unchanged: a rollback to the same weights still ends the episode's trace
            self.policy.set_plastic_weight(messages.message_matrix(message))
            self.forget_answer()
        except ValueError as error:
            self.get_logger().error(f"rejected weights from {messages.RSTDP_WEIGHTS}: {error}")
            return
        self.get_logger().info("plastic layer replaced by weights from the r-STDP service")
        self.publish_plastic_weights()

    def publish_plastic_weights(self) -> None:
        self.weights_publisher.publish(messages.matrix_message(self.policy.plastic_weight.numpy()))

    def on_reset_state(self, request, response):
        if self.policy.plasticity is not None:
            self.policy.plasticity.reset()
        if self.policy.adaptive is not None:
            self.policy.adaptive.reset()
        self.forget_answer()
        response.success, response.message = True, "eligibility trace and adaptive calibration reset"
        return response

    # diagnostics ----------------------------------------------------------------------

    def publish_diagnostics(self) -> None:
        window, self.window = self.window, []
        values = {"inferences": len(window), "repeated_readings": self.repeats, "stale": self.stale()}
        if window:
            latency = np.array([i.latency_s for i in window]) * 1e3
            rates = np.mean([i.spike_rates for i in window], axis=0)
            values.update({
                "latency_ms_p50": f"{np.percentile(latency, 50):.3f}",
                "latency_ms_max": f"{latency.max():.3f}",
                "synaptic_ops_per_inference": f"{np.mean([i.synaptic_ops for i in window]):.1f}",
                "energy_nj_per_inference": f"{np.mean([i.energy_j for i in window]) * 1e9:.3f}",
                **{f"spike_rate_layer{k + 1}": f"{r:.4f}" for k, r in enumerate(rates)},
            })
        values.update({f"faults_{kind}": self.faults[kind] for kind in (*FAULT_KINDS, "non_finite_output", "non_finite_reward")})
        new_faults, self.reported_faults = self.faults - self.reported_faults, self.faults.copy()
        level = diagnostics.WARN if new_faults or self.stale() else diagnostics.OK
        message = (f"input faults since the last report: {dict(new_faults)}" if new_faults
                   else "no recent joint states" if self.stale() else "ok")
        self.diagnostics_publisher.publish(
            diagnostics.status_report(self, "spiking policy", self.param("checkpoint"), level, message, values))


def main(args: list[str] | None = None) -> int:
    torch.set_num_threads(1)  # batch-of-one inference: threads only add synchronisation
    return run_node(PolicyNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
