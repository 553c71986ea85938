"""One writer per run directory (shared.run_dir)."""

import pytest
from filelock import FileLock, Timeout

from shared.run_dir import LOCK_NAME, RunDirInUseError, hold_run_dir


def test_second_holder_is_refused_and_lock_is_released_on_error(tmp_path):
    run = tmp_path / "run"
    with hold_run_dir(run):
        assert (run / LOCK_NAME).is_file()
        with hold_run_dir(run):  # nested in one process: passes
            pass
        # another holder (its own descriptor, as another process's) cannot take it
        with pytest.raises(Timeout):
            FileLock(run / LOCK_NAME).acquire(timeout=0)
    with pytest.raises(ValueError, match="boom"), hold_run_dir(run):
        raise ValueError("boom")
    other = FileLock(run / LOCK_NAME)
    other.acquire(timeout=0)  # released by the failed holder
    try:
        with pytest.raises(RunDirInUseError, match=r"in use by another process.*pass another --x"):
            with hold_run_dir(run, other="pass another --x"):
                pass
    finally:
        other.release()


def _hold_in_child(run, queue):
    try:
        with hold_run_dir(run):
            queue.put("entered")
    except RunDirInUseError:
        queue.put("refused")


def test_forked_child_is_refused_like_another_process(tmp_path):
    """A forked child inherits the parent's record of held directories and its thread id;
    it went ahead without the lock its parent holds."""
    import multiprocessing as mp

    if "fork" not in mp.get_all_start_methods():
        pytest.skip("no fork on this platform")
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    with hold_run_dir(tmp_path):
        child = ctx.Process(target=_hold_in_child, args=(tmp_path, queue))
        child.start()
        child.join(60)
    assert queue.get(timeout=10) == "refused"


def test_missing_directory_is_created_only_when_asked(tmp_path):
    with hold_run_dir(tmp_path / "none", create=False):
        pass
    assert not (tmp_path / "none").exists()
    with hold_run_dir(tmp_path / "new"):
        pass
    assert (tmp_path / "new").is_dir()


def test_another_thread_is_refused_like_another_process(tmp_path):
    import threading

    errors = []

    def second():
        try:
            with hold_run_dir(tmp_path):
                pass
        except RunDirInUseError as exc:
            errors.append(exc)

    with hold_run_dir(tmp_path):
        t = threading.Thread(target=second)
        t.start()
        t.join()
    assert len(errors) == 1


def test_run_failing_before_writing_leaves_no_directories_it_made(tmp_path):
    run = tmp_path / "made" / "by" / "run"
    with pytest.raises(ValueError, match="refused"), hold_run_dir(run):
        raise ValueError("refused")
    assert list(tmp_path.iterdir()) == []  # the run directory and the parents it made
    with pytest.raises(KeyboardInterrupt), hold_run_dir(run):
        (run / "metrics.jsonl").write_text("{}\n")
        raise KeyboardInterrupt
    assert sorted(p.name for p in run.iterdir()) == [LOCK_NAME, "metrics.jsonl"]  # kept
    existing = tmp_path / "existing"
    existing.mkdir()
    with pytest.raises(ValueError), hold_run_dir(existing):
        raise ValueError("refused")
    assert existing.is_dir()  # not made by the run: left (with its lock file)


def test_parent_removed_by_another_runs_cleanup_is_made_again(tmp_path, monkeypatch):
    # another run under the same new parent failed at once and removed that parent (empty
    # at that instant) while this one was between making it and making the run directory
    from pathlib import Path

    from shared.run_dir import RunDirError

    run = tmp_path / "new_parent" / "run"
    real_mkdir, raced = Path.mkdir, []

    def racing_mkdir(self, *args, **kwargs):
        if self == run and len(raced) < races:
            raced.append(self)
            real_mkdir(self.parent)  # this run makes the parent ...
            self.parent.rmdir()  # ... and the other run's cleanup removes it
            raise FileNotFoundError(2, "No such file or directory", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", racing_mkdir)
    races = 1
    with pytest.raises(ValueError, match="refused"), hold_run_dir(run):
        assert (run / LOCK_NAME).is_file()
        raise ValueError("refused")
    assert len(raced) == 1
    assert list(tmp_path.iterdir()) == []  # what it made the second time is removed too
    races, raced = 10, []  # a parent that keeps vanishing: refused with the reason
    with pytest.raises(RunDirError, match="FileNotFoundError.*pass another"):
        with hold_run_dir(run):
            pass
    assert len(raced) == 5
