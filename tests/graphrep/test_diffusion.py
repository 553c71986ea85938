"""Diffusion views against dense references; sparsification promises."""
import numpy as np
import pytest
import scipy.linalg
import torch
from torch_geometric.utils import erdos_renyi_graph, to_undirected

from graphrep.diffusion import (
    adjacency_view,
    diffusion_view,
    heat_matrix,
    minmax_columns,
    ppr_matrix,
    sparsify_dense,
)


def dense(view, n):
    ei, ew = view
    m = torch.zeros(n, n, dtype=torch.float64)
    m[ei[1], ei[0]] = ew.double()  # edge j -> i carries S[i, j]
    return m


def adjacency(ei, n):
    a = torch.zeros(n, n, dtype=torch.float64)
    a[ei[0], ei[1]] = 1.0
    return a


@pytest.fixture
def graph():
    torch.manual_seed(0)
    n = 40
    ei = to_undirected(erdos_renyi_graph(n, 0.08))
    ei = ei[:, (ei[0] < 38) & (ei[1] < 38)]  # nodes 38, 39 isolated
    return ei, n


def test_adjacency_view_is_sym_normalised(graph):
    ei, n = graph
    a = adjacency(ei, n) + torch.eye(n, dtype=torch.float64)
    d = a.sum(1).pow(-0.5)
    assert torch.allclose(dense(adjacency_view(ei, n), n), d[:, None] * a * d[None],
                          atol=1e-6)


def test_adjacency_view_double_self_loop(graph):
    ei, n = graph
    a = adjacency(ei, n) + 2 * torch.eye(n, dtype=torch.float64)
    d = a.sum(1).pow(-0.5)
    got = dense(adjacency_view(ei, n, dtype=torch.float64, self_loop_weight=2.0), n)
    assert torch.allclose(got, d[:, None] * a * d[None], atol=1e-10)
    with pytest.raises(ValueError, match="self_loop_weight"):
        adjacency_view(ei, n, self_loop_weight=0.0)


def test_ppr_equals_closed_form_inverse(graph):
    ei, n = graph
    a = adjacency(ei, n) + torch.eye(n, dtype=torch.float64)
    d = a.sum(1).pow(-0.5)
    t = d[:, None] * a * d[None]
    ref = 0.2 * torch.linalg.inv(torch.eye(n, dtype=torch.float64) - 0.8 * t)
    assert torch.allclose(ppr_matrix(ei, n, 0.2), ref, atol=1e-10)
    assert torch.allclose(dense(diffusion_view(ei, n, "ppr", method="exact"), n),
                          ref, atol=1e-6)


def test_heat_equals_scipy_expm(graph):
    ei, n = graph
    a = adjacency(ei, n)
    trans = a / a.sum(0).clamp(min=1)[None]  # A D^-1, zero columns for isolated
    ref = torch.from_numpy(scipy.linalg.expm(5.0 * (trans.numpy() - np.eye(n))))
    assert torch.allclose(heat_matrix(ei, n, 5.0), ref, atol=1e-10)
    assert torch.allclose(dense(diffusion_view(ei, n, "heat", method="exact"), n),
                          ref, atol=1e-6)


@pytest.mark.parametrize("transition", ["col", "sym", "row"])
def test_heat_transitions_equal_scipy_expm(graph, transition):
    """exp(t T - t I) for T = A D^-1 (the paper's), D^-1/2 A D^-1/2 (GDC's), D^-1 A: exact
    and power series both; isolated nodes keep e^-t on the diagonal."""
    ei, n = graph
    a = adjacency(ei, n).numpy()
    d = a.sum(0)
    inv = np.where(d > 0, 1.0 / np.maximum(d, 1), 0.0)
    trans = {"col": a * inv[None], "row": a * inv[:, None],
             "sym": a * np.sqrt(inv)[:, None] * np.sqrt(inv)[None]}[transition]
    ref = torch.from_numpy(scipy.linalg.expm(5.0 * (trans - np.eye(n))))
    assert torch.allclose(heat_matrix(ei, n, 5.0, transition), ref, atol=1e-10)
    for method, opts in (("exact", {}), ("power", dict(prune=0.0, tol=1e-9))):
        got = dense(diffusion_view(ei, n, "heat", method=method,
                                   heat_transition=transition, **opts), n)
        assert torch.allclose(got, ref, atol=1e-6), method
    linked = torch.from_numpy(d > 0)
    assert 0 < int(linked.sum()) < n
    if transition == "row":  # rows of a node with edges sum to 1
        assert torch.allclose(ref[linked].sum(1), torch.ones(int(linked.sum()),
                                                             dtype=torch.float64))
    assert torch.allclose(ref.diagonal()[~linked], torch.tensor(np.exp(-5.0),
                                                                dtype=torch.float64))


