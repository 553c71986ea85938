"""Node-level evaluation under both protocols, on planted embeddings and end to end."""
import json

import pytest
import torch


@pytest.mark.parametrize("protocol", ["honest", "paper"])
def test_node_probe_reads_planted_classes_and_not_noise(cora, protocol):
    from graphrep.evaluate import node_accuracy

    data = cora.data
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(data.num_nodes, 16, generator=g)
    planted = torch.cat([3 * torch.nn.functional.one_hot(data.y).float(), noise], 1)
    assert node_accuracy(planted, data, protocol)["accuracy"] > 0.95
    majority = torch.bincount(data.y[data.test_mask]).max().item() / int(data.test_mask.sum())
    assert node_accuracy(noise, data, protocol)["accuracy"] < majority + 0.05
    with pytest.raises(ValueError, match="Unknown protocol"):
        node_accuracy(noise, data, "best")


def test_paper_probe_takes_the_release_weight_decay(cora, monkeypatch):
    """The release's probe: Adam with weight decay 0.01 on CiteSeer, none elsewhere."""
    import graphrep.evaluate as evaluate

    seen = []
    adam = torch.optim.Adam

    def recording_adam(params, **kw):
        seen.append(kw["weight_decay"])
        return adam(params, **kw)

    monkeypatch.setattr(evaluate.torch.optim, "Adam", recording_adam)
    emb = torch.randn(cora.data.num_nodes, 8)
    for name, wd in (("CiteSeer", 0.01), ("Cora", 0.0), (None, 0.0)):
        seen.clear()
        out = evaluate.node_accuracy(emb, cora.data, "paper", dataset=name)
        assert len(seen) == 50 and set(seen) == {wd} and out["weight_decay"] == wd


def test_cora_bench_then_paper_eval(data_dir, cache_dir, tmp_path):
    """The README's main job, small: bench (honest) writes results.json; eval under the
    paper protocol writes results_paper.json beside it from the same embedding."""
    from graphrep.cli import main

    out = tmp_path / "cora"
    args = ["--dataset", "Cora", "--seeds", "0", "--epochs", "50", "--hidden", "32",
            "--data-dir", str(data_dir), "--cache-dir", str(cache_dir), "--out-dir",
            str(out), "--quiet"]
    assert main(["bench", *args]) == 0
    res = json.loads((out / "results.json").read_text())
    assert (res["dataset"], res["split"], res["protocol"], res["seeds"]) == (
        "Cora", "public", "honest", [0])
    assert res["accuracy_mean"] > 50  # 7 classes, largest 32% of the test nodes
    assert 0 < res["peak_rss_mb"] and res["seconds"] > 0
    assert main(["eval", "--protocol", "paper", *args]) == 0
    paper = json.loads((out / "results_paper.json").read_text())
    assert paper["protocol"] == "paper" and paper["accuracy_mean"] > 40
    assert json.loads((out / "results.json").read_text()) == res  # honest result kept
