import math

import pytest
import torch
import torch.nn.functional as F

from shared.bridge.global_local import GlobalLocalLoss
from shared.losses import (
    DiscriminatorBCELoss,
    InfoNCELoss,
    LocalGlobalLoss,
    NTXentLoss,
    discriminator_bce,
    info_nce,
    local_global_loss,
    mi_scores_loss,
    positive_mask_from_labels,
)


def test_info_nce_single_positive_equals_cross_entropy():
    torch.manual_seed(0)
    q, k = torch.randn(5, 8), torch.randn(5, 8)
    logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / 0.2
    torch.testing.assert_close(
        info_nce(q, k, temperature=0.2), F.cross_entropy(logits, torch.arange(5))
    )


def test_info_nce_multi_positive_is_mean_over_positives():
    torch.manual_seed(1)
    q, k = torch.randn(3, 4), torch.randn(6, 4)
    pos = torch.zeros(3, 6, dtype=torch.bool)
    pos[0, [0, 1]] = True
    pos[1, 2] = True
    pos[2, [3, 4, 5]] = True
    logp = torch.log_softmax(F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / 0.5, dim=1)
    expected = -(logp[0, [0, 1]].mean() + logp[1, 2] + logp[2, [3, 4, 5]].mean()) / 3
    torch.testing.assert_close(info_nce(q, k, pos, 0.5), expected)


def test_info_nce_rows_without_positive_are_skipped_without_nan():
    torch.manual_seed(2)
    q, k = torch.randn(4, 3, requires_grad=True), torch.randn(4, 3)
    pos = torch.zeros(4, 4, dtype=torch.bool)
    pos[1, 1] = True
    full = info_nce(q, k, pos, 0.3)
    only_row = info_nce(q[1:2], k, pos[1:2], 0.3)
    torch.testing.assert_close(full, only_row)
    none = info_nce(q, k, torch.zeros(4, 4, dtype=torch.bool))
    assert none.item() == 0.0 and none.requires_grad
    (g,) = torch.autograd.grad(none, q)
    assert torch.isfinite(g).all()


def test_supervised_mask_from_labels():
    labels = torch.tensor([0, 1, 0])
    assert positive_mask_from_labels(labels, labels).tolist() == [
        [True, False, True],
        [False, True, False],
        [True, False, True],
    ]


def test_info_nce_rejects_bad_input():
    with pytest.raises(ValueError, match="same batch size"):
        info_nce(torch.randn(3, 2), torch.randn(4, 2))
    with pytest.raises(ValueError, match="embedding dim"):
        info_nce(torch.randn(3, 2), torch.randn(3, 5))
    with pytest.raises(ValueError, match="positive_mask must have shape"):
        info_nce(torch.randn(3, 2), torch.randn(3, 2), torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="overlap"):
        eye = torch.eye(3, dtype=torch.bool)
        info_nce(torch.randn(3, 2), torch.randn(3, 2), eye, exclude_mask=eye)
    with pytest.raises(ValueError, match="temperature"):
        info_nce(torch.randn(3, 2), torch.randn(3, 2), temperature=-0.1)
    # one key is allowed (0 loss): wrappers (CBT's masked steps, STOR) meet it by chance
    assert info_nce(torch.randn(1, 2), torch.randn(1, 2)).item() == 0.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_info_nce_finite_in_half_precision(dtype):
    q = torch.randn(16, 32).to(dtype).requires_grad_()
    loss = info_nce(q, torch.randn(16, 32).to(dtype), temperature=0.01)
    (g,) = torch.autograd.grad(loss, q)
    assert torch.isfinite(loss) and torch.isfinite(g).all()


def test_discriminator_bce_zero_weight_closed_forms():
    z = torch.zeros(7)
    assert discriminator_bce(z, torch.zeros(3)).item() == pytest.approx(2 * math.log(2))
    assert discriminator_bce(z, torch.zeros(3), "pooled").item() == pytest.approx(math.log(2))


