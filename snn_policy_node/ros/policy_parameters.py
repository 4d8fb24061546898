"""The policy node's parameters: what each means, which values it refuses, and what they build.

Every function takes ``param``, the node's getter (a parameter's value, None for a typed one
left unset), so that what a setting means reads apart from the node that wires topics. Per-joint
``safety.*`` values follow the checkpoint's action order (``snn-robot inspect``: contract.commands.joints).
"""

from collections.abc import Callable

from rclpy.parameter import Parameter

from snn_policy_node.policy.decimation import FILLS
from snn_policy_node.policy.model_io import load_model
from snn_policy_node.policy.policy import Policy
from snn_policy_node.policy.safety import EntryBound, SafetyConfig
from snn_policy_node.policy.specs import ActionSpec
from snn_policy_node.ros.common import messages
from snn_policy_node.ros.common.parameters import check_choice
from snn_policy_node.snn.dsqn import DSQN
from snn_policy_node.snn.node_perturbation import PerturbationRule
from snn_policy_node.tasks import dsqn_task
from snn_policy_node.tasks.adaptation import ACTOR_SIGNIFICANCE_PAIR, SIGNIFICANCE_PAIR, pair_rule

Getter = Callable[[str], object]

PARAMETERS = {
    "checkpoint": ("", "policy checkpoint (.safetensors) to load"),
    "trusted_key": ("", "Ed25519 public key (PEM): load only checkpoints its owner signed (snn-robot sign); "
                    "empty: any intact checkpoint"),
    "joint_states_topic": (messages.JOINT_STATES, "sensor_msgs/JointState input"),
    "odometry_topic": (messages.ODOMETRY, "nav_msgs/Odometry input, read when the policy observes a floating base"),
    "imu_topic": (messages.IMU, "sensor_msgs/Imu input, read with base_source 'imu'"),
    "base_source": ("odometry", "a floating base's state: 'odometry' (all of it) or 'imu' (orientation and angular "
                    "velocity from imu_topic, position and linear velocity from odometry)"),
    "robot_joints": (Parameter.Type.STRING_ARRAY, "the joints the robot's joint states list: a joint the policy "
                     "observes or commands that it lacks fails configuration; unset: each joint state is checked "
                     "for the observed joints as it comes"),
    "controller_joints": (Parameter.Type.STRING_ARRAY, "the command controller's joints in its order (its 'joints' "
                          "parameter): commands go out in this order; unset: the checkpoint's order"),
    "command_topic": (messages.COMMANDS, "std_msgs/Float64MultiArray output, in controller_joints' order (unset: "
                      "the action spec's)"),
    "command_format": ("float64_multiarray", "'float64_multiarray' (ros2_control forward command controllers) or "
                       "'joint_state' (JointState efforts stamped with the joint state they answer)"),
    "mode": ("event", "'event': one command per joint-state message; 'rate': commands at rate_hz"),
    "rate_hz": (50.0, "command rate in rate mode"),
    "policy_period": (-1.0, "rate mode: seconds between network runs; -1: the checkpoint's control period (every "
                      "tick if it records none); 0: every tick"),
    "decimation": ("hold", "rate mode, between network runs: 'hold' the last command, or 'interpolate' from the "
                   "previous one to the newest over one policy period (smoother, one period of lag)"),
    "command_timeout": (0.5, "seconds after the newest joint state when commanding stops"),
    "calibration_iterations": ("0", "spiking actor calibration I: 0, 1, 2, ... or 'adaptive'"),
    "plastic_layer": (-1, "weight layer that learns online (DSQN: r-STDP; spiking actor: node perturbation); -1: none"),
    "rule": ("", "the plastic layer's rule: '' the model kind's own (DSQN r-STDP, spiking actor dense node "
             "perturbation), or 'pair' (either kind: a held offset in the layer's currents, +xi then -xi over two "
             "episodes, a step along the rewarded one; the r-STDP service must run third_factor 'pair')"),
    "pair.exploration": (-1.0, "pair rule: std of xi in thresholds; -1: the deployment study's for the model kind"),
    "pair.step": (-1.0, "pair rule: ||dw|| per pair at most this share of the trained weights' norm; -1: the study's"),
    "pair.seed": (0, "pair rule: seed of xi's draws (one per episode; the study's runs draw with its seed + 2)"),
    "max_weight_change": (0.0, "DSQN: ||dw|| per update at most this share of the trained weights' norm; 0: unbounded"),
    "exploration": (PerturbationRule.exploration, "spiking actor: noise std in the plastic layer's currents, in thresholds"),
    "trace_steps": (PerturbationRule.trace_steps, "spiking actor: eligibility decay time, in control steps"),
    "reward_window": (PerturbationRule.window, "spiking actor: rewards the baseline of the prediction error averages"),
    "step_size": (PerturbationRule.step, "spiking actor: ||dw|| per update, as a share of the trained weights' norm"),
    "diagnostics_period": (1.0, "seconds between /diagnostics reports"),
    "safety.fade_in": (SafetyConfig.fade_in, "seconds over which commands blend from the safe command to the "
                       "policy's after activation or a reset; 0: none"),
    "safety.command_low": (Parameter.Type.DOUBLE_ARRAY, "lowest command per action joint (1 value or one per "
                           "joint); unset: the checkpoint's action bounds"),
    "safety.command_high": (Parameter.Type.DOUBLE_ARRAY, "highest command per action joint; unset: the checkpoint's"),
    "safety.max_rate": (list(SafetyConfig.max_rate), "largest command change per second per joint (1 value or one "
                        "per joint), safe commands too; .inf: none"),
    "safety.bounded_entries": (Parameter.Type.STRING_ARRAY, "observation entries with bounds, as the checkpoint "
                               "names them (joint.field, e.g. pole_hinge.position); a reading outside trips the layer"),
    "safety.bounds_low": (Parameter.Type.DOUBLE_ARRAY, "lower bound of each bounded entry, raw units"),
    "safety.bounds_high": (Parameter.Type.DOUBLE_ARRAY, "upper bound of each bounded entry, raw units"),
    "safety.max_reading": (SafetyConfig.max_reading, "|raw observation entry| beyond which a reading trips the layer"),
    "safety.max_tilt": (SafetyConfig.max_tilt, "radians of base tilt (orientation from odometry or the IMU) that trip the layer; .inf: none"),
    "safety.fault_limit": (SafetyConfig.fault_limit, "faulty readings in a row that trip the layer; 0: never"),
    "safety.safe_action": (list(SafetyConfig.safe_action), "the latched command per joint (1 value or one per "
                           "joint): 'zero', 'hold' (the last command) or 'damping' (-kd x joint velocity)"),
    "safety.damping": (list(SafetyConfig.damping), "kd of the damping safe action, per joint (1 value or one per joint)"),
    "autostart": (True, "configure and activate at start-up"),
}


