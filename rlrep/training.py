"""``rlrep train``: one run directory per run, resumable after ``kill -9``.

``<run_dir>/``: ``config.json`` (every resolved option), ``metrics.jsonl`` (episodes, evaluations),
``tb/`` (TensorBoard: RL losses, auxiliary losses and accuracies, episode returns),
``checkpoints/`` (see :mod:`rlrep.checkpoints`), ``results.json`` (final evaluation), ``.run.lock``
(held while a process trains the run: a second one is refused, :mod:`shared.run_dir`).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.logger import HumanOutputFormat, Logger, TensorBoardOutputFormat
from stable_baselines3.common.utils import configure_logger
from torch.utils.tensorboard import SummaryWriter

from rlrep.callbacks import ProgressBar, RunCallback, metrics_record_problem
from rlrep.checkpoints import checkpoints_newest_first, is_damage, load_checkpoint, remove_leftovers
from rlrep.config import TrainConfig, build_model, model_class
from rlrep.envs import make_vec_env
from rlrep.envs.atari import ATARI_EVAL_PROTOCOL
from rlrep.evaluate import atari_game, human_normalized
from rlrep.log_state import event_files, restore_event_files, restore_pending
from shared.checkpoint import (
    CorruptFileError,
    atomic_write_json,
    atomic_write_text,
    read_json,
    read_json_lines,
)
from shared.run_dir import RunDirError, hold_run_dir
from shared.seeding import seed_everything


def default_run_dir(config: TrainConfig) -> Path:
    env = config.env.replace(":", "_").replace("/", "_")
    aux = config.aux.replace(",", "+")
    return Path("runs") / f"{env}-{aux}-s{config.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def _truncate_metrics(path: Path, step: int) -> dict[str, Any] | None:
    """Drop metric lines logged after the checkpoint at ``step``: those of later steps, and the
    final evaluation (logged after the last checkpoint); the resumed run logs them again.
    A line torn by the kill goes too (:func:`shared.checkpoint.read_json_lines`). Returns the
    final evaluation dropped at ``step`` itself, if any (a run killed after it, before its
    results.json)."""
    if not path.exists():
        return None
    records, _ = read_json_lines(path, check=metrics_record_problem,
                                 fix="delete that line (or the file, losing the run's "
                                     "metrics) and resume again")
    kept = [r for r in records if r["step"] <= step and not r.get("final")]
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
    finals = [r for r in records if r.get("final") and r["step"] == step]
    return finals[-1] if finals else None


def train(config: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train (or continue) the run described by ``config``; returns the ``results.json`` content."""
    th.set_num_threads(config.threads)
    run_dir = Path(config.run_dir) if config.run_dir else default_run_dir(config)
    config.run_dir = str(run_dir)
    # a second process on this directory is refused: it would overwrite the checkpoints
    with hold_run_dir(run_dir, other="pass another --run-dir"):
        return _train(config, resume, run_dir)


def resumed_logger(model: BaseAlgorithm, tb_dir: str | None) -> Logger:
    """sb3's logger for a resumed run, continuing its TensorBoard folder from the checkpoint
    (whose event files :func:`rlrep.log_state.restore_event_files` has cut back to their
    sizes then). The new writer is opened with ``purge_step = S + 1`` (``S`` the checkpoint's
    step) as well, which hides a killed process's later events from TensorBoard's default
    loader where a checkpoint recorded no sizes (written before they were recorded). sb3's
    own writer, replaced here, is closed and its file, which holds no event, removed.
    """
    if tb_dir is None:
        return _plain_logger(model)
    before = event_files(tb_dir)
    logger = configure_logger(model.verbose, tb_dir, "run", reset_num_timesteps=False)
    for output in logger.output_formats:
        if isinstance(output, TensorBoardOutputFormat):
            log_dir = output.writer.log_dir
            output.writer.close()
            for unused in event_files(tb_dir) - before:
                unused.unlink(missing_ok=True)
            output.writer = SummaryWriter(log_dir=log_dir, purge_step=model.num_timesteps + 1)
    return logger