def test_heat_transition_is_checked():
    ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    with pytest.raises(ValueError, match="Unknown heat_transition 'rw'.*'col', 'sym', 'row'"):
        diffusion_view(ei, 3, "heat", heat_transition="rw")
    with pytest.raises(ValueError, match="Unknown heat_transition"):
        heat_matrix(ei, 3, 5.0, "rw")
    with pytest.raises(ValueError, match="sets the heat kernel.*kind='ppr'"):
        diffusion_view(ei, 3, "ppr", heat_transition="sym")


@pytest.mark.parametrize("kind", ["ppr", "heat"])
def test_power_series_matches_exact(graph, kind):
    ei, n = graph
    exact = dense(diffusion_view(ei, n, kind, method="exact"), n)
    approx = dense(diffusion_view(ei, n, kind, method="power", prune=0.0,
                                  tol=1e-9), n)
    assert torch.allclose(approx, exact, atol=1e-6)


def test_topk_keeps_k_largest_per_row(graph):
    ei, n = graph
    s = ppr_matrix(ei, n)
    kept = dense(sparsify_dense(s, topk=5), n)
    # exactly min(5, row's nonzeros) per row: an emptied row would fail here
    assert torch.equal((kept != 0).sum(1), (s > 0).sum(1).clamp(max=5))
    for i in range(n):
        nz = kept[i][kept[i] != 0]
        assert torch.allclose(nz.sort().values, s[i][s[i] > 0].topk(len(nz)).values.sort().values.float().double(), atol=1e-6)


def test_eps_threshold_drops_small_entries(graph):
    ei, n = graph
    s = ppr_matrix(ei, n)
    for method in ("exact", "power"):
        kept = dense(diffusion_view(ei, n, "ppr", method=method, eps=1e-3), n)
        assert (kept[kept != 0] >= 1e-3 - 1e-9).all()
    kept = dense(diffusion_view(ei, n, "ppr", eps=1e-3), n)
    assert torch.equal(kept != 0, s >= 1e-3)


def test_power_topk(graph):
    ei, n = graph
    kept = dense(diffusion_view(ei, n, "heat", method="power", topk=3), n)
    ref = dense(diffusion_view(ei, n, "heat", method="exact", topk=3), n)
    ref[ref < 1e-12] = 0  # rounding noise of expm where the kernel is exactly 0
    # the series keeps the same (up to) three largest entries per row as the exact kernel
    assert torch.equal(kept != 0, ref != 0)
    assert ((kept != 0).sum(1) == 3).sum() >= n - 4  # isolated nodes keep only themselves
    assert torch.allclose(kept, ref, atol=1e-4)


@pytest.mark.parametrize("kind", ["ppr", "heat"])
def test_power_in_row_blocks_equals_one_block(graph, kind, monkeypatch):
    """Blocks of 3 rows (the last one short) give the view the whole series gives,
    sparsified the same way."""
    import graphrep.diffusion as diffusion

    ei, n = graph
    opts = dict(method="power", prune=0.0, tol=1e-9, topk=4, eps=1e-3)
    whole = dense(diffusion_view(ei, n, kind, **opts), n)
    monkeypatch.setattr(diffusion, "POWER_BLOCK_ENTRIES", 3 * n)
    blocked = dense(diffusion_view(ei, n, kind, **opts), n)
    assert torch.equal(blocked != 0, whole != 0)
    assert torch.allclose(blocked, whole, atol=1e-12)
    exact = dense(diffusion_view(ei, n, kind, method="exact"), n)
    assert torch.allclose(blocked[blocked != 0], exact[blocked != 0], atol=1e-6)


