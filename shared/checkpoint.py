"""Atomic file writes: a reader (or a resumed run) never sees a half-written file.

Each writer writes to a temporary file in the target's directory, flushes it to disk, then
``os.replace``s it over the target (atomic on POSIX and Windows).
"""

from __future__ import annotations

import json
import math
import os
import pickle
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (changing it
    briefly would race with files other threads create meanwhile)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_for(path: Path) -> int:
    """The permissions a plain ``open(path, "w")`` would leave: the existing file's,
    else ``0o666`` less the umask (``mkstemp`` creates its file with ``0o600``)."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _atomic(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    path = Path(path)
    make_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            try:
                os.fchmod(f.fileno(), _mode_for(path))
            except OSError:  # a filesystem without modes (vfat, some mounts) keeps its own
                pass
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def make_dirs(directory: str | os.PathLike) -> Path:
    """``mkdir -p directory``, then sync the parent of each directory it created, outermost
    first: a new run directory's entry survives a crash along with the file renamed into it."""
    directory = Path(directory)
    created, d = [], directory
    while not d.exists() and d.parent != d:
        created.append(d)
        d = d.parent
    directory.mkdir(parents=True, exist_ok=True)
    for new in reversed(created):
        _fsync_dir(new.parent)
    return directory


def _fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX); a no-op where directories cannot
    be opened or synced (Windows, some network filesystems)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj, path)``, atomically."""
    return _atomic(path, lambda f: torch.save(obj, f))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return _atomic(path, lambda f: f.write(text.encode("utf-8")))


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> Path:
    """Write ``obj`` as strict JSON to ``path`` atomically: a NaN or infinite float
    (an untrained run's best loss) is written as ``null``, which every JSON reader
    accepts (Python's ``NaN`` / ``Infinity`` tokens are not JSON)."""
    return atomic_write_text(path, json.dumps(finite_or_null(obj), indent=indent,
                                              sort_keys=True, allow_nan=False) + "\n")


def finite_or_null(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float inside dicts, lists and tuples replaced
    by ``None``."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_null(v) for v in obj]
    return obj


class CorruptFileError(RuntimeError):
    """A stored file cannot be read back (truncated or corrupt)."""


#: the way out named by default: for files a resumed run writes again
RECOMPUTED = "delete it and run again (a resumed run recomputes what it held)"


def _corrupt(path: str | os.PathLike, exc: BaseException, fix: str) -> CorruptFileError:
    return CorruptFileError(
        f"Cannot read {path}: {type(exc).__name__}: {exc}. The file is truncated or corrupt "
        f"(copied while being written, a full disk?); {fix}.")


def load_file(path: str | os.PathLike, fix: str = RECOMPUTED, **kwargs: Any) -> Any:
    """``torch.load(path, **kwargs)`` of a file that was checked first.

    A file that cannot be read back (cut short, bytes changed: every member of
    ``torch.save``'s zip archive is checked against its stored CRC-32, which
    ``torch.load`` does not do) raises :class:`CorruptFileError` naming it and ``fix``.
    A missing file raises ``FileNotFoundError``; other errors (a device that is not
    there) pass through. ``weights_only`` defaults to ``True`` on every torch version (torch's
    own default from 2.6); a file it refuses raises ``ValueError`` saying so, not that it is
    corrupt.
    """
    checked = isinstance(path, (str, os.PathLike)) and _check_archive(path, fix)
    kwargs.setdefault("weights_only", True)  # torch < 2.6 defaulted to False: any pickle ran
    try:
        return torch.load(path, **kwargs)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise _corrupt(path, exc, fix) from exc
    except pickle.UnpicklingError as exc:
        if "weights only load failed" in str(exc).lower():
            raise ValueError(
                f"Cannot read {path} with weights_only=True: it holds objects beyond "
                f"tensors and plain containers; if you trust the file, pass "
                f"weights_only=False.") from exc
        raise _corrupt(path, exc, fix) from exc
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except OSError as exc:  # torch's reader on an archive cut past its first pages
        if checked:  # the archive is whole: not damage (too many open files, a network error)
            raise
        raise _corrupt(path, exc, fix) from exc
    except RuntimeError as exc:  # torch's zip reader: "failed finding central directory"
        if "zip" not in str(exc).lower() and "archive" not in str(exc).lower():
            raise
        raise _corrupt(path, exc, fix) from exc


def _check_archive(path: str | os.PathLike, fix: str) -> bool:
    """Raise :class:`CorruptFileError` if ``path``, a ``torch.save`` zip archive, is cut
    short or a member fails its CRC-32 (members stored with CRC 0, as torch writes them
    with ``torch.utils.serialization.config.save.compute_crc32 = False``, are not
    checked). Returns whether the archive was checked: files of torch's legacy (non-zip)
    format are left to ``torch.load``, a missing file to its ``FileNotFoundError``."""
    if not Path(path).is_file():
        return False
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":  # not a zip archive: legacy format or garbage
            return False
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if member.CRC == 0:
                    continue
                with archive.open(member) as data:  # reading to the end checks the CRC
                    while data.read(1 << 24):
                        pass
    except (zipfile.BadZipFile, EOFError, OSError) as exc:  # cut short, or "Bad CRC-32"
        raise _corrupt(path, exc, fix) from exc
    return True


def _parse_line(line: bytes) -> Any:
    """One JSON-lines record; ``ValueError`` saying why if it is not UTF-8 JSON."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return json.loads(text)


def read_json_lines(path: str | os.PathLike, fix: str = "delete that line",
                    check: Callable[[Any], str | None] | None = None) -> tuple[list[Any], bool]:
    """The records of a JSON-lines file, written one ``json.dumps(record) + "\\n"`` per
    record, and whether its last line was torn.

    The rule by which this project tells a torn line from damage in the JSON-lines files it
    reads back (rlrep's ``metrics.jsonl``, the tuning sweep's records). graphrep's
    ``metrics.jsonl``, a log only plotted, shares the torn-tail rule (:func:`drop_torn_tail`)
    but its readers skip a damaged line instead of raising.

    - torn: a last line without its newline that does not parse, as a writer killed
      mid-write (or one still writing) leaves it; it is left out (:func:`drop_torn_tail`
      cuts it before the next record is appended). A last line that parses and only lacks
      its newline is a whole record and is kept (records are JSON objects: a cut one
      never parses).
    - blank lines are skipped.
    - any other line that is not UTF-8 JSON, or whose record ``check`` returns a reason
      for (``None`` for a good record), raises :class:`CorruptFileError` naming the file,
      the line number and ``fix``.
    """
    pieces = Path(path).read_bytes().split(b"\n")  # the last: after the last newline
    records, torn = [], False
    for number, line in enumerate(pieces, start=1):
        if not line.strip():
            continue
        try:
            record = _parse_line(line)
        except ValueError as exc:
            if number == len(pieces):  # no newline after it
                torn = True
                break
            raise CorruptFileError(f"Cannot read {path}: line {number}: {exc}; {fix}") from None
        problem = check(record) if check is not None else None
        if problem is not None:
            raise CorruptFileError(f"Cannot read {path}: line {number}: {problem}; {fix}")
        records.append(record)
    return records, torn


def require_keys(*keys: str, what: str = "record") -> Callable[[Any], str | None]:
    """A ``check`` for :func:`read_json_lines`: the record must be an object holding
    ``keys``; the reason names ``what`` it should be and the keys it lacks."""
    def check(record: Any) -> str | None:
        if not isinstance(record, dict):
            return f"not a {what} (a JSON object)"
        missing = [k for k in keys if k not in record]
        return f"not a {what} (no {', '.join(missing)})" if missing else None
    return check


def drop_torn_tail(path: str | os.PathLike) -> bool:
    """Make a JSON-lines file end on a line boundary before a record is appended to it (else
    the record would join the last line): a torn last line (:func:`read_json_lines`) is cut;
    a whole last record that only lacks its newline gets one. Returns whether a torn line
    was cut. A missing file is left missing."""
    try:
        with open(path, "rb") as f:  # read first: a whole file needs no write permission
            end = f.seek(0, os.SEEK_END)
            if not end:
                return False
            f.seek(end - 1)
            if f.read(1) == b"\n":
                return False
    except FileNotFoundError:
        return False
    with open(path, "r+b") as f:
        data = f.read()
        cut = data.rfind(b"\n") + 1
        try:
            _parse_line(data[cut:])
        except ValueError:
            f.truncate(cut)
            return bool(data[cut:].strip())  # trailing blanks are no record
        f.write(b"\n")
        return False


def read_json(path: str | os.PathLike, fix: str = RECOMPUTED,
              expect: type | None = None) -> Any:
    """JSON from ``path``; invalid JSON, or a value that is not an ``expect`` (``dict``
    for a config file) when given, raises :class:`CorruptFileError` naming it and
    ``fix``."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _corrupt(path, exc, fix) from exc
    if expect is not None and not isinstance(value, expect):
        names = {dict: "an object", list: "an array"}
        raise _corrupt(path, TypeError(f"it holds {type(value).__name__} where "
                                       f"{names.get(expect, expect.__name__)} belongs"), fix)
    return value