def test_discriminator_bce_pooled_is_one_mean_over_both_sets():
    """Pooled = mean of -log sigmoid(pos) and -log(1 - sigmoid(neg)) over all P + Q logits
    (at zero logits it equals half the separate form; here, with P != Q, it does not)."""
    pos, neg = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([1.5, -3.0])
    terms = [-math.log(1 / (1 + math.exp(-s))) for s in pos.tolist()] + \
            [-math.log(1 - 1 / (1 + math.exp(-s))) for s in neg.tolist()]
    pooled = discriminator_bce(pos, neg, "pooled").item()
    assert pooled == pytest.approx(sum(terms) / 5, rel=1e-6)
    assert pooled != pytest.approx(0.5 * discriminator_bce(pos, neg).item(), rel=1e-3)


def test_discriminator_bce_matches_log_sigmoid_form_and_is_stable():
    torch.manual_seed(3)
    pos, neg = torch.randn(10), torch.randn(12)
    expected = -torch.log(torch.sigmoid(pos)).mean() - torch.log(1 - torch.sigmoid(neg)).mean()
    torch.testing.assert_close(discriminator_bce(pos, neg), expected)
    big = torch.tensor([200.0, -200.0], requires_grad=True)
    loss = discriminator_bce(big[:1], big[1:])
    (g,) = torch.autograd.grad(loss, big)
    assert loss.item() == pytest.approx(0.0, abs=1e-6) and torch.isfinite(g).all()
    wrong = discriminator_bce(torch.tensor([-200.0]), torch.tensor([200.0]))
    assert wrong.item() == pytest.approx(400.0)


def test_discriminator_bce_rejects_nan_and_bad_convention():
    with pytest.raises(ValueError, match="NaN"):
        discriminator_bce(torch.tensor([float("nan")]), torch.zeros(1))
    with pytest.raises(ValueError, match="convention"):
        discriminator_bce(torch.zeros(1), torch.zeros(1), "mean")


@pytest.mark.parametrize("estimator", ["jsd", "dv"])
def test_mi_estimators_are_zero_at_zero_scores(estimator):
    pos = torch.eye(4, dtype=torch.bool)
    assert mi_scores_loss(torch.zeros(4, 4), pos, estimator).item() == pytest.approx(0.0, abs=1e-7)


def test_infonce_estimator_uniform_scores_is_log_g():
    pos = torch.eye(5, dtype=torch.bool)
    assert mi_scores_loss(torch.zeros(5, 5), pos, "infonce").item() == pytest.approx(math.log(5))


def test_jsd_closed_form_and_separation_lowers_loss():
    s = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
    pos = torch.tensor([[True, False], [False, True]])
    sp = F.softplus
    e_pos = (math.log(2) - sp(-torch.tensor([2.0, 3.0]))).mean()
    e_neg = (sp(-torch.tensor([-1.0, 0.5])) + torch.tensor([-1.0, 0.5]) - math.log(2)).mean()
    torch.testing.assert_close(mi_scores_loss(s, pos, "jsd"), e_neg - e_pos)
    for est in ("jsd", "dv", "infonce"):
        assert mi_scores_loss(10 * pos.float() - 5, pos, est) < mi_scores_loss(
            torch.zeros(2, 2), pos, est
        )


def test_dv_is_stable_for_large_scores():
    # -(E_pos[s] - log E_neg[e^s]) = -(1000 - log((e^900 + e^950) / 2)) = -50 - log 2 + O(e^-50)
    s = torch.tensor([[1000.0, 900.0], [950.0, 1000.0]])
    loss = mi_scores_loss(s, torch.eye(2, dtype=torch.bool), "dv")
    assert loss.item() == pytest.approx(-50 - math.log(2), rel=1e-6)
    # and on small scores, against the plain formula
    s = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
    plain = -(torch.tensor([2.0, 3.0]).mean() - torch.tensor([-1.0, 0.5]).exp().mean().log())
    torch.testing.assert_close(mi_scores_loss(s, torch.eye(2, dtype=torch.bool), "dv"), plain)


def test_info_nce_without_normalising_scores_raw_dot_products():
    torch.manual_seed(6)
    q, k = torch.randn(5, 4), torch.randn(5, 4)
    expected = F.cross_entropy(q @ k.T / 0.5, torch.arange(5))
    torch.testing.assert_close(info_nce(q, k, temperature=0.5, normalize=False), expected)
    assert not torch.allclose(info_nce(q, k, temperature=0.5), expected)  # cosine differs


