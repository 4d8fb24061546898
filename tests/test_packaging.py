"""Packaging checks: the colcon build of the ROS 2 package, package.xml, and entry points."""

from __future__ import annotations

import ast
import importlib.metadata as md
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DIST_NAME = "snn_robot"


def _normalize(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


@pytest.mark.slow
def test_colcon_build_installs_ament_package(tmp_path: Path) -> None:
    out = tmp_path / "ws"
    proc = subprocess.run(
        [str(REPO_ROOT / "scripts" / "colcon-build.sh"), str(out)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"colcon build failed ({proc.returncode}):\n{proc.stdout}"
    install = out / "install" / DIST_NAME
    marker = install / "share" / "ament_index" / "resource_index" / "packages" / DIST_NAME
    script = install / "lib" / DIST_NAME / "snn-robot"
    assert marker.is_file(), proc.stdout
    assert script.is_file(), proc.stdout
    assert os.access(script, os.X_OK)
    assert (install / "share" / DIST_NAME / "package.xml").is_file()
    # what `ros2 run snn_robot snn-robot run ...` starts, in a sourced install: the share and the node
    # executables come from the install (the ament index), not from this source tree
    shown = subprocess.run(["bash", "-c", f"source {out}/install/setup.bash && {script} run cartpole_rstdp --print"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    lines = shown.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["sim_bridge", "snn_policy", "rstdp_service"], shown.stdout
    for line in lines:
        executable, *rest = line.split(": ", 1)[1].split()
        assert executable.startswith(f"{install}/lib/{DIST_NAME}/"), line
        assert f"--params-file {install}/share/{DIST_NAME}/config/cartpole_rstdp.yaml" in line, line
    assert f"checkpoint:={install}/share/{DIST_NAME}/models/dsqn/CartPole-v0/seed0/model.safetensors" in lines[1]


def test_package_xml_declares_ros_dependencies() -> None:
    root = ET.parse(REPO_ROOT / "package.xml").getroot()
    assert root.tag == "package"
    assert root.get("format") == "3"
    assert root.findtext("name") == DIST_NAME
    exec_depends = {e.text.strip() for e in root.findall("exec_depend") if e.text}
    assert {"rclpy", "sensor_msgs"} <= exec_depends
    assert root.findtext("export/build_type") == "ament_python"


def _setup_py_console_scripts() -> set[str]:
    """Names of the console_scripts declared literally in setup.py."""
    tree = ast.parse((REPO_ROOT / "setup.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict):
            continue
        for key, value in zip(node.keys, node.values):
            if isinstance(key, ast.Constant) and key.value == "console_scripts":
                for item in ast.literal_eval(value):
                    names.add(item.split("=", 1)[0].strip())
    return names


def test_console_scripts_resolve_to_callables() -> None:
    declared = _setup_py_console_scripts()
    assert declared, "setup.py declares no console_scripts"
    eps = [
        ep
        for ep in md.entry_points(group="console_scripts")
        if ep.dist is not None and _normalize(ep.dist.name) == _normalize(DIST_NAME)
    ]
    assert eps, f"no console_scripts entry points installed for {DIST_NAME} (run scripts/bootstrap.sh)"
    installed = {ep.name for ep in eps}
    assert installed == declared, (
        f"installed entry points {sorted(installed)} differ from setup.py {sorted(declared)}; "
        "re-run scripts/bootstrap.sh"
    )
    for ep in eps:
        obj = ep.load()
        assert callable(obj), f"{ep.name} -> {ep.value} is not callable"