def test_power_memory_is_bounded_by_the_block(monkeypatch):
    """No intermediate of the series holds more than one block (``N x width``
    entries), where the whole series at once fills towards ``N^2`` on a connected
    graph long before ``prune`` thins it."""
    import graphrep.diffusion as diffusion

    torch.manual_seed(0)
    n = 600
    ring = torch.stack([torch.arange(n), torch.arange(1, n + 1) % n])  # connected
    ei = to_undirected(torch.cat([ring, erdos_renyi_graph(n, 4 / n)], dim=1))
    width = 8
    monkeypatch.setattr(diffusion, "POWER_BLOCK_ENTRIES", width * n)
    peak = []
    prune = diffusion._prune

    def counting_prune(mat, threshold):  # sees every term, sparse or (once full) dense
        peak.append(mat.nnz if hasattr(mat, "nnz") else mat.size)
        return prune(mat, threshold)

    monkeypatch.setattr(diffusion, "_prune", counting_prune)
    view = diffusion_view(ei, n, "ppr", method="power", topk=16)
    assert max(peak) <= n * width
    assert view[1].numel() == n * 16  # every node keeps its 16 strongest sources
    # the same graph's whole series: terms fill most of the N^2 positions
    assert (ppr_matrix(ei, n) > 1e-6).double().mean() > 0.5


def _degrees_with_loops(ei, n):
    return torch.bincount(ei[0], minlength=n).double() + 1  # A + I, no self-loops in ei


@pytest.mark.parametrize("push_eps", [1e-3, 1e-6])
def test_push_is_a_lower_bound_within_its_error(graph, push_eps):
    """Every entry of the push view lies at or below the exact PPR and short of it by at
    most push_eps * sqrt(d_i d_j) (d: degrees of A + I); with push_eps 1e-6 it keeps
    every entry the exact view keeps above that error."""
    ei, n = graph
    exact = ppr_matrix(ei, n)
    push = dense(diffusion_view(ei, n, "ppr", method="push", push_eps=push_eps), n)
    d = _degrees_with_loops(ei, n)
    bound = push_eps * torch.sqrt(d.view(-1, 1) * d.view(1, -1))
    assert (push <= exact + 1e-7).all()  # float32 storage
    assert (exact - push <= bound + 1e-7).all()
    # isolated nodes reach only themselves
    assert not push[38:, :38].any() and not push[:38, 38:].any() and push[38, 38] > 0.99
    if push_eps == 1e-6:
        assert (push[exact > 2 * bound] != 0).all()
        assert (exact - push).abs().max() < 1e-4


def test_push_counts_repeated_edges_as_exact_does(graph):
    ei, n = graph
    multi = torch.cat([ei, ei[:, :10], ei[:, :10].flip(0)], dim=1)  # some edges twice
    exact = ppr_matrix(multi, n)
    assert not torch.allclose(exact, ppr_matrix(ei, n))  # multiplicity matters
    push = dense(diffusion_view(multi, n, "ppr", method="push", push_eps=1e-7), n)
    assert (exact - push).abs().max() < 1e-4


def test_push_topk_matches_exact_on_a_larger_graph():
    """top-k of the push view picks the exact top-k's entries, near-ties aside."""
    from torch_geometric.utils import barabasi_albert_graph

    torch.manual_seed(0)
    np.random.seed(0)
    n, k = 400, 16
    ei = barabasi_albert_graph(n, 2)
    push = dense(diffusion_view(ei, n, "ppr", method="push", topk=k), n)
    exact = ppr_matrix(ei, n)
    assert torch.equal((push != 0).sum(1), torch.full((n,), k))
    top = exact.topk(k, dim=1).values.sum(1)
    assert ((exact * (push != 0)).sum(1) / top).min() > 0.999


