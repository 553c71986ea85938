import numpy as np
import pytest

from rlrep.evaluate import human_normalized
from rlrep.statistics import iqm_with_ci, probability_of_improvement


def test_iqm_ignores_the_outer_quartiles_and_brackets_the_point():
    data = np.array([0.0, 1.0, 2.0, 2.0, 3.0, 9.0, 10.0, 100.0])
    # IQM (rliable: scipy trim_mean 25%): drop 2 of 8 runs at each end -> mean(2, 2, 3, 9) = 4.0,
    # which differs from the median (2.5) and the mean (15.875).
    assert np.median(data) == 2.5 and data.mean() == 15.875
    est = iqm_with_ci({"a": data[:, None]}, reps=200)["a"]
    assert est.point == pytest.approx(4.0)
    assert est.low < est.point < est.high
    assert est.low >= 0.0 and est.high <= 100.0
    # several tasks: rliable's IQM pools every run of every task (16 scores, 4 dropped at each
    # end: mean(2, 3, 9, 10, 10, 20, 20, 30) = 13), not the mean of per-task IQMs (22)
    two = iqm_with_ci({"a": np.stack([data, 10.0 * data], axis=1)}, reps=200)["a"]
    assert two.point == pytest.approx(13.0)
    assert two.low < two.point < two.high


def test_probability_of_improvement_extremes():
    hi, lo = np.full((5, 2), 2.0), np.full((5, 2), 1.0)
    assert probability_of_improvement(hi, lo) == pytest.approx(1.0)
    assert probability_of_improvement(lo, hi) == pytest.approx(0.0)
    assert probability_of_improvement(lo, lo) == pytest.approx(0.5)


def test_bad_scores_rejected():
    with pytest.raises(ValueError, match="num_runs, num_tasks"):
        iqm_with_ci({"a": np.zeros(3)})
    with pytest.raises(ValueError, match="NaN"):
        iqm_with_ci({"a": np.array([[np.nan]])})
    with pytest.raises(ValueError, match="same tasks"):
        probability_of_improvement(np.zeros((2, 1)), np.zeros((2, 2)))


def test_human_normalised_from_packaged_table():
    assert human_normalized("RoadRunner", 11.5) == pytest.approx(0.0)
    assert human_normalized("RoadRunner", 7845.0) == pytest.approx(1.0)
    assert human_normalized("NotAGame", 1.0) is None


def test_human_normalised_names_a_missing_table(tmp_path):
    with pytest.raises(FileNotFoundError, match="package data"):
        human_normalized("RoadRunner", 1.0, table=tmp_path / "absent.csv")


def test_atari_table_keeps_one_column_per_game():
    """rliable's stratified bootstrap resamples runs within each game: the table must hand it a
    [runs, games] matrix, not every game's runs pooled into one column."""
    import sys

    from tests.conftest import REPO

    sys.path.insert(0, str(REPO / "experiments"))
    try:
        from rl_atari_table import _score_matrices
    finally:
        sys.path.remove(str(REPO / "experiments"))
    rows = [dict(finished=True, human_normalised=h, aux=a, game=g, seed=s)
            for a, g, s, h in [("none", "Pong", 1, 2.0), ("none", "Pong", 0, 1.0), ("none", "Boxing", 0, 3.0),
                               ("none", "Boxing", 1, 4.0), ("none", "Boxing", 2, 9.0), ("rcrl", "Pong", 0, 5.0)]]
    rows.append(dict(finished=False, human_normalised=7.0, aux="rcrl", game="Pong", seed=1))
    m = _score_matrices(rows)
    # games sorted (Boxing, Pong); seeds in order; Boxing's third seed dropped (Pong has two)
    np.testing.assert_array_equal(m["none"], [[3.0, 1.0], [4.0, 2.0]])
    np.testing.assert_array_equal(m["rcrl"], [[5.0]])


def test_atari_table_rebuilds_from_its_own_run_copies(tmp_path, monkeypatch):
    """Rebuilding with --out the folder that holds the committed run copies used to fail
    (SameFileError); a folder that is no run is named."""
    import shutil
    import sys

    from tests.conftest import REPO, load_experiment

    table = load_experiment("rl_atari_table")
    out = tmp_path / "results"
    shutil.copytree(REPO / "experiments" / "results" / "rl_atari_runs", out / "rl_atari_runs")
    runs = sorted(str(p) for p in (out / "rl_atari_runs").iterdir())
    monkeypatch.setattr(sys, "argv", ["rl_atari_table.py", *runs, "--out", str(out)])
    table.main()
    committed = (REPO / "experiments" / "results" / "rl_atari.md").read_text()
    assert (out / "rl_atari.md").read_text() == committed
    monkeypatch.setattr(sys, "argv", ["rl_atari_table.py", str(tmp_path / "none"), "--out", str(out)])
    with pytest.raises(SystemExit):
        table.main()
    # a folder given twice counts once; a run still being written (torn last line) reads
    monkeypatch.setattr(sys, "argv", ["rl_atari_table.py", *runs, runs[0] + "/", "--out", str(out)])
    table.main()
    assert (out / "rl_atari.md").read_text() == committed
    metrics = out / "rl_atari_runs" / sorted(p.name for p in (out / "rl_atari_runs").iterdir())[0] / "metrics.jsonl"
    metrics.write_text(metrics.read_text() + '{"type": "ep')
    monkeypatch.setattr(sys, "argv", ["rl_atari_table.py", *runs, "--out", str(out)])
    table.main()
    assert (out / "rl_atari.md").read_text() == committed
    # two runs of one name would overwrite each other's copy
    twin = tmp_path / "elsewhere" / (out / "rl_atari_runs").iterdir().__next__().name
    shutil.copytree(next((out / "rl_atari_runs").iterdir()), twin)
    monkeypatch.setattr(sys, "argv", ["rl_atari_table.py", *runs, str(twin), "--out", str(out)])
    with pytest.raises(SystemExit) as info:
        table.main()
    assert info.value.code == 2


