import math

import pytest
import torch
import torch.nn.functional as F

from shared.losses import CrossCLRLoss, connectivity, crossclr_loss


def release_reference(v, t, temperature=0.03, w=0.8):
    """The released formula written out: logits [v t^T / tau, w * (v v^T / tau) * (1 - I)]."""
    v, t = F.normalize(v, dim=1), F.normalize(t, dim=1)
    n = v.shape[0]
    off = 1 - torch.eye(n)

    def direction(a, b):
        logits = torch.cat([a @ b.T / temperature, w * (a @ a.T / temperature) * off], dim=1)
        return F.cross_entropy(logits, torch.arange(n))

    return 0.5 * (direction(v, t) + direction(t, v))


def paper_unpruned_reference(v, t, temperature, w, v_queue=None, t_queue=None):
    """The paper's loss, sums written out; queued rows of the other modality join the
    inter-modal negatives, queued rows of the anchor's modality the intra-modal ones."""
    v, t = F.normalize(v, dim=1), F.normalize(t, dim=1)
    vq = F.normalize(v_queue, dim=1) if v_queue is not None else v[:0]
    tq = F.normalize(t_queue, dim=1) if t_queue is not None else t[:0]
    n = v.shape[0]
    total = 0.0
    for a, b, aq, bq in ((v, t, vq, tq), (t, v, tq, vq)):
        for i in range(n):
            pos = math.exp(float(a[i] @ b[i]) / temperature)
            inter = sum(math.exp(float(a[i] @ b[k]) / temperature) for k in range(n) if k != i)
            intra = sum(math.exp(w * float(a[i] @ a[k]) / temperature) for k in range(n) if k != i)
            inter += sum(math.exp(float(a[i] @ q) / temperature) for q in bq)
            intra += sum(math.exp(w * float(a[i] @ q) / temperature) for q in aq)
            total += -math.log(pos / (pos + inter + intra))
    return total / (2 * n)


def test_release_variant_matches_released_formula():
    torch.manual_seed(0)
    v, t = torch.randn(9, 6), torch.randn(9, 6)
    got = crossclr_loss(v, t, weighted=False, self_mode="zero_logit")
    torch.testing.assert_close(got, release_reference(v, t))


def test_infinite_threshold_equals_unpruned_paper_loss():
    torch.manual_seed(1)
    v, t = torch.randn(7, 5, dtype=torch.float64), torch.randn(7, 5, dtype=torch.float64)
    got = crossclr_loss(v, t, 0.5, 0.8, prune_threshold=math.inf, weighted=False)
    assert got.item() == pytest.approx(paper_unpruned_reference(v, t, 0.5, 0.8), rel=1e-9)


def test_pruned_index_never_appears_as_a_negative():
    torch.manual_seed(2)
    n = 8
    v = torch.randn(n, 4, requires_grad=True)
    t = torch.randn(n, 4, requires_grad=True)
    # Inputs on which connectivity is measured: sample 3 is a near-duplicate hub.
    # others orthogonal, sample 3 similar to all of them.
    v_in = torch.eye(n)
    v_in[3] = torch.ones(n)
    t_in = 2 * v_in
    thr = 0.2
    assert (connectivity(v_in) > thr).nonzero().flatten().tolist() == [3]
    per_anchor = crossclr_loss(
        v, t, 0.3, prune_threshold=thr, x_input=v_in, y_input=t_in, weighted=False, reduction="none"
    )
    others = torch.cat([per_anchor[:, :3], per_anchor[:, 4:]], dim=1).sum()
    gv, gt = torch.autograd.grad(others, [v, t])
    assert gv[3].abs().max() == 0 and gt[3].abs().max() == 0
    # ... whereas without pruning, sample 3 is a negative of the others.
    unpruned = crossclr_loss(v, t, 0.3, weighted=False, reduction="none")
    gv, _ = torch.autograd.grad(torch.cat([unpruned[:, :3], unpruned[:, 4:]], 1).sum(), [v, t])
    assert gv[3].abs().max() > 0


