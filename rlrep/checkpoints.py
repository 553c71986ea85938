"""Checkpoints that let a killed run continue exactly where it stopped.

Layout of ``<run_dir>/checkpoints/``::

    step_000020000/model.zip           SB3 save: policy, optimizers, aux heads, counters, last obs
    step_000020000/replay_buffer.pkl   the SegmentReplayBuffer with its segment trackers
    step_000020000/state.pt            RNG states (python, numpy, torch, action spaces), env snapshots, run counters,
                                       the buffer file's CRC-32 (checked before it is loaded)
    LATEST                             name of the newest complete checkpoint

A checkpoint is written into a temporary directory and published with one ``os.replace``, then
``LATEST`` is rewritten atomically (``shared.checkpoint``); a ``kill -9`` at any moment leaves the
previous checkpoint intact. Rewriting an existing step first moves it aside (``.old-step_*``);
if a kill leaves ``LATEST`` naming a step that is gone, :func:`latest_checkpoint` takes the
newest complete one, moved-aside copies included.
"""

from __future__ import annotations

import os
import pickle
import random
import shutil
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm

from rlrep.envs import get_vec_env_snapshot, set_vec_env_snapshot
from shared.checkpoint import CorruptFileError, atomic_save, atomic_write_text, load_file, make_dirs


def _rng_state(model: BaseAlgorithm) -> dict[str, Any]:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": th.get_rng_state(),
        # every CUDA device's generator (augmentation crops draw on the policy's device)
        "cuda": th.cuda.get_rng_state_all() if th.cuda.is_initialized() else None,
        "model_action_space": model.action_space.np_random.bit_generator.state,
        "env_action_space": model.get_env().action_space.np_random.bit_generator.state,  # type: ignore[union-attr]
    }


def _crc32(path: Path, chunk: int = 1 << 24) -> int:
    """CRC-32 of a file (an Atari-100k buffer is ~1 GB: read in 16 MiB chunks)."""
    crc = 0
    with open(path, "rb") as f:
        while block := f.read(chunk):
            crc = zlib.crc32(block, crc)
    return crc


