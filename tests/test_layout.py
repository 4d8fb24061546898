"""The package layout's boundaries: which room may import which, read from the source itself."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROS_PACKAGES = {"rclpy", "std_msgs", "sensor_msgs", "nav_msgs", "std_srvs", "rosgraph_msgs", "diagnostic_msgs",
                "builtin_interfaces", "lifecycle_msgs", "rcl_interfaces", "geometry_msgs"}
LAYERS = ("engine", "snn", "ann2snn", "policy", "tasks", "evaluation", "training", "experiments", "reports", "ros")


def modules(package: str) -> list[Path]:
    found = sorted((REPO / package).rglob("*.py"))
    assert found, package
    return found


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute (relative imports resolved against its package)."""
    package = path.relative_to(REPO).with_suffix("").parts[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def room(module: str) -> str | None:
    """The subpackage of ``snn_policy_node`` a module name belongs to (``cli`` for the command line)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "snn_policy_node" and len(parts) > 1 else None


def inside_ros(path: Path) -> bool:
    return "ros" in path.relative_to(REPO).parts[:-1]


def test_only_the_ros_subpackages_import_rclpy_or_ros_messages():
    offenders = {str(p.relative_to(REPO)) for package in ("snn_policy_node", "sim_bridge") for p in modules(package)
                 if not inside_ros(p) and {m.split(".")[0] for m in imports(p)} & ROS_PACKAGES}
    assert not offenders


def test_the_simulator_outside_its_node_never_imports_the_policy_library():
    offenders = {str(p.relative_to(REPO)) for p in modules("sim_bridge")
                 if not inside_ros(p) and any(m.split(".")[0] == "snn_policy_node" for m in imports(p))}
    assert not offenders


def room_imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in modules("snn_policy_node"):
        source = room(".".join(path.relative_to(REPO).with_suffix("").parts))
        if source is None or source == "__init__":
            continue
        targets = {room(m) for m in imports(path)} - {None, source}
        graph.setdefault(source, set()).update(t for t in targets if (REPO / "snn_policy_node" / t).is_dir())
    return graph


def test_every_room_is_a_subpackage_named_in_the_layers():
    rooms = {p.name for p in (REPO / "snn_policy_node").iterdir() if (p / "__init__.py").exists()}
    assert rooms == set(LAYERS)


@pytest.mark.parametrize("source", LAYERS)
def test_rooms_import_only_the_layers_below_them(source):
    allowed = set(LAYERS[: LAYERS.index(source)])
    assert room_imports().get(source, set()) <= allowed


@pytest.mark.parametrize("core", ["engine", "snn"])
def test_the_spiking_core_imports_only_the_engine_and_no_simulator(core):
    offenders = {str(p.relative_to(REPO)) for p in modules(f"snn_policy_node/{core}")
                 if any(m.split(".")[0] == "sim_bridge" or room(m) not in (None, core, "engine") for m in imports(p))}
    assert not offenders


def test_the_checks_see_a_violation():
    """The import reader resolves relative imports, so a forbidden one cannot slip through as ``from ..x``."""
    path = REPO / "snn_policy_node" / "snn" / "neurons.py"
    assert "snn_policy_node.snn.surrogate" in imports(path)
    assert room("snn_policy_node.training.dqn") == "training" and room("sim_bridge.physics") is None
