"""Start a launch file's nodes on a machine without the ROS 2 launch system, as ``ros2 launch`` does.

Each node (as :mod:`launch_file` reads them) runs in its own process, with real DDS between
them, its output prefixed with its name. The graph ends as under ``ros2 launch``: when a node
marked ``on_exit: shutdown`` exits (the others get SIGINT, then SIGTERM, then SIGKILL), or when
all have.
"""

import os
import queue
import signal
import subprocess
import threading

from snn_policy_node.ros.common.process import loopback_env
from snn_policy_node.ros.launch_file import NodeLaunch


def run(nodes: list[NodeLaunch], stop_timeout: float = 5.0) -> int:
    """Start every node and relay its output, as ``ros2 launch`` does: the graph ends when a node
    with ``on_exit: shutdown`` exits (its exit code), when every node has exited (the first
    non-zero code, else 0), or on SIGINT/SIGTERM (130)."""
    env = loopback_env(PYTHONUNBUFFERED="1", RCUTILS_COLORIZED_OUTPUT="0")
    width = max(len(n.label) for n in nodes)
    processes, exits = [], queue.SimpleQueue()  # SimpleQueue: safe to put from a signal handler
    for index, node in enumerate(nodes):
        process = subprocess.Popen(node.command(), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, bufsize=1, start_new_session=True)
        processes.append(process)
        threading.Thread(target=_relay, args=(process, node.label.ljust(width), exits, index), daemon=True).start()
    previous = signal.signal(signal.SIGTERM, lambda *_: exits.put(None))
    code, running = 130, len(nodes)
    try:
        while running:
            index = exits.get()
            if index is None:
                break
            running -= 1
            node, returncode = nodes[index], processes[index].returncode
            if node.shutdown_on_exit:
                print(f"[launch] {node.label} exited with code {returncode} (on_exit: shutdown); stopping the "
                      "other nodes", flush=True)
                code = returncode
                break
            print(f"[launch] {node.label} exited with code {returncode}", flush=True)
        else:
            code = next((p.returncode for p in processes if p.returncode), 0)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    _stop(processes, stop_timeout)
    return code


def _relay(process: subprocess.Popen, label: str, exits: queue.SimpleQueue, index: int) -> None:
    for line in process.stdout:
        print(f"[{label}] {line.rstrip()}", flush=True)
    process.wait()
    exits.put(index)


def _stop(processes: list[subprocess.Popen], timeout: float) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        running = [p for p in processes if p.poll() is None]
        for process in running:
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                pass
        for process in running:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
