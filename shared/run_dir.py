"""One writer per run directory.

A run directory (checkpoints, metrics, results) written by two processes at once ends up
holding neither run: each overwrites the other's files. :func:`hold_run_dir` holds
``<run_dir>/.run.lock`` while a process writes it and refuses a second one at once. The
lock is an OS file lock (``filelock``): the system releases it however the holder ends,
so a killed run leaves no stale lock behind (on POSIX the empty lock file stays). A
directory made by :func:`hold_run_dir` that holds nothing but the lock when the run fails
(it was refused, or interrupted, before writing anything) is removed again.

Example::

    with hold_run_dir("runs/cora"):
        ...  # train, checkpoint, write results
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.checkpoint import make_dirs

__all__ = ["LOCK_NAME", "RunDirError", "RunDirInUseError", "hold_run_dir"]

#: file name of the lock inside a run directory
LOCK_NAME = ".run.lock"

#: tries to make the directory and take its lock while other runs remove the empty
#: parents they made (see :func:`_remove_if_only_lock`)
_MKDIR_ATTEMPTS = 5

#: (run directory, thread) pairs this process holds, so nested calls in a thread pass
#: (another thread is refused, like another process)
_HELD: set[tuple[Path, int]] = set()
if hasattr(os, "register_at_fork"):  # a forked child inherits the set and the thread id,
    # not the lock: it must take the lock itself, and be refused like another process
    os.register_at_fork(after_in_child=_HELD.clear)


class RunDirError(RuntimeError):
    """The run directory cannot be used (not creatable, not writable, or in use)."""


class RunDirInUseError(RunDirError):
    """Another process is writing the run directory."""


@contextmanager
def hold_run_dir(run_dir: str | os.PathLike, create: bool = True,
                 other: str = "pass another run directory") -> Iterator[None]:
    """Hold ``run_dir`` for this process.

    Args:
        run_dir: the directory.
        create: make a missing directory; if False a missing one is not held (there is
            nothing in it to protect; the caller reports it missing).
        other: the way out named in the error (e.g. ``"pass another --out-dir"``).

    Raises:
        RunDirInUseError: another process (or another thread of this one) holds it.
            Calls nested in one thread pass.
        RunDirError: the directory cannot be made or locked (a file in its place, no
            permission).
    """
    from filelock import FileLock, Timeout

    run = Path(run_dir).resolve()
    key = (run, threading.get_ident())
    if key in _HELD or not (create or run.is_dir()):
        yield
        return
    lock = FileLock(run / LOCK_NAME)
    made: list[Path] = []  # what mkdir makes, removed again if the run fails at once
    try:
        for attempt in range(_MKDIR_ATTEMPTS):
            made = [d for d in (run, *run.parents) if d in made or not d.exists()]
            try:
                make_dirs(run)
                lock.acquire(timeout=0)
                break
            except FileNotFoundError:
                # another run that failed at once removed a parent it had made while this
                # one was making the directories under it: make them again
                if attempt == _MKDIR_ATTEMPTS - 1:
                    raise
    except Timeout:
        raise RunDirInUseError(
            f"{run} is in use by another process (it holds {run / LOCK_NAME}); wait for "
            f"it to finish or {other}.") from None
    except OSError as exc:  # a file in the way, no permission, a read-only filesystem
        raise RunDirError(f"Cannot use {run} as a run directory: {type(exc).__name__}: "
                          f"{exc}; {other}.") from exc
    _HELD.add(key)
    try:
        yield
    except BaseException:
        if made:  # a run refused before writing anything leaves no empty directories
            _remove_if_only_lock(made)
        raise
    finally:
        _HELD.discard(key)
        lock.release()


def _remove_if_only_lock(made: list[Path]) -> None:
    """Remove the run directory ``made[0]`` if it holds nothing but its lock file, and
    the empty parents made with it (``made[1:]``). Called while holding the lock."""
    try:
        if [p.name for p in made[0].iterdir()] != [LOCK_NAME]:
            return
        (made[0] / LOCK_NAME).unlink()
        for d in made:
            d.rmdir()  # fails on a directory something else wrote meanwhile: left as it is
    except OSError:
        pass