def _plain_logger(model: BaseAlgorithm) -> Logger:
    """sb3's logger without TensorBoard (stdout when ``verbose``), writing no folder: sb3's
    ``configure_logger`` makes an empty ``/tmp/SB3-<time>`` one each time."""
    return Logger(folder=None, output_formats=[HumanOutputFormat(sys.stdout)] if model.verbose else [])


def _discard_tensorboard_runs(tb_dir: str | None) -> None:
    """Remove the ``run_<n>`` folders of an attempt that left no checkpoint: the run starts
    over, so its TensorBoard events (as its metrics) are not this run's."""
    if tb_dir is None:
        return
    for folder in sorted(Path(tb_dir).glob("run_*")):
        if folder.is_dir():
            shutil.rmtree(folder)
            print(f"rlrep: removed {folder}, the TensorBoard log of an attempt that left no "
                  f"checkpoint", file=sys.stderr)


def _train(config: TrainConfig, resume: bool, run_dir: Path) -> dict[str, Any]:
    if config.env_spec.is_atari:  # a missing score table fails here, not after training
        human_normalized(atari_game(config.env), 0.0)
    tb_dir = str(run_dir / "tb") if config.tensorboard else None
    if not resume and ((run_dir / "config.json").exists()
                       or checkpoints_newest_first(run_dir / "checkpoints")):
        # a second run here would overwrite config and metrics but keep the first run's
        # newer checkpoints (pruning keeps the highest steps): the two would mix
        raise RunDirError(f"{run_dir} already holds a run (config.json or checkpoints): "
                          f"continue it with --resume, or pass another --run-dir")
    if resume:
        for path in remove_leftovers(run_dir / "checkpoints"):
            print(f"rlrep: removed {path}, left by a process killed while it wrote a checkpoint",
                  file=sys.stderr)
    candidates = checkpoints_newest_first(run_dir / "checkpoints") if resume else []
    if resume and not candidates:
        print(f"rlrep: no checkpoint under {run_dir / 'checkpoints'}: starting from scratch",
              file=sys.stderr)

    env = make_vec_env(config.env_spec, n_envs=1, seed=config.seed)
    checkpoint, model, errors = None, None, []
    for candidate in candidates:  # a damaged latest checkpoint falls back to the one before
        try:
            model, extra = load_checkpoint(model_class(config), candidate, env, device=config.device,
                                           tensorboard_log=tb_dir)
        except Exception as error:
            if not is_damage(error):  # only damage is skipped: other errors are raised as they are
                raise
            errors.append(f"{candidate}: {type(error).__name__}: {error}")
            print(f"rlrep: warning: cannot load {candidate} ({type(error).__name__}: {error}); "
                  f"trying an older checkpoint", file=sys.stderr)
            continue
        checkpoint = candidate
        break
    if candidates and checkpoint is None:
        raise CorruptFileError(f"no checkpoint under {run_dir / 'checkpoints'} can be loaded ("
                               f"{'; '.join(errors)}); delete the damaged ones (with none left, "
                               f"--resume starts the run over), or train a new run in another "
                               f"--run-dir")
    if checkpoint is not None:
        finished = run_dir / "results.json"
        stored = (read_json(finished, expect=dict)
                  if model.num_timesteps >= config.steps and finished.is_file() else {})
        if stored.get("steps") == model.num_timesteps:
            print(f"rlrep: {run_dir} finished at step {model.num_timesteps} (--steps "
                  f"{config.steps}): {finished} stands; raise --steps to train on",
                  file=sys.stderr)
            env.close()
            return stored
        saved = run_dir / "config.json"
        budget = read_json(saved, expect=dict).get("steps") if saved.is_file() else None
        if isinstance(budget, int) and config.steps < min(budget, model.num_timesteps):
            # (a checkpoint past an unchanged budget is an agent's last rollout overshooting it)
            raise RunDirError(f"{run_dir} is at step {model.num_timesteps} already ({checkpoint.name}): "
                              f"--steps {config.steps} ends before it; pass --steps "
                              f">= {model.num_timesteps}, or omit it")
        counters = extra["counters"]
        logged_final = _truncate_metrics(run_dir / "metrics.jsonl", model.num_timesteps)
        # the options a resume may change (a raised --steps, --device) are the run's now:
        # a later plain --resume (the command printed on Ctrl-C) keeps them
        atomic_write_json(run_dir / "config.json", config.to_dict())
        # results of an earlier, smaller budget are not this run's until it finishes again
        finished.unlink(missing_ok=True)
        print(f"rlrep: resuming {run_dir} from {checkpoint.name} (step {model.num_timesteps})",
              file=sys.stderr)
    else:
        seed_everything(config.seed)
        # built before anything is written: a model that cannot be built leaves no run behind
        model = build_model(config, env, tensorboard_log=tb_dir)
        _discard_tensorboard_runs(tb_dir)
        atomic_write_json(run_dir / "config.json", config.to_dict())
        (run_dir / "metrics.jsonl").write_text("")
        counters, logged_final = None, None

    events_cut = False
    if checkpoint is not None:  # learn() keeps a logger set here (its own would duplicate)
        # (the event files are cut back whether or not this process writes to TensorBoard)
        events_cut = restore_event_files(run_dir / "tb", extra.get("logs"))
        if not events_cut and event_files(run_dir / "tb"):
            print(f"rlrep: note: {checkpoint.name} predates the recorded TensorBoard state: "
                  f"points the killed process logged after it stay in the event files "
                  f"(TensorBoard's default loader hides those after step "
                  f"{model.num_timesteps})", file=sys.stderr)
        model.set_logger(resumed_logger(model, tb_dir))
        restore_pending(model.logger, extra.get("logs"))
    elif tb_dir is None:  # sb3's own would make an empty /tmp/SB3-<time> folder per run
        model.set_logger(_plain_logger(model))
    callback = RunCallback(config, run_dir, counters, logged_train=None if logged_final is None
                           else (logged_final["step"], logged_final.get("train")))
    remaining = config.steps - model.num_timesteps
    # a run already at its budget (killed during its final evaluation) has no learn(): its
    # evaluation writes to the logger set above
    if remaining > 0:
        model.learn(
            remaining,
            callback=CallbackList([callback, ProgressBar(config.steps)]) if config.progress else callback,
            reset_num_timesteps=checkpoint is None,
            tb_log_name="run",
            log_interval=1,
        )
    callback.init_callback(model)
    callback.num_timesteps = model.num_timesteps  # learn() sets it; not run at the budget
    callback.checkpoint()
    if (remaining <= 0 and logged_final is not None
            and len(logged_final.get("returns") or []) == config.final_eval_episodes):
        # killed after its final evaluation, before results.json: that evaluation (of this
        # checkpoint's agent) stands; its TensorBoard point went with the event files' cut
        final = callback.log_evaluation(logged_final, tensorboard=events_cut)
    else:
        final = callback.run_evaluation(config.final_eval_episodes, final=True)
    results: dict[str, Any] = {
        "env": config.env,
        "aux": config.aux,
        "seed": config.seed,
        "steps": model.num_timesteps,
        # environment steps: Atari frames (its spec's repeat is the frame skip, 4), DMC
        # physics steps of the action repeat
        "env_steps": model.num_timesteps * config.env_spec.action_repeat,
        "gradient_updates": int(model._n_updates),
        "eval_returns": final["returns"],
        "eval_mean_return": final["mean_return"],
    }
    if config.env_spec.is_atari:  # what the score means (tables keep protocols apart)
        results["eval_protocol"] = ATARI_EVAL_PROTOCOL
    if config.env_spec.is_atari and final["mean_return"] is not None:
        results["human_normalized_score"] = human_normalized(atari_game(config.env), final["mean_return"])
    atomic_write_json(run_dir / "results.json", results)
    env.close()
    return results
