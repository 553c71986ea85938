"""Model parts: shapes, learning, determinism, dense and sparse views."""
import math
from dataclasses import replace

import pytest
import torch
from torch_geometric.loader import DataLoader

from graphrep.encoders import GCNEncoder, GraphGCNEncoder
from graphrep.models import MVGRL, MVGRLGraph
from graphrep.subgraphs import (
    cut_subgraph_batch,
    prefers_dense,
    sample_node_subsets,
    sample_node_windows,
    view_as_dense,
    view_as_sparse,
)
from graphrep.train import NodeTrainConfig, train_node_model
from graphrep.views import DiffusionOptions, attach_graph_views, node_views


@pytest.fixture(scope="module")
def cora_views(cora):
    return node_views(cora.data.edge_index, cora.data.num_nodes,
                      DiffusionOptions(topk=32))


def test_gcn_encoder_shapes_and_split_forward():
    enc = GCNEncoder(10, 16)
    x, ei = torch.randn(5, 10), torch.tensor([[0, 1, 2], [1, 2, 3]])
    w = torch.rand(3)
    out = enc(x, ei, w)
    assert out.shape == (5, 16)
    assert torch.allclose(enc.propagate(enc.project(x), ei, w), out, atol=1e-6)
    both = enc.propagate(torch.cat([enc.project(x)] * 2, 1), ei, w)
    assert torch.allclose(both[:, 16:], out, atol=1e-6)


def test_graph_encoder_registers_and_trains_every_layer():
    enc = GraphGCNEncoder(7, 8, num_layers=3)
    assert len(list(enc.gcn.convs)) == 3
    x = torch.randn(6, 7)
    ei = torch.tensor([[0, 1, 3, 4], [1, 0, 4, 3]])
    batch = torch.tensor([0, 0, 0, 1, 1, 1])
    node, graph = enc(x, ei, torch.ones(4), batch, 2)
    assert node.shape == (6, 8) and graph.shape == (2, 24)
    graph.sum().backward()
    # every layer's weights get a nonzero gradient (the release left some unregistered)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.parameters())


def test_graph_encoder_matches_dense_formula():
    """H^(l+1) = PReLU(S H^(l) W + b), graph readout = concat of per-layer node sums."""
    torch.manual_seed(0)
    enc = GraphGCNEncoder(5, 4, num_layers=2)
    x = torch.randn(5, 5)
    ei = torch.tensor([[0, 1, 1, 2, 3, 4, 0], [1, 0, 2, 1, 4, 3, 0]])
    w = torch.rand(7)
    batch = torch.tensor([0, 0, 0, 1, 1])
    node, graph = enc(x, ei, w, batch, 2)
    s = torch.zeros(5, 5)
    s[ei[1], ei[0]] = w  # row = target
    h, sums = x, []
    for conv, act in zip(enc.gcn.convs, enc.gcn.acts, strict=True):
        h = act(s @ (h @ conv.lin.weight.T) + conv.bias)
        sums.append(torch.stack([h[:3].sum(0), h[3:].sum(0)]))
    torch.testing.assert_close(node, h)
    torch.testing.assert_close(graph, torch.cat(sums, dim=1))


def test_subgraph_sampling(cora_views):
    subsets = sample_node_subsets(2708, 100, 3)
    assert subsets.shape == (3, 100)
    assert all(len(set(s.tolist())) == 100 for s in subsets)
    b = cut_subgraph_batch(subsets, [cora_views.adj, cora_views.diff], 2708)
    assert b.views[0].shape == (300, 300) and b.batch.tolist()[::100] == [0, 1, 2]
    full = view_as_sparse(cora_views.diff, 2708).to_dense()
    blk = b.views[1].to_dense()[100:200, 100:200]
    assert torch.allclose(blk, full[subsets[1]][:, subsets[1]])
    with pytest.warns(UserWarning, match="exceeds"):
        assert sample_node_subsets(10, 50, 2).shape == (2, 10)


def test_window_sampling():
    gen = torch.Generator().manual_seed(0)
    w = sample_node_windows(30, 10, 500, gen)
    assert w.shape == (500, 10)
    assert torch.equal(w - w[:, :1], torch.arange(10).expand(500, 10))  # contiguous
    starts = w[:, 0]
    assert starts.min() == 0 and starts.max() == 20  # every start in [0, N - s]
    assert torch.equal(sample_node_windows(7, 7, 2), torch.arange(7).expand(2, 7))
    with pytest.warns(UserWarning, match="exceeds"):
        assert torch.equal(sample_node_windows(5, 9, 1), torch.arange(5)[None])
    with pytest.raises(ValueError, match=">= 1"):
        sample_node_windows(5, 0, 1)


