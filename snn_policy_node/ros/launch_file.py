"""Read a ROS 2 YAML launch file into the nodes it starts, with ``ros2 launch``'s semantics.

The files under ``launch/`` are ordinary ROS 2 launch files for ``ros2 launch`` on a full ROS
install; this reader lets ``snn-robot run`` start them where ROS's launch packages are absent. It
follows launch 3.7.1 and launch_ros 0.28.0 for the subset a user of this package needs:
``arg`` (default, choice), ``let``, ``group`` (scoped, forwarding, keep), ``include`` (YAML files,
with ``arg``), ``push_ros_namespace``, ``set_remap`` and ``node`` (namespace, remap, args,
param files, values and nested params in file order, on_exit: shutdown); ``if``/``unless`` on
each; the substitutions of :mod:`launch_substitutions`. Anything else is an error naming the file,
line and key, never ignored.
"""

import os
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from snn_policy_node.ros.launch_substitutions import PACKAGE, LaunchError, ament_prefix, package_share, substitute

EMPTY_STRING = '""'  # rcl refuses "-p key:=" with nothing after it; the YAML "" is an empty string
CONDITIONS = ("if", "unless")
NAMESPACE = "ros_namespace"  # the launch configuration launch_ros keeps a pushed namespace in


@dataclass
class NodeLaunch:
    executable: str
    name: str | None = None  # None: the node's own name, as its executable sets it
    namespace: str | None = None  # absolute, the pushed namespaces applied
    arguments: list[str] = field(default_factory=list)  # before --ros-args
    remaps: list[tuple[str, str]] = field(default_factory=list)
    parameters: list[tuple[str, str | None]] = field(default_factory=list)  # (file, None) or (name, value), in file order
    shutdown_on_exit: bool = False  # on_exit: shutdown: the graph ends when this node does

    @property
    def label(self) -> str:
        return "/".join(filter(None, [(self.namespace or "").strip("/"), self.name or Path(self.executable).name]))

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
            cmd += ["-r", f"__ns:={self.namespace}"]
        for source, target in self.remaps:
            cmd += ["-r", f"{source}:={target}"]
        for key, value in self.parameters:
            cmd += ["--params-file", key] if value is None else ["-p", f"{key}:={value or EMPTY_STRING}"]
        return cmd


def recording_node(path: str) -> NodeLaunch:
    """The recorder (:mod:`snn_policy_node.ros.recorder`) writing every topic of the graph to ``path``."""
    return NodeLaunch(_executable("recorder"), name="recorder", parameters=[("path", path)])


def live_view_node(port: str) -> NodeLaunch:
    """The live view (:mod:`snn_policy_node.ros.live_view`) streaming every topic to Foxglove on ``port``."""
    return NodeLaunch(_executable("live_view"), name="live_view", parameters=[("port", port)])


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
    """The nodes of the launch file ``path``; ``arguments`` are set before it is read, as
    ``ros2 launch`` sets ``name:=value`` (an argument no file declares is ignored, with a warning)."""
    reader = _Reader()
    reader.read_file(path, Scope(dict(arguments), [], path))
    unknown = set(arguments) - reader.declared
    if unknown:
        print(f"[launch] warning: {path.name} declares no arguments {sorted(unknown)} (it has "
              f"{sorted(reader.declared)}); ignored", file=sys.stderr)
    return reader.nodes


@dataclass
class Scope:
    """Launch's context while it reads: the launch configurations (a pushed namespace among them)
    and the remaps ``set_remap`` added. A scoped group reads its children in a copy; an included
    file shares its includer's."""
    variables: dict[str, str]
    remaps: list[tuple[str, str]]
    file: Path

    def substitute(self, text) -> str:
        return substitute(text, self.variables, self.file)

    def copy(self) -> "Scope":
        return Scope(dict(self.variables), list(self.remaps), self.file)


class _Mapping(dict):
    """A YAML mapping that remembers its line, for errors that point at it."""
    line = 0


class _Loader(yaml.SafeLoader):
    def construct_located_mapping(self, node):
        mapping = _Mapping(self.construct_mapping(node, deep=True))
        mapping.line = node.start_mark.line + 1
        return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_located_mapping)


class _Located(LaunchError):
    """A launch error already prefixed with its file and line."""


