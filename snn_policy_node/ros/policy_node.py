"""The spiking policy node: joint states in, ros2_control-style commands out.

A managed (lifecycle) node. Configuring loads the checkpoint, checks its I/O contract against
the robot and controller joints it is told of, and wires the topics; activating starts
commanding. With ``autostart`` (the default) it configures and activates itself, as a lifecycle
manager would. In ``event`` mode every valid joint-state message is answered with one command;
in ``rate`` mode a timer commands at ``rate_hz`` from the newest message, running the network at
the policy's control period and holding or ramping between (:mod:`snn_policy_node.policy.decimation`).
Either way no command goes out for a faulty reading or once the newest reading is older than
``command_timeout`` seconds: a silent robot is never driven blind. A reading seen again (same
stamp, same values: a lockstep simulator re-offering a state) is answered with the command it
got, without running the network a second time.

A policy that observes a floating base also reads odometry (nav_msgs/Odometry), and with
``base_source: imu`` takes orientation and angular velocity from sensor_msgs/Imu; a joint state
is acted on with base readings at least as new as it (:mod:`snn_policy_node.policy.base_matching`).

With ``plastic_layer`` >= 1 the node keeps that layer's eligibility: r-STDP's trace in a
DSQN, node perturbation in a spiking actor, which explores with noise in the layer's currents
(``~/explore`` turns it off for evaluation) and credits every ``/reward`` to the step it
answers. When the r-STDP service sends the episode's modulation (``/rstdp/modulation``,
``[episode, r]``) the update is applied between two inferences (DSQN dw = r c, bounded by
``max_weight_change``; actor one step of ``step_size`` times r), and the layer is published on
``/policy/plastic_weights``. Weights arriving on ``/rstdp/weights`` (restored or rolled back)
replace the layer. With ``rule: pair`` either kind runs the pair rule instead
(:class:`~snn_policy_node.policy.plasticity.PairPlasticity`): the modulation ``[episode, m,
explore]`` also says what the next episode explores (a held +xi, -xi, or nothing), and a pair's
update is a step of at most ``pair.step`` x ||w_0||.

Every reading and command passes the safety layer (:mod:`snn_policy_node.policy.safety`,
parameters ``safety.*``): a soft start after activation, command limits and rate limits, and a
latched safe state on a reading out of its bounds, a tilted base or too many faulty readings in a
row, left through ``~/reset_safety`` or a deactivate/activate. While latched, each reading gets the
safe command and the network does not run. The shipped defaults change nothing a trained policy
does in simulation: no fade-in, the action bounds, no rate limit, and only readings no robot
reports (beyond +-1e6) trip the layer. Commands are timed by the readings' stamps in event mode
and by the steady clock in rate mode.
"""

import time
from collections import Counter

import numpy as np
import torch
from nav_msgs.msg import Odometry
from rclpy.clock import Clock, ClockType, JumpThreshold
from rclpy.duration import Duration
from rclpy.exceptions import NameValidationException, ParameterUninitializedException
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.lifecycle import State, TransitionCallbackReturn
from rclpy.publisher import Publisher
from rclpy.service import Service
from rclpy.subscription import Subscription
from rclpy.timer import Timer
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float32MultiArray, Float64, Float64MultiArray
from std_srvs.srv import SetBool, Trigger

from snn_policy_node.brief import brief
from snn_policy_node.policy.base_matching import BaseMatcher
from snn_policy_node.policy.checkpoint import CheckpointError
from snn_policy_node.policy.contract import command_order, joint_mismatch, needed_joints, observed_joints
from snn_policy_node.policy.decimation import Decimator, PeriodMeter
from snn_policy_node.policy.observation import FAULT_KINDS, InputFault, JointReading, ObservationBuilder, joint_values
from snn_policy_node.policy.plasticity import PairPlasticity, PerturbationPlasticity
from snn_policy_node.policy.policy import Inference, Policy
from snn_policy_node.policy.safety import SafetyLayer
from snn_policy_node.ros import policy_parameters
from snn_policy_node.ros.common import diagnostics, messages
from snn_policy_node.ros.common.parameters import declare_parameters
from snn_policy_node.ros.common.process import StartupError, run_node