def test_each_modality_s_negatives_are_pruned_by_its_own_connectivity():
    """x's hub (row 3) leaves the intra-modal negatives of x-anchors, y's hub (row 5) their
    inter-modal ones (the y rows); neither removes the other modality's row."""
    torch.manual_seed(3)
    n, thr = 8, 0.2
    v = torch.randn(n, 4, requires_grad=True)
    t = torch.randn(n, 4, requires_grad=True)
    v_in, t_in = torch.eye(n), torch.eye(n)
    v_in[3], t_in[5] = torch.ones(n), torch.ones(n)
    assert (connectivity(v_in) > thr).nonzero().flatten().tolist() == [3]
    assert (connectivity(t_in) > thr).nonzero().flatten().tolist() == [5]
    per_anchor = crossclr_loss(v, t, 0.3, prune_threshold=thr, x_input=v_in, y_input=t_in,
                               weighted=False, reduction="none")
    others = [i for i in range(n) if i not in (3, 5)]  # anchors whose positives are neither hub
    gv, gt = torch.autograd.grad(per_anchor[0, others].sum(), [v, t], retain_graph=True)
    assert gv[3].abs().max() == 0 and gt[5].abs().max() == 0
    assert gv[5].abs().max() > 0 and gt[3].abs().max() > 0
    gv, gt = torch.autograd.grad(per_anchor[1, others].sum(), [v, t])  # y-anchors: mirrored
    assert gt[5].abs().max() == 0 and gv[3].abs().max() == 0
    assert gt[3].abs().max() > 0 and gv[5].abs().max() > 0


def test_connectivity_is_the_mean_cosine_to_the_other_samples():
    """By hand: rows (1, 0), (0, 3), (2, 2) have cosines 0, 1/sqrt(2), 1/sqrt(2) between
    them; a sample's similarity to itself is not counted, and row lengths do not matter."""
    c = connectivity(torch.tensor([[1.0, 0.0], [0.0, 3.0], [2.0, 2.0]]))
    r = 1 / math.sqrt(2)
    torch.testing.assert_close(c, torch.tensor([r / 2, r / 2, r]))
    for bad, match in ((torch.arange(6).view(3, 2), "floating-point"), (torch.randn(5), "2-D")):
        with pytest.raises(ValueError, match=f"x must be (a )?{match}"):  # were internal errors
            connectivity(bad)


def test_weights_grow_with_connectivity_and_average_one():
    torch.manual_seed(3)
    v, t = torch.randn(6, 4), torch.randn(6, 4)
    unweighted = crossclr_loss(v, t, weighted=False, reduction="none")
    weighted = crossclr_loss(v, t, weighted=True, reduction="none")
    w = weighted[0] / unweighted[0]
    conn = connectivity(v)
    assert w.mean().item() == pytest.approx(1.0, rel=1e-5)
    assert torch.equal(w.argsort(), conn.argsort())
    # exactly N softmax(connectivity / kappa), from each direction's own modality
    kappa = 0.5
    unweighted = crossclr_loss(v, t, weighted=False, reduction="none")
    weighted = crossclr_loss(v, t, weighted=True, weight_temperature=kappa, reduction="none")
    for row, x in ((0, v), (1, t)):
        torch.testing.assert_close(weighted[row] / unweighted[row],
                                   6 * torch.softmax(connectivity(x) / kappa, dim=0))


def test_queue_adds_negatives_in_fifo_order():
    torch.manual_seed(4)
    loss_fn = CrossCLRLoss(temperature=0.1, queue_size=5, weighted=False)
    batches = [(torch.randn(3, 4), torch.randn(3, 4)) for _ in range(3)]
    first = loss_fn(*batches[0])
    torch.testing.assert_close(first, crossclr_loss(*batches[0], 0.1, weighted=False))
    loss_fn(*batches[1])
    expected_queue = torch.cat([batches[0][0], batches[1][0]])[-5:]
    torch.testing.assert_close(loss_fn.x_queue, expected_queue)
    torch.testing.assert_close(loss_fn.y_queue, torch.cat([batches[0][1], batches[1][1]])[-5:])
    third = loss_fn(*batches[2])
    assert third > crossclr_loss(*batches[2], 0.1, weighted=False)  # more negatives, larger loss
    torch.testing.assert_close(third, crossclr_loss(
        *batches[2], 0.1, weighted=False, x_queue=expected_queue,
        y_queue=torch.cat([batches[0][1], batches[1][1]])[-5:]))


def test_queue_state_round_trips_and_does_not_alias_inputs():
    """A loss with a filled queue saves and loads into a fresh module (resume), the
    loaded one computes the same next loss, and a state saved before the first batch
    empties a filled queue; the queue holds copies, not views of the caller's tensors."""
    torch.manual_seed(5)
    x, y = torch.randn(3, 4), torch.randn(3, 4)
    trained = CrossCLRLoss(temperature=0.1, queue_size=4)
    trained(x, y)
    x.add_(100.0)
    assert not torch.equal(trained.x_queue, x)  # unchanged by the in-place edit
    resumed = CrossCLRLoss(temperature=0.1, queue_size=4)
    resumed.load_state_dict(trained.state_dict())
    torch.testing.assert_close(resumed.x_queue, trained.x_queue)
    nxt = torch.randn(3, 4), torch.randn(3, 4)
    torch.testing.assert_close(resumed(*nxt), trained(*nxt))
    resumed.load_state_dict(CrossCLRLoss(temperature=0.1, queue_size=4).state_dict())
    assert resumed.x_queue is None and resumed.y_queue is None