@pytest.mark.parametrize("subsets", [None, "windows"])
def test_training_draws_the_configured_subsets(cora, cora_views, monkeypatch, subsets):
    import graphrep.train as train_mod

    drawn = []
    cut = train_mod.cut_subgraph_batch
    monkeypatch.setattr(train_mod, "cut_subgraph_batch",
                        lambda sub, *a, **k: drawn.append(sub) or cut(sub, *a, **k))
    cfg = NodeTrainConfig(hidden_channels=16, epochs=3, sample_size=300, batch_size=2,
                          full_batch=False, subsets=subsets)
    m = MVGRL(cora.data.num_features, 16)
    train_node_model(m, cora.data.x, cora_views, cfg, seed=0, progress=False)
    assert len(drawn) == 3 and all(d.shape == (2, 300) for d in drawn)
    contiguous = [bool((torch.diff(row) == 1).all()) for d in drawn for row in d]
    assert all(contiguous) if subsets == "windows" else not any(contiguous)
    with pytest.raises(ValueError, match="'random' or 'windows'"):
        train_node_model(m, cora.data.x, cora_views, replace(cfg, subsets="bfs"),
                         seed=0, progress=False)
    with pytest.raises(ValueError, match="--no-full-batch"):
        train_node_model(m, cora.data.x, cora_views,
                         replace(cfg, subsets="windows", full_batch=True), seed=0,
                         progress=False)
    with pytest.warns(UserWarning, match="trains full batch and ignores them"):
        train_node_model(m, cora.data.x, cora_views, replace(cfg, full_batch=True, subsets=None, epochs=1),
                         seed=0, progress=False)

def test_node_model_shapes(cora, cora_views):
    m = MVGRL(cora.data.num_features, 32)
    subsets = sample_node_subsets(2708, 50, 2)
    b = cut_subgraph_batch(subsets, [cora_views.adj, cora_views.diff], 2708)
    pos, neg = m(cora.data.x, b.nodes, b.nodes.flip(0), *b.views, b.batch, 2)
    assert pos.shape == neg.shape == (200,)
    emb = m.embed(cora.data.x, view_as_sparse(cora_views.adj, 2708),
                  view_as_sparse(cora_views.diff, 2708))
    assert emb.shape == (2708, 32)


def _dense_view(view, n):
    ei, ew = view
    m = torch.zeros(n, n)
    m[ei[1], ei[0]] = ew.float()  # edge j -> i carries S[i, j]
    return m


def test_node_logits_follow_the_paper():
    """Logits against a dense re-derivation: per subgraph ``h = PReLU(S X W + b)`` in
    each view, summaries ``sigmoid(mean h)``, positives pair one view's nodes with the
    other view's summary (both ways), negatives the same on shuffled feature rows."""
    from torch_geometric.utils import erdos_renyi_graph, to_undirected

    torch.manual_seed(0)
    n, f, d = 14, 5, 4
    x = torch.rand(n, f)
    views = node_views(to_undirected(erdos_renyi_graph(n, 0.3)), n, DiffusionOptions())
    m = MVGRL(f, d)
    with torch.no_grad():  # nothing left at its symmetric initial value
        for p_ in m.parameters():
            p_.uniform_(-0.5, 0.5)
    subsets = sample_node_subsets(n, 6, 2, torch.Generator().manual_seed(1))
    shuffled = subsets[:, torch.randperm(6)]
    b = cut_subgraph_batch(subsets, [views.adj, views.diff], n)
    pos, neg = m(x, b.nodes, shuffled.reshape(-1), *b.views, b.batch, 2)

    def enc(encoder, view, rows, feats):
        conv, act = encoder.convs[0], encoder.acts[0]
        return act(view[rows][:, rows] @ conv.lin(x[feats]) + conv.bias)

    W, bias = m.discriminator.weight, m.discriminator.bias
    ref_pos, ref_neg = [[], []], [[], []]
    for rows, feats in zip(subsets, shuffled, strict=True):
        h = {v: enc(e, _dense_view(getattr(views, v), n), rows, rows)
             for v, e in (("adj", m.encoder_adj), ("diff", m.encoder_diff))}
        c = {v: enc(e, _dense_view(getattr(views, v), n), rows, feats)
             for v, e in (("adj", m.encoder_adj), ("diff", m.encoder_diff))}
        s = {v: torch.sigmoid(h[v].mean(0)) for v in h}
        for k, (node_view, summary_view) in enumerate((("diff", "adj"), ("adj", "diff"))):
            ref_pos[k].append(h[node_view] @ W.T @ s[summary_view] + bias)
            ref_neg[k].append(c[node_view] @ W.T @ s[summary_view] + bias)
    assert torch.allclose(pos, torch.cat([torch.cat(r) for r in ref_pos]), atol=1e-5)
    assert torch.allclose(neg, torch.cat([torch.cat(r) for r in ref_neg]), atol=1e-5)
    emb = m.embed(x, view_as_sparse(views.adj, n), view_as_sparse(views.diff, n))
    every = torch.arange(n)
    assert torch.allclose(emb, enc(m.encoder_adj, _dense_view(views.adj, n), every, every)
                          + enc(m.encoder_diff, _dense_view(views.diff, n), every, every),
                          atol=1e-5)


