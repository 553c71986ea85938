"""experiments/reproduction_audit.py: a retrained seed is compared with the committed run."""
import json

import pytest

from tests.conftest import load_experiment


@pytest.fixture(scope="module")
def audit():
    return load_experiment("reproduction_audit")


def _bench(data_dir, cache_dir, out, *argv):
    from graphrep.cli import main

    assert main(["bench", *argv, "--seeds", "0", "--epochs", "2", "--hidden", "16",
                 "--data-dir", str(data_dir), "--cache-dir", str(cache_dir),
                 "--out-dir", str(out), "--quiet"]) == 0


def test_graph_run_is_reproduced_and_a_changed_record_is_caught(audit, data_dir, cache_dir,
                                                                tmp_path, monkeypatch):
    run = tmp_path / "MUTAG-tiny"
    _bench(data_dir, cache_dir, run, "--dataset", "MUTAG")
    head, train = {"now": "before"}, audit.train_runs

    def train_while_head_moves(*args, **kwargs):  # a commit lands while a long seed trains
        out = train(*args, **kwargs)
        head["now"] = "after"
        return out

    monkeypatch.setattr(audit, "_head_commit", lambda: head["now"])
    monkeypatch.setattr(audit, "train_runs", train_while_head_moves)
    rec = audit.audit_run(run, 0, None, probe=False)
    assert rec["commit"] == "before"  # the code that ran, not HEAD when the record is written
    monkeypatch.undo()
    assert rec["identical_embedding"] is True and rec["same_best_loss"] is True
    assert rec["config"] == "L2-B128-E2" and rec["level"] == "graph"
    assert audit.verdict(rec) == "embedding reproduced bit for bit"
    # a record of another embedding (what older code trained) is reported, and probing
    # the retrained embedding gives the accuracy the committed record would have had
    svc = run / "L2-B128-E2" / "seed_0" / "svc.json"
    stored = json.loads(svc.read_text())
    svc.write_text(json.dumps({**stored, "input_sha256": "0" * 64}))
    rec = audit.audit_run(run, 0, None, probe=True)
    assert rec["identical_embedding"] is False
    assert rec["accuracy"] == stored["result"]["accuracy"] and rec["same_accuracy"]
    assert audit.verdict(rec) == "embedding DIFFERS, same best loss, same accuracy"
    # a record written before digests were kept cannot vouch for the embedding
    svc.write_text(json.dumps({k: v for k, v in stored.items() if k != "input_sha256"}))
    rec = audit.audit_run(run, 0, None, probe=False)
    assert rec["identical_embedding"] is None
    assert audit.verdict(rec).startswith("no digest committed")
    # a run committed without probe records is compared with its results file
    svc.unlink()
    rec = audit.audit_run(run, 0, None, probe=True)
    assert rec["committed_accuracy"] == stored["result"]["accuracy"] and rec["same_accuracy"]


def test_node_run_compares_accuracy_and_training(audit, data_dir, cache_dir, tmp_path):
    run = tmp_path / "Cora-tiny"
    _bench(data_dir, cache_dir, run, "--dataset", "Cora", "--split", "pygcn")
    rec = audit.audit_run(run, 0, None, probe=False)
    assert rec["level"] == "node" and rec["same_accuracy"] and rec["same_best_loss"]
    results = json.loads((run / "results.json").read_text())
    results["accuracies"] = [a + 1 for a in results["accuracies"]]
    (run / "results.json").write_text(json.dumps(results))
    rec = audit.audit_run(run, 0, None, probe=False)
    assert rec["same_accuracy"] is False
    assert audit.verdict(rec) == "same best loss, accuracy DIFFERS"


def test_missing_run_names_the_directory(audit, tmp_path):
    with pytest.raises(SystemExit, match="config.json is missing"):
        audit.audit_options(tmp_path / "nope", 0, tmp_path / "scratch", None)


def test_bad_runs_and_output_are_named_before_training(audit, tmp_path, monkeypatch):
    """An unfinished run (no results.json) or a missing --out folder were found after the
    retraining (hours for a REDDIT seed), as a FileNotFoundError."""
    import sys

    monkeypatch.setattr(audit, "audit_run", lambda *a, **k: pytest.fail("trained before the check"))
    monkeypatch.setattr(audit, "RUNS_DIR", tmp_path)
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / "config.json").write_text(json.dumps({"seeds": [0]}))
    for argv, message in ((["--runs", "unfinished"], "results.json is missing: 'unfinished' is unfinished"),
                          (["--runs", "unfinished", "--out", str(tmp_path / "no" / "a.jsonl")],
                           "its folder does not exist")):
        monkeypatch.setattr(sys, "argv", ["reproduction_audit.py", *argv])
        with pytest.raises(SystemExit, match=message):
            audit.main()


def test_records_are_strict_json_and_tabled(audit, tmp_path, monkeypatch):
    """An untrained run's best loss (inf) was written as the non-JSON token Infinity."""
    import sys

    rec = {"run": "r", "seed": 0, "config": "default", "level": "node", "accuracy": 0.5,
           "committed_accuracy": 0.5, "same_accuracy": True, "best_loss": float("inf"),
           "committed_best_loss": None, "same_best_loss": True, "seconds": 1.0, "commit": "abc"}
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text(json.dumps({"seeds": [0]}))
    (tmp_path / "r" / "results.json").write_text("{}")
    monkeypatch.setattr(audit, "RUNS_DIR", tmp_path)
    monkeypatch.setattr(audit, "audit_run", lambda *a, **k: dict(rec))
    out = tmp_path / "audit.jsonl"
    monkeypatch.setattr(sys, "argv", ["reproduction_audit.py", "--runs", "r", "--out", str(out)])
    audit.main()
    line = out.read_text().strip()
    assert json.loads(line, parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))["best_loss"] is None
    assert "| r | 0 | default | same best loss, same accuracy | 50.00 / 50.00 | inf / inf |" in (
        out.with_suffix(".md").read_text())
