"""Start a ROS 2 YAML launch file's nodes on a machine without the ROS 2 launch system.

The files under ``launch/`` are ordinary ROS 2 launch files for ``ros2 launch`` on a full
ROS install. This reader understands the subset they use (``arg``, ``node`` with ``param``
files and values; the substitutions of :mod:`launch_substitutions`) and starts
each node in its own process, as ``ros2 launch`` does, with real DDS between them. Output
is prefixed with the node's name. The graph ends as under ``ros2 launch``: when a node marked
``on_exit: shutdown`` exits (the others get SIGINT, then SIGTERM, then SIGKILL), or when all have.
A key or construct it does not know is an error that names it, never ignored.
"""

import os
import queue
import shlex
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


NODE_KEYS = ("pkg", "exec", "name", "namespace", "param", "remap", "args", "output", "on_exit", "if", "unless")
ARG_KEYS = ("name", "default", "description")


@dataclass
class NodeLaunch:
    executable: str
    name: str | None = None  # None: the node's own name, as its executable sets it
    namespace: str | None = None
    arguments: list[str] = field(default_factory=list)  # before --ros-args
    remaps: list[tuple[str, str]] = field(default_factory=list)
    parameters: list[tuple[str, str | None]] = field(default_factory=list)  # (file, None) or (name, value), in file order
    shutdown_on_exit: bool = False  # on_exit: shutdown: the graph ends when this node does

    @property
    def label(self) -> str:
        return self.name or Path(self.executable).name

    @property
    def params(self) -> dict[str, str]:
        return {name: value for name, value in self.parameters if value is not None}

    @property
    def params_files(self) -> list[str]:
        return [path for path, value in self.parameters if value is None]

    def command(self) -> list[str]:
        cmd = [self.executable, *self.arguments, "--ros-args"]
        if self.name is not None:
            cmd += ["-r", f"__node:={self.name}"]
        if self.namespace is not None:
            cmd += ["-r", f"__ns:={'/' + self.namespace.lstrip('/')}"]
        for source, target in self.remaps:
            cmd += ["-r", f"{source}:={target}"]
        for key, value in self.parameters:
            cmd += ["--params-file", key] if value is None else ["-p", f"{key}:={value or EMPTY_STRING}"]
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
            _check_keys("arg", body, ARG_KEYS)
            name = body["name"]
            if name in arguments:
                variables[name] = arguments[name]
            elif "default" in body:
                variables[name] = substitute(body["default"], variables)
            else:
                raise LaunchError(f"launch argument {name!r} has no default; give it as {name}:=VALUE")
        elif kind == "node":
            _check_keys("node", body, NODE_KEYS)
            if _condition(body, variables):
                nodes.append(_node(body, variables))
        else:
            raise LaunchError(f"launch entity {kind!r} is not supported by this runner (it reads arg and node)")
    unknown = set(arguments) - set(variables)
    if unknown:  # ros2 launch ignores them too, silently
        print(f"[launch] warning: {path.name} declares no arguments {sorted(unknown)} (it has {sorted(variables)}); "
              "ignored", file=sys.stderr)
    return nodes


def _check_keys(kind: str, body: dict, known: tuple[str, ...]) -> None:
    unknown = [key for key in body if key not in known]
    if unknown:
        raise LaunchError(f"{kind} {body.get('name', body.get('exec'))!r}: unknown key(s) {unknown}; a {kind} takes "
                          f"{', '.join(known)}")


def _condition(body: dict, variables: dict[str, str]) -> bool:
    """A node's ``if`` and ``unless``: true/false or 1/0, as launch reads them."""
    verdict = True
    for key, wanted in (("if", True), ("unless", False)):
        if key in body:
            value = substitute(body[key], variables).strip().lower()
            if value not in ("true", "false", "1", "0"):
                raise LaunchError(f"{key}: {body[key]!r} is {value!r}; a condition is true, false, 1 or 0")
            verdict &= (value in ("true", "1")) == wanted
    return verdict


def _node(body: dict, variables: dict[str, str]) -> NodeLaunch:
    if body.get("pkg") != PACKAGE:
        raise LaunchError(f"node package {body.get('pkg')!r}: only {PACKAGE}'s nodes can be started here")
    executable = shutil.which(body["exec"], path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if executable is None:
        raise LaunchError(f"executable {body['exec']!r} not found; is the package installed?")
    on_exit = body.get("on_exit")
    if on_exit not in (None, "shutdown"):
        raise LaunchError(f"node {body['exec']!r}: on_exit {on_exit!r}; this runner knows on_exit: shutdown")
    node = NodeLaunch(
        executable=executable,
        name=substitute(body["name"], variables) if "name" in body else None,
        namespace=substitute(body["namespace"], variables) if "namespace" in body else None,
        arguments=shlex.split(substitute(body.get("args", ""), variables)),
        remaps=[(substitute(r["from"], variables), substitute(r["to"], variables)) for r in body.get("remap", [])],
        shutdown_on_exit=on_exit == "shutdown",
    )
    for param in body.get("param", []):
        node.parameters += _parameters(param, variables)
    return node


def _parameters(param: dict, variables: dict[str, str], prefix: str = "") -> list[tuple[str, str | None]]:
    """One ``param`` entry: a file (dropped with a warning when it does not exist, as launch does), a
    value, or nested entries (their names joined by dots)."""
    if "from" in param:
        path = substitute(param["from"], variables)
        if not Path(path).is_file():
            print(f"[launch] warning: parameter file {path} does not exist; not passed to the node", file=sys.stderr)
            return []
        return [(path, None)]
    name = prefix + substitute(param["name"], variables)
    if "param" in param:
        return [entry for child in param["param"] for entry in _parameters(child, variables, f"{name}.")]
    if "value" not in param:
        raise LaunchError(f"param {name!r} has neither value, from nor nested param")
    return [(name, substitute(param["value"], variables))]


def run(nodes: list[NodeLaunch], stop_timeout: float = 5.0) -> int:
    """Start every node and relay its output, as ``ros2 launch`` does: the graph ends when a node
    with ``on_exit: shutdown`` exits (its exit code), when every node has exited (the first
    non-zero code, else 0), or on SIGINT/SIGTERM (130)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "RCUTILS_COLORIZED_OUTPUT": "0"}
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
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