def test_graph_loss_is_symmetric_in_the_views(mutag):
    """The JSD loss runs both ways (adjacency nodes vs diffusion graphs and the
    reverse): swapping the views together with their encoders leaves it unchanged,
    which a one-way loss would not."""
    graphs = attach_graph_views(mutag.graphs[:6], DiffusionOptions(), progress=False)
    b = next(iter(DataLoader(graphs, batch_size=6)))
    torch.manual_seed(0)
    m = MVGRLGraph(mutag.num_features, 8, num_layers=2)
    loss = m(b.x, b.adj_edge_index, b.adj_edge_weight, b.diff_edge_index,
             b.diff_edge_weight, b.batch, 6)
    from shared.losses import local_global_loss

    # the value: each view's nodes against the *other* view's graphs (a same-view pairing
    # is also symmetric under the swap below, so the swap alone would not catch it)
    l_a, g_a, l_d, g_d = m.encode(b.x, b.adj_edge_index, b.adj_edge_weight,
                                  b.diff_edge_index, b.diff_edge_weight, b.batch, 6)
    lh, gh = m.local_head, m.global_head
    cross = (local_global_loss(lh(l_a), gh(g_d), b.batch, estimator="jsd")
             + local_global_loss(lh(l_d), gh(g_a), b.batch, estimator="jsd"))
    same = (local_global_loss(lh(l_a), gh(g_a), b.batch, estimator="jsd")
            + local_global_loss(lh(l_d), gh(g_d), b.batch, estimator="jsd"))
    torch.testing.assert_close(loss, cross)
    assert not torch.allclose(loss, same, atol=1e-3)
    m.encoder_adj, m.encoder_diff = m.encoder_diff, m.encoder_adj
    swapped = m(b.x, b.diff_edge_index, b.diff_edge_weight, b.adj_edge_index,
                b.adj_edge_weight, b.batch, 6)
    assert torch.allclose(loss, swapped, atol=1e-6)
    l_a, g_a, l_d, g_d = m.encode(b.x, b.diff_edge_index, b.diff_edge_weight,
                                  b.adj_edge_index, b.adj_edge_weight, b.batch, 6)
    one_way = local_global_loss(m.local_head(l_a), m.global_head(g_d), b.batch,
                                estimator="jsd")
    assert not torch.allclose(loss, one_way, atol=1e-3)


def _train(cora, views, seed, epochs, hidden=64, sample=500, batch=2):
    torch.manual_seed(seed)
    m = MVGRL(cora.data.num_features, hidden)
    cfg = NodeTrainConfig(hidden_channels=hidden, epochs=epochs, sample_size=sample,
                          batch_size=batch, lr=1e-3, full_batch=False)
    res = train_node_model(m, cora.data.x, views, cfg, seed=seed, progress=False)
    emb = m.embed(cora.data.x, view_as_sparse(views.adj, 2708),
                  view_as_sparse(views.diff, 2708))
    return res, emb


