r"""Graph views for MVGRL: the normalised adjacency and two diffusions.

All functions take an undirected graph as ``edge_index [2, E]`` and return a
view as a sparse matrix ``S`` in PyG's edge format: ``(edge_index [2, nnz],
edge_weight [nnz])`` with ``edge_index[0] = j`` (source), ``edge_index[1] = i``
(target) and ``edge_weight = S[i, j]``, so that message passing with these
weights (e.g. ``GCNConv(normalize=False)``) computes ``S @ X``.

Views (`Hassani & Khasahmadi, 2020 <https://arxiv.org/abs/2006.05582>`_):

* adjacency: :math:`\hat{A} = D^{-1/2} (A + I) D^{-1/2}`, ``D`` the degrees
  of ``A + I``;
* personalised PageRank (the release's form):
  :math:`S^{ppr} = \alpha \left(I - (1 - \alpha) \hat{A}\right)^{-1}`, alpha 0.2;
* heat kernel (the paper's Eq. 4, never run by the release):
  :math:`S^{heat} = \exp\left(t A D^{-1} - t I\right)`, t = 5, with ``A``
  the plain adjacency (no self-loops) and ``D`` its degrees. ``A D^{-1}`` is
  the column-stochastic random-walk transition; columns of isolated nodes
  are zero, so they keep :math:`e^{-t}` on the diagonal.

Computation methods:

* ``"exact"``: dense float64 matrices through PyG's :class:`~torch_geometric.
  transforms.GDC` (closed-form inverse for PPR; matrix exponential for heat,
  by ``eigh`` on the symmetric similar matrix or ``scipy.linalg.expm``).
  :math:`O(N^2)` memory, :math:`O(N^3)` time: for graphs up to a few thousand
  nodes.
* ``"power"``: sparse series, memory linear in the kept entries: PPR as
  :math:`\alpha \sum_k ((1-\alpha)\hat{A})^k`, heat as the Taylor series
  :math:`e^{-t} \sum_k \frac{t^k}{k!} (A D^{-1})^k`, each term pruned below
  ``prune`` and stopped when the remaining mass is below ``tol``.
  (PyG's push-based ``get_ppr`` needs numba, which is optional, and has no
  heat kernel.)
* ``"auto"``: exact up to :data:`EXACT_MAX_NODES` nodes, power otherwise.

Sparsification after either method: ``eps`` drops entries below a threshold,
``topk`` keeps the ``k`` largest entries of every row (each node keeps its
``k`` strongest sources). Both can be combined. ``column_scale="minmax"``
then rescales every column of ``S`` to ``[0, 1]`` as scikit-learn's
``MinMaxScaler`` would on the dense matrix (implicit zeros count): the
release's treatment of CiteSeer, after its epsilon sparsification.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.transforms import GDC
from torch_geometric.utils import coalesce, remove_self_loops

__all__ = [
    "EXACT_MAX_NODES",
    "SparseView",
    "adjacency_view",
    "ppr_matrix",
    "heat_matrix",
    "sparsify_dense",
    "minmax_columns",
    "diffusion_view",
]

#: Largest graph the ``"auto"`` method diffuses with dense matrices.
EXACT_MAX_NODES = 6000

SparseView = tuple[Tensor, Tensor]


def adjacency_view(edge_index: Tensor, num_nodes: int,
                   dtype: torch.dtype = torch.float,
                   self_loop_weight: float = 1.0) -> SparseView:
    r"""The GCN view :math:`D^{-1/2} (A + w I) D^{-1/2}`, ``D`` the degrees of
    ``A + w I``.

    ``w = 1`` (default) is the GCN view; ``w = 2`` is what the MVGRL release's
    node-level code effectively feeds its adjacency encoder (it adds the
    identity twice).

    Args:
        edge_index: ``[2, E]`` undirected edges (self-loops are replaced).
        num_nodes: ``N``.
        self_loop_weight: ``w > 0``.

    Returns:
        ``(edge_index [2, E'], edge_weight [E'])`` in the module's format.
    """
    if not self_loop_weight > 0:
        raise ValueError(f"self_loop_weight must be positive, got {self_loop_weight}.")
    edge_index, _ = remove_self_loops(edge_index)
    if self_loop_weight == 1.0:
        return gcn_norm(edge_index, None, num_nodes, add_self_loops=True,
                        dtype=dtype)
    loops = torch.arange(num_nodes).repeat(2, 1)
    ei = torch.cat([edge_index, loops], dim=1)
    ew = torch.cat([torch.ones(edge_index.size(1), dtype=dtype),
                    torch.full((num_nodes,), float(self_loop_weight), dtype=dtype)])
    ei, ew = coalesce(ei, ew, num_nodes)
    deg = torch.zeros(num_nodes, dtype=dtype).index_add_(0, ei[1], ew)
    dis = deg.pow(-0.5)
    return ei, dis[ei[0]] * ew * dis[ei[1]]


def _check(edge_index: Tensor, num_nodes: int) -> None:
    if num_nodes <= 0:
        raise ValueError("Cannot diffuse a graph without nodes.")
    if edge_index.numel() and int(edge_index.max()) >= num_nodes:
        raise ValueError(
            f"edge_index refers to node {int(edge_index.max())} but the graph "
            f"has {num_nodes} nodes.")


def _sym_transition(edge_index: Tensor, num_nodes: int) -> SparseView:
    ei, ew = adjacency_view(edge_index, num_nodes, dtype=torch.float64)
    return ei, ew


def _col_transition(edge_index: Tensor, num_nodes: int) -> SparseView:
    """``A D^{-1}`` with ``edge_index[0]`` as row: entry ``(i, j) = A_ij / d_j``."""
    edge_index, _ = remove_self_loops(edge_index)
    ew = torch.ones(edge_index.size(1), dtype=torch.float64)
    edge_index, ew = coalesce(edge_index, ew, num_nodes)
    return GDC().transition_matrix(edge_index, ew, num_nodes, "col")


def ppr_matrix(edge_index: Tensor, num_nodes: int, alpha: float = 0.2) -> Tensor:
    r"""Dense exact :math:`\alpha (I - (1-\alpha) \hat{A})^{-1}`, float64 ``[N, N]``."""
    _check(edge_index, num_nodes)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"PPR alpha must lie in (0, 1), got {alpha}.")
    if num_nodes == 1:  # GDC squeezes a 1x1 matrix to a scalar
        return torch.ones(1, 1, dtype=torch.float64)
    ei, ew = _sym_transition(edge_index, num_nodes)
    return GDC().diffusion_matrix_exact(ei, ew, num_nodes, "ppr", alpha=alpha)\
        .reshape(num_nodes, num_nodes)


def heat_matrix(edge_index: Tensor, num_nodes: int, t: float = 5.0) -> Tensor:
    r"""Dense exact :math:`\exp(t A D^{-1} - t I)`, float64 ``[N, N]``.

    ``A D^{-1} = D^{1/2} (D^{-1/2} A D^{-1/2}) D^{-1/2}``, so the exponential
    is taken of the symmetric matrix by ``eigh`` and scaled back; isolated
    nodes (``d = 0``) have a zero column and keep :math:`e^{-t}`.
    """
    _check(edge_index, num_nodes)
    if t <= 0:
        raise ValueError(f"Heat-kernel time t must be positive, got {t}.")
    if num_nodes == 1:
        return torch.full((1, 1), float(np.exp(-t)), dtype=torch.float64)
    edge_index, _ = remove_self_loops(edge_index)
    ew = torch.ones(edge_index.size(1), dtype=torch.float64)
    edge_index, ew = coalesce(edge_index, ew, num_nodes)
    deg = torch.zeros(num_nodes, dtype=torch.float64).index_add_(
        0, edge_index[0], ew)
    sym_ei, sym_ew = GDC().transition_matrix(edge_index, ew, num_nodes, "sym")
    # exp(t (D^-1/2 A D^-1/2 - I)) by GDC's eigh-based expm of a symmetric matrix.
    exp_sym = GDC().diffusion_matrix_exact(sym_ei, sym_ew, num_nodes, "heat",
                                           t=t).reshape(num_nodes, num_nodes)
    # Similarity transform back to A D^-1; isolated nodes are decoupled and
    # exp_sym already holds e^{-t} on their diagonal, so scale by 1 there.
    half = torch.where(deg > 0, deg.sqrt(), torch.ones_like(deg))
    return half.view(-1, 1) * exp_sym / half.view(1, -1)


def sparsify_dense(matrix: Tensor, eps: float | None = None,
                   topk: int | None = None,
                   dtype: torch.dtype = torch.float) -> SparseView:
    """Turn a dense ``[N, N]`` matrix into the module's sparse format.

    Keeps entries ``>= eps`` (``eps=None``: every nonzero entry) and, if
    ``topk`` is set, only the ``topk`` largest of each row.
    """
    n = matrix.size(0)
    if topk is not None:
        if topk < 1:
            raise ValueError(f"topk must be >= 1, got {topk}.")
        k = min(topk, n)
        vals, cols = matrix.topk(k, dim=1)
        rows = torch.arange(n).repeat_interleave(k)
        rows, cols, vals = rows, cols.reshape(-1), vals.reshape(-1)
        keep = vals > 0 if eps is None else vals >= eps
    else:
        keep_mask = matrix != 0 if eps is None else matrix >= eps
        rows, cols = keep_mask.nonzero(as_tuple=True)
        vals = matrix[rows, cols]
        keep = torch.ones_like(vals, dtype=torch.bool)
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    edge_index = torch.stack([cols, rows], dim=0)  # source j, target i
    return coalesce(edge_index, vals.to(dtype), n)


def _to_scipy(edge_index: Tensor, edge_weight: Tensor, n: int) -> sp.csr_matrix:
    """Rows = ``edge_index[0]``."""
    return sp.csr_matrix(
        (edge_weight.numpy(), (edge_index[0].numpy(), edge_index[1].numpy())),
        shape=(n, n))


def _prune(mat: sp.csr_matrix, threshold: float) -> sp.csr_matrix:
    if threshold > 0:
        mat.data[np.abs(mat.data) < threshold] = 0.0
        mat.eliminate_zeros()
    return mat


def _series(trans: sp.csr_matrix, coeff, prune: float, tol: float,
            max_terms: int) -> sp.csr_matrix:
    """``sum_k c_k T^k`` with ``c_k = coeff(k)``, pruning each term.

    ``coeff(k)`` returns ``(c_k, tail_k)``: the coefficient and the total mass
    of the coefficients after ``k`` (the error bound for column-stochastic T).
    """
    n = trans.shape[0]
    power = sp.identity(n, format="csr", dtype=np.float64)
    c0, tail = coeff(0)
    total = power * c0
    for k in range(1, max_terms + 1):
        power = _prune(trans @ power, prune)
        ck, tail = coeff(k)
        total = total + power * ck
        if tail < tol:
            break
    return total.tocsr()


def _power_ppr(edge_index: Tensor, n: int, alpha: float, prune: float,
               tol: float) -> sp.csr_matrix:
    ei, ew = _sym_transition(edge_index, n)
    trans = _to_scipy(ei, ew, n)  # symmetric
    beta = 1.0 - alpha
    return _series(trans, lambda k: (alpha * beta ** k, beta ** (k + 1)),
                   prune, tol, max_terms=10_000)


def _power_heat(edge_index: Tensor, n: int, t: float, prune: float,
                tol: float) -> sp.csr_matrix:
    from scipy.stats import poisson

    ei, ew = _col_transition(edge_index, n)
    trans = _to_scipy(ei, ew, n)  # row i, col j = A_ij / d_j
    return _series(trans, lambda k: (float(poisson.pmf(k, t)),
                                     float(poisson.sf(k, t))),
                   prune, tol, max_terms=10_000)


def diffusion_view(
    edge_index: Tensor,
    num_nodes: int,
    kind: str = "ppr",
    *,
    alpha: float = 0.2,
    t: float = 5.0,
    method: str = "auto",
    eps: float | None = None,
    topk: int | None = None,
    prune: float = 1e-6,
    tol: float = 1e-6,
    column_scale: str | None = None,
    dtype: torch.dtype = torch.float,
) -> SparseView:
    r"""A diffusion view in the module's sparse format.

    Args:
        edge_index: ``[2, E]`` undirected edges.
        num_nodes: ``N``.
        kind: ``"ppr"`` or ``"heat"``.
        alpha: PPR teleport probability.
        t: heat-kernel diffusion time.
        method: ``"exact"``, ``"power"`` or ``"auto"`` (see the module doc).
        eps: keep entries ``>= eps`` (``None``: all nonzero entries).
        topk: keep the ``topk`` largest entries of every row.
        prune: ``"power"`` only: entries of each series term below this are
            dropped (bounds memory; adds at most ``prune`` per term and entry).
        tol: ``"power"`` only: stop when the remaining series mass is below.
        column_scale: ``None`` or ``"minmax"`` (see :func:`minmax_columns`),
            applied after sparsification.

    Returns:
        ``(edge_index [2, nnz], edge_weight [nnz])``.
    """
    _check(edge_index, num_nodes)
    if kind not in ("ppr", "heat"):
        raise ValueError(f"Unknown diffusion {kind!r}; choose 'ppr' or 'heat'.")
    if column_scale not in (None, "minmax"):
        raise ValueError(f"Unknown column_scale {column_scale!r}; choose None or 'minmax'.")
    view = _diffuse(edge_index, num_nodes, kind, alpha, t, method, eps, topk, prune,
                    tol, dtype)
    return view if column_scale is None else minmax_columns(*view, num_nodes)


def _diffuse(edge_index: Tensor, num_nodes: int, kind: str, alpha: float, t: float,
             method: str, eps: float | None, topk: int | None, prune: float,
             tol: float, dtype: torch.dtype) -> SparseView:
    if method == "auto":
        method = "exact" if num_nodes <= EXACT_MAX_NODES else "power"
    if method == "exact":
        mat = (ppr_matrix(edge_index, num_nodes, alpha) if kind == "ppr" else
               heat_matrix(edge_index, num_nodes, t))
        return sparsify_dense(mat, eps=eps, topk=topk, dtype=dtype)
    if method != "power":
        raise ValueError(
            f"Unknown diffusion method {method!r}; choose 'exact', 'power' or "
            f"'auto'.")
    mat = (_power_ppr(edge_index, num_nodes, alpha, prune, tol) if kind == "ppr"
           else _power_heat(edge_index, num_nodes, t, prune, tol))
    mat = _prune(mat.tocsr(), eps or 0.0)
    if topk is not None:
        if topk < 1:
            raise ValueError(f"topk must be >= 1, got {topk}.")
        mat = _row_topk(mat, topk)
    coo = mat.tocoo()
    edge_index = torch.from_numpy(np.stack([coo.col, coo.row])).long()
    weight = torch.from_numpy(coo.data).to(dtype)
    return coalesce(edge_index, weight, num_nodes)


def minmax_columns(edge_index: Tensor, edge_weight: Tensor,
                   num_nodes: int) -> SparseView:
    r"""Scale every column of a sparse view to ``[0, 1]``.

    Column ``j`` of :math:`S` (the entries with ``edge_index[0] == j``) becomes
    :math:`(S_{ij} - m_j) / (M_j - m_j)`, with :math:`M_j` its maximum and
    :math:`m_j` its minimum over all ``N`` rows, implicit zeros included (so
    :math:`m_j = 0` unless the column is full). A constant column becomes
    zero, as in scikit-learn's ``MinMaxScaler``; entries that become zero are
    dropped.

    Args:
        edge_index: ``[2, nnz]``, ``edge_index[0]`` the column (source);
            coalesced (one entry per position), as every view here is.
        edge_weight: ``[nnz]``.
        num_nodes: ``N``.

    Returns:
        ``(edge_index [2, nnz'], edge_weight [nnz'])`` with ``nnz' <= nnz``.
    """
    edge_index, edge_weight = coalesce(edge_index, edge_weight, num_nodes)
    col = edge_index[0]
    w = edge_weight
    count = torch.bincount(col, minlength=num_nodes)
    col_max = torch.zeros(num_nodes, dtype=w.dtype).scatter_reduce(
        0, col, w, "amax", include_self=False)
    col_min = torch.zeros(num_nodes, dtype=w.dtype).scatter_reduce(
        0, col, w, "amin", include_self=False)
    # implicit zeros take part in min and max unless the column is full
    sparse_col = count < num_nodes
    col_max = torch.where(sparse_col, col_max.clamp(min=0), col_max)
    col_min = torch.where(sparse_col, col_min.clamp(max=0), col_min)
    span = col_max - col_min
    span = torch.where(span > 0, span, torch.ones_like(span))
    scaled = (w - col_min[col]) / span[col]
    keep = scaled != 0
    return edge_index[:, keep], scaled[keep]


def _row_topk(mat: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of every row of a CSR matrix."""
    mat = mat.tocsr()
    mat.sort_indices()
    data, indptr = mat.data, mat.indptr
    keep = np.ones_like(data, dtype=bool)
    for r in np.nonzero(np.diff(indptr) > k)[0]:
        lo, hi = indptr[r], indptr[r + 1]
        order = np.argsort(-data[lo:hi], kind="stable")
        keep[lo + order[k:]] = False
    out = mat.copy()
    out.data = np.where(keep, data, 0.0)
    out.eliminate_zeros()
    return out
