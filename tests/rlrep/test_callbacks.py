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
