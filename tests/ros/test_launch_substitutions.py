"""Launch substitutions as the ROS 2 launch frontend reads them: nesting, quotes, escapes, the ament index."""

import pytest

from snn_policy_node.ros.launch_substitutions import LaunchError, package_share, substitute

VARIABLES = {"which": "robot", "robot": "Hopper-v5", "empty": ""}


@pytest.mark.parametrize("text, expected", [
    ("plain text", "plain text"),
    ("$(var robot)", "Hopper-v5"),
    ("models/$(var $(var which))/actor", "models/Hopper-v5/actor"),  # nested
    ("$(env SNN_ROBOT_UNSET 'fall back')", "fall back"),  # quotes go, spaces inside stay
    ('$(env SNN_ROBOT_UNSET "$(var robot)")', "Hopper-v5"),  # substitutions expand inside double quotes
    ("$(env SNN_ROBOT_UNSET '')", ""),
    ("\\$(var robot)", "$(var robot)"),  # an escaped dollar is text
    ("[$(var empty)]", "[]"),
    (True, "true"),
    (3, "3"),
    ("$(eval '2 * pi > 6')", "True"),  # the math module's names, as launch's eval has them
])
def test_substitutions(text, expected, monkeypatch):
    monkeypatch.delenv("SNN_ROBOT_UNSET", raising=False)
    assert substitute(text, VARIABLES) == expected


def test_an_environment_variable_that_is_set_wins_over_its_default(monkeypatch):
    monkeypatch.setenv("SNN_ROBOT_SET", "from the environment")
    assert substitute("$(env SNN_ROBOT_SET 'default')", {}) == "from the environment"


@pytest.mark.parametrize("text, message", [
    ("$(var missing)", "'missing' is not declared"),
    ("$(env SNN_ROBOT_UNSET)", "is not set"),
    ("$(anon talker)", r"\$\(anon\) is not supported by this runner"),
    ("$(eval '1 / 0')", "ZeroDivisionError"),
    ("$(dirname)", "not in one"),
    ("$(var robot", "unterminated substitution"),
    ("$(env X 'open", "unterminated ' quote"),
    ("$(var a b)", "takes 1-1 arguments, got 2"),
])
def test_what_cannot_be_substituted_is_named(text, message, monkeypatch):
    monkeypatch.delenv("SNN_ROBOT_UNSET", raising=False)
    with pytest.raises(LaunchError, match=message):
        substitute(text, VARIABLES)


def test_find_pkg_share_reads_the_ament_index_of_a_sourced_install(tmp_path, monkeypatch):
    """As ``source install/setup.bash`` leaves it: AMENT_PREFIX_PATH and a marker per package."""
    for package in ("snn_robot", "nav2_bringup"):
        (tmp_path / "share/ament_index/resource_index/packages").mkdir(parents=True, exist_ok=True)
        (tmp_path / "share/ament_index/resource_index/packages" / package).touch()
        (tmp_path / "share" / package).mkdir(exist_ok=True)
    monkeypatch.setenv("AMENT_PREFIX_PATH", f"/nonexistent:{tmp_path}")
    assert substitute("$(find-pkg-share nav2_bringup)/launch", {}) == f"{tmp_path}/share/nav2_bringup/launch"
    assert package_share() == tmp_path / "share/snn_robot"  # an install wins over the source tree
    monkeypatch.delenv("AMENT_PREFIX_PATH")
    assert (package_share() / "package.xml").exists()  # the source tree
