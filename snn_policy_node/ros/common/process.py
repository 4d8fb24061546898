"""Running one node as a process: start-up errors as clear messages, clean exits.

Nodes spin on rclpy's EventsExecutor (lower latency than the SingleThreadedExecutor at
kHz rates). Its C++ spin does not return on SIGINT, so the process handles SIGINT and
SIGTERM itself and spins in short slices, checking between them whether to stop.
"""

import os
import signal
import subprocess
import sys
import weakref
from collections.abc import Callable

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.experimental import EventsExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

SPIN_SLICE_S = 0.1  # longest wait before a signal is noticed


class StartupError(RuntimeError):
    """The node cannot start as configured (bad checkpoint, bad parameter): say why, exit 2."""


_ending: weakref.WeakSet[Node] = weakref.WeakSet()


def end_process(node: Node) -> None:
    """Let ``run_node`` return 0 once the current callback is done (its replies still go out)."""
    _ending.add(node)


def run_node(factory: Callable[[], Node], args: list[str] | None = None) -> int:
    """Create the node, spin it until a signal or :func:`end_process`, return the exit code."""
    rclpy.init(args=args if args is not None else sys.argv, signal_handler_options=SignalHandlerOptions.NO)
    signals: list[int] = []
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda received, _frame: signals.append(received))
    node = None
    try:
        node = factory()
        executor = EventsExecutor()
        executor.add_node(node)
        while not signals and node not in _ending and node.context.ok():
            executor.spin_once(timeout_sec=SPIN_SLICE_S)
        return 0
    except (StartupError, ParameterException) as error:  # ParameterException: a parameter of the wrong type
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    except ExternalShutdownException:
        return 0
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


def loopback_env(**extra: str) -> dict[str, str]:
    """This process's environment for a node it starts: DDS on this machine unless the user said otherwise."""
    return {**os.environ, "ROS_AUTOMATIC_DISCOVERY_RANGE": os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST"),
            **extra}


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGINT, as a user's Ctrl-C; SIGKILL if the node has not ended within ``timeout`` s."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
