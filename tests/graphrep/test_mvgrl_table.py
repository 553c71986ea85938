"""experiments/mvgrl_table.py: runs split over seeds pool into one row; row labels."""
import json

import pytest

from tests.conftest import load_experiment


@pytest.fixture(scope="module")
def table():
    return load_experiment("mvgrl_table")


def _run(root, name, seeds, accs, vals, subsets=None, node=None, diffusion=None):
    run = root / name
    run.mkdir(parents=True)
    node = node or {"epochs": 3000, "batch_size": 4, "full_batch": False, "subsets": subsets}
    (run / "config.json").write_text(json.dumps(
        {"dataset": "Cora", "split": "pygcn",
         "diffusion": diffusion or {"kind": "ppr", "topk": None}, "node": node}))
    (run / "results.json").write_text(json.dumps(
        {"dataset": "Cora", "split": "pygcn", "view": "ppr", "protocol": "honest",
         "accuracy_mean": sum(accs) / len(accs), "accuracy_std": 0.0, "accuracies": accs,
         "seeds": seeds, "seconds": 10.0, "peak_rss_mb": 100.0 + len(seeds),
         "probe": {"probe": "logreg"},
         "per_seed": {str(s): {"accuracy": a / 100, "val_accuracy": v}
                      for s, a, v in zip(seeds, accs, vals, strict=True)},
         "train": {f"default/seed_{s}": {"train_seconds": 5.0} for s in seeds}}))


def test_runs_on_disjoint_seeds_pool_into_one_row(table, tmp_path):
    _run(tmp_path, "a", [0, 1], [80.0, 82.0], [0.9, 0.8], subsets="windows")
    _run(tmp_path, "b", [2], [86.0], [0.7], subsets="windows")
    _run(tmp_path, "c", [3], [50.0], [0.1])  # random subsets: another configuration
    rows = table.merged_rows(tmp_path)
    assert len(rows) == 1
    row = rows[0]
    assert row["run"] == "a + b" and row["n_seeds"] == 3
    assert row["ours_mean"] == pytest.approx(82.67, abs=0.01)
    assert row["val_mean"] == "80.00"  # every member's validation nodes, not the first's
    assert row["seconds"] == 20.0 and row["peak_rss_mb"] == 102
    # written before the discriminator-init option: the wider Xavier init
    assert row["diffusion"] == ("dense, 4 x 2000-node subgraphs, <= 3000 steps, patience 20, "
                                "index windows, xavier disc. init")
    assert (table.describe_diffusion(tmp_path / "c")
            == "dense, 4 x 2000-node subgraphs, <= 3000 steps, patience 20, xavier disc. init")
    # the default schedule (full batch, 100 steps) goes unnamed
    _run(tmp_path, "d", [4], [85.0], [0.8], node={"discriminator_init": "bilinear"})
    assert table.describe_diffusion(tmp_path / "d") == "dense, bilinear disc. init"
    _run(tmp_path, "f", [6], [85.0], [0.8],
         node={"discriminator_init": "bilinear", "prelu": "shared"})
    assert (table.describe_diffusion(tmp_path / "f")
            == "dense, bilinear disc. init, shared PReLU slope")
    # an untrained control (--epochs 0) says so, whatever its patience
    _run(tmp_path, "e", [5], [72.0], [0.7], node={"epochs": 0, "discriminator_init": "bilinear"})
    assert (table.describe_diffusion(tmp_path / "e")
            == "dense, 0 steps (untrained encoders), bilinear disc. init")
    # the heat kernel's transition is named unless it is the paper's A D^-1
    for name, transition, label in (("h-col", "col", ""), ("h-sym", "sym", "D^-1/2 A D^-1/2"),
                                    ("h-row", "row", "D^-1 A")):
        _run(tmp_path, name, [7], [85.0], [0.8], node={"discriminator_init": "bilinear"},
             diffusion={"kind": "heat", "topk": 256, "heat_transition": transition})
        assert table.describe_diffusion(tmp_path / name) == ", ".join(
            ["top-256"] + ([f"heat T = {label}"] if label else []) + ["bilinear disc. init"])
    # PPR's teleport is named unless it is the paper's 0.2 (the heat kernel has none)
    for name, kind, alpha, label in (("a15", "ppr", 0.15, "alpha 0.15"), ("a20", "ppr", 0.2, ""),
                                     ("h15", "heat", 0.15, "")):
        _run(tmp_path, name, [8], [85.0], [0.8], node={"discriminator_init": "bilinear"},
             diffusion={"kind": kind, "topk": 256, "alpha": alpha})
        assert table.describe_diffusion(tmp_path / name) == ", ".join(
            ["top-256"] + ([label] if label else []) + ["bilinear disc. init"])


