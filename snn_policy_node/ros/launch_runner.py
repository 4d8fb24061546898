"""Start a ROS 2 YAML launch file's nodes on a machine without the ROS 2 launch system.

The files under ``launch/`` are ordinary ROS 2 launch files for ``ros2 launch`` on a full
ROS install. This reader understands the subset they use (``arg``, ``node`` with ``param``
files and values; the substitutions of :mod:`launch_substitutions`) and starts
each node in its own process, as ``ros2 launch`` does, with real DDS between them. Output
is prefixed with the node's name. When any node exits, the others are stopped (SIGINT,
then SIGTERM, then SIGKILL), and the run's exit code is that node's.
"""

import os
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from snn_policy_node.ros.launch_substitutions import PACKAGE, LaunchError, package_share, substitute

EMPTY_STRING = '""'  # rcl refuses "-p key:=" with nothing after it; the YAML "" is an empty string


@dataclass
class NodeLaunch:
    name: str
    executable: str
    params_files: list[str] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)

    def command(self) -> list[str]:
        cmd = [self.executable, "--ros-args", "-r", f"__node:={self.name}"]
        for path in self.params_files:
            cmd += ["--params-file", path]
        for key, value in self.params.items():
            cmd += ["-p", f"{key}:={value or EMPTY_STRING}"]
        return cmd


def resolve_launch_file(name: str) -> Path:
    """A path, or a scenario name: ``launch/<name>.launch.yaml`` of this package."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    candidate = package_share() / "launch" / f"{name}.launch.yaml"
    if candidate.exists():
        return candidate
    known = sorted(p.name.removesuffix(".launch.yaml") for p in (package_share() / "launch").glob("*.launch.yaml"))
    raise LaunchError(f"no launch file or scenario {name!r}; scenarios: {known}")


def parse_launch(path: Path, arguments: dict[str, str]) -> list[NodeLaunch]:
    """The nodes of the launch file ``path``, with ``arguments`` overriding its arg defaults."""
    try:
        entities = yaml.safe_load(path.read_text())["launch"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        raise LaunchError(f"{path} is not a YAML launch file: {error}") from None
    variables: dict[str, str] = {}
    nodes = []
    for entity in entities:
        (kind, body), = entity.items()
        if kind == "arg":
            name = body["name"]
            if name in arguments:
                variables[name] = arguments[name]
            elif "default" in body:
                variables[name] = substitute(body["default"], variables)
            else:
                raise LaunchError(f"launch argument {name!r} has no default; give it as {name}:=VALUE")
        elif kind == "node":
            nodes.append(_node(body, variables))
        else:
            raise LaunchError(f"launch entity {kind!r} is not supported by this runner")
    unknown = set(arguments) - set(variables)
    if unknown:
        raise LaunchError(f"{path.name} declares no arguments {sorted(unknown)}; it has {sorted(variables)}")
    return nodes


def _node(body: dict, variables: dict[str, str]) -> NodeLaunch:
    if body.get("pkg") != PACKAGE:
        raise LaunchError(f"node package {body.get('pkg')!r}: only {PACKAGE}'s nodes can be started here")
    executable = shutil.which(body["exec"], path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if executable is None:
        raise LaunchError(f"executable {body['exec']!r} not found; is the package installed?")
    node = NodeLaunch(name=substitute(body.get("name", body["exec"]), variables), executable=executable)
    for param in body.get("param", []):
        if "from" in param:
            node.params_files.append(substitute(param["from"], variables))
        else:
            node.params[param["name"]] = substitute(param["value"], variables)
    return node


def run(nodes: list[NodeLaunch], stop_timeout: float = 5.0) -> int:
    """Start every node, relay their output, stop all when one exits; that node's exit code."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "RCUTILS_COLORIZED_OUTPUT": "0"}
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    width = max(len(n.name) for n in nodes)
    processes = []
    exited = threading.Event()
    for node in nodes:
        process = subprocess.Popen(node.command(), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, bufsize=1, start_new_session=True)
        processes.append(process)
        threading.Thread(target=_relay, args=(process, node.name.ljust(width), exited), daemon=True).start()
    previous = signal.signal(signal.SIGTERM, lambda *_: exited.set())
    try:
        exited.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    first = next((p for p in processes if p.poll() is not None), None)
    _stop(processes, stop_timeout)
    if first is not None:
        name = nodes[processes.index(first)].name
        print(f"[launch] {name} exited with code {first.returncode}; stopped the other nodes", flush=True)
        return first.returncode
    return 130


def _relay(process: subprocess.Popen, label: str, exited: threading.Event) -> None:
    for line in process.stdout:
        print(f"[{label}] {line.rstrip()}", flush=True)
    process.wait()
    exited.set()


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
