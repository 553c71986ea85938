import math

import pytest
import torch

from shared.losses import CRDLoss


def test_equal_scores_closed_form_at_paper_k():
    torch.manual_seed(0)
    k, n_data = 16384, 20000
    crd = CRDLoss(8, 8, n_data=n_data, feat_dim=16, num_negatives=k)
    crd.memory_student.fill_(0.25)
    crd.memory_teacher.fill_(0.25)
    f = torch.ones(2, 8)  # identical rows: every score equal
    loss = crd(f, f, torch.tensor([0, 1]))
    per_side = math.log(k + 1) + k * math.log(1 + 1 / k)
    assert loss.item() == pytest.approx(2 * per_side, rel=1e-4)
    assert loss.item() == pytest.approx(21.40, abs=0.01)


def release_nce(log_x, n_data):
    """RepDistiller's ``ContrastLoss`` written out on probabilities: column 0 is the
    positive, ``P(data) = x / (x + K / n)`` for it and ``P(noise) = (K / n) / (x + K / n)``
    for the K negatives, summed and divided by the batch size."""
    x = log_x.double().exp()
    k = x.shape[1] - 1
    pn = k / n_data
    d1 = torch.log(x[:, 0] / (x[:, 0] + pn))
    d0 = torch.log(pn / (x[:, 1:] + pn))
    return -(d1.sum() + d0.sum()) / x.shape[0]


def test_nce_loss_against_the_release_on_unequal_scores():
    """Unequal scores, so a wrong positive column or a swapped noise term would show
    (the equal-scores closed form cannot tell the columns apart)."""
    torch.manual_seed(3)
    n_data = 100
    crd = CRDLoss(4, 4, n_data=n_data, feat_dim=8, num_negatives=10)
    log_x = 2 * torch.randn(3, 11) - math.log(n_data)
    torch.testing.assert_close(crd.nce_loss(log_x).double(), release_nce(log_x, n_data))
    swapped = log_x[:, [1, 0, *range(2, 11)]]  # another column as the positive
    assert not torch.allclose(crd.nce_loss(swapped).double(), release_nce(log_x, n_data))


def test_normaliser_fixed_on_first_call_and_memory_momentum():
    """One step against the paper's formulas: teacher embeddings scored against the
    student bank and vice versa; Z fixed from the first batch's scores; each bank's rows
    ``index`` move to ``normalize(m * old + (1 - m) * v)`` of its own side's embedding."""
    import torch.nn.functional as F

    torch.manual_seed(1)
    m, tau, n_data = 0.3, 0.07, 50
    crd = CRDLoss(4, 6, n_data=n_data, feat_dim=8, num_negatives=10, momentum=m,
                  temperature=tau)
    idx = torch.tensor([3, 7])
    ci = torch.cat([idx[:, None], torch.randint(n_data, (2, 10))], 1)
    f_s, f_t = torch.randn(2, 4), torch.randn(2, 6)
    bank_s, bank_t = crd.memory_student.clone(), crd.memory_teacher.clone()
    with torch.no_grad():
        v_s = F.normalize(crd.embed_student(f_s), dim=1)
        v_t = F.normalize(crd.embed_teacher(f_t), dim=1)
    scores_t = torch.einsum("bkd,bd->bk", bank_s[ci], v_t)  # side 0
    scores_s = torch.einsum("bkd,bd->bk", bank_t[ci], v_s)  # side 1
    log_z = [torch.logsumexp(x.flatten() / tau, 0) - math.log(x.numel()) + math.log(n_data)
             for x in (scores_t, scores_s)]
    loss = crd(f_s, f_t, idx, ci)
    torch.testing.assert_close(crd.log_z, torch.stack(log_z))
    torch.testing.assert_close(loss.double(), release_nce(scores_s / tau - log_z[1], n_data)
                               + release_nce(scores_t / tau - log_z[0], n_data))
    for bank, before, v in ((crd.memory_student, bank_s, v_s), (crd.memory_teacher, bank_t, v_t)):
        torch.testing.assert_close(bank[idx], F.normalize(m * before[idx] + (1 - m) * v, dim=1))
        rest = torch.ones(n_data, dtype=torch.bool)
        rest[idx] = False
        assert torch.equal(bank[rest], before[rest])
    # Z stays fixed on later calls, whatever their scale
    log_z = crd.log_z.clone()
    crd(torch.randn(2, 4) * 5, torch.randn(2, 6), torch.tensor([1, 2]))
    torch.testing.assert_close(crd.log_z, log_z)


def test_gradients_reach_both_embed_heads_and_loss_falls():
    torch.manual_seed(2)
    n = 64
    teacher = torch.randn(n, 10)
    student = torch.nn.Linear(10, 6)
    crd = CRDLoss(6, 10, n_data=n, feat_dim=8, num_negatives=16, temperature=0.1)
    opt = torch.optim.Adam(list(student.parameters()) + list(crd.parameters()), lr=1e-2)
    losses = []
    for _ in range(150):
        idx = torch.randperm(n)[:16]
        loss = crd(student(teacher[idx]), teacher[idx], idx)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    for grad in (crd.embed_teacher.weight.grad, crd.embed_student.weight.grad, student.weight.grad):
        assert grad is not None and grad.abs().sum() > 0
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10 - 0.5