def test_sparse_row_selection_equals_the_dense_one():
    """The push method's per-row eps / top-k on entry lists keeps what the dense path
    keeps (distinct values, so no ties)."""
    from graphrep.diffusion import _dense_entries, _sparse_row_entries

    g = torch.Generator().manual_seed(0)
    m = torch.rand(30, 50, generator=g, dtype=torch.float64)
    m[m < 0.6] = 0  # rows with fewer than k entries too
    m[0] = m[3] = 0  # empty rows, the first one too
    rows, cols = m.nonzero(as_tuple=True)
    perm = torch.randperm(rows.numel(), generator=g)  # any input order
    for eps, topk in [(None, None), (0.7, None), (None, 8), (0.65, 5), (None, 100)]:
        want = _dense_entries(m, eps, topk)
        got = _sparse_row_entries(rows[perm], cols[perm], m[rows, cols][perm], eps, topk)
        as_set = lambda e: set(zip(e[0].tolist(), e[1].tolist(), e[2].tolist(), strict=True))  # noqa: E731
        assert as_set(got) == as_set(want)
    # ties at the k-th place go to the lower column
    rows, cols = torch.tensor([2, 2, 2, 2]), torch.tensor([7, 1, 5, 3])
    vals = torch.tensor([0.5, 0.2, 0.2, 0.9], dtype=torch.float64)
    r, c, v = _sparse_row_entries(rows, cols, vals, None, 3)
    assert r.tolist() == [2, 2, 2] and c.tolist() == [3, 7, 1]


def test_push_leaves_torch_threads_as_they_were(graph):
    """numba's OpenMP layer shares its pool with torch: the push method must not leave
    torch on more threads (two 1-thread jobs on 2 cores each ran on 2: several x slower)."""
    ei, n = graph
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            diffusion_view(ei, n, "ppr", method="push", topk=4)
            assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)


def test_push_in_row_blocks_equals_one_block(graph, monkeypatch):
    import graphrep.diffusion as diffusion

    ei, n = graph
    whole = diffusion_view(ei, n, "ppr", method="push", topk=4)
    monkeypatch.setattr(diffusion, "PUSH_BLOCK_ROWS", 7)
    blocked = diffusion_view(ei, n, "ppr", method="push", topk=4)
    assert torch.equal(blocked[0], whole[0]) and torch.equal(blocked[1], whole[1])