def test_graph_ablations_are_labelled(table, tmp_path):
    for name, graph in (("legacy", {}), ("enc", {"embedding": "encoder"}),
                        ("head", {"embedding": "head"}),
                        ("release", {"embedding": "head", "frozen_encoders": True}),
                        ("dgl", {"embedding": "head", "num_layers": 4,
                                 "hidden_channels": 128, "batch_size": 64, "epochs": 32}),
                        ("untrained", {"embedding": "head", "epochs": 0}),
                        ("shared", {"embedding": "head", "prelu": "shared"}),
                        ("channel", {"embedding": "head", "prelu": "channel"})):
        run = tmp_path / name
        run.mkdir()
        (run / "config.json").write_text(json.dumps(
            {"dataset": "MUTAG", "graph_level": True, "diffusion": {"kind": "ppr"},
             "graph": {"num_layers": 2, **graph}}))
    # written before the option existed: the encoder readouts
    assert table.describe_diffusion(tmp_path / "legacy") == "dense, encoder readout"
    assert table.describe_diffusion(tmp_path / "enc") == "dense, encoder readout"
    assert table.describe_diffusion(tmp_path / "head") == "dense, head output"
    assert (table.describe_diffusion(tmp_path / "release")
            == "dense, GCNs frozen (release bug), head output")
    # one configuration other than the defaults is named (a grid names its cells)
    assert (table.describe_diffusion(tmp_path / "dgl")
            == "dense, head output, L4 x 128, B64, E32")
    assert (table.describe_diffusion(tmp_path / "untrained")
            == "dense, head output, L2 x 512, B128, E0 (untrained encoders and heads)")
    # the release's one-slope PReLU is named, the default per-channel one is not
    assert table.describe_diffusion(tmp_path / "shared") == "dense, shared PReLU slope, head output"
    assert table.describe_diffusion(tmp_path / "channel") == "dense, head output"


def test_selection_rows_name_a_grid_cell_by_its_config(table):
    cands = ["a/L2-B32-E20", "a/L8-B32-E20", "b/L2-B128-E20"]
    assert table._candidate_label("a/L8-B32-E20", cands) == "a/L8-B32-E20"
    assert table._candidate_label("b/L2-B128-E20", cands) == "b"