def test_infonce_estimator_matches_the_row_softmax_written_out():
    """Rows are the anchors (nodes), softmax over the columns (graphs), mean over each
    row's positives then over rows with one; a row without a positive adds nothing."""
    torch.manual_seed(5)
    s = torch.randn(4, 3)
    pos = torch.tensor([[1, 0, 0], [0, 1, 1], [0, 0, 0], [0, 0, 1]], dtype=torch.bool)
    p = s.exp() / s.exp().sum(1, keepdim=True)
    rows = [-p[0, 0].log(), -(p[1, 1].log() + p[1, 2].log()) / 2, -p[3, 2].log()]
    torch.testing.assert_close(mi_scores_loss(s, pos, "infonce"), torch.stack(rows).mean())


def test_local_global_uses_batch_vector_as_positive_mask():
    torch.manual_seed(4)
    h, g = torch.randn(5, 3), torch.randn(2, 3)
    batch = torch.tensor([0, 0, 1, 1, 1])
    pos = torch.tensor([[1, 0], [1, 0], [0, 1], [0, 1], [0, 1]], dtype=torch.bool)
    for est in ("jsd", "dv", "infonce"):
        torch.testing.assert_close(
            local_global_loss(h, g, batch, est), mi_scores_loss(h @ g.T, pos, est)
        )
    # infonce written out: each node against the graphs, its own graph the positive
    s = h @ g.T
    torch.testing.assert_close(local_global_loss(h, g, batch, "infonce"),
                               -torch.log_softmax(s, dim=1)[pos].mean())


def test_local_global_rejects_bad_input():
    h, g = torch.randn(3, 4), torch.randn(2, 4)
    with pytest.raises(ValueError, match="one entry per node"):
        local_global_loss(h, g, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        local_global_loss(h, g, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="same dim"):
        local_global_loss(h, torch.randn(2, 5), torch.tensor([0, 1, 1]))
    for estimator in ("jsd", "dv", "infonce"):  # infonce returned a silent 0 here
        with pytest.raises(ValueError, match="negative pairs"):
            local_global_loss(h, g[:1], torch.tensor([0, 0, 0]), estimator)
    with pytest.raises(ValueError, match="estimator"):
        local_global_loss(h, g, torch.tensor([0, 1, 1]), "nce")


@pytest.mark.parametrize("similarity, scale", [("cosine", 1e4), ("dot", 30.0)])
def test_info_nce_half_precision_overflow_free(similarity, scale):
    torch.manual_seed(0)
    q = torch.randn(8, 64) * scale
    k = q + scale * torch.randn(8, 64)  # loss near 1: gradients far from underflow
    t = 0.5 if similarity == "cosine" else 30000.0
    ref = info_nce(q, k, temperature=t, similarity=similarity)
    qh = q.half().requires_grad_()
    loss = info_nce(qh, k.half(), temperature=t, similarity=similarity)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-2, abs=1e-3)
    g, = torch.autograd.grad(loss, [qh])
    assert torch.isfinite(g).all() and bool((g != 0).any(dim=1).all())


def test_masks_must_be_bool_or_zero_one():
    q = torch.randn(3, 4)
    for soft in (torch.eye(3) * 0.3, torch.full((3, 3), 2.0)):
        with pytest.raises(ValueError, match="positive_mask must be a bool mask"):
            info_nce(q, q, soft)
    assert torch.isclose(info_nce(q, q, torch.eye(3)), info_nce(q, q))  # 0/1 floats are fine
    from shared.losses.info_nce import masked_log_softmax_loss

    with pytest.raises(ValueError, match=r"positive_mask must have shape \(3, 3\)"):
        masked_log_softmax_loss(q @ q.T, torch.ones(3, 1, dtype=torch.bool))  # no broadcast


@pytest.mark.parametrize("batch", [torch.tensor([0, 0.5, 0, 1, 1]), torch.tensor([False, True, False, True, True])])
def test_local_global_batch_must_hold_integer_graph_indices(batch):
    """A float batch matched no graph for node 1 (no positive), silently."""
    from shared.losses import local_global_loss

    with pytest.raises(ValueError, match="batch must hold integer graph indices"):
        local_global_loss(torch.randn(5, 4), torch.randn(2, 4), batch)