FAULTS = (*FAULT_KINDS, "stale_reading", "unmatched_base", "non_finite_output", "non_finite_reward")


class PolicyNode(LifecycleNode):
    def __init__(self, name: str = "snn_policy", **node_options):
        super().__init__(name, **node_options)
        declare_parameters(self, policy_parameters.PARAMETERS, dynamic_typing={"calibration_iterations"})
        self.policy: Policy | None = None
        self.entities: list = []  # publishers, subscriptions, timers and services of the configured node
        self.active = False
        self.faults: Counter = Counter()  # since start-up
        self.reported_faults: Counter = Counter()  # as of the last /diagnostics report
        self.window: list[Inference] = []
        self.last_reading_time = None
        self.pending = None  # rate mode: the newest observation, its stamp and the joint velocities
        self.matcher: BaseMatcher | None = None  # the joint state waiting for its floating base's readings
        self.answered = None  # the last reading run (stamp in ns, observation) and its command (None: not finite)
        self.repeats = 0  # readings answered again from that command
        self.safety: SafetyLayer | None = None
        self.safety_transitions = 0
        self.watchdog_stops = 0  # commanding stopped by the watchdog or a clock jump
        self.said_base_missing = False
        self.command_order: np.ndarray | None = None  # the controller's joint order, as indices into the action spec's
        self.decimator: Decimator | None = None
        # achieved periods, on the command clock (the steady clock in rate mode, stamps in event mode)
        self.inference_periods, self.command_periods = PeriodMeter(), PeriodMeter()
        self.jump_handle = None  # the node clock's jump callback, registered at configuration
        self.mismatches_said: set[tuple[str, ...]] = set()  # joint lists that lacked the policy's joints
        self.steady_clock = Clock(clock_type=ClockType.STEADY_TIME)
        self.startup_error = "configuration failed (see the log above)"
        if self.param("autostart"):
            if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                raise StartupError(self.startup_error)
            self.trigger_activate()

    def param(self, key: str):
        """A parameter's value; None for a typed one left unset."""
        try:
            return self.get_parameter(key).value
        except ParameterUninitializedException:
            return None

    # lifecycle ------------------------------------------------------------------------

    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            policy_parameters.check(self.param)
            self.policy = policy_parameters.load_policy(self.param)
            self.safety = SafetyLayer(policy_parameters.safety_config(self.param), self.policy.action,
                                      self.policy.checkpoint.observation)
            self._apply_contract()
            self._create_entities()
        except (CheckpointError, ValueError, OSError, NameValidationException) as error:
            self.startup_error = f"{self.get_name()}: cannot configure: {error}"
            self.get_logger().error(self.startup_error)
            self.on_cleanup(state)
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info(self._contract_line())
        if self.decimator.period and abs(self.decimator.run_period - self.decimator.period) > 0.01 * self.decimator.period:
            self.get_logger().warning(
                f"the policy's period of {self.decimator.period * 1e3:g} ms is not a whole number of {self.param('rate_hz'):g} Hz "
                f"ticks: the network runs every {self.decimator.run_period * 1e3:g} ms; set rate_hz to a multiple of "
                f"{1 / self.decimator.period:g} Hz to keep the trained period")
        return TransitionCallbackReturn.SUCCESS

    def _apply_contract(self) -> None:
        """Check the robot's and the controller's joints against the checkpoint's I/O contract, and
        set what follows from it: the command order, the floating base's sources, the network's period."""
        checkpoint, action = self.policy.checkpoint, self.policy.action
        robot = self.param("robot_joints")
        if robot is not None and (mismatch := joint_mismatch(needed_joints(checkpoint), robot, "robot_joints")):
            raise ValueError(mismatch)
        controller = self.param("controller_joints")
        self.command_joints = tuple(controller) if controller is not None else action.joints
        self.command_order = (command_order(action.joints, controller) if controller is not None
                              else np.arange(len(action.joints)))
        self.builder = ObservationBuilder(checkpoint.observation)
        if np.isfinite(self.safety.config.max_tilt) and not self.builder.needs_odometry:
            raise ValueError("safety.max_tilt needs the base's orientation, but this policy observes no floating base")
        sources = ("odometry", "imu") if self.param("base_source") == "imu" else ("odometry",)
        self.mode, self.timeout = self.param("mode"), self.param("command_timeout")
        self.matcher = BaseMatcher(sources if self.builder.needs_odometry else (), self.timeout, self.faults)
        self.decimator = Decimator(policy_parameters.network_period(self.param, action), 1.0 / self.param("rate_hz"),
                                   self.param("decimation"))

    def _contract_line(self) -> str:
        """What the node reads and commands, and how often, in one line."""
        model, action = self.policy.checkpoint, self.policy.action
        base = (", floating base from " + " and ".join(f"{source} on {self.base_topic(source)}"
                                                        for source in self.matcher.sources)) if self.matcher.sources else ""
        trained = f"trained at {action.period * 1e3:g} ms" if action.period else "training period not recorded"
        runs = ("on every joint state" if self.mode == "event"
                else f"every {self.decimator.run_period * 1e3:g} ms, {self.param('decimation')} between"
                if self.decimator.period > 0 else "on every tick")
        return (f"loaded {model.kind} from {self.param('checkpoint')}: observes "
                f"{brief([f'{e.name}.{e.field}' for e in model.observation.entries], items=24)}{base}; commands "
                f"{list(self.command_joints)} ({action.interface}) on {self.resolve_topic_name(self.param('command_topic'))}"
                f"; {trained}, the network runs {runs} ({self.mode} mode)")

    def _create_entities(self) -> None:
        """Publishers, subscriptions, timers and services of the configured node, for its policy."""
        stamped = self.param("command_format") == "joint_state"
        self.command_publisher = self._own(self.create_publisher(
            JointState if stamped else Float64MultiArray, self.param("command_topic"), messages.COMMAND_QOS))
        interface = self.policy.action.interface
        self.command_message = (
            (lambda values, stamp: messages.joint_command(self.command_joints, values, stamp, interface)) if stamped
            else (lambda values, stamp: messages.float64_array(values)))
        self.diagnostics_publisher = self._own(diagnostics.diagnostics_publisher(self))
        self._own(self.create_subscription(JointState, self.param("joint_states_topic"), self.on_joint_state,
                                           messages.NEWEST_SENSOR_QOS))
        if "odometry" in self.matcher.sources:
            self._own(self.create_subscription(Odometry, self.param("odometry_topic"), self.on_odometry,
                                               messages.NEWEST_SENSOR_QOS))
        if "imu" in self.matcher.sources:
            self._own(self.create_subscription(Imu, self.param("imu_topic"), self.on_imu, messages.NEWEST_SENSOR_QOS))
        # timers on the steady clock: under use_sim_time the node's clock stops with /clock
        if self.mode == "rate":
            self._own(self.create_timer(1.0 / self.param("rate_hz"), self.on_tick, clock=self.steady_clock))
        self._own(self.create_timer(self.param("diagnostics_period"), self.publish_diagnostics, clock=self.steady_clock))
        self._own(self.create_timer(self.timeout / 4, self.on_watchdog, clock=self.steady_clock))
        self.jump_handle = self.get_clock().create_jump_callback(
            JumpThreshold(min_forward=None, min_backward=Duration(nanoseconds=-1), on_clock_change=False),
            post_callback=self.on_clock_jump)
        self._own(self.create_service(Trigger, "~/reset_state", self.on_reset_state))
        self._own(self.create_service(Trigger, "~/reset_safety", self.on_reset_safety))
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

    def _own(self, entity):
        """Keep an entity made at configuration, so that cleanup can remove it."""
        self.entities.append(entity)
        return entity

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        destroy = {Publisher: self.destroy_publisher, Subscription: self.destroy_subscription,
                   Timer: self.destroy_timer, Service: self.destroy_service}
        for entity in self.entities:
            destroy[type(entity)](entity)
        self.entities, self.policy, self.pending, self.matcher = [], None, None, None
        if self.jump_handle is not None:
            self.jump_handle.unregister()
            self.jump_handle = None
        self.forget_answer()
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        self.active = True
        self.safety.activate("activated")
        self.log_safety_events()
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self.active = False
        self.restart_command_stream()
        self.safety.deactivate()
        self.log_safety_events()
        return super().on_deactivate(state)

    # control --------------------------------------------------------------------------

    def on_joint_state(self, message: JointState) -> None:
        reading = JointReading(message.name, message.position, message.velocity, message.effort)
        self.matcher.joint_state(reading, message.header.stamp, messages.stamp_nanoseconds(message.header.stamp))
        missing = self.matcher.missing()
        if missing and not self.said_base_missing:
            self.said_base_missing = True
            self.get_logger().warning(
                f"joint states arrive but no {' or '.join(f'{s} on {self.base_topic(s)}' for s in missing)}: this "
                "policy observes a floating base and commands nothing until it comes")
        self.observe()

    def on_odometry(self, message: Odometry) -> None:
        self.matcher.base("odometry", messages.message_odometry(message), messages.stamp_nanoseconds(message.header.stamp))
        self.observe()

    def on_imu(self, message: Imu) -> None:
        """An IMU reading; one without orientation is counted and left out (the joint state it
        would complete waits, and is dropped once stale)."""
        try:
            imu = messages.message_imu(message)
        except InputFault as fault:
            self.faults[fault.kind] += 1
            return
        self.matcher.base("imu", imu, messages.stamp_nanoseconds(message.header.stamp))
        self.observe()

    def base_topic(self, source: str) -> str:
        return self.resolve_topic_name(self.param(f"{source}_topic"))

    def observe(self) -> None:
        """Check the waiting joint state once its floating base's readings (if needed) have come,
        and act on it."""
        matched = self.matcher.take()
        if matched is None:
            return
        reading, stamp, base = matched
        velocity = joint_values(reading, self.policy.action.joints, "velocity")
        try:
            raw = self.builder.raw(reading, base)
        except InputFault as fault:
            self.faults[fault.kind] += 1
            if fault.kind == "missing_joint":
                self.say_joint_mismatch(tuple(reading.names))
            self.safety.fault(fault.kind)
            self.log_safety_events()
            if self.safety.latched:
                self.act(None, stamp, velocity)
            return
        self.safety.check(raw, None if base is None else np.asarray(base.orientation))
        self.log_safety_events()
        if self.last_reading_time is None or self.stale():
            self.get_logger().info("joint states fresh: commanding")
        self.last_reading_time = time.monotonic()
        self.act(None if self.safety.latched else self.builder.normalise(raw), stamp, velocity)

    def act(self, obs: np.ndarray | None, stamp, velocity: np.ndarray | None) -> None:
        """Event mode: answer the reading now. Rate mode: it is what the next tick acts on."""
        if self.mode == "event":
            self.command(obs, stamp, velocity)
        else:
            self.pending = obs, stamp, velocity

    def say_joint_mismatch(self, names: tuple[str, ...]) -> None:
        """Once per joint list (observation ordering is the commonest silent failure of deployed policies)."""
        if names in self.mismatches_said or len(self.mismatches_said) >= 16:
            return
        self.mismatches_said.add(names)
        mismatch = joint_mismatch(observed_joints(self.policy.checkpoint), names, "joint states")
        self.get_logger().error(f"{mismatch}: no command until they match")

    def on_tick(self) -> None:
        if self.pending is not None and not self.stale():
            self.command(*self.pending, now=time.monotonic())

    def stale(self) -> bool:
        """No fresh joint state for ``command_timeout`` seconds of the steady clock."""
        return self.last_reading_time is None or time.monotonic() - self.last_reading_time > self.timeout

    def on_watchdog(self) -> None:
        """Steady clock: stops commanding when readings stop, whatever ``/clock`` does."""
        if self.last_reading_time is not None and self.stale():
            self.get_logger().warning(f"watchdog: no fresh joint state for {self.timeout:g} s; commanding stopped")
            self.stop_commanding()
            self.watchdog_stops += 1

    def on_clock_jump(self, jump) -> None:
        """The node's clock went back (a rewound ``/clock``): what was read before is from another
        time line; nothing is commanded until a reading arrives after the jump."""
        self.get_logger().warning(f"clock jumped back {-jump.delta.nanoseconds * 1e-9:.3f} s; commanding stopped "
                                  "until fresh joint states arrive")
        self.stop_commanding()
        self.matcher.clear(base=True)
        self.forget_answer()
        self.watchdog_stops += 1

    def stop_commanding(self) -> None:
        """Forget the readings and the commands in flight: the next command answers a fresh reading."""
        self.last_reading_time, self.pending = None, None
        self.matcher.clear()
        self.restart_command_stream()

    def restart_command_stream(self) -> None:
        """The next command starts a new stream: no ramp from before, no interval across the pause."""
        self.decimator.reset()
        self.inference_periods.restart()
        self.command_periods.restart()

    def command(self, obs: np.ndarray | None, stamp, velocity: np.ndarray | None, now: float | None = None) -> None:
        """Command for a reading (``obs`` None: the safe command) at ``now``: a rate-mode tick's
        steady-clock time, or, in event mode, the reading's stamp. The network runs when the
        decimator says (every reading in event mode); a tick between runs holds or ramps."""
        if not self.active:
            return
        now = _seconds(stamp) if now is None else now
        if obs is None or self.safety.latched:
            self.publish_command(self.safety.command(None, now, velocity), stamp, now)
            return
        if self.decimator.due(now):
            policy_command = self.infer(obs, stamp, now)
            if policy_command is None:  # not finite: nothing for this reading
                return
            self.decimator.push(policy_command, now)
        self.publish_command(self.safety.command(self.decimator.command(now), now, velocity), stamp, now)

    def infer(self, obs: np.ndarray, stamp, now: float) -> np.ndarray | None:
        """The policy's command for a reading, None if the network's output is not finite. The same
        reading again (a re-sent state, or a rate-mode tick with nothing newer) gets the same answer
        without a second inference, which would move the network's state (eligibility trace,
        adaptive calibration) twice for one step."""
        key = messages.stamp_nanoseconds(stamp)
        if self.answered is not None and self.answered[0] == key and np.array_equal(self.answered[1], obs):
            self.repeats += 1
            return self.answered[2]
        inference = self.policy.act(obs)
        self.inference_periods.mark(now)
        finite = np.isfinite(inference.command).all()
        self.answered = key, obs, inference.command if finite else None
        if not finite:
            self.faults["non_finite_output"] += 1
            self.safety.fault("non_finite_output")
            self.log_safety_events()
            return None
        self.window.append(inference)
        return inference.command

    def publish_command(self, values: np.ndarray, stamp, now: float) -> None:
        """Out in the controller's joint order."""
        self.command_publisher.publish(self.command_message(values[self.command_order], stamp))
        self.command_periods.mark(now)

    def log_safety_events(self) -> None:
        """Each safety transition once in the log; /diagnostics reports the current state."""
        for event in self.safety.events:
            self.safety_transitions += 1
            if event.state == "latched":  # rclpy: one severity per call site
                self.get_logger().error(f"safety: latched ({event.reason})")
            else:
                self.get_logger().info(f"safety: {event.state} ({event.reason})")
        self.safety.events.clear()

    def on_reset_safety(self, request, response):
        response.success = self.safety.reset("reset through ~/reset_safety")
        self.log_safety_events()
        self.forget_answer()
        self.decimator.reset()
        response.message = (f"safety reset: {self.safety.state}" if response.success
                            else f"nothing to reset: the safety layer is {self.safety.state}")
        return response

    def forget_answer(self) -> None:
        """The network changed: a reading seen before gets a fresh inference."""
        self.answered = None

    # r-STDP ---------------------------------------------------------------------------

    def on_modulation(self, message: Float64MultiArray) -> None:
        """[episode, r], or [episode, m, explore] for the pair rule (explore: the next episode's +s, -s or 0)."""
        if len(message.data) not in (2, 3) or not np.isfinite(message.data).all():
            self.get_logger().warning(f"ignoring modulation {brief(message.data)}: expected finite [episode, r] or "
                                      "[episode, m, explore]")
            return
        episode, modulation, explore = (*message.data, 0.0)[:3]
        try:
            self.policy.apply_modulation(modulation, explore)
        except ValueError as error:
            self.get_logger().warning(f"ignoring modulation {brief(message.data)}: {error}")
            return
        self.forget_answer()
        self.get_logger().debug(f"episode {int(episode)}: applied the update with r = {modulation:.4f}")
        self.publish_plastic_weights()

    def on_reward(self, message: Float64) -> None:
        if not np.isfinite(message.data):
            self.faults["non_finite_reward"] += 1
            return
        self.policy.reward(message.data)

    def on_explore(self, request, response):
        """Node perturbation explores while on; the pair rule drops its pair when turned off (the
        schedule starts the next), for evaluation blocks that play without noise."""
        plasticity = self.policy.plasticity
        explores = isinstance(plasticity, (PerturbationPlasticity, PairPlasticity))
        if isinstance(plasticity, PerturbationPlasticity):
            plasticity.exploring = request.data
        elif isinstance(plasticity, PairPlasticity) and not request.data:
            plasticity.drop()
        self.forget_answer()
        response.success = explores
        response.message = (f"exploration {'on' if request.data else 'off'}" if explores
                            else "only node perturbation and the pair rule explore")
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
        values.update({f"faults_{kind}": self.faults[kind] for kind in FAULTS})
        values.update({"safety_state": self.safety.state, "safety_reason": self.safety.reason,
                       "safety_transitions": self.safety_transitions, "watchdog_stops": self.watchdog_stops})
        values.update(self._period_values())
        new_faults, self.reported_faults = self.faults - self.reported_faults, self.faults.copy()
        missing = self.matcher.missing()
        waiting = missing and self.matcher.waiting()
        level = (diagnostics.ERROR if self.safety.latched
                 else diagnostics.WARN if new_faults or self.stale() else diagnostics.OK)
        message = (f"safe state latched: {self.safety.reason}; call ~/reset_safety" if self.safety.latched
                   else f"waiting for {missing[0]} on {self.base_topic(missing[0])}" if waiting
                   else f"input faults since the last report: {dict(new_faults)}" if new_faults
                   else "no recent joint states" if self.stale() else "ok")
        self.diagnostics_publisher.publish(
            diagnostics.status_report(self, "spiking policy", self.param("checkpoint"), level, message, values))

    def _period_values(self) -> dict:
        """The periods achieved since the last report beside the one the policy was trained at."""
        values = {"trained_period_ms": f"{self.policy.action.period * 1e3:g}" if self.policy.action.period else "unknown"}
        for name, meter in (("policy_period", self.inference_periods), ("command_period", self.command_periods)):
            achieved = meter.take()
            if achieved is not None:
                values.update({f"{name}_ms": f"{achieved['mean_ms']:.3f}", f"{name}_max_ms": f"{achieved['max_ms']:.3f}"})
        return values


def _seconds(stamp) -> float:
    """A reading's time for the safety layer: its stamp, or the steady clock for an unstamped one."""
    nanoseconds = messages.stamp_nanoseconds(stamp)
    return nanoseconds * 1e-9 if nanoseconds else time.monotonic()


def main(args: list[str] | None = None) -> int:
    torch.set_num_threads(1)  # batch-of-one inference: threads only add synchronisation
    return run_node(PolicyNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