def test_node_loss_is_the_pooled_bce_of_its_logits():
    """MVGRL's loss is one BCE mean over positives (target 1) and negatives (target 0), the
    release's form: log 2 at zero logits, and by hand on unequal ones."""
    assert MVGRL.loss(torch.zeros(6), torch.zeros(6)).item() == pytest.approx(math.log(2))
    pos, neg = torch.tensor([3.0, -0.5]), torch.tensor([0.25, -2.0, 1.0])
    by_hand = (sum(math.log1p(math.exp(-s)) for s in pos.tolist())
               + sum(math.log1p(math.exp(s)) for s in neg.tolist())) / 5
    assert MVGRL.loss(pos, neg).item() == pytest.approx(by_hand, rel=1e-6)


def test_node_loss_decreases_on_cora(cora, cora_views):
    res, _ = _train(cora, cora_views, 0, 20, hidden=512, sample=2000, batch=1)
    assert res.losses[-1] < res.losses[0] - 0.05


def test_same_seed_same_embedding(cora, cora_views):
    _, a = _train(cora, cora_views, 3, 3)
    _, b = _train(cora, cora_views, 3, 3)
    _, c = _train(cora, cora_views, 4, 3)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_full_batch_training(cora, cora_views):
    cfg = NodeTrainConfig(hidden_channels=64, epochs=15, lr=1e-2, full_batch=True)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        m = MVGRL(cora.data.num_features, 64)
        res = train_node_model(m, cora.data.x, cora_views, cfg, seed=0,
                               progress=False)
        runs.append(m.embed(cora.data.x, view_as_sparse(cora_views.adj, 2708),
                            view_as_sparse(cora_views.diff, 2708)))
    assert res.losses[-1] < res.losses[0] - 0.05
    assert torch.equal(runs[0], runs[1])


def test_subgraph_larger_than_the_graph_trains_on_the_whole_graph():
    """A ``sample_size`` above the node count is cut to the graph, with a warning."""
    from torch_geometric.utils import erdos_renyi_graph, to_undirected

    torch.manual_seed(0)
    n = 30
    ei = to_undirected(erdos_renyi_graph(n, 0.15))
    views = node_views(ei, n, DiffusionOptions())
    x = torch.rand(n, 5)
    cfg = NodeTrainConfig(hidden_channels=8, epochs=3, full_batch=False, batch_size=2,
                          sample_size=100)
    with pytest.warns(UserWarning, match="subgraph size 100 exceeds the graph's 30 nodes"):
        res = train_node_model(MVGRL(5, 8), x, views, cfg, progress=False)
    assert len(res.losses) == 3 and all(torch.isfinite(torch.tensor(res.losses)))


def test_full_batch_step_equals_whole_graph_subset(cora, cora_views):
    """A full-batch step is the subgraph step with one subset = every node."""
    torch.manual_seed(0)
    m = MVGRL(cora.data.num_features, 16)
    n = 2708
    nodes, neg = torch.arange(n), torch.randperm(n)
    full = [view_as_sparse(v, n) for v in (cora_views.adj, cora_views.diff)]
    b = cut_subgraph_batch(nodes.view(1, -1), [cora_views.adj, cora_views.diff], n)
    zeros = torch.zeros(n, dtype=torch.long)
    p1, n1 = m(cora.data.x, nodes, neg, *full, zeros, 1)
    p2, n2 = m(cora.data.x, b.nodes, neg, *b.views, b.batch, 1)
    assert torch.allclose(p1, p2, atol=1e-5) and torch.allclose(n1, n2, atol=1e-5)


def test_graph_model_shapes_and_loss(mutag):
    graphs = attach_graph_views(mutag.graphs[:8], DiffusionOptions(), progress=False)
    data = next(iter(DataLoader(graphs, batch_size=8)))
    m = MVGRLGraph(mutag.num_features, 16, num_layers=2)
    loss = m(data.x, data.adj_edge_index, data.adj_edge_weight,
             data.diff_edge_index, data.diff_edge_weight, data.batch, 8)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.encoder_adj.parameters())
    emb = m.embed(data.x, data.adj_edge_index, data.adj_edge_weight,
                  data.diff_edge_index, data.diff_edge_weight, data.batch, 8,
                  projected=False)
    assert emb.shape == (8, 32)