def test_auto_method_by_graph_size(graph, monkeypatch):
    """auto: exact up to EXACT_MAX_NODES, power up to POWER_MAX_NODES; above, push for
    PPR (power, with a warning, when numba does not import) and power for heat."""
    import warnings

    import graphrep.diffusion as diffusion
    from graphrep.views import DiffusionOptions, node_views

    ei, n = graph
    called = []
    for name in ("_push_ppr", "_power_diffusion"):
        real = getattr(diffusion, name)
        monkeypatch.setattr(diffusion, name,
                            lambda *a, _n=name, _r=real, **k: called.append(_n) or _r(*a, **k))
    diffusion_view(ei, n, "ppr")
    assert called == [] and diffusion.resolve_method("ppr", n) == "exact"
    monkeypatch.setattr(diffusion, "EXACT_MAX_NODES", n - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # power below POWER_MAX_NODES is no fallback
        diffusion_view(ei, n, "ppr")
    assert called == ["_power_diffusion"]
    monkeypatch.setattr(diffusion, "POWER_MAX_NODES", n - 1)
    diffusion_view(ei, n, "ppr")
    diffusion_view(ei, n, "heat")
    assert node_views(ei, n, DiffusionOptions()).diffusion_method == "push"
    # without numba "auto" still means push above POWER_MAX_NODES, and refuses naming the
    # fix: a run resumed where numba is missing must not train on other (power) views
    monkeypatch.setattr(diffusion, "_numba_available", lambda: False)
    assert diffusion.resolve_method("ppr", n) == "push"
    assert node_views(ei, n, DiffusionOptions(method="power")).diffusion_method == "power"
    with pytest.raises(ImportError, match="pip install numba, or choose method='power'"):
        diffusion_view(ei, n, "ppr")
    assert called == ["_power_diffusion", "_push_ppr", "_power_diffusion", "_push_ppr",
                      "_power_diffusion", "_push_ppr"]
    assert diffusion.resolve_method("ppr", n, "exact") == "exact"
    with pytest.raises(ImportError, match="pip install numba"):
        diffusion_view(ei, n, "ppr", method="push")


def test_minmax_columns_equals_sklearn_on_the_dense_matrix():
    from sklearn.preprocessing import MinMaxScaler

    n = 5
    m = torch.zeros(n, n, dtype=torch.float64)
    m[:, 0] = torch.tensor([0.5, 0.2, 0.3, 0.9, 0.4])  # full column: min is 0.2, not 0
    m[1, 1], m[3, 1] = 0.25, 0.5                       # sparse column: min is 0
    m[:, 2] = 0.7                                      # full constant column -> 0
    m[2, 3] = 0.1                                      # single entry -> 1
    ei, ew = sparsify_dense(m, dtype=torch.float64)
    got = dense(minmax_columns(ei, ew, n), n)
    want = torch.from_numpy(MinMaxScaler().fit_transform(m.numpy()))
    assert torch.allclose(got, want)
    assert (minmax_columns(ei, ew, n)[1] != 0).all()  # zeros are dropped


def test_column_scale_after_eps(graph):
    ei, n = graph
    from sklearn.preprocessing import MinMaxScaler

    s = ppr_matrix(ei, n)
    s[s < 1e-3] = 0
    got = dense(diffusion_view(ei, n, "ppr", eps=1e-3, column_scale="minmax"), n)
    want = torch.from_numpy(MinMaxScaler().fit_transform(s.numpy()))
    assert torch.allclose(got, want, atol=1e-6)
    with pytest.raises(ValueError, match="column_scale"):
        diffusion_view(ei, n, column_scale="zscore")


def test_graph_without_edges():
    ei = torch.empty(2, 0, dtype=torch.long)
    assert torch.allclose(ppr_matrix(ei, 3), torch.eye(3, dtype=torch.float64))
    assert torch.allclose(heat_matrix(ei, 3, 5.0),
                          np.exp(-5.0) * torch.eye(3, dtype=torch.float64))
    assert torch.allclose(ppr_matrix(ei, 1), torch.ones(1, 1, dtype=torch.float64))
    for method in ("power", "push"):  # every node keeps only itself
        (src, dst), w = diffusion_view(ei, 3, "ppr", method=method, topk=2)
        assert torch.equal(src, dst) and torch.equal(src, torch.arange(3))
        assert torch.allclose(w, torch.ones(3), atol=1e-4)


def test_bad_diffusion_arguments(graph):
    ei, n = graph
    with pytest.raises(ValueError, match="ppr.*heat"):
        diffusion_view(ei, n, "wave")
    with pytest.raises(ValueError, match="method"):
        diffusion_view(ei, n, "ppr", method="magic")
    with pytest.raises(ValueError, match="alpha"):
        ppr_matrix(ei, n, 1.5)
    for method in ("power", "push"):
        with pytest.raises(ValueError, match="alpha"):
            diffusion_view(ei, n, "ppr", method=method, alpha=0.0)
    with pytest.raises(ValueError, match="PPR only.*heat kernel takes"):
        diffusion_view(ei, n, "heat", method="push")
    with pytest.raises(ValueError, match="push_eps"):
        diffusion_view(ei, n, "ppr", method="push", push_eps=0)
    with pytest.raises(ValueError, match="topk"):
        diffusion_view(ei, n, topk=0)
    with pytest.raises(ValueError, match=r"refers to node \d+ but the graph has nodes 0\.\.2\."):
        diffusion_view(ei, 3)
    with pytest.raises(ValueError, match="Cannot diffuse a graph without nodes"):
        diffusion_view(torch.empty(2, 0, dtype=torch.long), 0)
    for t in (0.0, -1.0, float("nan"), float("inf")):  # NaN gave an all-NaN kernel
        with pytest.raises(ValueError, match=f"t must be a finite number > 0, got {t}"):
            heat_matrix(torch.tensor([[0, 1], [1, 0]]), 2, t)


def test_dense_graph_views_over_budget_name_the_fix(monkeypatch):
    from torch_geometric.data import Data

    import graphrep.views as views

    graphs = [Data(x=torch.ones(30, 1), edge_index=torch.tensor([[0, 1], [1, 0]]), num_nodes=30)
              for _ in range(4)]
    monkeypatch.setattr(views, "MAX_DENSE_VIEW_ENTRIES", 1000)
    with pytest.raises(ValueError, match=r"3\.60e\+03 entries.*--topk 32"):
        views.attach_graph_views(graphs, views.DiffusionOptions(), progress=False)
    # sparsified views are not limited
    out = views.attach_graph_views(graphs, views.DiffusionOptions(topk=4), progress=False)
    assert len(out) == 4


def test_cached_graph_views_are_reused_and_rebuilt_when_the_graphs_change(tmp_path, monkeypatch):
    from torch_geometric.data import Data

    import graphrep.views
    from graphrep.views import DiffusionOptions, attach_graph_views

    def graphs(edges):
        return [Data(x=torch.ones(3, 1), edge_index=torch.tensor(edges).t(), num_nodes=3)
                for _ in range(2)]

    cache, opts = tmp_path / "views.pt", DiffusionOptions()
    path = graphs([[0, 1], [1, 0]])
    first = attach_graph_views(path, opts, cache, progress=False)
    assert cache.is_file()
    with monkeypatch.context() as m:  # the same graphs: read back, nothing computed
        m.setattr(graphrep.views, "adjacency_view",
                  lambda *a, **k: pytest.fail("views computed again despite the cache"))
        again = attach_graph_views(path, opts, cache, progress=False)
    assert torch.equal(again[0].diff_edge_weight, first[0].diff_edge_weight)
    # same number of graphs, other edges (a corrected raw file): the cache is not reused
    moved = graphs([[1, 2], [2, 1]])
    fresh = attach_graph_views(moved, opts, cache, progress=False)
    direct = attach_graph_views(moved, opts, progress=False)
    assert not torch.equal(fresh[0].adj_edge_weight, first[0].adj_edge_weight)
    for a, b in zip(fresh, direct, strict=True):
        assert torch.equal(a.adj_edge_index, b.adj_edge_index)
        assert torch.equal(a.diff_edge_weight, b.diff_edge_weight)


def test_bench_diffusion_script_compares_the_methods(tmp_path, monkeypatch):
    """experiments/bench_diffusion.py: the methods run in child processes and keep the
    same entries of a small graph (up to near-ties), within their tolerances."""
    import json
    import sys

    from tests.conftest import load_experiment

    bench = load_experiment("bench_diffusion")
    monkeypatch.setattr(sys, "argv", ["bench_diffusion.py", "--nodes", "300", "--kinds",
                                      "ppr", "heat", "--topk", "16", "--out", str(tmp_path)])
    bench.main()
    rows = json.loads((tmp_path / "bench_diffusion.json").read_text())["rows"]
    assert [(r["kind"], r["method"]) for r in rows] == [
        ("ppr", "power"), ("ppr", "push"), ("ppr", "exact"), ("heat", "power"),
        ("heat", "exact")]
    # the heat kernel is not symmetric: its row mass reads S[i, j] the right way round
    assert rows[3]["min_row_mass"] > 0.99999 and rows[3]["max_abs_diff"] < 1e-5
    assert rows[0]["kept"] == rows[1]["kept"] == rows[2]["kept"] == 300 * 16
    # near-ties at the 16th place may swap (the series stops at tol 1e-6)
    assert rows[0]["same_entries"] > 0.99 and rows[0]["max_abs_diff"] < 1e-5
    assert rows[0]["min_row_mass"] > 0.99999
    assert rows[1]["same_entries"] > 0.98 and rows[1]["min_row_mass"] > 0.999
    assert "| 300 |" in (tmp_path / "bench_diffusion.md").read_text()


@pytest.mark.parametrize("script, argv, message", [
    # nothing to run wrote an empty table over the stored one
    ("bench_diffusion", ["--kinds", "heat", "--methods", "push"], "nothing to run"),
    ("bench_diffusion", ["--methods", "exact", "--nodes", "10000"], "nothing to run"),
    ("bench_diffusion", ["--kinds", "pprr"], "invalid choice: 'pprr'"),  # failed in a child
    ("bench_diffusion", ["--nodes", "0"], "--nodes must be >= 1"),
    ("bench_diffusion", ["--rev", "nosuchrev"], "--rev nosuchrev: no graphrep/diffusion.py"),
    # these failed in a child process after the whole dense benchmark, or as StatisticsError
    ("bench_losses", ["--reps", "0"], "--reps must be >= 1"),
    ("bench_losses", ["--chunk-size", "0"], "--chunk-size must be >= 1"),
    ("bench_losses", ["--sizes", "256", "0"], "--sizes must be >= 1"),
])
def test_benchmark_scripts_refuse_what_cannot_run(script, argv, message, tmp_path, monkeypatch,
                                                  capsys):
    import sys

    from tests.conftest import load_experiment

    bench = load_experiment(script)
    monkeypatch.setattr(sys, "argv", [f"{script}.py", *argv, "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit) as info:
        bench.main()
    assert info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("edge_index, message", [
    (torch.tensor([[0, 1], [1, 4]]), "refers to node 4 but the graph has nodes 0..3"),
    (torch.tensor([[0, -1], [1, 0]]), "refers to node -1"),
    (torch.tensor([[0.0, 1.0], [1.0, 0.0]]), "integer node ids"),
    (torch.tensor([[0, 1], [1, 0], [2, 3]]), r"\[2, E\] tensor"),
    (torch.tensor([0, 1]), r"\[2, E\] tensor"),
])
def test_bad_edge_index_is_named_by_views_and_encoders(edge_index, message):
    """Every entry point names a malformed edge_index (the graph-level encoder's CSR kernel
    crashed the process on an out-of-range id)."""
    from graphrep.diffusion import adjacency_view, diffusion_view
    from graphrep.encoders import GraphGCNEncoder

    with pytest.raises(ValueError, match=message):
        diffusion_view(edge_index, 4)
    with pytest.raises(ValueError, match=message):
        adjacency_view(edge_index, 4)
    weight = torch.ones(edge_index.shape[-1])
    with pytest.raises(ValueError, match=message):
        GraphGCNEncoder(5, 8, 2)(torch.randn(4, 5), edge_index, weight, torch.zeros(4, dtype=torch.long))


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="heat", t=-1.0, method="power"), "t must be a finite number > 0"),
    (dict(kind="heat", t=float("nan"), method="exact"), "t must be a finite number > 0"),
    (dict(topk=2.5), "topk must be a whole number"),
    (dict(topk=0), "topk must be a whole number >= 1"),
    (dict(eps=float("nan")), "eps must be a finite number > 0"),
    # 0 kept every explicit zero (a disconnected graph's view became dense N x N)
    (dict(eps=0.0), r"eps must be a finite number > 0 \(None keeps every nonzero"),
    (dict(dtype=torch.long), "dtype must be a floating type"),
])
def test_bad_diffusion_settings_are_refused(kwargs, message):
    from graphrep.diffusion import diffusion_view

    with pytest.raises(ValueError, match=message):
        diffusion_view(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]), 3, **kwargs)


