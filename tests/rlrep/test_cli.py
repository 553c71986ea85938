"""End to end: short runs for every --aux choice, flag errors, kill -9 and resume."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rlrep.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--learning-starts", "60", "--buffer-size", "1000", "--batch-size", "16", "--eval-freq", "100000",
        "--final-eval-episodes", "0", "--no-progress", "--no-tensorboard"]


def _saved_heads(run_dir: Path) -> set[str]:
    """Names of the auxiliary heads in the run's last checkpoint (``aux_heads.pth`` of its model.zip)."""
    import zipfile

    (latest,) = sorted((run_dir / "checkpoints").glob("step_*"))[-1:]
    with zipfile.ZipFile(latest / "model.zip") as z, z.open("aux_heads.pth") as f:
        return {key.split(".")[0] for key in torch.load(f, weights_only=True)}


def _heads(aux: str) -> set[str]:
    return set() if aux == "none" else set(aux.split(","))


@pytest.mark.slow
@pytest.mark.parametrize("aux", ["none", "rcrl", "curl", "rcrl,curl"])
def test_pong_every_aux(tmp_path, aux, capsys):
    main(["train", "--env", "PongNoFrameskip-v4", "--aux", aux, "--steps", "200", "--run-dir", str(tmp_path), *TINY])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["steps"] == 200 and results["gradient_updates"] > 100
    assert results["env_steps"] == 800  # frames: frame skip 4
    assert results["eval_protocol"] == "fire-after-life-loss"  # what the score means
    assert _saved_heads(tmp_path) == _heads(aux)  # the agent carries (and saves) what --aux asked for
    # the final record keeps the last training logs; with RCRL, how its segments closed
    final = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert final["final"] and ("aux/rcrl_loss" in final["train"]) == ("rcrl" in aux)
    segments = {k for k in final["train"] if k.startswith("rcrl/")}
    assert ("rcrl/rows_closed_by_length_cap" in segments) == ("rcrl" in aux)
    if aux == "none":  # eval reports the human-normalised score, as train's results do
        from rlrep.evaluate import human_normalized

        capsys.readouterr()
        assert main(["eval", str(tmp_path), "--episodes", "1"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["human_normalized_score"] == human_normalized("Pong", out["mean_return"])


@pytest.mark.slow
@pytest.mark.parametrize("aux", ["none", "rcrl", "curl", "rcrl,curl"])
def test_dmc_state_every_aux(tmp_path, aux):
    main(["train", "--env", "dmc-state:cartpole-swingup", "--aux", aux, "--steps", "250", "--run-dir", str(tmp_path), *TINY])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["gradient_updates"] > 100
    assert results["env_steps"] == 250 * 8  # cartpole's action repeat
    assert "eval_protocol" not in results  # an Atari protocol
    assert _saved_heads(tmp_path) == _heads(aux)


@pytest.mark.slow
def test_dmc_pixels_smoke(tmp_path):
    flags = [f if f != "16" else "8" for f in TINY]
    main(["train", "--env", "dmc:cartpole-swingup", "--aux", "rcrl,curl", "--steps", "80", "--run-dir", str(tmp_path), *flags])
    assert json.loads((tmp_path / "results.json").read_text())["steps"] == 80


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--env", "Pong-v5"], "PongNoFrameskip-v4"),
        (["--env", "PongNoFrameskip-v4", "--aux", "spr"], "use --aux none, rcrl, curl or rcrl,curl"),
        (["--env", "PongNoFrameskip-v4", "--steps", "0"], "--steps must be positive"),
        (["--env", "PongNoFrameskip-v4", "--rcrl-partners", "all"], "invalid choice"),
        (["--aux", "rcrl"], "--env is required"),
        (["--env", "PongNoFrameskip-v4", "--resume"], "--resume needs --run-dir"),
        (["--env", "PongNoFrameskip-v4", "--action-repeat", "8"], "drop --action-repeat 8"),
        (["--env", "PongNoFrameskip-v4", "--aux", "rcrl", "--batch-size", "7"],
         "the batch size must be even, got 7: use an even --batch-size or --rcrl-partners extra"),
        (["--env", "PongNoFrameskip-v4", "--device", "gpu"], "--device must be auto, cpu, cuda"),
        (["--env", "PongNoFrameskip-v4", "--aux", "none,rcrl"], "'none' stands alone"),
        (["--env", "PongNoFrameskip-v4", "--aux", ""], "empty --aux"),
        (["--env", "PongNoFrameskip-v4", "--seed", "-1"], "--seed must be in [0, 2**32)"),
        (["--env", "PongNoFrameskip-v4", "--learning-rate", "-1"], "--learning-rate must be a finite number > 0"),
        (["--env", "PongNoFrameskip-v4", "--segment-max-length", "0"], "--segment-max-length must be >= 1"),
        (["--env", "PongNoFrameskip-v4", "--rcrl-embed-dim", "0"], "--rcrl-embed-dim must be >= 1"),
        (["--env", "PongNoFrameskip-v4", "--buffer-size", "10"],
         "--segment-max-length (32) must be smaller than --buffer-size (10)"),
        # the agent's default buffer counts too: this one failed inside the buffer, after
        # config.json was written, which left a run directory no command could use
        (["--env", "dmc-state:cartpole-swingup", "--segment-max-length", "100000"],
         "must be smaller than the agent's default buffer size (100000)"),
        (["--env", "PongNoFrameskip-v4", "--buffer-size", "3", "--segment-max-length", "1"],
         "--buffer-size (3) must be at least the 4 frames PongNoFrameskip-v4 stacks"),
        (["--env", "dmc:cartpole-swingup", "--buffer-size", "2", "--segment-max-length", "1"],
         "--buffer-size (2) must be at least the 3 frames"),
        (["--env", "PongNoFrameskip-v4", "--curl-momentum", "2"], "--curl-momentum must be in [0, 1]"),
        (["--env", "PongNoFrameskip-v4", "--rcrl-weight", "-1"], "--rcrl-weight must be a finite number >= 0"),
        (["--env", "PongNoFrameskip-v4", "--aux", "rcrl", "--batch-size", "2"], "needs --batch-size >= 4"),
        (["--env", "dmc:cartpole-swingup", "--aux", "curl", "--batch-size", "1"],
         "CURL needs --batch-size >= 2"),
        (["--env", "PongNoFrameskip-v4", "--device", "meta"], "--device must be auto, cpu, cuda"),
        (["--env", "dmc-state:cartpole-swingup", "--segment-threshold", "inf"],
         "--segment-threshold must be a finite number > 0"),
        (["--env", "dmc-state:cartpole-swingup", "--segment-threshold", "0"],
         "--segment-threshold must be a finite number > 0"),
        # options that did nothing where given, accepted silently before
        (["--env", "dmc-state:cartpole-swingup", "--n-steps", "5"], "--n-steps sets the Atari agent"),
        (["--env", "PongNoFrameskip-v4", "--segment-threshold", "2"], "drop it for PongNoFrameskip-v4"),
        (["--env", "PongNoFrameskip-v4", "--eval-epsilon", "7"], "--eval-epsilon must be a probability"),
        (["--env", "PongNoFrameskip-v4", "--aux", "none", "--rcrl-weight", "2"],
         "--rcrl-weight set RCRL, which --aux 'none' does not train"),
        (["--env", "PongNoFrameskip-v4", "--aux", "rcrl", "--curl-momentum", "0.1"],
         "--curl-momentum set CURL, which --aux 'rcrl' does not train"),
    ],
)
def test_bad_flags(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(["train", *argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def _run(run_dir: Path, *extra: str) -> subprocess.Popen:
    """Start a training process; its stderr goes to a file (``_stderr``), not a pipe nobody
    reads while the test waits on the other process."""
    cmd = [sys.executable, "-m", "rlrep.cli", "train", "--env", "dmc-state:cartpole-swingup", "--aux", "rcrl",
           "--steps", "500", "--checkpoint-freq", "150", "--keep-checkpoints", "5", "--run-dir", str(run_dir), *TINY, *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = run_dir.with_name(f"{run_dir.name}-{'-'.join(extra) or 'run'}.err")
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def _stderr(proc: subprocess.Popen) -> str:
    return proc.log.read_text(errors="replace")[-2000:]  # type: ignore[attr-defined]


def _final_params(run_dir: Path) -> dict:
    """Every tensor file of the final SB3 save (policy, optimisers, auxiliary heads)."""
    import zipfile

    with zipfile.ZipFile(run_dir / "checkpoints" / "step_000000500" / "model.zip") as z:
        names = sorted(n for n in z.namelist() if n.endswith(".pth"))
        assert {"policy.pth", "aux_heads.pth"} <= set(names), names
        out = {}
        for name in names:
            with z.open(name) as f:
                state = torch.load(f, weights_only=True)
            out.update({f"{name}:{k}": v for k, v in _flat(state).items()})
        return out


def _flat(state, prefix: str = "") -> dict:
    """Nested state dicts (an optimiser's) -> ``{"a.b.c": leaf}``."""
    if isinstance(state, dict):
        return {k: v for key, sub in state.items() for k, v in _flat(sub, f"{prefix}{key}.").items()}
    if isinstance(state, (list, tuple)):
        return {k: v for i, sub in enumerate(state) for k, v in _flat(sub, f"{prefix}{i}.").items()}
    return {prefix.rstrip("."): state}


def _same(a, b) -> bool:
    return torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b


def _final_buffer(run_dir: Path) -> dict:
    """The replay buffer's arrays (observations, segment ids and lengths, returns...)."""
    import pickle

    import numpy as np

    with open(run_dir / "checkpoints" / "step_000000500" / "replay_buffer.pkl", "rb") as f:
        buffer = pickle.load(f)
    return {k: v for k, v in vars(buffer).items() if isinstance(v, np.ndarray)}


@pytest.mark.slow
def test_kill_and_resume_gives_same_result(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    reference = _run(straight)
    victim = _run(killed)
    deadline = time.time() + 900  # a guard against a hung child, not a speed target
    while not (killed / "checkpoints" / "step_000000300").exists():  # wait past the second checkpoint
        if victim.poll() is not None or time.time() > deadline:
            victim.kill()
            pytest.fail(f"the run to kill never reached step 300: {_stderr(victim)}")
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert reference.wait() == 0, _stderr(reference)
    resumed = _run(killed, "--resume")
    assert resumed.wait() == 0, _stderr(resumed)
    a, b = _final_params(straight), _final_params(killed)
    assert a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    buf_a, buf_b = _final_buffer(straight), _final_buffer(killed)
    assert "segment_ids" in buf_a and buf_a.keys() == buf_b.keys()
    import numpy as np
    assert all(np.array_equal(buf_a[k], buf_b[k], equal_nan=buf_a[k].dtype.kind == "f") for k in buf_a)
    res_a = json.loads((straight / "results.json").read_text())
    res_b = json.loads((killed / "results.json").read_text())
    assert res_a["steps"] == res_b["steps"] == 500 and res_a["gradient_updates"] == res_b["gradient_updates"]
    episodes = lambda d: [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    assert episodes(straight) == episodes(killed)


@pytest.mark.parametrize("given, expected", [([], 700), (["--steps", "900"], 900), (["--steps=900"], 900)])
def test_resume_keeps_the_runs_budget_unless_steps_is_given(tmp_path, monkeypatch, given, expected):
    import rlrep.training
    from rlrep.config import TrainConfig

    config = TrainConfig(env="dmc-state:cartpole-swingup", steps=700, seed=3)
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
    seen = {}
    monkeypatch.setattr(rlrep.training, "train", lambda cfg, resume: seen.update(cfg=cfg, resume=resume) or {})
    monkeypatch.setattr(sys, "argv", ["rlrep"])  # not the caller's argv: main() is given its own
    assert main(["train", "--run-dir", str(tmp_path), "--resume", *given]) == 0
    assert seen["resume"] and seen["cfg"].steps == expected and seen["cfg"].seed == 3
    assert main(["train", "--env", "dmc-state:cartpole-swingup", "--run-dir", str(tmp_path / "new")]) == 0
    assert seen["cfg"].steps == TrainConfig(env="PongNoFrameskip-v4").steps  # the default budget
    assert seen["cfg"].device == "auto"  # a new run's default device
    # the run's device is kept on resume unless --device is given
    (tmp_path / "config.json").write_text(json.dumps({**config.to_dict(), "device": "cpu"}))
    assert main(["train", "--run-dir", str(tmp_path), "--resume"]) == 0
    assert seen["cfg"].device == "cpu"
    assert main(["train", "--run-dir", str(tmp_path), "--resume", "--device", "auto"]) == 0
    assert seen["cfg"].device == "auto"


def test_eval_needs_at_least_one_episode(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["eval", str(tmp_path), "--episodes", "0"])
    assert info.value.code == 2 and "must be >= 1, got 0" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--device", "gpu"], "--device must be auto, cpu, cuda"),
    (["--device", "mps"], "--device must be auto, cpu, cuda"),
    (["--seed", "-1"], "--seed must be in [0, 2**32)"),
])
def test_eval_refuses_bad_device_and_seed(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(["eval", str(tmp_path), *argv])
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_eval_on_cuda_without_cuda_is_refused_like_train(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as info:
        main(["eval", str(tmp_path), "--device", "cuda"])  # ran on CPU silently before
    assert info.value.code == 2 and "no CUDA device" in capsys.readouterr().err


def test_latest_checkpoint_survives_a_kill_while_it_is_rewritten(tmp_path):
    from rlrep.checkpoints import latest_checkpoint

    for step in (100, 200):
        (tmp_path / f"step_{step:09d}").mkdir()
        (tmp_path / f"step_{step:09d}" / "state.pt").write_bytes(b"x")
    (tmp_path / "LATEST").write_text("step_000000200")
    assert latest_checkpoint(tmp_path) == tmp_path / "step_000000200"
    # killed after the old step_200 was moved aside and before the new one replaced it
    (tmp_path / "step_000000200").rename(tmp_path / ".old-step_000000200-1")
    assert latest_checkpoint(tmp_path) == tmp_path / ".old-step_000000200-1"  # still complete
    import shutil

    shutil.rmtree(tmp_path / ".old-step_000000200-1")
    assert latest_checkpoint(tmp_path) == tmp_path / "step_000000100"


def test_latest_checkpoint_does_not_trust_a_bad_pointer(tmp_path):
    """``LATEST`` empty (resolved to the folder itself), naming a step without its
    state.pt, or missing (a kill before the first was written): the newest complete step."""
    from rlrep.checkpoints import checkpoints_newest_first, latest_checkpoint

    for step in (100, 200, 300):
        (tmp_path / f"step_{step:09d}").mkdir()
        (tmp_path / f"step_{step:09d}" / "state.pt").write_bytes(b"x")
    (tmp_path / "step_000000300" / "state.pt").unlink()  # incomplete
    for pointer in ("", "\n", "step_000000300", "..", None):
        (tmp_path / "LATEST").unlink(missing_ok=True)
        if pointer is not None:
            (tmp_path / "LATEST").write_text(pointer)
        assert latest_checkpoint(tmp_path) == tmp_path / "step_000000200", pointer
        assert checkpoints_newest_first(tmp_path) == [tmp_path / f"step_{s:09d}" for s in (200, 100)]
    (tmp_path / "LATEST").write_text("step_000000100")  # a valid pointer still wins
    assert latest_checkpoint(tmp_path) == tmp_path / "step_000000100"


def test_leftovers_of_a_killed_checkpoint_write_are_removed(tmp_path):
    from rlrep.checkpoints import latest_checkpoint, remove_leftovers

    for name in ("step_000000100", "step_000000200", ".tmp-step_000000300-77",
                 ".old-step_000000200-77", ".old-step_000000300-78"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "state.pt").write_bytes(b"x")
    (tmp_path / "LATEST").write_text("step_000000300")  # killed before step_300 was published
    removed = remove_leftovers(tmp_path)
    assert sorted(p.name for p in removed) == [".old-step_000000200-77", ".tmp-step_000000300-77"]
    # the moved-aside step 300 is the only complete copy of its step: kept, and still read
    assert latest_checkpoint(tmp_path) == tmp_path / ".old-step_000000300-78"


def test_resume_drops_what_was_logged_after_the_checkpoint(tmp_path):
    from rlrep.training import _truncate_metrics

    path = tmp_path / "metrics.jsonl"
    records = [{"type": "episode", "step": 90, "return": 1.0, "length": 9},
               {"type": "eval", "step": 100, "returns": [], "mean_return": None},
               {"type": "episode", "step": 120, "return": 2.0, "length": 12},
               {"type": "eval", "step": 100, "returns": [], "mean_return": None, "final": True}]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    _truncate_metrics(path, 100)  # the final evaluation follows the last checkpoint: logged again
    assert [json.loads(x) for x in path.read_text().splitlines()] == records[:2]


def _raw_points(folder: Path) -> list[tuple[str, int, str]]:
    """Every (tag, step, value) summary in the event files of ``folder``, read as TensorBoard's
    legacy loader and other plain readers do: all files, no purge applied. Values as their
    repr (a NaN equals a NaN); wall-clock tags (``time/*``) carry none."""
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

    return [(v.tag, e.step, "" if v.tag.startswith("time/") else repr(v.simple_value))
            for path in sorted(folder.glob("events.out.tfevents.*"))
            for e in LegacyEventFileLoader(str(path)).Load() if e.HasField("summary")
            for v in e.summary.value]


def test_event_files_are_cut_back_to_their_sizes_at_the_checkpoint(tmp_path, capsys):
    """A resume cuts each event file to the size recorded at the checkpoint, removes files
    begun after it and leaves a file that is shorter than recorded (with a warning); a
    checkpoint without sizes (written before they were recorded) changes nothing."""
    from rlrep.log_state import restore_event_files

    folder = tmp_path / "tb" / "run_1"
    folder.mkdir(parents=True)
    grown, later, cut = (folder / f"events.out.tfevents.{k}" for k in ("1", "2", "3"))
    grown.write_bytes(b"a" * 20)
    later.write_bytes(b"b" * 5)
    cut.write_bytes(b"c" * 3)
    state = {"event_file_sizes": {"run_1/events.out.tfevents.1": 12, "run_1/events.out.tfevents.3": 8}}
    assert restore_event_files(tmp_path / "tb", None) is False
    assert restore_event_files(tmp_path / "tb", {"pending": {}}) is False
    assert grown.read_bytes() == b"a" * 20 and later.exists()
    assert restore_event_files(tmp_path / "tb", state) is True
    assert grown.read_bytes() == b"a" * 12 and not later.exists() and cut.read_bytes() == b"c" * 3
    assert "events.out.tfevents.3 is shorter than at the checkpoint (8 bytes)" in capsys.readouterr().err


def test_logger_values_pending_at_the_checkpoint_come_back(tmp_path):
    """Values sb3's logger held at the checkpoint (the latest update's losses, not yet dumped)
    are captured with the event files' sizes, after a flush, and restored into a new logger."""
    from stable_baselines3.common.logger import configure

    from rlrep.log_state import capture, restore_pending

    logger = configure(str(tmp_path / "tb" / "run_1"), ["tensorboard"])
    logger.record("train/critic_loss", 0.5)
    logger.dump(1)
    (writer,) = [f.writer for f in logger.output_formats if hasattr(f, "writer")]
    (path,) = (tmp_path / "tb" / "run_1").glob("events.out.tfevents.*")
    dumped = path.stat().st_size
    writer.add_scalar("rollout/ep_rew_mean", 3.0, 2)  # queued by the writer, not yet in the file
    logger.record("train/critic_loss", 0.25)
    logger.record("aux/rcrl_loss", 1.5, exclude="stdout")
    logger.record("note", "text")  # not a scalar: not kept, nor its exclusions
    logger.record("note", "text", exclude="tensorboard")
    flushed = []
    real_flush = writer.flush
    writer.flush = lambda: (flushed.append(path.stat().st_size), real_flush())
    state = capture(logger, tmp_path / "tb")
    (name, size), = state["event_file_sizes"].items()
    # the writer is flushed (its queue drained to the file) before the sizes are read
    assert flushed and size == path.stat().st_size > dumped
    fresh = configure(str(tmp_path / "other"), ["tensorboard"])
    restore_pending(fresh, state)
    assert dict(fresh.name_to_value) == {"train/critic_loss": 0.25, "aux/rcrl_loss": 1.5}
    assert fresh.name_to_excluded == {"train/critic_loss": ("",), "aux/rcrl_loss": ("stdout",)}
    fresh.dump(3)  # sb3 pairs values and exclusions: a mismatch failed here
    assert capture(logger, None)["event_file_sizes"] is None


@pytest.mark.parametrize("checkpoint_freq", [150, 125])
def test_resume_keeps_each_tensorboard_step_once(tmp_path, checkpoint_freq):
    """Cartpole episodes end every 125 steps, where sb3 writes its TensorBoard events. The
    killed process wrote step 250 (and its evaluation) after its checkpoint at 150, and the
    resumed one writes them again: TensorBoard reading the run's folder shows each step once.
    With the checkpoint at 250 itself, step 250 was written before it and must stay (a purge
    from 250 on lost it). Evaluations (every 125 steps, and the final one) are written at
    their own step."""
    import shutil

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    flags = ["--run-dir", str(run), "--no-progress"]
    main(["train", "--env", "dmc-state:cartpole-swingup", "--steps", "300", "--learning-starts", "50",
          "--batch-size", "16", "--eval-freq", "125", "--eval-episodes", "1",
          "--final-eval-episodes", "1", "--checkpoint-freq", str(checkpoint_freq), *flags])
    straight = sorted(_raw_points(run / "tb" / "run_1"))
    shutil.rmtree(run / "checkpoints" / "step_000000300")  # as if killed before writing it
    (run / "results.json").unlink()
    main(["train", "--resume", *flags])
    events = EventAccumulator(str(run / "tb" / "run_1"))
    events.Reload()
    assert [e.step for e in events.Scalars("rollout/ep_rew_mean")] == [125, 250]
    assert [e.step for e in events.Scalars("eval/mean_return")] == [125, 250, 300]
    # and in the files themselves, for readers that ignore the purge (the legacy loader): the
    # same points as the uninterrupted run wrote (sb3 may write a tag twice at one step, e.g.
    # train/* at an episode end and again with the evaluation's dump: both runs alike)
    assert sorted(_raw_points(run / "tb" / "run_1")) == straight
    # the first process's events and the resumed one's: sb3's replaced writer leaves no
    # third, empty file
    assert len(list((run / "tb" / "run_1").glob("events.out.tfevents.*"))) == 2


@pytest.mark.parametrize("record_written", [True, False])
def test_final_evaluation_killed_before_results_is_in_tensorboard_once(tmp_path, record_written):
    """Killed after the final evaluation's metrics.jsonl record, before results.json: the
    resume reuses the record (it evaluated again, and TensorBoard showed the final step
    twice). Killed between the evaluation's TensorBoard write and that record: the resume
    evaluates again, and the first process's point goes from the event files. Either way the
    files hold the uninterrupted run's points."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    flags = ["--run-dir", str(run), "--no-progress"]
    main(["train", "--env", "dmc-state:cartpole-swingup", "--steps", "140", "--learning-starts", "50",
          "--batch-size", "16", "--eval-freq", "1000", "--final-eval-episodes", "1",
          "--checkpoint-freq", "70", *flags])
    straight = json.loads((run / "results.json").read_text())
    points = sorted(_raw_points(run / "tb" / "run_1"))
    (run / "results.json").unlink()
    if not record_written:
        metrics = (run / "metrics.jsonl").read_text().splitlines()
        assert json.loads(metrics[-1]).get("final")
        (run / "metrics.jsonl").write_text("\n".join(metrics[:-1]) + "\n")
    main(["train", "--resume", *flags])
    resumed = json.loads((run / "results.json").read_text())
    assert resumed == straight if record_written else resumed["eval_returns"] == straight["eval_returns"]
    events = EventAccumulator(str(run / "tb" / "run_1"))
    events.Reload()
    assert [e.step for e in events.Scalars("eval/mean_return")] == [140]
    assert sorted(_raw_points(run / "tb" / "run_1")) == points


def test_raised_budget_leaves_the_tensorboard_points_of_an_uninterrupted_run(tmp_path):
    """A finished run resumed with a higher --steps: the first budget's final evaluation (and
    the losses dumped with it) are not the longer run's; its event files end up with the
    points of one uninterrupted run of the higher budget."""
    common = ["--env", "dmc-state:cartpole-swingup", "--learning-starts", "50", "--batch-size", "16",
              "--eval-freq", "70", "--eval-episodes", "1", "--final-eval-episodes", "1",
              "--checkpoint-freq", "70", "--no-progress"]
    main(["train", "--steps", "210", *common, "--run-dir", str(tmp_path / "straight")])
    main(["train", "--steps", "140", *common, "--run-dir", str(tmp_path / "split")])
    main(["train", "--run-dir", str(tmp_path / "split"), "--resume", "--steps", "210"])
    assert sorted(_raw_points(tmp_path / "split" / "tb" / "run_1")) == \
        sorted(_raw_points(tmp_path / "straight" / "tb" / "run_1"))


def test_starting_over_discards_the_earlier_attempts_tensorboard_log(tmp_path, capsys):
    """A --resume that finds no checkpoint starts over; the discarded attempt's tb/run_1
    stayed beside the new run_2, so TensorBoard showed two runs of one directory."""
    import shutil

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    flags = ["--run-dir", str(run), "--no-progress"]
    main(["train", "--env", "dmc-state:cartpole-swingup", "--steps", "250", "--learning-starts",
          "50", "--batch-size", "16", "--eval-freq", "125", "--eval-episodes", "1",
          "--final-eval-episodes", "1", "--checkpoint-freq", "1000", *flags])
    shutil.rmtree(run / "checkpoints")  # as if killed before its first checkpoint
    (run / "results.json").unlink()
    capsys.readouterr()
    main(["train", "--resume", *flags])
    assert "removed" in capsys.readouterr().err
    assert sorted(p.name for p in (run / "tb").iterdir()) == ["run_1"]
    events = EventAccumulator(str(run / "tb" / "run_1"))
    events.Reload()
    assert [e.step for e in events.Scalars("eval/mean_return")] == [125, 250]


def test_second_training_on_a_run_dir_is_refused(tmp_path, capsys):
    """A run directory another process is training is refused at once, its files untouched
    (a second writer would overwrite its config, metrics and checkpoints)."""
    from filelock import FileLock

    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 1}\n')
    other = FileLock(run / ".run.lock")  # the other process's lock: its own descriptor
    other.acquire()
    try:
        with pytest.raises(SystemExit) as info:
            main(["train", "--env", "dmc-state:cartpole-swingup", "--steps", "70", "--run-dir", str(run), *TINY])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert "in use by another process" in err and "--run-dir" in err
        assert (run / "metrics.jsonl").read_text() == '{"step": 1}\n' and not (run / "config.json").exists()
    finally:
        other.release()
    main(["train", "--env", "dmc-state:cartpole-swingup", "--steps", "70", "--run-dir", str(run), *TINY])
    assert json.loads((run / "results.json").read_text())["steps"] == 70


def test_resume_refuses_changed_training_options(tmp_path, monkeypatch, capsys):
    """--resume continues a run with its own options: a changed env, loss or batch is refused
    (naming it), the same options in another spelling pass, and budget / device may change."""
    import rlrep.training
    from rlrep.config import TrainConfig

    config = TrainConfig(env="dmc-state:cartpole-swingup", aux="rcrl,curl", steps=700, batch_size=16)
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
    seen = {}
    monkeypatch.setattr(rlrep.training, "train", lambda cfg, resume: seen.update(cfg=cfg) or {})
    resume = ["train", "--run-dir", str(tmp_path), "--resume"]
    for changed, named in ((["--env", "dmc-state:cheetah-run"], "--env: 'dmc-state:cartpole-swingup' -> "),
                           (["--aux", "rcrl"], "--aux: 'rcrl,curl' -> 'rcrl'"),
                           (["--batch-size=32"], "--batch-size: 16 -> 32"),
                           (["--seed", "1"], "--seed: 0 -> 1")):
        with pytest.raises(SystemExit) as info:
            main([*resume, *changed])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert named in err and "another --run-dir" in err
    assert main([*resume, "--aux", "curl,rcrl", "--env", "dmc-state:cartpole-swingup", "--batch-size", "16",
                 "--steps", "900", "--device", "cpu", "--no-progress", "--no-tensorboard", "--threads", "2"]) == 0
    cfg = seen["cfg"]  # the changes a resumed run may make reach it
    assert (cfg.steps, cfg.device, cfg.progress, cfg.tensorboard, cfg.threads) == (900, "cpu", False, False, 2)
    assert (cfg.aux, cfg.batch_size) == ("rcrl,curl", 16)
    # a run written before --augment existed ran with its default: restating it is no change
    old = {k: v for k, v in config.to_dict().items() if k not in ("augment", "adam_eps")}
    (tmp_path / "config.json").write_text(json.dumps(old))
    assert main([*resume, "--augment", "auto"]) == 0 and seen["cfg"].augment == "auto"
    # Atari: options restated as what they amount to are no change; a real change is refused
    atari = TrainConfig(env="PongNoFrameskip-v4", aux="curl", steps=700)
    old = {k: v for k, v in atari.to_dict().items() if k not in ("augment", "adam_eps")}
    (tmp_path / "config.json").write_text(json.dumps(old))
    assert main([*resume, "--augment", "on", "--adam-eps", "1.5e-5"]) == 0
    with pytest.raises(SystemExit):
        main([*resume, "--augment", "off"])
    assert "--augment: 'auto' -> 'off'" in capsys.readouterr().err


def test_resume_accepts_restated_agent_defaults(tmp_path, monkeypatch, capsys):
    """An option stored as None (the agent's default) restated with that default's value is
    no change (it was refused as "None -> 4.0"); another value still is."""
    import rlrep.training
    from rlrep.config import TrainConfig

    monkeypatch.setattr(rlrep.training, "train", lambda cfg, resume: {})
    resume = ["train", "--run-dir", str(tmp_path), "--resume"]
    for env, same, other in (
            ("dmc-state:cheetah-run", ["--segment-threshold", "4.0", "--batch-size", "256",
                                       "--learning-rate", "2e-4", "--action-repeat", "4",
                                       "--learning-starts", "1000"],
             ["--segment-threshold", "3", "--segment-threshold: the agent's default 4.0 -> 3.0"]),
            ("PongNoFrameskip-v4", ["--n-steps", "20", "--batch-size", "32", "--adam-eps", "1.5e-5",
                                    "--curl-momentum", "0.001", "--aux", "curl"],
             ["--n-steps", "10", "--n-steps: the agent's default 20 -> 10"])):
        config = TrainConfig(env=env, aux="curl", steps=700)
        (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
        assert main([*resume, *same]) == 0, capsys.readouterr().err
        with pytest.raises(SystemExit) as info:
            main([*resume, *other[:2]])
        assert info.value.code == 2 and other[2] in capsys.readouterr().err


def test_cuda_device_without_cuda_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as info:
        main(["train", "--env", "dmc-state:cartpole-swingup", "--device", "cuda", "--steps", "70",
              "--run-dir", str(tmp_path), *TINY])
    assert info.value.code == 2 and "no CUDA device; pass --device cpu" in capsys.readouterr().err


def test_unusable_run_dir_is_named(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as info:
        main(["train", "--env", "dmc-state:cartpole-swingup", "--run-dir", str(tmp_path / "file"), *TINY])
    assert info.value.code == 2
    assert "Cannot use" in capsys.readouterr().err


def test_resume_at_the_budget_reruns_the_final_evaluation(tmp_path):
    """A run whose last checkpoint is at its budget (killed during its final evaluation)
    resumes to the final evaluation and results, with 0 episodes scoring null, not 0, and the
    losses the checkpoint kept; killed after that evaluation's record, before results.json,
    it keeps the record."""
    run = tmp_path / "run"
    main(["train", "--env", "dmc-state:cartpole-swingup", "--steps", "70", "--run-dir", str(run), *TINY])
    straight = json.loads((run / "results.json").read_text())
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["final"] and json.loads(lines[-1])["train"]  # updates from 60 on
    (run / "results.json").unlink()  # killed after the final record: it stands, losses and all
    assert main(["train", "--run-dir", str(run), "--resume"]) == 0
    assert json.loads((run / "results.json").read_text()) == straight
    assert (run / "metrics.jsonl").read_text().splitlines() == lines
    (run / "results.json").unlink()  # killed during the final evaluation: evaluated again
    (run / "metrics.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    assert main(["train", "--run-dir", str(run), "--resume"]) == 0
    results = json.loads((run / "results.json").read_text())
    assert results["steps"] == 70 and results["eval_returns"] == [] and results["eval_mean_return"] is None
    final = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()][-1]
    # no update in the resumed process: the losses are those the logger held at the checkpoint
    assert final["final"] and final["train"] == json.loads(lines[-1])["train"]


def test_damaged_latest_checkpoint_falls_back_to_the_one_before(tmp_path, capsys):
    """A truncated latest checkpoint (copied mid-write, a full disk) is skipped with a warning
    and the run resumes from the older one kept; with none loadable the error names them."""
    run = tmp_path / "run"
    common = ["--env", "dmc-state:cartpole-swingup", "--checkpoint-freq", "70", "--keep-checkpoints", "2",
              "--run-dir", str(run), *TINY]
    main(["train", "--steps", "140", *common])
    steps = sorted((run / "checkpoints").glob("step_*"))
    assert [p.name for p in steps] == ["step_000000070", "step_000000140"]
    state = steps[-1] / "state.pt"
    state.write_bytes(state.read_bytes()[:100])
    capsys.readouterr()
    assert main(["train", "--run-dir", str(run), "--resume", "--steps", "210"]) == 0
    assert f"cannot load {steps[-1]}" in capsys.readouterr().err
    assert json.loads((run / "results.json").read_text())["steps"] == 210
    # resumed from step 70, it ends where an uninterrupted run ends, parameter for parameter
    import zipfile

    straight = tmp_path / "straight"
    main(["train", "--steps", "210", *common[:-len(TINY) - 2], "--run-dir", str(straight), *TINY])

    def params(d: Path) -> dict:
        with zipfile.ZipFile(d / "checkpoints" / "step_000000210" / "model.zip") as z, z.open("policy.pth") as f:
            return torch.load(f, weights_only=True)

    a, b = params(run), params(straight)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    import rlrep.training

    def incompatible(*a, **k):  # not damage (an env or class that changed): raised as it is
        raise ValueError("observation spaces do not match")

    real = rlrep.training.load_checkpoint
    rlrep.training.load_checkpoint = incompatible
    try:
        with pytest.raises(ValueError, match="observation spaces"):
            main(["train", "--run-dir", str(run), "--resume", "--steps", "280"])
    finally:
        rlrep.training.load_checkpoint = real
    for p in (run / "checkpoints").glob("step_*"):
        (p / "model.zip").write_bytes(b"not a zip")
    with pytest.raises(SystemExit) as info:
        main(["train", "--run-dir", str(run), "--resume", "--steps", "280"])
    err = capsys.readouterr().err  # the ways out named are ones the tool then takes
    assert info.value.code == 2 and "can be loaded" in err and "without --resume" not in err
    assert "(with none left, --resume starts the run over), or train a new run in another --run-dir" in err
    (run / "config.json").write_text('{"env": ')
    with pytest.raises(SystemExit) as info:
        main(["eval", str(run)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and f"Cannot read {run / 'config.json'}" in err and "restore it" in err


def test_interrupt_says_how_to_continue(tmp_path, monkeypatch, capsys):
    import rlrep.training

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(rlrep.training, "train", interrupted)
    assert main(["train", "--env", "dmc-state:cartpole-swingup", "--run-dir", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert f"rlrep train --run-dir {tmp_path} --resume" in err
    # what the resume will redo is said now, not found out when resuming
    assert "no checkpoint was written yet (one every --checkpoint-freq 10000 steps)" in err
    (tmp_path / "checkpoints" / "step_000000300").mkdir(parents=True)
    (tmp_path / "checkpoints" / "step_000000300" / "state.pt").write_bytes(b"x")  # complete
    (tmp_path / "checkpoints" / "LATEST").write_text("step_000000300")
    assert main(["train", "--env", "dmc-state:cartpole-swingup", "--run-dir", str(tmp_path)]) == 130
    assert "the latest checkpoint is step_000000300" in capsys.readouterr().err


def test_resume_of_a_directory_without_a_run_says_so(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--resume", "--run-dir", str(tmp_path / "typo")])
    assert "holds no run (no config.json); check --run-dir" in capsys.readouterr().err


def test_default_learning_start_past_the_budget_is_warned(tmp_path, monkeypatch, capsys):
    import rlrep.training

    monkeypatch.setattr(rlrep.training, "train", lambda *a, **k: {})
    main(["train", "--env", "dmc-state:cartpole-swingup", "--steps", "400", "--run-dir", str(tmp_path)])
    assert ("the agent's default learning start (1000) >= --steps 400: the agent will not update"
            in capsys.readouterr().err)


def test_finished_run_is_kept_extended_and_its_final_evaluation_repeatable(tmp_path, capsys):
    """Resuming at the budget (killed during the final evaluation) evaluates as the
    uninterrupted run did (same step, same seed: it evaluated as step 0 with another seed);
    a finished run is left as it is; a budget raised on --resume is the run's from then on."""
    run = tmp_path / "run"
    common = ["--env", "dmc-state:cartpole-swingup", "--steps", "70", "--run-dir", str(run),
              *TINY[:-4], "--final-eval-episodes", "1", "--no-progress", "--no-tensorboard"]
    assert main(["train", *common]) == 0
    straight = json.loads((run / "results.json").read_text())
    lines = (run / "metrics.jsonl").read_text().splitlines()
    final = json.loads(lines[-1])
    assert final["final"] and final["step"] == 70
    (run / "results.json").unlink()  # killed during the final evaluation
    (run / "metrics.jsonl").write_text("\n".join(lines[:-1]) + '\n{"type": "ev')  # a torn line
    assert main(["train", "--run-dir", str(run), "--resume"]) == 0
    assert json.loads((run / "results.json").read_text()) == straight
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 70
    capsys.readouterr()
    assert main(["train", "--run-dir", str(run), "--resume"]) == 0  # finished: left as it is
    assert "finished at step 70" in capsys.readouterr().err
    assert json.loads((run / "results.json").read_text()) == straight
    with pytest.raises(SystemExit) as info:  # a new run here would mix with this one
        main(["train", *common])
    assert info.value.code == 2 and "already holds a run" in capsys.readouterr().err
    assert main(["train", "--run-dir", str(run), "--resume", "--steps", "140"]) == 0
    assert json.loads((run / "config.json").read_text())["steps"] == 140  # kept for a plain --resume
    extended = json.loads((run / "results.json").read_text())
    assert extended["steps"] == 140
    # killed during the extended run's final evaluation: the 70-step results are not its own
    lines = (run / "metrics.jsonl").read_text().splitlines()
    (run / "results.json").write_text(json.dumps(straight))
    (run / "metrics.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    assert main(["train", "--run-dir", str(run), "--resume"]) == 0
    assert json.loads((run / "results.json").read_text()) == extended


def test_changed_or_missing_replay_buffer_falls_back_to_the_checkpoint_before(tmp_path, capsys):
    run = tmp_path / "run"
    main(["train", "--env", "dmc-state:cartpole-swingup", "--steps", "140", "--checkpoint-freq", "70",
          "--run-dir", str(run), *TINY])
    latest = run / "checkpoints" / "step_000000140" / "replay_buffer.pkl"
    raw = bytearray(latest.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # loaded without complaint before
    latest.write_bytes(bytes(raw))
    capsys.readouterr()
    assert main(["train", "--run-dir", str(run), "--resume", "--steps", "210"]) == 0
    assert "CRC-32 differs" in capsys.readouterr().err
    (run / "checkpoints" / "step_000000210" / "replay_buffer.pkl").unlink()
    assert main(["train", "--run-dir", str(run), "--resume", "--steps", "280"]) == 0
    assert "replay_buffer.pkl is missing" in capsys.readouterr().err
    (run / "checkpoints" / "step_000000280" / "model.zip").unlink()  # SB3's raw FileNotFoundError
    assert main(["train", "--run-dir", str(run), "--resume", "--steps", "350"]) == 0
    assert "model.zip is missing" in capsys.readouterr().err
    assert json.loads((run / "results.json").read_text())["steps"] == 350


def test_checkpoints_past_the_resumed_one_do_not_outrank_it(tmp_path, capsys):
    """A checkpoint numbered past the one a resumed run continues from (it could not be
    loaded) goes when the run writes its next one: kept, pruning (the highest steps
    stay) deleted the run's new checkpoint instead, and a later fallback read the stale one."""
    run = tmp_path / "run"
    common = ["--env", "dmc-state:cartpole-swingup", "--checkpoint-freq", "70", "--run-dir", str(run), *TINY]
    assert main(["train", "--steps", "140", *common]) == 0
    stale = run / "checkpoints" / "step_000000999"
    shutil.copytree(run / "checkpoints" / "step_000000140", stale)
    (stale / "model.zip").write_bytes(b"not a zip")
    (run / "checkpoints" / "LATEST").write_text("step_000000140")
    assert main(["train", "--run-dir", str(run), "--resume", "--steps", "210"]) == 0
    assert f"removed {stale}" in capsys.readouterr().err
    assert sorted(p.name for p in (run / "checkpoints").glob("step_*")) == [
        "step_000000140", "step_000000210"]
    assert (run / "checkpoints" / "LATEST").read_text() == "step_000000210"


def test_resume_refuses_what_it_cannot_continue_faithfully(tmp_path, capsys, monkeypatch):
    """A run with checkpoints but no config.json (resumed from the defaults, it trained on
    with other options); a --steps below the checkpoint (it ended past its budget); a bad
    value in config.json is named as the run's, not as a flag to pass."""
    run = tmp_path / "run"
    assert main(["train", "--env", "dmc-state:cartpole-swingup", "--steps", "140",
                 "--checkpoint-freq", "70", "--run-dir", str(run), *TINY]) == 0
    (run / "results.json").unlink()
    with pytest.raises(SystemExit) as info:
        main(["train", "--run-dir", str(run), "--resume", "--steps", "70"])
    assert info.value.code == 2
    assert "is at step 140 already (step_000000140): --steps 70 ends before it" in capsys.readouterr().err
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "seed": -4}))
    with pytest.raises(SystemExit) as info:
        main(["train", "--run-dir", str(run), "--resume"])
    err = capsys.readouterr().err
    assert f"{run / 'config.json'} (the run's options): --seed must be in [0, 2**32), got -4" in err
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(SystemExit) as info:  # a flag given on --resume is still named as such
        main(["train", "--run-dir", str(run), "--resume", "--steps", "-5"])
    assert "the run's options" not in capsys.readouterr().err
    (run / "config.json").unlink()
    for extra in ([], ["--env", "dmc-state:cartpole-swingup"]):
        with pytest.raises(SystemExit) as info:
            main(["train", "--run-dir", str(run), "--resume", *extra])
        err = capsys.readouterr().err
        assert info.value.code == 2 and "config.json is missing, yet" in err and "holds checkpoints" in err
    import rlrep.training

    def out_of_memory(*a, **k):
        raise MemoryError("Unable to allocate 745. GiB for an array")

    monkeypatch.setattr(rlrep.training, "train", out_of_memory)
    with pytest.raises(SystemExit) as info:
        main(["train", "--env", "dmc-state:cartpole-swingup", "--run-dir", str(tmp_path / "big"), *TINY])
    assert info.value.code == 2 and "lower --buffer-size" in capsys.readouterr().err


EVAL_70 = b'{"type": "eval", "step": 70, "returns": [1.0], "mean_return": 1.0}'


@pytest.mark.parametrize("content, reason", [
    (EVAL_70 + b'\n[1, 2]\n', "line 2: not a metrics record"),
    (b'{"type": "eval"}\n', "line 1: not a metrics record"),
    (b'{"type": "episode", "step": true, "return": 1.0, "length": 1}\n', "line 1: not a metrics record"),
    (EVAL_70 + b'\n{"type": "eval", "step": 80}\n', "line 2: not a metrics record .*without returns"),
    (EVAL_70 + b'\n{"type": "ev\n{"step": 1}\n', "line 2: "),
    (EVAL_70 + b'\n\xff\xfe\n', "line 2: not UTF-8 text"),
])
def test_damaged_metrics_are_named_on_resume(tmp_path, content, reason):
    from rlrep.training import _truncate_metrics
    from shared.checkpoint import CorruptFileError

    path = tmp_path / "metrics.jsonl"
    path.write_bytes(content)
    with pytest.raises(CorruptFileError, match=f"Cannot read {path}: .*{reason}"):
        _truncate_metrics(path, 100)
    path.write_bytes(EVAL_70 + b'\n{"type": "ev')  # torn by a kill: dropped
    _truncate_metrics(path, 100)
    assert path.read_bytes() == EVAL_70 + b'\n'


def test_largest_seed_evaluates(tmp_path):
    # evaluation seeds are seed + 10000 + step: past 2**32 numpy refused them mid-run
    run = tmp_path / "run"
    assert main(["train", "--env", "dmc-state:cartpole-swingup", "--steps", "70", "--seed", str(2**32 - 1),
                 "--run-dir", str(run), *TINY[:-4], "--final-eval-episodes", "1",
                 "--no-progress", "--no-tensorboard"]) == 0
    assert len(json.loads((run / "results.json").read_text())["eval_returns"]) == 1


@pytest.mark.parametrize("change, named", [
    ({"batch_size": "16"}, "TypeError"),  # a raw TypeError on resume and eval before
    ({"env": None}, "does not hold a run's options"),
])
def test_config_with_bad_fields_is_named(tmp_path, capsys, change, named):
    from rlrep.config import TrainConfig

    config = {**TrainConfig(env="dmc-state:cartpole-swingup", steps=700).to_dict(), **change}
    if change.get("env", 1) is None:
        del config["env"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    for argv in (["train", "--run-dir", str(tmp_path), "--resume"], ["eval", str(tmp_path)]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        err = capsys.readouterr().err
        assert info.value.code == 2 and f"{tmp_path / 'config.json'} does not hold" in err and named in err


def test_run_stored_with_an_option_that_did_nothing_still_resumes(tmp_path, monkeypatch):
    import rlrep.training
    from rlrep.config import TrainConfig

    stored = {**TrainConfig(env="PongNoFrameskip-v4", steps=700).to_dict(), "segment_threshold": 2.0}
    (tmp_path / "config.json").write_text(json.dumps(stored))  # accepted (and ignored) before
    seen = {}
    monkeypatch.setattr(rlrep.training, "train", lambda cfg, resume: seen.update(cfg=cfg) or {})
    assert main(["train", "--run-dir", str(tmp_path), "--resume"]) == 0
    assert seen["cfg"].segment_threshold is None


def test_run_stored_with_a_device_refused_since_still_resumes_elsewhere(tmp_path, monkeypatch):
    import rlrep.training
    from rlrep.config import TrainConfig

    config = {**TrainConfig(env="dmc-state:cartpole-swingup", steps=700).to_dict(), "device": "mps"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    seen = {}
    monkeypatch.setattr(rlrep.training, "train", lambda cfg, resume: seen.update(cfg=cfg) or {})
    assert main(["train", "--run-dir", str(tmp_path), "--resume", "--device", "cpu"]) == 0
    assert seen["cfg"].device == "cpu"


def test_runs_without_tensorboard_leave_no_sb3_temp_folders(tmp_path, monkeypatch):
    """sb3 configures a logger without TensorBoard in a new, empty /tmp/SB3-<time> folder
    on every learn() (the suite guards against it with SB3_LOGDIR; users' runs did not)."""
    import tempfile

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.delenv("SB3_LOGDIR", raising=False)  # the suite's own guard (conftest.py)
    run = tmp_path / "run"
    common = ["--env", "dmc-state:cartpole-swingup", "--checkpoint-freq", "70", "--run-dir", str(run), *TINY]
    assert main(["train", "--steps", "70", *common]) == 0
    assert main(["train", "--run-dir", str(run), "--resume", "--steps", "140"]) == 0
    assert [p.name for p in temp.glob("SB3-*")] == []


def test_a_raised_budget_logs_the_evaluation_at_the_old_one_as_an_uninterrupted_run(tmp_path):
    """A finished run extended with --resume --steps evaluates at its old budget before its
    first update there: that record had "train": null where an uninterrupted run logs the
    losses of the same agent."""
    common = ["--env", "dmc-state:cartpole-swingup", *TINY[:2], "--buffer-size", "1000",
              "--batch-size", "16", "--eval-freq", "70", "--eval-episodes", "1",
              "--final-eval-episodes", "0", "--no-progress", "--no-tensorboard"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(["train", "--steps", "140", "--run-dir", str(straight), *common]) == 0
    assert main(["train", "--steps", "70", "--run-dir", str(split), *common]) == 0
    assert main(["train", "--run-dir", str(split), "--resume", "--steps", "140"]) == 0

    def evals(run):
        return [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
                if r["type"] == "eval"]

    at_70 = [r for r in evals(split) if r["step"] == 70]
    assert len(at_70) == 1 and at_70[0]["train"]  # losses, not null
    assert evals(split) == evals(straight)