def test_atari_table_keeps_arms_with_other_agent_options_apart():
    """A `none` arm trained with --augment on is another arm than plain `none`; runs written
    before the option existed (no key) are plain."""
    from tests.conftest import load_experiment

    table = load_experiment("rl_atari_table")
    assert table.arm_options({"aux": "none"}) == ""
    assert table.arm_options({"aux": "none", "augment": "auto", "adam_eps": None}) == ""
    assert table.arm_options({"aux": "none", "augment": "on", "adam_eps": 0.00015}) == \
        "--augment on --adam-eps 0.00015"
    # labelled by what the options amount to: these train as the defaults do
    assert table.arm_options({"aux": "curl", "augment": "on", "adam_eps": 1.5e-5}) == ""
    assert table.arm_options({"aux": "none", "augment": "off"}) == ""
    assert table.arm_options({"aux": "rcrl,curl", "augment": "off"}) == "--augment off"
    base = {"env": "RoadRunnerNoFrameskip-v4", "aux": "none", "seed": 0, "steps": 100,
            "checkpoint_freq": 50}
    runs = [dict(name=f"r{i}", config={**base, **extra}, evals=[(100, 50.0, 5)],
                 results={"eval_mean_return": 50.0, "steps": 100, "eval_returns": [50.0] * 5})
            for i, extra in enumerate([{}, {"augment": "on"}])]
    text, rows = table.summarise(runs)
    assert [r["aux"] for r in rows] == ["none --steps 100", "none --steps 100 --augment on"]
    assert "--aux none --augment on --steps 100" in text
    # every other training option sets an arm apart too (review: a 40k-step run at RCRL
    # weight 0.1 was pooled with a 100k-step run at 1.0); bookkeeping options do not
    assert table.arm_options({"aux": "rcrl", "steps": 40_000, "rcrl_weight": 0.1,
                              "segment_max_length": 8, "rcrl_partners": "extra"}) == \
        "--steps 40000 --rcrl-weight 0.1 --rcrl-partners extra --segment-max-length 8"
    assert table.arm_options({"aux": "rcrl", "steps": 40_000, "rcrl_weight": 0.1},
                             steps=False) == "--rcrl-weight 0.1"
    assert table.arm_options({"aux": "rcrl", "steps": 100_000, "rcrl_weight": 1.0, "seed": 3,
                              "checkpoint_freq": 5000, "eval_episodes": 2, "run_dir": "x",
                              "batch_size": None}) == ""
    assert table.arm_options({"aux": "none", "eval_epsilon": 0.05}) == "--eval-epsilon 0.05"


def test_atari_table_keeps_evaluation_protocols_apart():
    """Runs evaluated before FIRE-after-a-lost-life (no ``eval_protocol`` in results.json)
    and after it are labelled, and pooled, apart; a table of one protocol stays unlabelled."""
    from rlrep.envs.atari import ATARI_EVAL_PROTOCOL
    from tests.conftest import load_experiment

    table = load_experiment("rl_atari_table")
    base = {"env": "RoadRunnerNoFrameskip-v4", "aux": "rcrl", "steps": 100_000,
            "checkpoint_freq": 5000}

    def run(seed, protocol):
        results = {"eval_mean_return": 100.0 * (seed + 1), "steps": 100_000,
                   "eval_returns": [100.0 * (seed + 1)] * 5}
        if protocol:
            results["eval_protocol"] = protocol
        return dict(name=f"s{seed}", config={**base, "seed": seed}, evals=[], results=results)

    _, rows = table.summarise([run(0, None), run(1, ATARI_EVAL_PROTOCOL)])
    assert [r["aux"] for r in rows] == ["rcrl [eval: legacy]",
                                        f"rcrl [eval: {ATARI_EVAL_PROTOCOL}]"]
    assert sorted(table._score_matrices(rows)) == sorted(r["aux"] for r in rows)  # two arms
    _, rows = table.summarise([run(0, ATARI_EVAL_PROTOCOL), run(1, ATARI_EVAL_PROTOCOL)])
    assert [r["aux"] for r in rows] == ["rcrl", "rcrl"]
    assert table._score_matrices(rows)["rcrl"].shape == (2, 1)  # one arm, two seeds