def test_class_conditional_negatives_come_from_other_classes():
    labels = torch.arange(40) % 4
    crd = CRDLoss(3, 3, n_data=40, feat_dim=4, num_negatives=50, labels=labels)
    idx = torch.arange(0, 40, 3)
    ci = crd.sample_contrast_index(idx)
    assert ci.shape == (len(idx), 51)
    assert (ci[:, 0] == idx).all()
    assert (labels[ci[:, 1:]] != labels[idx][:, None]).all()
    # a class alone in the data has nothing to contrast with: named, not an empty draw
    lonely = CRDLoss(3, 3, n_data=40, feat_dim=4, num_negatives=5,
                     labels=torch.zeros(40, dtype=torch.long))
    with pytest.raises(ValueError, match="class 0 has no samples of another class"):
        lonely.sample_contrast_index(idx)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_finite_for_half_precision_scores(dtype):
    crd = CRDLoss(4, 4, n_data=30, feat_dim=8, num_negatives=8, temperature=0.01)
    log_x = crd._log_normalised(torch.randn(5, 9).to(dtype), side=0)
    assert torch.isfinite(crd.nce_loss(log_x))


def test_bad_input():
    crd = CRDLoss(4, 6, n_data=20, feat_dim=8, num_negatives=5)
    with pytest.raises(ValueError, match="batch size"):
        crd(torch.randn(3, 4), torch.randn(2, 6), torch.arange(3))
    with pytest.raises(ValueError, match="NaN"):
        crd(torch.full((2, 4), float("nan")), torch.randn(2, 6), torch.arange(2))
    with pytest.raises(ValueError, match="momentum"):
        CRDLoss(4, 6, n_data=20, momentum=1.0)
    with pytest.raises(ValueError, match="labels must have shape"):
        CRDLoss(4, 6, n_data=20, labels=torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="labels must be integer class indices, got dtype "
                                         "torch.float32"):  # .long() cut 0.5, 1.2 to 0, 1
        CRDLoss(4, 6, n_data=4, labels=torch.tensor([0.5, 1.2, 0.7, 1.9]))
    with pytest.raises(ValueError, match="feat_dim must be >= 1, got 0"):  # ZeroDivisionError
        CRDLoss(4, 6, n_data=4, feat_dim=0)


@pytest.mark.parametrize("factor", [0, float("inf")])  # gather rows / score the whole bank
@pytest.mark.parametrize("n_data", [30, 5000])
def test_memory_scores_equal_gathered_dot_products_and_their_gradients(n_data, factor, monkeypatch):
    monkeypatch.setattr(CRDLoss, "FULL_BANK_FACTOR", factor)
    torch.manual_seed(3)
    memory = torch.randn(n_data, 16)
    index = torch.randint(n_data, (4, 11))
    v = torch.randn(4, 16, requires_grad=True)
    fast = CRDLoss.memory_scores(memory, v, index)
    (g_fast,) = torch.autograd.grad((fast * torch.arange(11.0)).sum(), v)
    ref = torch.stack([memory[index[b]] @ v[b] for b in range(4)])
    (g_ref,) = torch.autograd.grad((ref * torch.arange(11.0)).sum(), v)
    torch.testing.assert_close(fast, ref)
    torch.testing.assert_close(g_fast, g_ref)


def test_memory_scores_gradient_survives_in_place_bank_update():
    """The loss updates the bank in place right after scoring; v's gradient must not break."""
    memory = torch.randn(20, 8)
    v = torch.randn(3, 8, requires_grad=True)
    index = torch.randint(20, (3, 5))
    assert 20 <= CRDLoss.FULL_BANK_FACTOR * 5  # the whole-bank path (the one that keeps the bank)
    scores = CRDLoss.memory_scores(memory, v, index)
    expected = torch.stack([memory[index[b]].sum(0) for b in range(3)])
    memory.mul_(0.0)  # what _update_memory does to some rows, done to all
    scores.sum().backward()
    torch.testing.assert_close(v.grad, expected)


def test_contrast_index_out_of_range_is_rejected():
    crd = CRDLoss(4, 4, n_data=10, feat_dim=8, num_negatives=3)
    f = torch.randn(2, 4)
    for bad in (torch.tensor([[0, 1, 2, -1], [1, 2, 3, 4]]), torch.tensor([[0, 1, 2, 10]] * 2)):
        with pytest.raises(ValueError, match=r"contrast_index must lie in \[0, n_data=10\)"):
            crd(f, f, torch.tensor([0, 1]), bad)


