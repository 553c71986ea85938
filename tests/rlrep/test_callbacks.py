"""RunCallback's evaluation records in metrics.jsonl."""
import json
import math
from types import SimpleNamespace

from rlrep.callbacks import RunCallback
from rlrep.config import TrainConfig


def test_eval_record_keeps_training_logs_as_standard_json(tmp_path):
    """train/, aux/ and rcrl/ logs travel with the record; a NaN (rcrl/* before the first
    segment closed) is written as null, since JSON has no NaN; other loggers' keys stay out."""
    callback = RunCallback(TrainConfig(env="PongNoFrameskip-v4", aux="rcrl"), tmp_path)
    logs = {"train/loss": 0.5, "aux/rcrl_loss": 0.7, "rcrl/closed": 0.0,
            "rcrl/closed_by_reward": math.nan, "rollout/ep_rew_mean": -21.0}
    callback.model = SimpleNamespace(logger=SimpleNamespace(name_to_value=logs))
    callback.num_timesteps = 300
    record = callback.run_evaluation(0, final=True)
    line = (tmp_path / "metrics.jsonl").read_text()
    assert "NaN" not in line and json.loads(line) == record
    assert record["train"] == {"train/loss": 0.5, "aux/rcrl_loss": 0.7, "rcrl/closed": 0.0,
                               "rcrl/closed_by_reward": None}
    assert record["step"] == 300 and record["mean_return"] is None and record["final"]


def test_cuda_draws_are_seeded_when_the_checkpoint_has_no_cuda_state(monkeypatch, capsys):
    """A checkpoint written on the CPU (no CUDA random state) resumed on a GPU: CUDA is
    seeded from the run's seed and step, so --seed 0 and --seed 1 do not share torch's
    default CUDA stream; a CPU resume leaves CUDA alone."""
    from types import SimpleNamespace

    import gymnasium as gym
    import torch

    from rlrep import checkpoints

    space = gym.spaces.Discrete(3)
    model = SimpleNamespace(device=torch.device("cuda"), seed=7, num_timesteps=500,
                            action_space=space, get_env=lambda: SimpleNamespace(action_space=space))
    state = checkpoints._rng_state(model)
    assert state["cuda"] is None  # CUDA never started here
    seeded = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", seeded.append)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    checkpoints._set_rng_state(model, state)
    assert seeded == [7 * 1_000_003 + 500]
    assert "no CUDA random state" in capsys.readouterr().err
    model.device = torch.device("cpu")
    checkpoints._set_rng_state(model, state)
    assert len(seeded) == 1 and capsys.readouterr().err == ""