def test_graph_embedding_through_the_head(mutag):
    """The default embedding is f_omega(h_G^adj) + f_omega(h_G^diff) (the
    release's embed), not f_omega of the sum: the head is not linear."""
    graphs = attach_graph_views(mutag.graphs[:8], DiffusionOptions(), progress=False)
    data = next(iter(DataLoader(graphs, batch_size=8)))
    torch.manual_seed(0)
    m = MVGRLGraph(mutag.num_features, 16, num_layers=3).eval()
    views = (data.x, data.adj_edge_index, data.adj_edge_weight,
             data.diff_edge_index, data.diff_edge_weight, data.batch, 8)
    _, g_a, _, g_d = m.encode(*views)
    head = m.embed(*views)
    assert head.shape == (8, 16)
    assert torch.allclose(head, m.global_head(g_a) + m.global_head(g_d))
    assert not torch.allclose(head, m.global_head(g_a + g_d), atol=1e-3)
    assert torch.equal(m.embed(*views, projected=False), g_a + g_d)


def test_graph_loss_decreases_on_mutag(mutag):
    """Graph-level training learns on real data: the JSD loss of 64 MUTAG graphs falls
    well below its first epoch's within 15 epochs, and the final model scores the same
    batches lower than the untrained one (MUTAG's untrained encoders probe at 88.6, so
    an accuracy threshold would not show learning)."""
    from graphrep.train import GraphTrainConfig, train_graph_model

    graphs = attach_graph_views(mutag.graphs[:64], DiffusionOptions(), progress=False)
    batch = next(iter(DataLoader(graphs, batch_size=64)))
    inputs = (batch.x, batch.adj_edge_index, batch.adj_edge_weight, batch.diff_edge_index,
              batch.diff_edge_weight, batch.batch, 64)
    torch.manual_seed(0)
    m = MVGRLGraph(mutag.num_features, 32, num_layers=2)
    with torch.no_grad():
        untrained = m(*inputs).item()
    cfg = GraphTrainConfig(hidden_channels=32, epochs=15, batch_size=16)
    res = train_graph_model(m, graphs, cfg, seed=0, progress=False)
    assert res.best_loss < res.losses[0] - 0.25, res.losses
    with torch.no_grad():
        assert m(*inputs).item() < untrained - 0.25, untrained


@pytest.mark.parametrize("frozen", [None, True])
def test_frozen_encoders_ablation_trains_the_heads_only(mutag, frozen):
    from graphrep.train import GraphTrainConfig, train_graph_model

    graphs = attach_graph_views(mutag.graphs[:32], DiffusionOptions(), progress=False)
    torch.manual_seed(0)
    m = MVGRLGraph(mutag.num_features, 16, num_layers=2)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    cfg = GraphTrainConfig(hidden_channels=16, epochs=2, batch_size=16,
                           frozen_encoders=frozen)
    train_graph_model(m, graphs, cfg, seed=0, progress=False)
    moved = {k for k, v in m.state_dict().items() if not torch.equal(v, before[k])}
    enc = {k for k in before if k.startswith("encoder_")}
    assert {k for k in before if k.startswith("global_head")} <= moved
    assert (moved & enc) == (set() if frozen else enc)


@pytest.fixture(scope="module")
def dense_graph():
    """A 300-node random graph whose exact PPR view keeps every entry."""
    gen = torch.Generator().manual_seed(0)
    n = 300
    src = torch.randint(0, n, (1200,), generator=gen)
    dst = torch.randint(0, n, (1200,), generator=gen)
    ring = torch.arange(n)  # connected, so the diffusion has no zero entries
    ei = torch.cat([torch.stack([src, dst]), torch.stack([ring, (ring + 1) % n])], 1)
    ei = torch.cat([ei, ei.flip(0)], 1).unique(dim=1)
    ei = ei[:, ei[0] != ei[1]]
    x = torch.rand(n, 20, generator=gen)
    return x, node_views(ei, n, DiffusionOptions())


def test_dense_view_and_blocks_equal_the_sparse_ones(dense_graph, cora_views):
    _, views = dense_graph
    n = views.num_nodes
    assert prefers_dense(views.diff, n) and not prefers_dense(views.adj, n)
    assert not prefers_dense(cora_views.diff, 2708)  # top-32: 1.2% of the entries
    dense = view_as_dense(views.diff, n)
    torch.testing.assert_close(dense, view_as_sparse(views.diff, n).to_dense())
    subsets = sample_node_subsets(n, 50, 3, torch.Generator().manual_seed(1))
    sparse_b = cut_subgraph_batch(subsets, [views.adj, views.diff], n)
    dense_b = cut_subgraph_batch(subsets, [views.adj, dense], n)
    assert dense_b.views[1].shape == (3, 50, 50)
    torch.testing.assert_close(dense_b.views[0].to_dense(), sparse_b.views[0].to_dense())
    torch.testing.assert_close(torch.block_diag(*dense_b.views[1]),
                               sparse_b.views[1].to_dense())