class _Reader:
    def __init__(self):
        self.nodes: list[NodeLaunch] = []
        self.declared: set[str] = set()

    def read_file(self, path: Path, scope: Scope) -> None:
        try:
            entities = yaml.load(path.read_text(), Loader=_Loader)["launch"]  # noqa: S506 - a safe loader
        except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
            raise LaunchError(f"{path} is not a YAML launch file: {error}") from None
        self.read(entities, scope)

    def read(self, entities, scope: Scope) -> None:
        if not isinstance(entities, list):
            raise LaunchError(f"{scope.file}: expected a list of entities, got {entities!r}")
        for entity in entities:
            line = getattr(entity, "line", "?")
            try:
                if not isinstance(entity, dict) or len(entity) != 1:
                    raise LaunchError(f"an entity is a mapping with one key, its kind; got {entity!r}")
                (kind, body), = entity.items()
                if kind not in ENTITIES:
                    raise LaunchError(f"launch entity {kind!r} is not supported by this runner (it reads "
                                      f"{', '.join(ENTITIES)})")
                method, keys = ENTITIES[kind]
                if isinstance(body, dict):
                    _check_keys(kind, body, keys + CONDITIONS)
                    if not _condition(body, scope):
                        continue
                method(self, body, scope)
            except _Located:
                raise
            except LaunchError as error:
                raise _Located(f"{scope.file}:{line}: {error}") from None
            except (KeyError, TypeError, AttributeError) as error:  # a required key missing, a wrong shape
                raise _Located(f"{scope.file}:{line}: {entity!r} is malformed ({type(error).__name__}: "
                               f"{error}); see the ROS 2 YAML launch format") from None

    def arg(self, body: dict, scope: Scope) -> None:
        name = body["name"]
        self.declared.add(name)
        if name not in scope.variables:
            if "default" not in body:
                raise LaunchError(f"launch argument {name!r} has no default; give it as {name}:=VALUE")
            scope.variables[name] = scope.substitute(body["default"])
        choices = [str(choice["value"]) for choice in body.get("choice", [])]
        if choices and scope.variables[name] not in choices:
            raise LaunchError(f"argument {name!r} is {scope.variables[name]!r}; valid choices are {choices}")

    def let(self, body: dict, scope: Scope) -> None:
        scope.variables[scope.substitute(body["name"])] = scope.substitute(body["value"])

    def group(self, body, scope: Scope) -> None:
        """Children in a scope of their own unless ``scoped: false``; ``forwarding: false`` starts
        that scope empty but for ``keep``."""
        if isinstance(body, list):
            body = {"children": body}
        if "children" not in body:
            raise LaunchError("a group is a list of entities or a mapping with a children list")
        keep = {scope.substitute(k["name"]): scope.substitute(k["value"]) for k in body.get("keep", [])}
        inner = scope.copy() if body.get("scoped", True) else scope
        if not body.get("forwarding", True):
            inner.variables.clear()
            inner.remaps.clear()
        inner.variables.update(keep)
        self.read(body["children"], inner)

    def include(self, body: dict, scope: Scope) -> None:
        """The file's arguments become launch configurations of the current scope, as launch sets
        them: wrap an include in a group to keep them from the rest of the file."""
        for argument in body.get("arg", []):
            scope.variables[scope.substitute(argument["name"])] = scope.substitute(argument["value"])
        path = Path(scope.substitute(body["file"]))
        if path.suffix not in (".yaml", ".yml"):
            raise LaunchError(f"include {path}: this runner reads YAML launch files only")
        self.read_file(path, Scope(scope.variables, scope.remaps, path))

    def push_ros_namespace(self, body: dict, scope: Scope) -> None:
        namespace = _prefix_namespace(scope.variables.get(NAMESPACE), scope.substitute(body["namespace"]))
        scope.variables[NAMESPACE] = namespace

    def set_remap(self, body: dict, scope: Scope) -> None:
        scope.remaps.append((scope.substitute(body["from"]), scope.substitute(body["to"])))

    def node(self, body: dict, scope: Scope) -> None:
        if body.get("pkg") != PACKAGE:
            raise LaunchError(f"node package {body.get('pkg')!r}: only {PACKAGE}'s nodes can be started here")
        executable = _executable(body["exec"])
        on_exit = body.get("on_exit")
        if on_exit not in (None, "shutdown"):
            raise LaunchError(f"node {body['exec']!r}: on_exit {on_exit!r}; this runner knows on_exit: shutdown")
        own = scope.substitute(body["namespace"]) if "namespace" in body else None
        node = NodeLaunch(
            executable=executable,
            name=scope.substitute(body["name"]) if "name" in body else None,
            namespace=_prefix_namespace(scope.variables.get(NAMESPACE), own),
            arguments=shlex.split(scope.substitute(body.get("args", ""))),
            remaps=scope.remaps + [(scope.substitute(r["from"]), scope.substitute(r["to"])) for r in body.get("remap", [])],
            shutdown_on_exit=on_exit == "shutdown",
        )
        for param in body.get("param", []):
            node.parameters += _parameters(param, scope)
        self.nodes.append(node)