def test_table_builder_refuses_a_folder_without_runs(tmp_path, monkeypatch, capsys):
    """An empty or mistyped --runs used to write an empty table and exit 0."""
    import sys

    from tests.conftest import load_experiment

    table = load_experiment("mvgrl_table")
    monkeypatch.setattr(sys, "argv", ["mvgrl_table.py", "--runs", str(tmp_path / "none"),
                                      "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit) as info:
        table.main()
    assert info.value.code == 2 and "no run results" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_missing_raw_files_stop_the_plots_not_the_tables(tmp_path, monkeypatch, capsys):
    """The Cora PCA plots need the labels: without raw files the tables are written and
    the exit names the missing files and the variable, instead of a traceback."""
    import sys

    import torch

    from tests.conftest import load_experiment

    table = load_experiment("mvgrl_table")
    runs = tmp_path / "runs"
    _run(runs, "Cora-pygcn-x", [0], [85.0], [0.8])
    (runs / "Cora-pygcn-x" / "default" / "seed_0").mkdir(parents=True)
    torch.save({"embedding": torch.randn(4, 2)},
               runs / "Cora-pygcn-x" / "default" / "seed_0" / "embedding.pt")
    monkeypatch.setenv("GRAPHREP_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GRAPHREP_DATA", raising=False)
    monkeypatch.setattr(sys, "argv", ["mvgrl_table.py", "--runs", str(runs),
                                      "--out", str(tmp_path / "out"),
                                      "--data-dir", str(tmp_path / "empty")])
    with pytest.raises(SystemExit) as info:
        table.main()
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert "Cora PCA plots were not drawn" in err and "cora.content" in err
    assert "GRAPHREP_DATA" in err
    assert (tmp_path / "out" / "mvgrl.md").is_file()
    assert (tmp_path / "out" / "mvgrl_loss_curves.png").is_file()


def test_selection_rows_read_members_from_runs_and_name_missing_ones(table, tmp_path, capsys):
    """Members come from --runs (not a fixed mvgrl_runs folder beside mvgrl_select); a
    member without results leaves its selection out, named, instead of a traceback; the
    view is the members' shared one."""
    runs, select = tmp_path / "myruns", tmp_path / "mvgrl_select"
    _run(runs, "a", [0], [80.0], [0.9])
    _run(runs, "b", [0], [82.0], [0.8])
    select.mkdir()
    sel = {"dataset": "MUTAG", "protocol": "honest", "accuracy_mean": 81.0,
           "accuracy_std": 0.5, "accuracies": [81.0], "seeds": [0], "seconds": 1.0,
           "peak_rss_mb": 50.0, "candidates": ["a", "b"], "folds_won": {"a": 6, "b": 4},
           "folds_tied": 0}
    (select / "a-or-b.json").write_text(json.dumps(sel))
    (select / "a-or-c.json").write_text(json.dumps({**sel, "candidates": ["a", "c"]}))
    rows = table.selected_rows(select, runs)
    assert [r["run"] for r in rows] == ["a + b"] and rows[0]["view"] == "ppr"
    assert rows[0]["peak_rss_mb"] == 101  # the members' largest
    assert "a-or-c.json left out" in capsys.readouterr().err


def test_merged_rows_average_the_members_diffusion_time(table, tmp_path):
    _run(tmp_path, "a", [0], [80.0], [0.9])
    _run(tmp_path, "b", [1], [82.0], [0.8])
    for name, secs in (("a", 1.0), ("b", 3.0)):
        f = tmp_path / name / "results.json"
        f.write_text(json.dumps({**json.loads(f.read_text()), "diffusion_seconds": secs}))
    assert table.merged_rows(tmp_path)[0]["diffusion_seconds"] == 2.0  # not the first's 1.0


def test_loss_curves_take_the_first_seed_and_the_last_record_per_epoch(table, tmp_path):
    run = tmp_path / "r"
    _run(tmp_path, "r", [5, 6], [80.0, 81.0], [0.9, 0.8])
    records = [{"eval": "svc", "accuracy": 0.8},  # a probe record first: no seed, no loss
               *({"seed": s, "config": "default", "epoch": e, "loss": 10 * s + e}
                 for s in (6, 5) for e in range(3)),
               {"seed": 5, "config": "default", "epoch": 1, "loss": -1.0}]  # retrained epoch
    lines = [json.dumps(r) for r in records]
    lines.insert(3, '{"seed": 5, "con')  # a garbled write, kept in the file: no record
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    [(dataset, name, (epochs, losses))] = table.loss_curves(tmp_path)
    assert (dataset, name, epochs, losses) == ("Cora", "r", [0, 1, 2], [50, -1.0, 52])


def test_damaged_inputs_are_named_and_leave_both_tables_as_they_were(table, tmp_path,
                                                                      monkeypatch, capsys):
    """A bad tune record raised a JSONDecodeError after mvgrl.csv was written, before
    mvgrl.md (the two then disagreed); a blank or torn last line is not a bad record; a
    damaged results.json raised a bare JSONDecodeError."""
    import sys

    runs, out = tmp_path / "runs", tmp_path / "out"
    _run(runs, "a", [0], [80.0], [0.9])
    tune = tmp_path / "tune.jsonl"
    rec = {"dataset": "Cora", "split": "pygcn", "spec": "topk=256", "seed": 0, "epoch": 50,
           "loss": 0.2, "val_std": 85.0, "test_std": 84.0}
    tune.write_text(json.dumps(rec) + "\n\n" + '{"dataset": "Co')  # blank line, torn tail
    argv = ["mvgrl_table.py", "--runs", str(runs), "--out", str(out), "--tune", str(tune)]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(table, "plot", lambda *a, **k: None)
    table.main()
    before = {f: (out / f).read_text() for f in ("mvgrl.csv", "mvgrl.md")}
    assert "| Cora | pygcn | topk=256 | 50 | 0 | 85.00 | 84.00 |" in before["mvgrl.md"]
    _run(runs, "b", [1], [70.0], [0.8])  # a new row, and a record garbled mid-file
    tune.write_text('{"dataset": "Co\n' + json.dumps(rec) + "\n")
    with pytest.raises(SystemExit) as info:
        table.main()
    assert info.value.code == 2 and f"Cannot read {tune}: line 1" in capsys.readouterr().err
    assert {f: (out / f).read_text() for f in before} == before
    tune.write_text(json.dumps(rec) + "\n")
    (runs / "b" / "results.json").write_text('{"dataset": ')
    with pytest.raises(SystemExit) as info:
        table.main()
    assert info.value.code == 2 and f"Cannot read {runs / 'b' / 'results.json'}" in capsys.readouterr().err


def test_sweep_table_gives_the_selecting_probes_validation_accuracy(table, tmp_path):
    """The default decisions quote the selecting probe's validation accuracy (per seed the
    better of the standardised and raw probes); blank where a record lacks the raw one."""
    tune = tmp_path / "tune.jsonl"
    base = {"dataset": "Cora", "split": "pygcn", "spec": "topk=256", "epoch": 100, "loss": 0.1,
            "test_std": 80.0}
    tune.write_text("".join(json.dumps({**base, **r}) + "\n" for r in (
        {"seed": 0, "val_std": 85.0, "val_raw": 86.0}, {"seed": 1, "val_std": 84.0, "val_raw": 83.0},
        {"seed": 0, "spec": "topk=64", "val_std": 80.0})))
    rows = [line for line in table.tune_section(tune) if line.startswith("| Cora")]
    assert rows == ["| Cora | pygcn | topk=256 | 100 | 0,1 | 84.50 | 80.00 | 0.100 | 85.00 |",
                    "| Cora | pygcn | topk=64 | 100 | 0 | 80.00 | 80.00 | 0.100 |  |"]


def _results(root, name, seeds, accs):
    (root / name).mkdir(parents=True)
    (root / name / "results.json").write_text(json.dumps({"seeds": seeds, "accuracies": accs}))


def test_targets_pool_the_default_runs_and_test_the_mean_against_the_target(table, tmp_path):
    """Three seeds in two runs against 85: mean 82, sd 2; with 2 degrees of freedom the
    t-quantile is 4.30265 and the two-sided p of t is 1 - |t| / sqrt(2 + t^2)."""
    _results(tmp_path, "a", [0, 1], [80.0, 84.0])
    _results(tmp_path, "b", [2], [82.0])
    targets = {("Cora", "pygcn"): (85.0, ("a", "b")), ("PTC_MR", "graph-cv"): (60.0, ("x",))}
    [row] = table.target_rows(tmp_path, targets, floors={})  # PTC_MR: no run there, left out
    half = 4.302652729911275 * 2 / 3 ** 0.5
    t = (82 - 85) / (2 / 3 ** 0.5)
    assert (row["n"], row["mean"], row["sd"]) == (3, 82.0, pytest.approx(2.0))
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(82 - half), pytest.approx(82 + half))
    assert row["p"] == pytest.approx(1 - abs(t) / (2 + t * t) ** 0.5)
    assert (row["low"], row["high"], row["runs"]) == (80.0, 84.0, "a + b")
    assert row["verdict"] == "below, inside the 95% CI"  # 85 < 82 + 4.97


@pytest.mark.parametrize(("target", "floor", "verdict"), [
    (76.0, None, "met, above the 95% CI"),  # 76 < 82 - 4.97
    (81.0, None, "met, inside the 95% CI"),
    (88.0, None, "below the 95% CI"),  # 88 > 82 + 4.97
    (88.0, 81.5, "below the 95% CI; floor 81.5 met on the mean (inside the 95% CI)"),
    (88.0, 83.0, "below the 95% CI; floor 83 not met on the mean (inside the 95% CI)"),
    (88.0, 70.0, "below the 95% CI; floor 70 met on the mean"),
])
def test_target_verdicts(table, tmp_path, target, floor, verdict):
    _results(tmp_path, "a", [0, 1, 2], [80.0, 82.0, 84.0])
    key = ("CiteSeer", "public")
    [row] = table.target_rows(tmp_path, {key: (target, ("a",))},
                              floors={key: floor} if floor is not None else {})
    assert row["verdict"] == verdict


@pytest.mark.parametrize(("target", "p", "verdict"), [
    (85.0, 0.0, "below the 95% CI"), (80.0, 1.0, "met, inside the 95% CI")])
def test_seeds_without_spread_are_certainly_off_or_on_target(table, tmp_path, target, p, verdict):
    _results(tmp_path, "a", [0, 1, 2], [80.0, 80.0, 80.0])
    [row] = table.target_rows(tmp_path, {("MUTAG", "graph-cv"): (target, ("a",))}, {})
    assert (row["sd"], row["p"], row["verdict"]) == (0.0, p, verdict)


def test_holm_adjustment_steps_down_and_stays_monotone(table):
    nan = float("nan")
    adjusted = table.holm_adjusted([0.01, 0.04, nan, 0.03, 0.5])
    # 4 tests: 4 x 0.01, 3 x 0.03, max(0.09, 2 x 0.04), max(0.09, 1 x 0.5)
    assert adjusted[:2] == [pytest.approx(0.04), pytest.approx(0.09)]
    assert adjusted[2] != adjusted[2] and adjusted[3:] == [pytest.approx(0.09), 0.5]
    assert table.holm_adjusted([0.4, 0.3]) == [pytest.approx(0.6), pytest.approx(0.6)]


def test_targets_refuse_to_pool_runs_of_different_configurations(table, tmp_path):
    for name, seeds, alpha in (("a", [0], 0.2), ("b", [1], 0.15)):
        _results(tmp_path, name, seeds, [80.0])
        (tmp_path / name / "config.json").write_text(json.dumps(
            {"dataset": "MUTAG", "graph_level": True, "diffusion": {"kind": "ppr", "alpha": alpha},
             "graph": {"epochs": 20}}))
    with pytest.raises(ValueError, match="trained different configurations"):
        table.target_rows(tmp_path, {("MUTAG", "graph-cv"): (85.0, ("a", "b"))}, {})
    (tmp_path / "b" / "config.json").write_text((tmp_path / "a" / "config.json").read_text())
    [row] = table.target_rows(tmp_path, {("MUTAG", "graph-cv"): (85.0, ("a", "b"))}, {})
    assert row["n"] == 2


def test_targets_name_missing_runs_refuse_shared_seeds_and_leave_one_seed_without_interval(
        table, tmp_path):
    _results(tmp_path, "a", [0], [80.0])
    [row] = table.target_rows(tmp_path, {("MUTAG", "graph-cv"): (85.0, ("a", "gone"))}, {})
    assert row["runs"] == "a (not found: gone)" and row["n"] == 1
    assert all(row[k] != row[k] for k in ("sd", "ci_low", "ci_high", "p"))  # nan
    assert row["verdict"] == "below (one seed: no interval)" and row["p_holm"] != row["p_holm"]
    _results(tmp_path, "b", [0], [81.0])
    with pytest.raises(ValueError, match=r"share seeds or lack an accuracy for one \(\[0, 0\]\)"):
        table.target_rows(tmp_path, {("MUTAG", "graph-cv"): (85.0, ("a", "b"))}, {})
    _results(tmp_path, "c", [1, 2], [81.0])  # two seeds, one accuracy
    with pytest.raises(ValueError, match=r"lack an accuracy for one \(\[0, 1, 2\]\)"):
        table.target_rows(tmp_path, {("MUTAG", "graph-cv"): (85.0, ("a", "c"))}, {})


def test_target_section_comes_first_in_the_table(table, tmp_path, monkeypatch):
    import sys

    runs, out = tmp_path / "runs", tmp_path / "out"
    _run(runs, "Cora-pygcn-ppr-alpha015", [0, 1], [86.0, 87.0], [0.9, 0.8])
    monkeypatch.setattr(sys, "argv", ["mvgrl_table.py", "--runs", str(runs), "--out", str(out),
                                      "--tune", str(tmp_path / "none.jsonl")])
    monkeypatch.setattr(table, "plot", lambda *a, **k: None)
    table.main()
    md = (out / "mvgrl.md").read_text()
    assert md.index("## The defaults against the issue's targets") < md.index("## Every run")
    # one degree of freedom: t-quantile 12.7062, p = 1 - (2 / pi) atan(|t|) with t = -0.6
    assert "| Cora | pygcn | 86.8 | 86.50 | 0.71 | 80.15-92.85 | 0.656 | 0.656 | 2 | 86.00-87.00 |" in md
    import csv

    [rec] = list(csv.DictReader((out / "mvgrl_targets.csv").open()))
    assert (rec["dataset"], rec["target"], rec["mean"], rec["n"]) == ("Cora", "86.8", "86.5", "2")


def test_targets_name_the_committed_default_runs_and_the_audit_checks_them(table):
    """Every target's runs are committed, and the reproduction audit's default list is the
    first run of each target but REDDIT-BINARY's (hours per seed)."""
    from tests.conftest import REPO

    runs = REPO / "experiments" / "results" / "mvgrl_runs"
    for _, names in table.TARGETS.values():
        assert all((runs / n / "results.json").is_file() for n in names), names
    audit = load_experiment("reproduction_audit")
    assert audit.DEFAULT_RUNS == [names[0] for (dataset, _), (_, names) in table.TARGETS.items()
                                  if dataset != "REDDIT-BINARY"]