def check(param: Getter) -> None:
    """Refuse settings that would fail half-way through configuration."""
    if not param("checkpoint"):
        raise ValueError("parameter 'checkpoint' is empty; give the path of a .safetensors policy")
    check_choice("mode", param("mode"), ("event", "rate"))
    check_choice("rule", param("rule"), ("", "pair"))
    if not param("max_weight_change") >= 0:
        raise ValueError(f"max_weight_change must be >= 0 (0: unbounded), got {param('max_weight_change')!r}")
    check_choice("command_format", param("command_format"), messages.COMMAND_FORMATS)
    check_choice("base_source", param("base_source"), ("odometry", "imu"))
    check_choice("decimation", param("decimation"), FILLS)
    if not (param("policy_period") >= 0 or param("policy_period") == -1):
        raise ValueError(f"policy_period must be seconds >= 0, or -1 for the checkpoint's, got {param('policy_period')!r}")
    for key in ("rate_hz", "command_timeout", "diagnostics_period"):
        if not param(key) > 0:  # NaN too
            raise ValueError(f"{key} must be a positive number of {'Hz' if key == 'rate_hz' else 'seconds'}, "
                             f"got {param(key)!r}")


def safety_config(param: Getter) -> SafetyConfig:
    entries = param("safety.bounded_entries") or []
    low, high = param("safety.bounds_low") or [], param("safety.bounds_high") or []
    if not len(entries) == len(low) == len(high):
        raise ValueError(f"safety.bounded_entries ({len(entries)}), safety.bounds_low ({len(low)}) and "
                         f"safety.bounds_high ({len(high)}) need one value per bounded entry")
    return SafetyConfig(
        fade_in=param("safety.fade_in"),
        command_low=tuple(param("safety.command_low") or ()),
        command_high=tuple(param("safety.command_high") or ()),
        max_rate=tuple(param("safety.max_rate")),
        bounds=tuple(EntryBound(*bound) for bound in zip(entries, low, high)),
        max_reading=param("safety.max_reading"),
        max_tilt=param("safety.max_tilt"),
        fault_limit=param("safety.fault_limit"),
        safe_action=tuple(param("safety.safe_action")),
        damping=tuple(param("safety.damping")),
    )


def load_policy(param: Getter) -> Policy:
    """The checkpoint as a policy, with the calibration and plasticity the parameters ask for."""
    iterations = param("calibration_iterations")
    iterations = iterations if iterations == "adaptive" else int(iterations)
    layer = param("plastic_layer")
    model, checkpoint = load_model(param("checkpoint"), param("trusted_key") or None)
    if layer < 0:
        return Policy(model, checkpoint, iterations=iterations)
    if param("rule") == "pair":
        chosen = SIGNIFICANCE_PAIR if isinstance(model, DSQN) else ACTOR_SIGNIFICANCE_PAIR
        exploration, step = (param(f"pair.{key}") if param(f"pair.{key}") != -1 else chosen[key]
                             for key in ("exploration", "step"))
        return Policy(model, checkpoint, iterations=iterations, plastic_layer=layer, pair=pair_rule(exploration, step),
                      seed=param("pair.seed"))
    if isinstance(model, DSQN):
        rstdp = dsqn_task(checkpoint.provenance.get("env_id", "")).rstdp
        bound = param("max_weight_change") or None
        return Policy(model, checkpoint, iterations=iterations, plastic_layer=layer, rstdp=rstdp, max_change=bound)
    rule = PerturbationRule(param("exploration"), param("trace_steps"), param("reward_window"), param("step_size"))
    return Policy(model, checkpoint, iterations=iterations, plastic_layer=layer, perturbation=rule)


def network_period(param: Getter, action: ActionSpec) -> float:
    """Seconds between network runs asked for: event mode runs it on every reading."""
    if param("mode") == "event":
        return 0.0
    period = param("policy_period")
    return (action.period or 0.0) if period < 0 else period
