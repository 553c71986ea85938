"""experiments/rcrl_segment_stats.py: the agent's own buffer, warm-up actions, a table."""
import json
import sys

import pytest

from tests.conftest import load_experiment


def test_segment_statistics_of_a_short_warm_up(tmp_path, monkeypatch, capsys):
    script = load_experiment("rcrl_segment_stats")
    assert len(script.atari100k_games()) == 26
    out = tmp_path / "seg.json"
    monkeypatch.setattr(sys, "argv", ["rcrl_segment_stats.py", "--games", "Pong", "--steps", "300",
                                      "--segment-max-length", "8", "--out", str(out)])
    script.main()
    (record,) = json.loads(out.read_text())
    assert record["game"] == "Pong" and record["steps"] == 300
    # every closed segment holds at most 8 transitions; the shares split the closed ones
    assert 1 <= record["mean_length"] <= 8 and record["closed"] >= 300 // 8 - 1
    for prefix in ("closed_by", "rows_closed_by"):
        assert sum(record[f"{prefix}_{r}"] for r in ("reward", "episode_end", "length_cap")) == pytest.approx(1)
    table = out.with_suffix(".md").read_text()
    assert f"| Pong | 300 | {record['closed']:.0f} |" in table
    # too few steps for any segment to close is refused before any env starts
    monkeypatch.setattr(sys, "argv", ["rcrl_segment_stats.py", "--steps", "8", "--segment-max-length", "8"])
    with pytest.raises(SystemExit) as info:
        script.main()
    assert info.value.code == 2 and "must exceed --segment-max-length" in capsys.readouterr().err


def test_table_gives_the_median_over_an_even_number_of_games(tmp_path, monkeypatch):
    script = load_experiment("rcrl_segment_stats")
    records = [{"game": g, "steps": 100, "closed": 5.0, "mean_length": 20.0,
                "rows_closed_by_length_cap": cap, "rows_closed_by_reward": 1 - cap,
                "rows_closed_by_episode_end": 0.0}
               for g, cap in (("A", 0.1), ("B", 0.7), ("C", 0.8), ("D", 0.9))]
    out = tmp_path / "seg.json"
    out.write_text(json.dumps(records))
    monkeypatch.setattr(sys, "argv", ["rcrl_segment_stats.py", "--table-only", "--out", str(out)])
    script.main()  # rebuilds the table from the JSON alone
    table = out.with_suffix(".md").read_text()
    assert "Median over 4 games of the share of transitions in capped segments: 0.750 " in table
    assert "(min 0.100, max 0.900)" in table and "| B | 100 | 5 | 20.0 | 0.70 | 0.30 | 0.00 |" in table


def _run_dir(tmp_path, buf, step=12, name="run"):
    from stable_baselines3.common.save_util import save_to_pkl

    run = tmp_path / name
    ckpt = run / "checkpoints" / f"step_{step:09d}"
    ckpt.mkdir(parents=True)
    save_to_pkl(ckpt / "replay_buffer.pkl", buf)
    (ckpt / "state.pt").write_bytes(b"x")  # written last: what makes a checkpoint complete
    (run / "checkpoints" / "LATEST").write_text(ckpt.name)
    (run / "config.json").write_text(json.dumps({"env": "PongNoFrameskip-v4", "aux": "rcrl", "seed": 3}))
    episodes = [{"type": "episode", "step": s, "return": r, "length": 3} for s, r in ((4, 1.0), (5, 3.0), (9, -2.0))]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [*episodes, *(
        {"type": "eval", "step": s, "returns": [-21.0 + s], "mean_return": -21.0 + s}
        for s in (step, step + 5))]) + '{"type": "episode", "st')  # torn: the run goes on
    return run