@pytest.mark.parametrize("view", [
    lambda ei, n: diffusion_view(ei, n),
    lambda ei, n: diffusion_view(ei, n, "heat", method="power"),
    lambda ei, n: adjacency_view(ei, n),
    lambda ei, n: ppr_matrix(ei, n),
    lambda ei, n: heat_matrix(ei, n),
])
def test_directed_edge_index_warns_once_naming_the_fix(graph, view):
    """A directed edge_index would give an asymmetric view silently: each public function
    warns once (not again from the functions it calls), pointing at the caller's line."""
    ei, n = graph
    one_way = ei[:, ei[0] < ei[1]]
    with pytest.warns(UserWarning, match="not undirected.*to_undirected") as record:
        view(one_way, n)
    assert len(record) == 1 and record[0].filename == __file__
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        view(ei, n)  # undirected: no warning


def test_an_emptied_view_names_its_cause():
    """Column min-max scaling maps a column of one value to 0: a one-node graph's view
    comes out empty, and the error names --column-scale, not --eps."""
    from graphrep.views import DiffusionOptions, node_views

    lone = torch.empty(2, 0, dtype=torch.long)
    with pytest.raises(ValueError, match=r"min-max scaling left none.*--column-scale none\.$"):
        node_views(lone, 1, DiffusionOptions(topk=None, column_scale="minmax"))
    with pytest.raises(ValueError, match=r"--column-scale none, or lower --eps\.$"):
        node_views(lone, 1, DiffusionOptions(topk=None, eps=1e-3, column_scale="minmax"))
    # unscaled, the same view keeps its entry; an eps above every entry names --eps
    assert node_views(lone, 1, DiffusionOptions(topk=None)).diff[1].tolist() == [1.0]
    with pytest.raises(ValueError, match=r"--eps 5\.0 keeps none"):
        node_views(lone, 1, DiffusionOptions(topk=None, eps=5.0))
