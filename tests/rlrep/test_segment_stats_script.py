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
