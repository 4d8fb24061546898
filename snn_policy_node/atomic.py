"""Files replaced whole: an interruption leaves the old file or the new one, never part of one."""

import glob
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; once the block ends without error it is
    flushed to disk and replaces ``path``. On error ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphans(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        _fsync(temporary, os.O_RDONLY)
        os.replace(temporary, path)
        _fsync(path.parent, os.O_RDONLY)
    finally:
        temporary.unlink(missing_ok=True)


def remove_orphans(path: Path) -> list[Path]:
    """Delete temporary files beside ``path`` left by writers that died mid-save (kill -9):
    ``.NAME.PID.tmp`` whose process no longer runs. A live writer's file is left alone."""
    removed = []
    for orphan in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = orphan.name[len(path.name) + 2 : -len(".tmp")]
        if pid.isdigit() and not _running(int(pid)):
            orphan.unlink(missing_ok=True)
            removed.append(orphan)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _fsync(path: Path, flags: int) -> None:
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