NODE_KEYS = ("pkg", "exec", "name", "namespace", "param", "remap", "args", "output", "on_exit")
ENTITIES = {  # kind: (how it is read, its keys besides if/unless)
    "arg": (_Reader.arg, ("name", "default", "description", "choice")),
    "let": (_Reader.let, ("name", "value")),
    "group": (_Reader.group, ("scoped", "forwarding", "keep", "children")),
    "include": (_Reader.include, ("file", "arg")),
    "push_ros_namespace": (_Reader.push_ros_namespace, ("namespace",)),
    "push-ros-namespace": (_Reader.push_ros_namespace, ("namespace",)),
    "set_remap": (_Reader.set_remap, ("from", "to")),
    "node": (_Reader.node, NODE_KEYS),
}


def _executable(name: str) -> str:
    """Where ``ros2 run`` looks first (``lib/snn_robot`` of a sourced install), then this Python's
    scripts, then PATH."""
    prefix = ament_prefix(PACKAGE)
    search = [str(prefix / "lib" / PACKAGE)] if prefix else []
    search += [str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    executable = shutil.which(name, path=os.pathsep.join(search))
    if executable is None:
        raise LaunchError(f"executable {name!r} not found; is the package installed?")
    return executable


def _check_keys(kind: str, body: dict, known: tuple[str, ...]) -> None:
    unknown = [key for key in body if key not in known]
    if unknown:
        raise LaunchError(f"{kind} {body.get('name', body.get('exec'))!r}: unknown key(s) {unknown}; a {kind} takes "
                          f"{', '.join(known)}")


def _condition(body: dict, scope: Scope) -> bool:
    """An entity's ``if`` and ``unless``: true/false or 1/0, as launch reads them."""
    verdict = True
    for key, wanted in (("if", True), ("unless", False)):
        if key in body:
            value = scope.substitute(body[key]).strip().lower()
            if value not in ("true", "false", "1", "0"):
                raise LaunchError(f"{key}: {body[key]!r} is {value!r}; a condition is true, false, 1 or 0")
            verdict &= (value in ("true", "1")) == wanted
    return verdict


def _prefix_namespace(base: str | None, namespace: str | None) -> str | None:
    """``namespace`` under ``base`` unless it is absolute, made absolute; launch_ros's rule."""
    combined = base if namespace is None else namespace if not base or namespace.startswith("/") else \
        f"{'' if base == '/' else base}/{namespace}"
    if combined is None:
        return None
    combined = combined if combined == "/" else combined.rstrip("/")
    return combined if combined.startswith("/") else "/" + combined


def _parameters(param: dict, scope: Scope, prefix: str = "") -> list[tuple[str, str | None]]:
    """One ``param`` entry: a file (dropped with a warning when it does not exist, as launch does), a
    value, or nested entries (their names joined by dots)."""
    if "from" in param:
        path = scope.substitute(param["from"])
        if not Path(path).is_file():
            print(f"[launch] warning: parameter file {path} does not exist; not passed to the node", file=sys.stderr)
            return []
        return [(path, None)]
    name = prefix + scope.substitute(param["name"])
    if "param" in param:
        return [entry for child in param["param"] for entry in _parameters(child, scope, f"{name}.")]
    if "value" not in param:
        raise LaunchError(f"param {name!r} has neither value, from nor nested param")
    return [(name, scope.substitute(param["value"]))]