def test_model_logits_equal_with_dense_blocks(dense_graph):
    x, views = dense_graph
    n = views.num_nodes
    torch.manual_seed(0)
    m = MVGRL(x.size(1), 16)
    subsets = sample_node_subsets(n, 80, 2, torch.Generator().manual_seed(2))
    neg = subsets.flip(1).reshape(-1)
    sparse_b = cut_subgraph_batch(subsets, [views.adj, views.diff], n)
    dense_b = cut_subgraph_batch(subsets, [view_as_dense(views.adj, n),
                                           view_as_dense(views.diff, n)], n)
    p1, n1 = m(x, sparse_b.nodes, neg, *sparse_b.views, sparse_b.batch, 2)
    p2, n2 = m(x, dense_b.nodes, neg, *dense_b.views, dense_b.batch, 2)
    torch.testing.assert_close(p1, p2, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(n1, n2, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("full_batch", [True, False])
def test_training_on_dense_views_follows_the_sparse_path(dense_graph, full_batch):
    """Views held dense (by default for a full-fill view, or asked for) train the
    same model as edge format, up to rounding."""
    x, views = dense_graph

    def run(dense_views):
        cfg = NodeTrainConfig(hidden_channels=32, epochs=8, lr=1e-2, sample_size=100,
                              batch_size=2, full_batch=full_batch, dense_views=dense_views)
        torch.manual_seed(0)
        # the wider init moves this small synthetic loss within 8 steps
        m = MVGRL(x.size(1), 32, discriminator_init="xavier")
        return train_node_model(m, x, views, cfg, seed=0, progress=False).losses

    dense, sparse = run(None), run(False)
    torch.testing.assert_close(torch.tensor(run(True)), torch.tensor(sparse),
                               rtol=1e-3, atol=1e-4)
    assert dense[-1] < dense[0]
    torch.testing.assert_close(torch.tensor(dense), torch.tensor(sparse),
                               rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("prelu, slopes", [("channel", 16), ("shared", 1)])
def test_prelu_slopes_of_every_activation(mutag, prelu, slopes):
    """``prelu="shared"`` gives every PReLU of encoders and heads one slope (the release's
    nn.PReLU()), ``"channel"`` one per channel; the shared slope acts on every channel."""
    node = MVGRL(12, 16, prelu=prelu)
    graph = MVGRLGraph(mutag.num_features, 16, num_layers=2, prelu=prelu)
    for m in (node, graph):
        acts = [a for a in m.modules() if isinstance(a, torch.nn.PReLU)]
        assert acts and all(a.weight.numel() == slopes for a in acts)
    assert len([a for a in graph.modules() if isinstance(a, torch.nn.PReLU)]) == 2 * 2 + 2 * 3
    enc = GCNEncoder(3, 4, prelu=prelu)
    with torch.no_grad():
        enc.acts[0].weight.fill_(0.5)
        enc.convs[0].lin.weight.copy_(-torch.eye(4, 3))
        enc.convs[0].bias.zero_()
    ei = torch.tensor([[0], [0]])
    out = enc(torch.ones(1, 3), ei, torch.ones(1))  # S = [1]: pre-activation (-1, -1, -1, 0)
    assert torch.equal(out, torch.tensor([[-0.5, -0.5, -0.5, 0.0]]))
    # a shared slope trains as one number: its gradient collects every channel's
    out.sum().backward()
    grad = enc.acts[0].weight.grad
    assert torch.equal(grad, torch.tensor([-3.0]) if prelu == "shared"
                       else torch.tensor([-1.0, -1.0, -1.0, 0.0]))


def test_prelu_option_refuses_unknown_values():
    for build in (lambda: GCNEncoder(3, 4, prelu="per-channel"),
                  lambda: MVGRL(3, 4, prelu="one"),
                  lambda: MVGRLGraph(3, 4, prelu="Shared")):
        with pytest.raises(ValueError, match="prelu must be 'channel' or 'shared'"):
            build()


def _tiny_graph_batch():
    # two graphs (nodes 0-2 and 3-5), each a path; views: the edges themselves
    ei = torch.tensor([[0, 1, 1, 2, 3, 4, 4, 5], [1, 0, 2, 1, 4, 3, 5, 4]])
    return torch.rand(6, 5), ei, torch.ones(8), torch.tensor([0, 0, 0, 1, 1, 1])


@pytest.mark.parametrize("bad, match", [
    ({"x": torch.rand(6, 4)}, r"x has 4 features per node but the model was built for "
                              r"in_channels=5; build it with in_channels=x.size\(1\)"),
    ({"batch": torch.tensor([0, 0, 0, 1, 1])}, r"batch must give the group of each of the 6 "
                                                r"nodes \(\[6\]\), got \(5,\)"),
    ({"num_graphs": 1}, r"batch holds id 1 but num_graphs=1; ids must lie in 0..0"),
    ({"batch": torch.tensor([0.0, 0, 0, 1, 1, 1])}, r"batch must hold integer ids"),
])
def test_graph_model_names_inputs_that_do_not_fit(bad, match):
    x, ei, ew, batch = _tiny_graph_batch()
    args = {"x": x, "batch": batch, "num_graphs": 2, **bad}
    m = MVGRLGraph(5, 8)
    with pytest.raises(ValueError, match=match):
        m(args["x"], ei, ew, ei, ew, args["batch"], args["num_graphs"])


@pytest.mark.parametrize("build, match", [
    (lambda: MVGRL(5, 0), "hidden_channels must be >= 1, got 0"),
    (lambda: MVGRLGraph(5, 0), "hidden_channels must be >= 1, got 0"),
    (lambda: MVGRLGraph(0, 8), "in_channels must be >= 1, got 0"),
])
def test_empty_model_widths_are_refused(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_node_model_names_inputs_that_do_not_fit():
    x, ei, ew, _ = _tiny_graph_batch()
    m = MVGRL(5, 8)
    s = torch.sparse_coo_tensor(ei.flip(0), ew, (6, 6))
    nodes, batch = torch.arange(6), torch.tensor([0, 0, 0, 1, 1, 1])
    pos, _ = m(x, nodes, nodes.flip(0), s, s, batch, 2)  # fits: no error
    assert pos.shape == (12,)
    cases = [
        ((x[:, :4], nodes, nodes, s, s, batch, 2), "x has 4 features per node"),
        ((x, nodes, nodes[:5], s, s, batch, 2), r"nodes and neg_nodes must be \[M\] index "
                                                r"tensors of one length"),
        ((x, nodes + 1, nodes, s, s, batch, 2), r"nodes holds id 6 but x.size\(0\)=6"),
        ((x, nodes, nodes, s, s, batch, 1), r"batch holds id 1 but num_subgraphs=1"),
        ((x, nodes, nodes, torch.sparse_coo_tensor(ei.flip(0)[:, :4], ew[:4], (5, 5)), s,
          batch, 2), r"adj is a sparse \(5, 5\) matrix but the features have 6 rows"),
        ((x, nodes, nodes, s, s.to_dense(), batch, 2), r"diff is a dense \(6, 6\) float "
                                                       r"tensor; pass the view as edge_index"),
        ((x, nodes, nodes, s, torch.rand(2, 4, 4), batch, 2),
         r"diff as dense blocks must be \[B, s, s\] with B \* s = 6"),
    ]
    for args, match in cases:
        with pytest.raises(ValueError, match=match):
            m(*args)
    with pytest.raises(ValueError, match=r"x has 4 features per node"):
        m.embed(x[:, :4], ei, ei, ew, ew)
    with pytest.raises(ValueError, match=r"adj is a dense|edge_index is a dense"):
        m.embed(x, s.to_dense(), s)
    x_nan = x.clone()
    x_nan[2, 1] = float("nan")
    with pytest.raises(ValueError, match="the embedding holds NaN or inf: x holds NaN"):
        m.embed(x_nan, ei, ei, ew, ew)
    with torch.no_grad():
        m.encoder_adj.convs[0].lin.weight.fill_(float("inf"))
    with pytest.raises(ValueError, match="x is finite, so the weights are not"):
        m.embed(x, ei, ei, ew, ew)