def test_integer_logits_are_named():
    from shared.losses import discriminator_bce, mi_scores_loss

    with pytest.raises(ValueError, match="pos_logits must be a floating-point tensor"):
        discriminator_bce(torch.tensor([1, 2]), torch.zeros(2))
    with pytest.raises(ValueError, match="scores must be a floating-point tensor"):
        mi_scores_loss(torch.ones(2, 2, dtype=torch.long), torch.eye(2, dtype=torch.bool))


def test_mixed_float_dtypes_are_named():
    """float32 against float64 failed inside a matmul ("expected m1 and m2 to have the same
    dtype"); the losses name both inputs and the cast. One dtype throughout still works."""
    from shared.losses import crossclr_loss

    a, b = torch.randn(4, 8), torch.randn(4, 8, dtype=torch.float64)
    calls = ((lambda: info_nce(a, b), "query torch.float32, keys torch.float64"),
             (lambda: crossclr_loss(a, b), "x torch.float32, y torch.float64"),
             (lambda: crossclr_loss(a, a, x_queue=b[:2], y_queue=b[:2]), "x_queue torch.float64"),
             (lambda: local_global_loss(a, b[:2], torch.tensor([0, 0, 1, 1])),
              "local torch.float32, global_ torch.float64"))
    for call, named in calls:
        with pytest.raises(ValueError, match="share one float precision") as info:
            call()
        assert named in str(info.value) and ".to(" in str(info.value)
    assert info_nce(b, b).dtype == crossclr_loss(b, b).dtype == torch.float64
    # half precision beside float32 is upcast by the losses, as before the check: accepted
    for half in (torch.float16, torch.bfloat16):
        torch.testing.assert_close(info_nce(a.to(half), a), info_nce(a.to(half).float(), a))
        local_global_loss(a.to(half), a[:2], torch.tensor([0, 0, 1, 1]))
    # a CrossCLR queue filled under bfloat16 autocast, then a float32 evaluation pass
    from shared.losses import CrossCLRLoss

    loss = CrossCLRLoss(queue_size=8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss(a @ torch.eye(8), a @ torch.eye(8))
    assert torch.isfinite(loss.eval()(a, a))


def test_temperature_floor_is_float32_smallest_normal():
    """At the floor every temperature-taking loss is still finite; just below it, where
    ``1 / temperature`` overflows float32 and the loss was NaN, each one refuses."""
    from shared._validation import MIN_TEMPERATURE
    from shared.losses import CRDLoss, crossclr_loss, nt_xent

    assert MIN_TEMPERATURE == torch.finfo(torch.float32).tiny
    assert torch.isinf(1 / torch.tensor(MIN_TEMPERATURE / 8))  # float32: why below is refused
    q, k = torch.randn(4, 8), torch.randn(4, 8)
    losses = {
        "info_nce": lambda t: info_nce(q, k, temperature=t),
        "nt_xent": lambda t: nt_xent(q, k, temperature=t),
        "crossclr": lambda t: crossclr_loss(q, k, temperature=t),
        "crossclr weight": lambda t: crossclr_loss(q, k, weight_temperature=t),
    }
    for name, loss in losses.items():
        assert torch.isfinite(loss(MIN_TEMPERATURE)), name
        with pytest.raises(ValueError, match="smallest normal"):
            loss(MIN_TEMPERATURE / 8)
    with pytest.raises(ValueError, match="smallest normal"):
        CRDLoss(8, 8, n_data=10, num_negatives=4, temperature=1e-40)


@pytest.mark.parametrize("build, match", [
    (lambda: NTXentLoss(reduction="avg"), "reduction must be one of"),
    (lambda: InfoNCELoss(similarity="l2"), "similarity must be 'cosine' or 'dot'"),
    (lambda: LocalGlobalLoss("mine"), "estimator must be one of"),
    (lambda: DiscriminatorBCELoss("sum"), "convention must be 'separate' or 'pooled'"),
    (lambda: GlobalLocalLoss(chunking="x"), "chunking must be 'clip' or 'release'"),
])
def test_loss_modules_refuse_bad_settings_when_built(build, match):
    """Named when the module is built, not at its first batch (minutes into a run)."""
    with pytest.raises(ValueError, match=match):
        build()
