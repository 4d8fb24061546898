"""The sim bridge: a Gymnasium or MuJoCo robot on ROS 2 topics.

Publishes ``/joint_states`` (the robot's joint names, sim-time stamps), ``/odom`` and ``/imu``
for a floating base (same stamps; twist and angular velocity in the body frame), ``/clock``, ``/reward`` per step and
one JSON record per episode on ``/episode``; obeys Float64MultiArray commands, or with
``command_format`` ``joint_state`` JointState efforts by joint name, stamped with the state
they answer. Two modes:

- ``lockstep``: one environment step per command, deterministic, for evaluation. While no
  command comes, the current joint state is re-sent every ``action_timeout`` seconds, so a
  policy that restarts picks the episode up again. Stamped commands are matched to the
  state they answer: an answer to a state already stepped past (a re-sent state answered
  twice) is dropped. Unstamped ones cannot be told apart, so there a policy slower than
  ``action_timeout`` gets a step taken on each of its answers.
- ``realtime``: steps at ``rate_hz`` holding the last command; after ``action_timeout``
  without one the robot gets the idle command (zero force; CartPole, which can only push,
  pushes left). Late ticks are counted.

Physics can be randomized from a YAML profile, once or at every episode; every draw is
seeded and published (latched) on ``/sim_bridge/physics``. Episode seeds come from two
disjoint streams, training and evaluation (``~/evaluate`` switches), so an evaluation
block replays the same fixed seeds. With ``wait_for_start`` the bridge holds between
episodes until ``~/start_episode`` is called, which lets a learning schedule act on one
episode's result before the next begins.
"""

import time

import gymnasium as gym
import numpy as np
from nav_msgs.msg import Odometry
from rclpy.duration import Duration
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64, Float64MultiArray, String
from std_srvs.srv import SetBool, Trigger

from sim_bridge.randomization import RandomizedPhysics, profile
from sim_bridge.simulators.robots import robot_for
from sim_bridge.simulators.xml_robot import MujocoXmlEnv
from sim_bridge.tasks import make_task_env, step_period
from snn_policy_node.brief import brief
from snn_policy_node.evaluation.statistics import mean_interval
from snn_policy_node.ros.common import diagnostics, messages
from snn_policy_node.ros.common.parameters import check_choice, declare_parameters
from snn_policy_node.ros.common.process import StartupError, end_process, run_node

PARAMETERS = {
    "env_id": ("CartPole-v0", "Gymnasium environment id"),
    "model_xml": ("", "a raw MuJoCo XML model to play instead of env_id (no reward; actions are actuator controls)"),
    "episode_steps": (1000, "time limit of a raw XML model's episodes, in steps"),
    "frame_skip": (1, "MuJoCo steps per action for a raw XML model"),
    "reset_noise": (0.0, "raw XML model: seeded uniform noise of this size on every joint position and velocity at reset"),
    "mode": ("lockstep", "'lockstep': one step per command; 'realtime': steps at rate_hz"),
    "rate_hz": (50.0, "step rate in realtime mode"),
    "action_timeout": (0.5, "seconds without a command before re-sending the state (lockstep) or idling (realtime)"),
    "joint_states_topic": (messages.JOINT_STATES, "sensor_msgs/JointState output"),
    "odometry_topic": (messages.ODOMETRY, "nav_msgs/Odometry output of a floating base (the model's first free joint)"),
    "imu_topic": (messages.IMU, "sensor_msgs/Imu output of a floating base: orientation and angular velocity"),
    "command_topic": (messages.COMMANDS, "command input, one value per commanded joint"),
    "command_format": ("float64_multiarray", "'float64_multiarray' (values in the commanded joints' order) or "
                       "'joint_state' (JointState efforts by joint name, stamped with the state they answer: "
                       "lockstep then steps only on the answer to the state it waits on)"),
    "randomization_profile": ("", "profile name in the randomization file (e.g. normal, extreme); empty: default physics"),
    "randomization_file": ("", "YAML randomization file; empty: the packaged paper_004.yaml"),
    "randomization_seed": (0, "seed of the physics draws"),
    "randomize_every_episode": (False, "draw new physics at every episode (else once, at start-up)"),
    "train_seed_base": (10000, "first seed of the training episode stream"),
    "eval_seed_base": (0, "first seed of the evaluation episode stream"),
    "eval_episodes": (100, "evaluation seeds cycle through eval_seed_base .. + eval_episodes - 1"),
    "wait_for_start": (False, "hold between episodes until ~/start_episode is called"),
    "max_episodes": (0, "exit after this many episodes; 0: run until shut down"),
}


