"""Running one node as a process: start-up errors as clear messages, clean exits."""

import sys
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node


class StartupError(RuntimeError):
    """The node cannot start as configured (bad checkpoint, bad parameter): say why, exit 2."""


class ExitRequest(Exception):
    """Raised by a node's callback to end the process with ``code``."""

    def __init__(self, code: int = 0):
        super().__init__(code)
        self.code = code


def run_node(factory: Callable[[], Node], args: list[str] | None = None) -> int:
    """Create the node, spin it until shutdown or an :class:`ExitRequest`, return the exit code."""
    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    try:
        node = factory()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
        return 0
    except StartupError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    except ExitRequest as request:
        return request.code
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
