"""The bookkeeping of experiments/bridge_*.py (resume keys, report cells), with the demos faked."""

import json

import pytest

from tests.conftest import load_experiment

_load = load_experiment


def _fake_metrics(claim: bool, arms=("global_only", "local_only", "global+local"),
                  value: float = 0.5) -> dict:
    m = {a: {"class_a2v_r1": value, "frame_alignment": value, "localisation": value}
         for a in arms}
    return {"claim_holds": claim, "metrics": m, "seconds": 0.1}


def test_global_local_sweep_resumes_per_distractor(tmp_path, monkeypatch):
    sweep = _load("bridge_global_local_sweep")
    # a row from before the option (no "distractor" key) counts as the "class" design
    old = {"n_train": 8, "epochs": 1, "seed": 0, "claim": False, **_fake_metrics(False)}
    old = {k: v for k, v in old.items() if k != "claim_holds"}
    (tmp_path / "bridge_global_local_sweep.jsonl").write_text(json.dumps(old) + "\n")
    calls = []

    def fake_run(seed, epochs, n_train, validation, distractor, arms, shared_encoders):
        assert validation and len(arms) == 3
        calls.append((distractor, n_train, epochs, seed) + (() if shared_encoders else ("sep",)))
        return _fake_metrics(True)

    monkeypatch.setattr(sweep.global_local, "run", fake_run)
    args = ["--n-train", "8", "--epochs", "1", "--seeds", "0", "--out", str(tmp_path)]
    sweep.main([*args, "--distractor", "class"])
    assert calls == []  # the old row is the class cell: nothing re-run
    sweep.main([*args, "--distractor", "neutral"])
    assert calls == [("neutral", 8, 1, 0)]
    sweep.main([*args, "--distractor", "neutral"])
    assert len(calls) == 1  # resumed: the neutral cell is stored now
    rows = [json.loads(x) for x in (tmp_path / "bridge_global_local_sweep.jsonl").read_text().splitlines()]
    assert [r.get("distractor") for r in rows] == [None, "neutral"]
    md = (tmp_path / "bridge_global_local_sweep.md").read_text()
    assert "| class | 8 | 1 | 1 | 0/1 | global_only |" in md
    assert "| neutral | 8 | 1 | 1 | 1/1 | global_only |" in md
    # separate encoders: a cell of its own, resumed on its own
    sweep.main([*args, "--distractor", "neutral", "--separate-encoders"])
    sweep.main([*args, "--distractor", "neutral", "--separate-encoders"])
    assert calls == [("neutral", 8, 1, 0), ("neutral", 8, 1, 0, "sep")]
    rows = [json.loads(x) for x in (tmp_path / "bridge_global_local_sweep.jsonl").read_text().splitlines()]
    assert [r.get("shared_encoders") for r in rows] == [None, None, False]
    md = (tmp_path / "bridge_global_local_sweep.md").read_text()
    assert "| neutral, separate encoders | 8 | 1 | 1 | 1/1 | global_only |" in md
    assert "| neutral | 8 | 1 | 1 | 1/1 | global_only |" in md


