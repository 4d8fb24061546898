import pytest

from snn_policy_node.atomic import atomic_path


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "state.pt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(path) as temporary:
        temporary.write_text("half of the ne")
        raise RuntimeError("interrupted")
    assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]


def test_a_finished_write_replaces_the_file(tmp_path):
    path = tmp_path / "new" / "state.pt"  # folders are made
    with atomic_path(path) as temporary:
        assert temporary.parent == path.parent and temporary != path
        temporary.write_text("new")
    assert path.read_text() == "new" and list(path.parent.iterdir()) == [path]
