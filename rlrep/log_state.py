"""What a checkpoint records of a run's logs, so that a resume continues them exactly.

sb3's logger holds values recorded since its last dump (the latest update's ``train/*`` and
auxiliary losses), and TensorBoard's writer buffers events before they reach the event file.
At a checkpoint, :func:`capture` flushes the writers and records both the pending values and
the size of every event file under the run's ``tb/`` folder. A resume
(:func:`restore_event_files`, :func:`restore_pending`) cuts
each event file back to its recorded size, removes the files begun after the checkpoint, and
puts the pending values back into the new logger: every reader of the folder (TensorBoard's
default and legacy loaders alike) then sees what an uninterrupted run wrote, where a writer's
``purge_step`` only hid the killed process's events from the loaders that honour it.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.logger import Logger, TensorBoardOutputFormat

__all__ = ["capture", "restore_event_files", "restore_pending", "event_files"]


def event_files(tb_dir: str | os.PathLike | None) -> set[Path]:
    """The TensorBoard event files of the run's folders ``tb_dir/<run>/``."""
    return set(Path(tb_dir).glob("*/events.out.tfevents.*")) if tb_dir else set()


def capture(logger: Logger, tb_dir: str | os.PathLike | None) -> dict[str, Any]:
    """The logs' state now: ``{"pending": {...}, "event_file_sizes": {...} or None}`` (plain
    types, stored in the checkpoint). Flushes the TensorBoard writers first, so the sizes
    cover every event logged so far."""
    for output in logger.output_formats:
        if isinstance(output, TensorBoardOutputFormat):
            output.writer.flush()
    # scalars only (rlrep records no other kind); a key's count and exclusions go with it,
    # as sb3 pairs them when it dumps
    values = {k: int(v) if isinstance(v, (int, np.integer)) else float(v)
              for k, v in logger.name_to_value.items()
              if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)}
    pending = {
        "values": values,
        "counts": {k: int(v) for k, v in logger.name_to_count.items() if k in values},
        "excluded": {k: list(v) for k, v in logger.name_to_excluded.items() if k in values},
    }
    sizes = None
    if tb_dir is not None:
        sizes = {f"{p.parent.name}/{p.name}": p.stat().st_size for p in event_files(tb_dir)}
    return {"pending": pending, "event_file_sizes": sizes}


def restore_event_files(tb_dir: str | os.PathLike, state: dict[str, Any] | None) -> bool:
    """Cut each event file under ``tb_dir`` back to its size in ``state`` (from
    :func:`capture`) and remove the files begun after it; before any new writer opens a
    file there. A checkpoint written before sizes were recorded (``state`` None) changes
    nothing (the new writer's ``purge_step`` still hides the old events from TensorBoard's
    default loader). A file shorter than recorded (cut by something else) is left, with a
    warning. Returns whether the files were cut back (sizes were recorded)."""
    sizes = (state or {}).get("event_file_sizes")
    if sizes is None:
        return False
    for path in sorted(event_files(tb_dir)):
        recorded = sizes.get(f"{path.parent.name}/{path.name}")
        if recorded is None:  # begun after the checkpoint: nothing in it is the run's
            path.unlink()
        elif path.stat().st_size > recorded:
            os.truncate(path, recorded)
        elif path.stat().st_size < recorded:
            print(f"rlrep: warning: {path} is shorter than at the checkpoint ({recorded} "
                  f"bytes); left as it is", file=sys.stderr)
    return True


def restore_pending(logger: Logger, state: dict[str, Any] | None) -> None:
    """Put the values sb3's logger held at the checkpoint back, to be written with its next
    dump as in an uninterrupted run."""
    pending = (state or {}).get("pending") or {}
    logger.name_to_value.update(pending.get("values", {}))
    logger.name_to_count.update(pending.get("counts", {}))
    logger.name_to_excluded.update({k: tuple(v) for k, v in pending.get("excluded", {}).items()})
