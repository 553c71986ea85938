"""experiments/heat_row_sums.py: row sums of the heat kernel per transition."""
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.linalg import expm
from torch_geometric.data import Data

from tests.conftest import load_experiment


def test_row_sums_follow_the_transition(tmp_path, monkeypatch):
    import graphrep.data

    script = load_experiment("heat_row_sums")
    # a star: the hub (node 0) gathers from 5 leaves
    ei = torch.tensor([[0, 0, 0, 0, 0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 0, 0, 0, 0, 0]])
    monkeypatch.setattr(graphrep.data, "load_node_dataset",
                        lambda *a, **k: SimpleNamespace(data=Data(edge_index=ei, num_nodes=6)))
    out = tmp_path / "sums.json"
    script.main(["--dataset", "Star", "--out", str(out)])
    got = json.loads(out.read_text())
    assert got["num_nodes"] == 6 and got["t"] == 5.0
    # reference: scipy's expm of t (T - I) for each transition, written out here
    a = np.zeros((6, 6))
    a[ei[0], ei[1]] = 1.0
    d = a.sum(0)
    transitions = {"col": a / d[None, :], "row": a / d[:, None],
                   "sym": a / np.sqrt(np.outer(d, d))}
    for name, trans in transitions.items():
        sums = expm(5.0 * (trans - np.eye(6))).sum(1)
        assert got[name]["min"] == pytest.approx(sums.min(), abs=1e-4)
        assert got[name]["max"] == pytest.approx(sums.max(), abs=1e-4)
        assert got[name]["quartiles"] == pytest.approx(np.quantile(sums, [0.25, 0.5, 0.75]),
                                                       abs=1e-4)
    # A D^-1: columns sum to 1, so the rows hold the 6 units of mass; the hub's row gathers
    # most of it (at t -> inf its share is d_0 / 2m = 1/2: 3 of the 6)
    assert got["col"]["max"] == pytest.approx(3.0, abs=1e-3) and got["row"]["max"] == pytest.approx(1.0)
    with pytest.raises(SystemExit, match="no folder"):
        script.main(["--out", str(tmp_path / "missing" / "x.json")])
    with pytest.raises(SystemExit, match="--t must be a finite number > 0, got 0.0"):
        script.main(["--t", "0", "--out", str(out)])
    big = Data(edge_index=ei, num_nodes=7000)
    monkeypatch.setattr(graphrep.data, "load_node_dataset",
                        lambda *a, **k: SimpleNamespace(data=big))
    with pytest.raises(SystemExit, match="7000 nodes; the dense kernel is computed up to 6000"):
        script.main(["--out", str(out)])