class SimBridge(Node):
    def __init__(self, name: str = "sim_bridge"):
        super().__init__(name)
        p = declare_parameters(self, PARAMETERS)
        try:
            check_choice("mode", p["mode"], ("lockstep", "realtime"))
            check_choice("command_format", p["command_format"], messages.COMMAND_FORMATS)
        except ValueError as error:
            raise StartupError(str(error)) from None
        self.p = p
        self.env = self._make_env(p)
        self.robot = robot_for(self.env)
        self.dt = step_period(self.env)
        self.ticks = 0  # sim time = ticks * dt, without accumulated rounding
        self.episode = self.train_count = self.eval_count = 0
        self.returns: list[float] = []
        self.evaluating = False
        self.running = False  # an episode is in progress
        self.finished = False  # max_episodes played: the process is ending
        self.last_command, self.last_command_time = None, None
        self.faults = 0
        self.missed_deadlines = 0
        self.late_commands = 0  # lockstep: answers to a state already stepped past
        self.state_stamp = None  # nanoseconds of the newest joint state sent

        self.joint_publisher = self.create_publisher(JointState, p["joint_states_topic"], messages.SENSOR_QOS)
        self.clock_publisher = self.create_publisher(Clock, "/clock", 10)
        self.odometry_publisher = self.imu_publisher = None
        if self.robot.base() is not None:
            self.odometry_publisher = self.create_publisher(Odometry, p["odometry_topic"], messages.SENSOR_QOS)
            self.imu_publisher = self.create_publisher(Imu, p["imu_topic"], messages.SENSOR_QOS)
        self.reward_publisher = self.create_publisher(Float64, messages.REWARD, messages.EVENT_QOS)
        self.episode_publisher = self.create_publisher(String, messages.EPISODE, messages.EVENT_QOS)
        self.physics_publisher = self.create_publisher(String, messages.PHYSICS, messages.LATCHED_QOS)
        if p["command_format"] == "joint_state":
            self.create_subscription(JointState, p["command_topic"], self.on_joint_command, messages.COMMAND_QOS)
        else:
            self.create_subscription(Float64MultiArray, p["command_topic"], self.on_array_command, messages.COMMAND_QOS)
        self.diagnostics_publisher = diagnostics.diagnostics_publisher(self)
        self.create_timer(1.0, self.publish_diagnostics)
        self.create_service(Trigger, "~/reset", self.on_reset)
        self.create_service(Trigger, "~/randomize", self.on_randomize)
        self.create_service(SetBool, "~/evaluate", self.on_evaluate)
        self.create_service(Trigger, "~/start_episode", self.on_start_episode)
        if p["mode"] == "lockstep":
            self.create_timer(p["action_timeout"], self.resend_if_waiting)
        else:
            self.period = 1.0 / p["rate_hz"]
            self.next_tick = time.monotonic() + self.period
            self.create_timer(self.period, self.on_tick)
        self.get_logger().info(
            f"{p['model_xml'] or p['env_id']} ({p['mode']}): joints {list(self.robot.joint_names)}, commands {list(self.robot.command_joints)}")
        if p["mode"] == "lockstep" and p["command_format"] == "float64_multiarray":
            self.get_logger().info(f"unstamped commands: a policy slower than action_timeout ({p['action_timeout']} s) "
                                   "gets a step taken on each answer to a re-sent state (command_format joint_state "
                                   "matches answers to states)")
        if not p["wait_for_start"]:
            self.begin_episode()

    def _make_env(self, p: dict) -> gym.Env:
        if p["model_xml"]:
            if p["randomization_profile"]:
                raise StartupError("randomization profiles are per task id; a raw XML model has none")
            try:
                env = MujocoXmlEnv(p["model_xml"], frame_skip=p["frame_skip"], reset_noise=p["reset_noise"])
            except ValueError as error:
                raise StartupError(str(error)) from None
            return gym.wrappers.TimeLimit(env, max_episode_steps=p["episode_steps"])
        try:
            env = make_task_env(p["env_id"])
        except gym.error.Error as error:
            raise StartupError(f"cannot make environment {p['env_id']!r}: {error}") from None
        if not p["randomization_profile"]:
            return env
        try:
            ranges = profile(p["env_id"], p["randomization_profile"], p["randomization_file"] or None)
            return RandomizedPhysics(env, ranges=ranges, seed=p["randomization_seed"],
                                     every_episode=p["randomize_every_episode"])
        except (ValueError, OSError) as error:
            raise StartupError(f"randomization: {error}") from None

    # episodes -------------------------------------------------------------------------

    def next_seed(self) -> int:
        if self.evaluating:
            seed = self.p["eval_seed_base"] + self.eval_count % self.p["eval_episodes"]
            self.eval_count += 1
        else:
            seed = self.p["train_seed_base"] + self.train_count
            self.train_count += 1
        return seed

    def begin_episode(self) -> None:
        self.seed = self.next_seed()
        self.phase = "eval" if self.evaluating else "train"
        _, info = self.env.reset(seed=self.seed)
        if "physics" in info:
            self.physics = info["physics"]
            self.physics_publisher.publish(messages.json_message({
                "env_id": self.p["env_id"], "profile": self.p["randomization_profile"],
                "randomization_seed": self.p["randomization_seed"], "episode": self.episode, "parameters": self.physics,
            }))
        self.total, self.steps, self.running = 0.0, 0, True
        self.ticks += 1
        self.publish_state()

    def end_episode(self, terminated: bool) -> None:
        self.running = False
        self.episode_publisher.publish(messages.json_message({
            "episode": self.episode, "phase": self.phase, "seed": self.seed, "return": self.total,
            "steps": self.steps, "terminated": terminated, "physics": getattr(self, "physics", {}),
            "sim_time": self.ticks * self.dt,
        }))
        self.episode += 1
        self.returns.append(self.total)
        self.get_logger().debug(f"episode {self.episode} ({self.phase}, seed {self.seed}): return {self.total:.2f} "
                                f"in {self.steps} steps")
        if self.p["max_episodes"] and self.episode >= self.p["max_episodes"]:
            interval = mean_interval(self.returns)["ci95"]
            self.get_logger().info(f"{self.episode} episodes: return {np.mean(self.returns):.2f} +- "
                                   f"{np.std(self.returns):.2f} (95 % CI of the mean [{interval[0]:.2f}, {interval[1]:.2f}])")
            self.finished = True
            if not self.episode_publisher.wait_for_all_acked(Duration(seconds=2.0)):
                self.get_logger().warning("exiting before every subscriber acknowledged the episode records")
            end_process(self)
            return
        if not self.p["wait_for_start"]:
            self.begin_episode()

    def step(self, command: np.ndarray) -> None:
        _, reward, terminated, truncated, _ = self.env.step(self.robot.env_action(command))
        self.ticks += 1
        self.total += float(reward)
        self.steps += 1
        self.reward_publisher.publish(Float64(data=float(reward)))
        if terminated or truncated:
            self.end_episode(terminated)
        else:
            self.publish_state()

    def publish_state(self) -> None:
        sample = self.robot.sample()
        self.state_stamp = round(self.ticks * self.dt * 1e9)
        stamp = messages.nanoseconds_stamp(self.state_stamp)
        if self.odometry_publisher is not None:
            base = self.robot.base()
            self.odometry_publisher.publish(messages.odometry_message(base.body, base, stamp))
            self.imu_publisher.publish(messages.imu_message(base.body, base, stamp))
        message = JointState(name=list(self.robot.joint_names))
        message.header.stamp = stamp
        message.position = messages.float64_sequence(sample.position)
        message.velocity = messages.float64_sequence(sample.velocity)
        self.joint_publisher.publish(message)
        self.clock_publisher.publish(Clock(clock=stamp))
        self.state_sent = time.monotonic()

    # commands -------------------------------------------------------------------------

    def on_array_command(self, message: Float64MultiArray) -> None:
        command = np.frombuffer(message.data, dtype=np.float64) if len(message.data) else np.zeros(0)
        self.obey(command, stamp=None)

    def on_joint_command(self, message: JointState) -> None:
        joints = self.robot.command_joints
        if sorted(message.name) != sorted(joints) or len(message.effort) != len(message.name):
            self.refuse(f"command for {brief(message.name)} with {len(message.effort)} efforts: need one effort "
                        f"for each of {list(joints)}")
            return
        effort = dict(zip(message.name, message.effort))
        self.obey(np.array([effort[j] for j in joints], dtype=np.float64), messages.stamp_nanoseconds(message.header.stamp))

    def obey(self, command: np.ndarray, stamp: int | None) -> None:
        """Take a command (``stamp``: of the state it answers, if it says); lockstep steps on it."""
        if command.shape != (len(self.robot.command_joints),) or not np.isfinite(command).all():
            self.refuse(f"command {brief(command.tolist())}: need {len(self.robot.command_joints)} finite values "
                        f"for {list(self.robot.command_joints)}")
            return
        if self.p["mode"] == "lockstep" and stamp is not None and stamp != self.state_stamp:
            self.late_commands += 1
            return
        self.last_command, self.last_command_time = command.copy(), time.monotonic()
        if self.p["mode"] == "lockstep" and self.running:
            self.step(command)

    def refuse(self, why: str) -> None:
        self.faults += 1
        self.get_logger().warning(f"ignoring {why}", throttle_duration_sec=1.0)

    def resend_if_waiting(self) -> None:
        """Lockstep: a command may have been lost, or the policy restarted; offer the state again."""
        if self.running and time.monotonic() - self.state_sent >= self.p["action_timeout"]:
            self.publish_state()

    def on_tick(self) -> None:
        now = time.monotonic()
        if now - self.next_tick > self.period:
            self.missed_deadlines += 1
        self.next_tick = max(self.next_tick + self.period, now)
        if not self.running:
            return
        fresh = self.last_command_time is not None and now - self.last_command_time <= self.p["action_timeout"]
        self.step(self.last_command if fresh else self.robot.idle_command)

    def publish_diagnostics(self) -> None:
        values = {"episode": self.episode, "sim_time": f"{self.ticks * self.dt:.3f}", "command_faults": self.faults,
                  "missed_deadlines": self.missed_deadlines, "late_commands": self.late_commands,
                  "running": self.running}
        troubled = self.faults or self.missed_deadlines
        self.diagnostics_publisher.publish(diagnostics.status_report(
            self, "simulation", self.p["model_xml"] or self.p["env_id"], diagnostics.WARN if troubled else diagnostics.OK,
            "commands refused or deadlines missed" if troubled else "ok", values))

    # services -------------------------------------------------------------------------

    def on_reset(self, request, response):
        if self.running:
            self.end_episode(terminated=False)
        if self.finished:
            response.success, response.message = False, self.finished_message()
            return response
        if not self.running:
            self.begin_episode()
        response.success, response.message = True, f"episode {self.episode} started with seed {self.seed}"
        return response

    def finished_message(self) -> str:
        return f"all {self.p['max_episodes']} episodes played (parameter max_episodes); exiting"

    def on_randomize(self, request, response):
        if not isinstance(self.env, RandomizedPhysics):
            response.success, response.message = False, "no randomization profile set (parameter randomization_profile)"
            return response
        self.env.redraw()
        return self.on_reset(request, response)

    def on_evaluate(self, request, response):
        self.evaluating = request.data
        if request.data:
            self.eval_count = 0
        response.success = True
        response.message = f"next episodes use {'evaluation' if request.data else 'training'} seeds"
        return response

    def on_start_episode(self, request, response):
        if self.finished or self.running:
            response.success = False
            response.message = self.finished_message() if self.finished else f"episode {self.episode} is still running"
            return response
        self.begin_episode()
        response.success, response.message = True, f"episode {self.episode} ({self.phase}) started with seed {self.seed}"
        return response


def main(args: list[str] | None = None) -> int:
    return run_node(SimBridge, args)


if __name__ == "__main__":
    raise SystemExit(main())