def _set_rng_state(model: BaseAlgorithm, state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    th.set_rng_state(state["torch"])
    cuda = state.get("cuda")  # absent in checkpoints written before it was kept
    usable = bool(cuda) and th.cuda.is_available() and len(cuda) == th.cuda.device_count()
    if usable:
        th.cuda.set_rng_state_all(cuda)
    elif model.device.type == "cuda":
        # saved by a CPU run, before CUDA started, or with other GPUs visible: loading
        # seeded CUDA with the run's --seed (SB3's _setup_model), so each resume would
        # replay the stream's first draws (augmentation crops, SAC's actions); seeded from
        # the run's seed and step instead
        th.cuda.manual_seed_all((int(model.seed or 0) * 1_000_003 + model.num_timesteps) % 2**63)
        print(f"rlrep: the checkpoint holds no CUDA random state for this machine's "
              f"{th.cuda.device_count()} GPU(s); CUDA draws continue from the run's seed and "
              f"step, not as an uninterrupted run's would", file=sys.stderr)
    model.action_space.np_random.bit_generator.state = state["model_action_space"]
    model.get_env().action_space.np_random.bit_generator.state = state["env_action_space"]  # type: ignore[union-attr]


def save_checkpoint(model: BaseAlgorithm, directory: Path, extra: dict[str, Any], keep: int = 2) -> Path:
    """Write ``directory/step_<num_timesteps>`` atomically and point ``LATEST`` at it."""
    make_dirs(directory)
    name = f"step_{model.num_timesteps:09d}"
    tmp = directory / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model.save(tmp / "model.zip")
    model.save_replay_buffer(tmp / "replay_buffer.pkl")  # type: ignore[attr-defined]
    state = {"rng": _rng_state(model), "env": get_vec_env_snapshot(model.get_env()), "extra": extra,
             "replay_buffer_crc32": _crc32(tmp / "replay_buffer.pkl")}
    atomic_save(state, tmp / "state.pt")
    final = directory / name
    old = directory / f".old-{name}-{os.getpid()}"
    if final.exists():  # moved aside, not deleted, until the new copy is in place
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(tmp, final)
    atomic_write_text(directory / "LATEST", name)
    shutil.rmtree(old, ignore_errors=True)
    steps = sorted(p for p in directory.glob("step_*") if p.is_dir())
    # steps past this one are of a timeline the run left: a resume starts below them only
    # when they could not be loaded (damaged); kept, they would outrank the run's own
    # checkpoints, which would then be the ones pruned
    for stale in (p for p in steps if p.name > name):
        shutil.rmtree(stale, ignore_errors=True)
        print(f"rlrep: removed {stale}, a checkpoint past the one just written (step "
              f"{model.num_timesteps}) that the run resumed without", file=sys.stderr)
    for old in [p for p in steps if p.name <= name][:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def remove_leftovers(directory: Path) -> list[Path]:
    """Delete what a process killed while writing a checkpoint left under ``directory``:
    its ``.tmp-step_*`` folder (never published) and any ``.old-step_*`` copy whose
    ``step_*`` is complete again (an ``.old-`` copy that is the only complete one of its
    step is kept: :func:`latest_checkpoint` reads it). Each may hold a whole replay buffer.
    Call it only while holding the run directory (:mod:`shared.run_dir`): another writer's
    temporary folder would go too. Returns what was deleted."""
    gone = list(directory.glob(".tmp-step_*"))
    for old in directory.glob(".old-step_*"):
        step = old.name.removeprefix(".old-").split("-")[0]
        if (directory / step / "state.pt").is_file():
            gone.append(old)
    for path in gone:
        shutil.rmtree(path, ignore_errors=True)
    return gone


def _complete_newest_first(directory: Path) -> list[Path]:
    """Every complete checkpoint left under ``directory``, newest step first (a step moved
    aside, ``.old-step_*``, still holds a complete checkpoint)."""
    def step(p: Path) -> str:
        return p.name.removeprefix(".old-").split("-")[0]

    complete = [p for p in (*directory.glob("step_*"), *directory.glob(".old-step_*"))
                if (p / "state.pt").is_file()]
    return sorted(complete, key=step, reverse=True)


def latest_checkpoint(directory: Path) -> Path | None:
    """The checkpoint ``LATEST`` names; if ``LATEST`` is missing (a kill between publishing
    the first checkpoint and writing it), empty, or names no complete checkpoint (one gone
    while it was being rewritten, or damaged), the newest complete ``step_*`` left."""
    pointer = directory / "LATEST"
    if pointer.is_file():
        name = pointer.read_text(errors="replace").strip()
        path = directory / name
        if name and path.parent == directory and (path / "state.pt").is_file():
            return path
    complete = _complete_newest_first(directory)
    return complete[0] if complete else None


def checkpoints_newest_first(directory: Path) -> list[Path]:
    """Every complete checkpoint under ``directory``, :func:`latest_checkpoint` first, then
    the older ones kept (``keep``), newest first: the fallbacks for a damaged latest."""
    latest = latest_checkpoint(directory)
    if latest is None:
        return []
    return [latest, *(p for p in _complete_newest_first(directory) if p != latest)]


#: what loading a damaged (truncated, overwritten) checkpoint file raises; anything else
#: (a missing device, an incompatible environment) is not damage and is not skipped
DAMAGED = (CorruptFileError, zipfile.BadZipFile, EOFError, pickle.UnpicklingError)


def is_damage(error: BaseException) -> bool:
    """Whether ``error`` (or the error it was raised from: SB3 turns a bad zip into a
    ``ValueError``) says a checkpoint file is damaged."""
    return isinstance(error, DAMAGED) or isinstance(error.__cause__, DAMAGED)


def load_checkpoint(model_class: type[BaseAlgorithm], path: Path, env: Any, device: str = "auto",
                    **load_kwargs: Any) -> tuple[BaseAlgorithm, dict[str, Any]]:
    """Rebuild the model on ``env`` (a fresh env of the same spec) and ``device``, restore
    buffer, env state and RNGs."""
    # force_reset=False keeps the saved last observation: the restored env continues from it.
    state = load_file(path / "state.pt", weights_only=False)  # CRC-checked (shared.checkpoint)
    for part in ("model.zip", "replay_buffer.pkl"):  # damage: an older checkpoint is tried
        if not (path / part).is_file():
            raise CorruptFileError(f"{path / part} is missing: the checkpoint is incomplete")
    buffer = path / "replay_buffer.pkl"
    expected = state.get("replay_buffer_crc32")  # absent in checkpoints written before it was kept
    if expected is not None and _crc32(buffer) != expected:
        raise CorruptFileError(f"Cannot read {buffer}: its CRC-32 differs from the one stored "
                               f"when it was written (a changed or truncated file)")
    model = model_class.load(path / "model.zip", env=env, device=device, force_reset=False,
                             **load_kwargs)
    model.load_replay_buffer(buffer)  # type: ignore[attr-defined]
    set_vec_env_snapshot(model.get_env(), state["env"])
    _set_rng_state(model, state["rng"])
    return model, state["extra"]
