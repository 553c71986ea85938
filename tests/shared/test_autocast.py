"""Under ``torch.autocast`` the losses still form their logits in float32: the same float32
inputs give the same loss and gradients with autocast on (bfloat16, CPU) as without it.
Before, autocast ran the products in bfloat16 (8-bit mantissa), which moved the loss and,
more, its gradients."""

import copy

import pytest
import torch
from torch import nn

from shared.losses import CRDLoss, crossclr_loss, info_nce, local_global_loss, nt_xent


def _nt_xent(a, b):
    return nt_xent(a, b, temperature=0.05)


def _nt_xent_chunked(a, b):
    return nt_xent(a, b, temperature=0.05, chunk_size=16)


def _info_nce(a, b):
    return info_nce(a, b, temperature=0.05)


def _crossclr(a, b):
    return crossclr_loss(a, b, temperature=0.05)


def _local_global(a, b):
    return local_global_loss(a, b[:8], torch.arange(a.shape[0]) % 8, estimator="dv")


LOSSES = [_nt_xent, _nt_xent_chunked, _info_nce, _crossclr, _local_global]


def _value_and_grads(loss_fn, a, b, autocast: bool):
    a, b = a.clone().requires_grad_(), b.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        loss = loss_fn(a, b)
    loss.backward()  # outside the region, as torch.autocast recommends
    return loss.detach(), a.grad, b.grad


@pytest.mark.parametrize("loss_fn", LOSSES, ids=lambda f: f.__name__.strip("_"))
def test_loss_and_gradients_unchanged_by_autocast(loss_fn):
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(64, 96, generator=g), torch.randn(64, 96, generator=g)
    ref = _value_and_grads(loss_fn, a, b, autocast=False)
    out = _value_and_grads(loss_fn, a, b, autocast=True)
    assert out[0].dtype == torch.float32
    for got, want in zip(out, ref, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)


def test_crd_scores_unchanged_by_autocast():
    # identity embeddings, so every product of the loss is its own (a Linear head would
    # rightly run in bfloat16 under autocast: the caller's choice, not the loss's)
    g = torch.Generator().manual_seed(0)
    crd = CRDLoss(32, 32, n_data=200, feat_dim=32, num_negatives=150)
    crd.embed_student, crd.embed_teacher = nn.Identity(), nn.Identity()
    f_s, f_t = torch.randn(16, 32, generator=g), torch.randn(16, 32, generator=g)
    index = torch.arange(16)
    ci = crd.sample_contrast_index(index)
    results = []
    for autocast in (False, True):
        m, s, t = copy.deepcopy(crd), f_s.clone().requires_grad_(), f_t.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = m(s, t, index, contrast_index=ci)
        loss.backward()
        results.append((loss.detach(), s.grad, t.grad, m.memory_student, m.memory_teacher))
    for got, want in zip(results[1], results[0], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
