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