def test_global_local_sweep_extra_arm_runs_only_the_missing_arm(tmp_path, monkeypatch):
    sweep = _load("bridge_global_local_sweep")
    calls = []

    def fake_run(seed, epochs, n_train, validation, distractor, arms, shared_encoders):
        calls.append((seed, tuple(arms)))
        claim = True if len(arms) >= 3 else None  # the real run: None without the three arms
        return _fake_metrics(claim, arms, value=0.25 if len(arms) == 1 else 0.5)

    monkeypatch.setattr(sweep.global_local, "run", fake_run)
    args = ["--n-train", "8", "--epochs", "1", "--distractor", "neutral", "--out", str(tmp_path)]
    extra = ["--extra-arm", "global+local_detached"]
    md_path = tmp_path / "bridge_global_local_sweep.md"
    sweep.main([*args, "--seeds", "0"])
    sweep.main([*args, "--seeds", "0", *extra])
    # seed 0 stored: only the ablation arm runs, merged into its row
    assert calls[1] == (0, ("global+local_detached",))
    rows = [json.loads(x) for x in (tmp_path / "bridge_global_local_sweep.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["claim"] is True  # the merged row keeps its claim
    assert rows[0]["metrics"]["global+local_detached"]["frame_alignment"] == 0.25
    assert rows[0]["seconds"] == 0.2  # both runs' time
    sweep.main([*args, "--seeds", "1"])
    # seed 1 lacks the ablation: the cell lists the paper's arms only
    assert "global+local_detached" not in md_path.read_text()
    sweep.main([*args, "--seeds", "0", "1", *extra])
    assert calls[3] == (1, ("global+local_detached",))
    sweep.main([*args, "--seeds", "0", "1", *extra])
    assert len(calls) == 4  # both seeds have the arm now: nothing re-run
    md = md_path.read_text()
    assert "| neutral | 8 | 1 | 2 | 2/2 | global_only |" in md
    assert "| neutral | 8 | 1 | 2 | - | global+local_detached | 0.250 [0.25 0.25] |" in md


def test_bridge_report_states_per_seed_counts_for_multi_seed_runs():
    demos = _load("bridge_demos")
    metrics = {a: {"retrieval_a2v_r1": 0.0, "class_a2v_r1": 1.0, "localisation": 0.5,
                   "frame_alignment": 0.6} for a in ("global_only", "local_only", "global+local")}
    res = {"command": "cmd", "quick": False, "wall_seconds": 1.0, "summary": "s",
           "claim_holds": True, "claims_per_seed": [True, False, False], "metrics": metrics,
           "per_seed": [{"seed": i, "summary": "x"} for i in range(3)]}
    md = demos._markdown({"global_local": res})
    row = next(line for line in md.splitlines() if line.startswith("| global_local |"))
    assert "| True on the mean (1 of 3 seeds) |" in row
    single = dict(res)
    del single["claims_per_seed"], single["per_seed"]
    row = next(line for line in demos._markdown({"global_local": single}).splitlines()
               if line.startswith("| global_local |"))
    assert "| True |" in row and "seeds)" not in row


def test_crd_student_rejects_unknown_arm():
    from shared.bridge.demos import crd

    with pytest.raises(ValueError, match="arm must be"):
        crd._train_student(None, None, None, None, 1, "kd+crd", 0)


def test_bridge_ablations_keep_other_entries_and_record_the_call(tmp_path, monkeypatch):
    """One ablation run again replaces its own entry, keeps the others, and records the
    demo call it made with the arguments it was made with."""
    ablations = _load("bridge_ablations")
    calls = []

    def fake_run(**kwargs):
        calls.append(kwargs)
        return {"summary": f"fake {sorted(kwargs.items())}"}

    monkeypatch.setattr(ablations.importlib, "import_module",
                        lambda name: type("M", (), {"run": staticmethod(fake_run)}))
    ablations.main(["--only", "crd_val_32", "crossclr_quick", "--out", str(tmp_path)])
    assert calls == [dict(validation=True, seeds=2, hidden=32), dict(quick=True)]
    ablations.main(["--only", "crossclr_quick", "--out", str(tmp_path)])
    stored = json.loads((tmp_path / "bridge_ablations.json").read_text())
    assert list(stored) == ["crd_val_32", "crossclr_quick"]
    assert stored["crd_val_32"]["call"] == \
        "shared.bridge.demos.crd.run(validation=True, seeds=2, hidden=32)"
    md = (tmp_path / "bridge_ablations.md").read_text()
    assert md.index("| crd_val_32 |") < md.index("| crossclr_quick |")
    with pytest.raises(SystemExit):
        ablations.main(["--only", "no_such_ablation", "--out", str(tmp_path)])
    # a damaged store is named with a way out that keeps the other ablations
    from shared.checkpoint import CorruptFileError

    (tmp_path / "bridge_ablations.json").write_text('{"crd_val_32": ')
    with pytest.raises(CorruptFileError, match="restore it .git checkout., or pass another --out; "
                                               "deleting it loses every stored ablation"):
        ablations.main(["--only", "crossclr_quick", "--out", str(tmp_path)])


def test_committed_bridge_ablations_are_the_ones_the_script_defines():
    """Every committed entry was made by the call the script now names (a changed call
    would leave a stale entry behind)."""
    ablations = _load("bridge_ablations")
    stored = json.loads(open(f"{ablations.RESULTS}/bridge_ablations.json").read())
    assert set(stored) == set(ablations.ABLATIONS)
    for name, (module, kwargs, _) in ablations.ABLATIONS.items():
        assert stored[name]["call"] == ablations._call(module, kwargs), name
