import signal
import time

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


def _writer(path, started):
    """A process that dies, or is killed, in the middle of a save."""
    import subprocess
    import sys

    code = ("import sys, time; from pathlib import Path; from snn_policy_node.atomic import atomic_path\n"
            "with atomic_path(sys.argv[1]) as t:\n"
            "    t.write_text('half'); Path(sys.argv[2]).touch(); time.sleep(60)\n")
    process = subprocess.Popen([sys.executable, "-c", code, str(path), str(started)])
    deadline = time.monotonic() + 30
    while not started.exists():
        assert time.monotonic() < deadline and process.poll() is None, "the writer never started its save"
        time.sleep(0.05)
    return process


def test_temporaries_of_killed_writers_are_removed_by_the_next_save_and_live_ones_kept(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_text("old")
    killed = _writer(path, tmp_path / "a")
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    orphan = tmp_path / f".model.safetensors.{killed.pid}.tmp"
    assert orphan.exists() and path.read_text() == "old"
    live = _writer(path, tmp_path / "b")
    try:
        with atomic_path(path) as temporary:
            temporary.write_text("new")
        assert not orphan.exists() and path.read_text() == "new"
        assert (tmp_path / f".model.safetensors.{live.pid}.tmp").exists()  # still being written
    finally:
        live.kill()
        live.wait()