def test_queued_rows_join_the_right_negative_sets():
    """x_queue extends x anchors' intra-modal negatives and y anchors' inter-modal ones
    (and y_queue the reverse), against the paper's sums written out."""
    torch.manual_seed(5)
    v, t = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    vq, tq = torch.randn(3, 4, dtype=torch.float64), 2 * torch.randn(3, 4, dtype=torch.float64)
    got = crossclr_loss(v, t, 0.5, 0.8, prune_threshold=math.inf, weighted=False,
                        x_queue=vq, y_queue=tq)
    assert got.item() == pytest.approx(paper_unpruned_reference(v, t, 0.5, 0.8, vq, tq), rel=1e-9)
    swapped = paper_unpruned_reference(v, t, 0.5, 0.8, tq, vq)
    assert got.item() != pytest.approx(swapped, rel=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        crossclr_loss(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match="temperature"):
        crossclr_loss(torch.randn(4, 3), torch.randn(4, 3), temperature=0)
    with pytest.raises(ValueError, match="together"):
        crossclr_loss(torch.randn(4, 3), torch.randn(4, 3), x_queue=torch.randn(2, 3))
    with pytest.raises(ValueError, match="self_mode"):
        crossclr_loss(torch.randn(4, 3), torch.randn(4, 3), self_mode="none")
    with pytest.raises(ValueError, match="at least 2 samples.*loss is 0 whatever"):
        crossclr_loss(torch.randn(1, 3), torch.randn(1, 3))
    # a queue supplies the negatives: one sample is fine then
    loss = crossclr_loss(torch.randn(1, 3), torch.randn(1, 3), x_queue=torch.randn(4, 3),
                         y_queue=torch.randn(4, 3))
    assert loss > 0


@pytest.mark.parametrize("kwargs, message", [
    (dict(x_input=torch.full((4, 3), float("nan"))), "x_input contains 12 NaN"),
    (dict(x_queue=torch.full((5, 8), float("nan")), y_queue=torch.zeros(5, 8)), "x_queue contains"),
    (dict(x_queue=torch.randn(5, 6), y_queue=torch.randn(5, 6)), "the queues must have the embeddings' width"),
    (dict(x_input=torch.randn(4)), r"x_input must be 2-D"),
    (dict(intra_weight=float("nan")), "intra_weight must be a finite number"),
])
def test_bad_side_inputs_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        crossclr_loss(torch.randn(4, 8), torch.randn(4, 8), **kwargs)


def test_eval_mode_reads_the_queue_without_changing_it():
    torch.manual_seed(0)
    loss = CrossCLRLoss(queue_size=4)
    x, y = torch.randn(3, 5), torch.randn(3, 5)
    loss(x, y)
    queued = (loss.x_queue.clone(), loss.y_queue.clone())
    loss.eval()
    with torch.no_grad():
        evaluated = loss(torch.randn(3, 5), torch.randn(3, 5))
    assert torch.isfinite(evaluated)
    assert torch.equal(loss.x_queue, queued[0]) and torch.equal(loss.y_queue, queued[1])
    loss.train()
    loss(torch.randn(3, 5), torch.randn(3, 5))
    assert loss.x_queue.shape == (4, 5)  # training calls enqueue again


def test_empty_batch_is_named():
    with pytest.raises(ValueError, match="x needs at least 1 row"):
        crossclr_loss(torch.zeros(0, 4), torch.zeros(0, 4))


def test_pruning_every_negative_is_warned_and_bad_settings_refused():
    """Near-collapsed embeddings put every sample above the threshold: the loss is then 0
    with no gradient, which was silent."""
    torch.manual_seed(0)
    base = torch.randn(1, 32)
    x = (base + 0.3 * torch.randn(16, 32)).requires_grad_()
    y = base + 0.3 * torch.randn(16, 32)
    with pytest.warns(UserWarning, match="every negative is pruned and the loss is 0"):
        loss = crossclr_loss(x, y, prune_threshold=0.5)
    assert loss.item() == 0.0
    with pytest.raises(ValueError, match="prune_threshold must be a number"):
        crossclr_loss(x, y, prune_threshold=math.nan)  # compared False: nothing pruned
    for bad, match in (({"queue_size": 2.5}, "queue_size must be an integer >= 0, got 2.5"),
                       ({"weight_temperature": 0}, "temperature"),
                       ({"self_mode": "bad"}, "self_mode must be 'mask' or 'zero_logit'"),
                       ({"prune_threshold": math.nan}, "prune_threshold must be a number")):
        with pytest.raises(ValueError, match=match):  # at construction, not the first batch
            CrossCLRLoss(**bad)