def test_contrast_index_must_start_with_the_samples_own_index():
    crd = CRDLoss(4, 4, n_data=10, feat_dim=8, num_negatives=3)
    f, index = torch.randn(2, 4), torch.tensor([0, 1])
    swapped = torch.tensor([[1, 2, 3, 4], [0, 5, 6, 7]])  # column 0 is another sample
    with pytest.raises(ValueError, match=r"contrast_index\[:, 0\] must equal index"):
        crd(f, f, index, swapped)
    assert torch.isfinite(crd(f, f, index, crd.sample_contrast_index(index)))


@pytest.mark.parametrize("index", [torch.tensor([5, -1]), torch.tensor([5, 1000]), torch.tensor([5.0, 1.0])])
def test_index_outside_the_dataset_is_rejected(index):
    """A negative index would address the memory bank from its end (row 999)."""
    crd = CRDLoss(8, 8, n_data=1000, num_negatives=10)
    bank = crd.memory_student.clone() if hasattr(crd, "memory_student") else None
    with pytest.raises(ValueError, match=r"index must hold dataset indices in \[0, n_data=1000\)"):
        crd(torch.randn(2, 8), torch.randn(2, 8), index)
    labelled = CRDLoss(8, 8, n_data=1000, num_negatives=10, labels=torch.arange(1000) % 3)
    with pytest.raises(ValueError, match=r"index must hold dataset indices"):
        labelled.sample_contrast_index(index)  # public too: was a raw IndexError
    if bank is not None:
        assert torch.equal(bank, crd.memory_student)


def test_eval_mode_reads_the_banks_without_changing_them():
    """Validation passes (eval mode) leave the banks and an unfixed Z alone, and give the
    loss a training-mode call would give from the same state."""
    torch.manual_seed(0)
    crd = CRDLoss(4, 6, n_data=20, feat_dim=8, num_negatives=5)
    f_s, f_t, index = torch.randn(3, 4), torch.randn(3, 6), torch.tensor([0, 1, 2])
    contrast = crd.sample_contrast_index(index)
    state = {k: v.clone() for k, v in crd.state_dict().items()}
    crd.eval()
    with torch.no_grad():
        evaluated = crd(f_s, f_t, index, contrast)
    for k, v in crd.state_dict().items():
        assert torch.equal(v, state[k]) or (v.isnan().all() and state[k].isnan().all()), k
    crd.train()
    trained = crd(f_s, f_t, index, contrast)
    assert torch.allclose(evaluated, trained)
    assert not torch.isnan(crd.log_z).any()  # fixed by the training call
    assert not torch.equal(crd.memory_student[:3], state["memory_student"][:3])


def test_empty_batch_wrong_widths_and_bad_contrast_index_are_named_and_change_nothing():
    crd = CRDLoss(4, 6, n_data=20, feat_dim=8, num_negatives=5)
    state = {k: v.clone() for k, v in crd.state_dict().items()}
    f_s, f_t, index = torch.randn(3, 4), torch.randn(3, 6), torch.tensor([0, 1, 2])
    cases = [
        ((torch.randn(0, 4), torch.randn(0, 6), torch.arange(0)), "at least 1 row"),
        ((torch.randn(3, 5), f_t, index), "f_s has 5 features.*built for 4"),
        ((f_s, torch.randn(3, 4), index), "f_t has 4 features.*built for 6"),
        ((f_s, f_t, index, index[:, None]), r"K >= 1 negatives"),  # K = 0
        ((f_s, f_t, index, torch.stack([index, index + 3], 1).float()), "torch.long"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            crd(*args)
    for k, v in crd.state_dict().items():  # Z is still unfixed, the banks untouched
        assert torch.equal(v, state[k]) or (v.isnan().all() and state[k].isnan().all()), k


@pytest.mark.parametrize("full_bank_factor", [0, 1000])  # gathered rows, whole bank
def test_int32_indices_give_the_int64_loss_and_update(full_bank_factor, monkeypatch):
    """int32 ``index`` / ``contrast_index`` are accepted; the scores' gather gets int64
    (torch's gather took only int64 before recent releases): same loss, same banks as
    with int64 indices."""
    monkeypatch.setattr(CRDLoss, "FULL_BANK_FACTOR", full_bank_factor)
    torch.manual_seed(0)
    a = CRDLoss(4, 6, n_data=30, feat_dim=8, num_negatives=7)
    b = CRDLoss(4, 6, n_data=30, feat_dim=8, num_negatives=7)
    b.load_state_dict(a.state_dict())
    idx = torch.tensor([2, 11, 29])
    ci = torch.cat([idx[:, None], torch.randint(30, (3, 7))], 1)
    f_s, f_t = torch.randn(3, 4), torch.randn(3, 6)
    seen = []
    real_gather = torch.gather
    monkeypatch.setattr(torch, "gather", lambda x, d, i: seen.append(i.dtype) or real_gather(x, d, i))
    loss64 = a(f_s, f_t, idx, ci)
    loss32 = b(f_s, f_t, idx.int(), ci.int())
    assert torch.equal(loss32, loss64)
    assert torch.equal(a.memory_student, b.memory_student)
    assert torch.equal(a.memory_teacher, b.memory_teacher)
    assert set(seen) <= {torch.int64} and (len(seen) > 0) == (full_bank_factor > 0)