def test_segments_of_a_run_split_by_closing_step(tmp_path, monkeypatch):
    from tests.rlrep.test_buffers import fill, make

    script = load_experiment("rcrl_segments_of_run")
    buf = make(size=64, max_segment_length=3)
    # closes: [0 0 0] cap at step 2, [0 1] reward at 4, [0 0 1] reward at 7, [0 0] episode end at
    # 9; steps 10-11 stay open
    fill(buf, [0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0], dones=[0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0])
    out = tmp_path / "seg.json"
    monkeypatch.setattr(sys, "argv", ["rcrl_segments_of_run.py", str(_run_dir(tmp_path, buf)),
                                      "--window", "5", "--out", str(out)])
    script.main()
    record = json.loads(out.read_text())
    assert (record["env"], record["seed"], record["steps"]) == ("PongNoFrameskip-v4", 3, 12)
    assert record["eval_returns"] == {"12": -9.0}  # not the evaluation logged after the checkpoint
    first, second, third = record["windows"]
    assert (first["from_step"], first["to_step"], first["closed"]) == (0, 5, 2)
    assert first["rows_closed_by_length_cap"] == 3 / 5 and first["rows_closed_by_reward"] == 2 / 5
    assert second["closed"] == 2 and second["rows_closed_by_episode_end"] == 2 / 5
    assert (third["from_step"], third["to_step"], third["closed"]) == (10, 12, 0)
    # training games that ended in each window (step 5 ends in the first: (0, 5])
    assert (first["episodes"], first["episode_return_mean"]) == (2, 2.0)
    assert (second["episodes"], second["episode_return_mean"], third["episode_return_mean"]) == (1, -2.0, None)
    table = out.with_suffix(".md").read_text()
    assert "| 0-5 | 2 | 2.5 | 0.60 | 0.40 | 0.00 | 2 (2.0) |" in table and "| 10-12 | 0 | nan |" in table


def test_segments_of_a_run_refuse_what_they_cannot_read(tmp_path, monkeypatch, capsys):
    from tests.rlrep.test_buffers import fill, make

    script = load_experiment("rcrl_segments_of_run")
    buf = make(size=8, max_segment_length=3)
    fill(buf, [0] * 10)  # wrapped: rows are no longer steps
    run = _run_dir(tmp_path, buf, step=10)
    two = make(size=16, n_envs=2, max_segment_length=3)
    fill(two, [[0, 0]] * 4)
    for argv, message in (([str(run)], "the buffer has wrapped (10 steps in 8 rows)"),
                          ([str(_run_dir(tmp_path, two, step=4, name="two"))], "holds 2 env columns"),
                          ([str(tmp_path)], "not an rlrep run directory"),
                          ([str(run), "--window", "0"], "--window must be positive")):
        monkeypatch.setattr(sys, "argv", ["rcrl_segments_of_run.py", *argv, "--out", str(tmp_path / "o.json")])
        with pytest.raises(SystemExit) as info:
            script.main()
        assert message in str(info.value.code) + capsys.readouterr().err
    (run / "checkpoints" / "step_000000010" / "state.pt").unlink()  # no complete checkpoint
    monkeypatch.setattr(sys, "argv", ["rcrl_segments_of_run.py", str(run), "--out", str(tmp_path / "o.json")])
    with pytest.raises(SystemExit, match="holds no checkpoint with a replay buffer"):
        script.main()


def test_segments_of_a_run_read_a_buffer_filled_exactly(tmp_path, monkeypatch):
    """steps == buffer_size (an Atari-100k run's last checkpoint): SB3 marks the buffer
    full with its write position back at 0, yet nothing was overwritten."""
    from tests.rlrep.test_buffers import fill, make

    script = load_experiment("rcrl_segments_of_run")
    buf = make(size=8, max_segment_length=3)
    fill(buf, [0] * 8)
    assert buf.full and buf.pos == 0
    out = tmp_path / "seg.json"
    monkeypatch.setattr(sys, "argv", ["rcrl_segments_of_run.py", str(_run_dir(tmp_path, buf, step=8)),
                                      "--window", "8", "--out", str(out)])
    script.main()
    (window,) = json.loads(out.read_text())["windows"]
    assert (window["to_step"], window["closed"], window["rows_closed_by_length_cap"]) == (8, 2, 1.0)
