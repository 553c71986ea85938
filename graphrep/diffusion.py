r"""Graph views for MVGRL: the normalised adjacency and two diffusions.

All functions take an undirected graph as ``edge_index [2, E]`` (they warn when an
edge lacks its reverse) and return a view as a sparse matrix ``S`` in PyG's edge
format: ``(edge_index [2, nnz], edge_weight [nnz])`` with ``edge_index[0] = j``
(source), ``edge_index[1] = i`` (target) and ``edge_weight = S[i, j]``, so that message
passing with these weights (e.g. ``GCNConv(normalize=False)``) computes ``S @ X``.

Views (`Hassani & Khasahmadi, 2020 <https://arxiv.org/abs/2006.05582>`_):

* adjacency: :math:`\hat{A} = D^{-1/2} (A + I) D^{-1/2}`, ``D`` the degrees
  of ``A + I``;
* personalised PageRank (the release's form):
  :math:`S^{ppr} = \alpha \left(I - (1 - \alpha) \hat{A}\right)^{-1}`, alpha 0.2;
* heat kernel (the paper's Eq. 4, never run by the release):
  :math:`S^{heat} = \exp\left(t A D^{-1} - t I\right)`, t = 5, with ``A``
  the plain adjacency (no self-loops) and ``D`` its degrees. ``A D^{-1}`` is
  the column-stochastic random-walk transition; columns of isolated nodes
  are zero, so they keep :math:`e^{-t}` on the diagonal. Its rows are not
  normalised: on Cora they sum to 0.18-37.55 (a hub aggregates far more than a
  leaf). ``heat_transition`` names the transition ``T`` of
  :math:`\exp(t T - t I)`: ``"col"`` (the paper's ``A D^{-1}``, the default),
  ``"sym"`` (:math:`D^{-1/2} A D^{-1/2}`: PyG ``GDC``'s ``"sym"`` normalisation, here
  without self-loops) or ``"row"`` (:math:`D^{-1} A`: the transpose of ``"col"``, each row
  of a node with edges summing to 1). Isolated nodes keep :math:`e^{-t}` on the diagonal
  in all three.

Computation methods:

* ``"exact"``: dense float64 matrices through PyG's :class:`~torch_geometric.
  transforms.GDC` (closed-form inverse for PPR; matrix exponential for heat,
  by ``eigh`` on the symmetric similar matrix or ``scipy.linalg.expm``).
  :math:`O(N^2)` memory, :math:`O(N^3)` time: for graphs up to a few thousand
  nodes.
* ``"power"``: sparse series: PPR as
  :math:`\alpha \sum_k ((1-\alpha)\hat{A})^k`, heat as the Taylor series
  :math:`e^{-t} \sum_k \frac{t^k}{k!} T^k` (``T`` as ``heat_transition`` names it),
  each term pruned below
  ``prune`` and stopped when the remaining mass is below ``tol``. Computed a
  block of rows at a time, sparsified (``eps``, ``topk``) before the next
  block, so memory is the kept entries plus one block of
  :data:`POWER_BLOCK_ENTRIES` (the whole series at once would fill towards
  :math:`N^2` entries: the terms spread over the graph faster than ``prune``
  thins them). Time grows as (terms) x nnz(A) x N: minutes for tens of
  thousands of nodes, impractical for millions.
* ``"push"`` (PPR only): PyG's :func:`~torch_geometric.utils.get_ppr`, the
  Andersen-Chung-Lang push algorithm (needs ``numba``), on :math:`A + I`. It gives
  rows of the random-walk PPR :math:`\Pi = \alpha (I - (1-\alpha) D^{-1}(A+I))^{-1}`
  (``D`` the degrees of ``A + I``), each entry a lower bound, short by at most
  ``push_eps`` times its column's degree (the push stops once every residual is below
  :math:`\alpha\,\epsilon\, d_v`); the view is its similarity transform
  :math:`S^{ppr}_{ij} = \sqrt{d_i / d_j}\, \Pi_{ij}`, so short by at most
  :math:`\epsilon \sqrt{d_i d_j}`. PyG returns float32, so the bound holds up to
  float32 rounding (about 1e-7 relative, either way). Work per row is local (a
  row's pushes do not depend on ``N``), where the power method's grows with ``N``;
  PyG re-sorts the edge list once per call, i.e. once per :data:`PUSH_BLOCK_ROWS`
  rows. Each block is sparsified before the next. Approximate: see
  ``experiments/bench_diffusion.py``.
* ``"auto"``: exact up to :data:`EXACT_MAX_NODES` nodes, power up to
  :data:`POWER_MAX_NODES`; above, push for PPR (without ``numba`` it refuses, naming
  the fix, rather than build another view than the same run builds elsewhere), power for
  the heat kernel (:func:`resolve_method`).

Sparsification after any method: ``eps`` drops entries below a threshold,
``topk`` keeps the ``k`` largest entries of every row (each node keeps its
``k`` strongest sources; ties at the k-th place are broken as ``torch.topk`` breaks them
for exact and power, towards the lower column for push). Both can be combined. ``column_scale="minmax"``
then rescales every column of ``S`` to ``[0, 1]`` as scikit-learn's
``MinMaxScaler`` would on the dense matrix (implicit zeros count): the
release's treatment of CiteSeer, after its epsilon sparsification.

Views are computed once per graph on the CPU (float64, partly with scipy); given
CUDA tensors, the public functions return their results on that device.
"""
from __future__ import annotations

import functools
import math
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.transforms import GDC
from torch_geometric.utils import coalesce, is_undirected, remove_self_loops

__all__ = [
    "check_edge_index",
    "EXACT_MAX_NODES",
    "POWER_MAX_NODES",
    "POWER_BLOCK_ENTRIES",
    "PUSH_BLOCK_ROWS",
    "SparseView",
    "adjacency_view",
    "ppr_matrix",
    "heat_matrix",
    "HEAT_TRANSITIONS",
    "sparsify_dense",
    "minmax_columns",
    "diffusion_view",
    "resolve_method",
]

#: Largest graph the ``"auto"`` method diffuses with dense matrices.
EXACT_MAX_NODES = 6000

#: Largest graph the ``"auto"`` method gives PPR's power series (above: push): near where
#: the measured times cross (``experiments/bench_diffusion.py``, top-64, one thread: power
#: 16.9 s vs push 33.7 s at 6000 nodes, 36.9 s vs 42.8 s at 10000, 143 s vs 81.1 s at
#: 19717); power is exact to 1e-7, push approximate
POWER_MAX_NODES = 10000

SparseView = tuple[Tensor, Tensor]

#: Transitions ``T`` of the heat kernel :math:`\exp(t T - t I)` (PyG ``GDC``'s names):
#: ``"col"`` ``A D^-1`` (the paper's Eq. 4), ``"sym"`` ``D^-1/2 A D^-1/2``, ``"row"`` ``D^-1 A``.
HEAT_TRANSITIONS = ("col", "sym", "row")


def _computed_on_cpu(fn):
    """Run ``fn`` on CPU copies of its tensor arguments and return its tensors on the
    device of the first one: views are computed once per graph, in float64, partly with
    scipy, so a CUDA ``edge_index`` gets a CUDA view computed on the CPU."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        device = next((a.device for a in (*args, *kwargs.values()) if isinstance(a, Tensor)),
                      None)
        if device is None or device.type == "cpu":
            return fn(*args, **kwargs)
        out = fn(*(a.cpu() if isinstance(a, Tensor) else a for a in args),
                 **{k: v.cpu() if isinstance(v, Tensor) else v for k, v in kwargs.items()})
        return tuple(o.to(device) for o in out) if isinstance(out, tuple) else out.to(device)
    return wrapper


@_computed_on_cpu
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
    check_edge_index(edge_index, num_nodes)
    _warn_if_directed(edge_index, num_nodes, stacklevel=3)  # the caller of the CPU wrapper
    return _adjacency(edge_index, num_nodes, dtype, self_loop_weight)


def _adjacency(edge_index: Tensor, num_nodes: int, dtype: torch.dtype,
               self_loop_weight: float = 1.0) -> SparseView:
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


def check_edge_index(edge_index: Tensor, num_nodes: int) -> None:
    """Raise ``ValueError`` unless ``edge_index`` is an integer ``[2, E]`` tensor of node
    ids in ``[0, num_nodes)`` (a wrong id would otherwise fail deep inside a sparse
    kernel, or crash the process)."""
    if not isinstance(edge_index, Tensor) or edge_index.dim() != 2 or edge_index.size(0) != 2:
        shape = tuple(edge_index.shape) if isinstance(edge_index, Tensor) else type(edge_index)
        raise ValueError(f"edge_index must be a [2, E] tensor (PyG's format), got {shape}.")
    if edge_index.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"edge_index must hold integer node ids (torch.long), got "
                         f"{edge_index.dtype}.")
    if edge_index.numel():
        lo, hi = torch.stack(torch.aminmax(edge_index)).tolist()  # one device sync
        if lo < 0 or hi >= num_nodes:
            raise ValueError(f"edge_index refers to node {lo if lo < 0 else hi} but the "
                             f"graph has nodes 0..{num_nodes - 1}.")


def _warn_if_directed(edge_index: Tensor, num_nodes: int, stacklevel: int) -> None:
    """Warn when some edge lacks its reverse: the views' formulas (and their symmetric
    normalisation) assume an undirected graph."""
    if not is_undirected(edge_index, num_nodes=num_nodes):
        warnings.warn(
            "edge_index is not undirected (some edge (i, j) has no (j, i)); the views "
            "assume an undirected graph and would come out asymmetric: pass "
            "torch_geometric.utils.to_undirected(edge_index).", UserWarning,
            stacklevel=stacklevel + 1)


def _check(edge_index: Tensor, num_nodes: int) -> None:
    if num_nodes <= 0:
        raise ValueError("Cannot diffuse a graph without nodes.")
    check_edge_index(edge_index, num_nodes)
    _warn_if_directed(edge_index, num_nodes, stacklevel=4)  # past the public function


def _sym_transition(edge_index: Tensor, num_nodes: int) -> SparseView:
    return _adjacency(edge_index, num_nodes, torch.float64)


def _heat_transition(edge_index: Tensor, num_nodes: int, transition: str) -> SparseView:
    """The heat kernel's ``T`` of the plain adjacency (self-loops removed), with
    ``edge_index[0]`` as row: ``"col"`` entry ``(i, j) = A_ij / d_j``, ``"row"``
    ``A_ij / d_i``, ``"sym"`` ``A_ij / sqrt(d_i d_j)``."""
    edge_index, _ = remove_self_loops(edge_index)
    ew = torch.ones(edge_index.size(1), dtype=torch.float64)
    edge_index, ew = coalesce(edge_index, ew, num_nodes)
    return GDC().transition_matrix(edge_index, ew, num_nodes, transition)


def _check_heat_time(t: float) -> None:
    if not 0.0 < t < math.inf:  # NaN fails too
        raise ValueError(f"heat kernel t must be a finite number > 0, got {t}.")


def _check_heat_transition(transition: str) -> None:
    if transition not in HEAT_TRANSITIONS:
        raise ValueError(f"Unknown heat_transition {transition!r}; choose one of "
                         f"{', '.join(map(repr, HEAT_TRANSITIONS))}.")


@_computed_on_cpu
def ppr_matrix(edge_index: Tensor, num_nodes: int, alpha: float = 0.2) -> Tensor:
    r"""Dense exact :math:`\alpha (I - (1-\alpha) \hat{A})^{-1}`, float64 ``[N, N]``."""
    _check(edge_index, num_nodes)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"PPR alpha must lie in (0, 1), got {alpha}.")
    return _ppr_dense(edge_index, num_nodes, alpha)


def _ppr_dense(edge_index: Tensor, num_nodes: int, alpha: float) -> Tensor:
    if num_nodes == 1:  # GDC squeezes a 1x1 matrix to a scalar
        return torch.ones(1, 1, dtype=torch.float64)
    ei, ew = _sym_transition(edge_index, num_nodes)
    return GDC().diffusion_matrix_exact(ei, ew, num_nodes, "ppr", alpha=alpha)\
        .reshape(num_nodes, num_nodes)


@_computed_on_cpu
def heat_matrix(edge_index: Tensor, num_nodes: int, t: float = 5.0,
                transition: str = "col") -> Tensor:
    r"""Dense exact :math:`\exp(t T - t I)`, float64 ``[N, N]``; ``T`` is ``A D^{-1}``
    (``transition="col"``, the paper's), ``D^{-1/2} A D^{-1/2}`` (``"sym"``) or
    ``D^{-1} A`` (``"row"``).

    ``A D^{-1} = D^{1/2} (D^{-1/2} A D^{-1/2}) D^{-1/2}`` (and ``D^{-1} A`` the same with
    the scalings swapped), so the exponential is taken of the symmetric matrix by
    ``eigh`` and scaled back; isolated
    nodes (``d = 0``) have a zero row and column in ``T`` and keep :math:`e^{-t}`. Entries where the
    kernel vanishes (between components) carry ``eigh``'s rounding, about 1e-16 of
    either sign. ``eps`` in :func:`sparsify_dense` drops them all; ``topk`` drops the
    negative ones, and keeps positive ones in the rows of a node whose component has
    fewer than ``k`` nodes. (Left so: zeroing them would change the committed
    heat-kernel runs' embeddings.)
    """
    _check(edge_index, num_nodes)
    _check_heat_time(t)
    _check_heat_transition(transition)
    return _heat_dense(edge_index, num_nodes, t, transition)


def _heat_dense(edge_index: Tensor, num_nodes: int, t: float,
                transition: str = "col") -> Tensor:
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
    if transition == "sym":
        return exp_sym
    # Similarity transform back to A D^-1 (D^-1 A: the other way round); isolated nodes
    # are decoupled and exp_sym already holds e^{-t} on their diagonal, so scale by 1 there.
    half = torch.where(deg > 0, deg.sqrt(), torch.ones_like(deg))
    if transition == "row":
        half = 1.0 / half
    return half.view(-1, 1) * exp_sym / half.view(1, -1)


@_computed_on_cpu
def sparsify_dense(matrix: Tensor, eps: float | None = None,
                   topk: int | None = None,
                   dtype: torch.dtype = torch.float) -> SparseView:
    """Turn a dense ``[N, N]`` matrix into the module's sparse format.

    Keeps entries ``>= eps`` (``eps=None``: every nonzero entry) and, if
    ``topk`` is set, only the ``topk`` largest of each row.
    """
    if topk is not None and topk < 1:
        raise ValueError(f"topk must be >= 1, got {topk}.")
    if matrix.dim() != 2 or matrix.size(0) != matrix.size(1):
        raise ValueError(f"sparsify_dense takes a square [N, N] matrix, got "
                         f"{tuple(matrix.shape)}.")
    rows, cols, vals = _dense_entries(matrix, eps, topk)
    edge_index = torch.stack([cols, rows], dim=0)  # source j, target i
    return coalesce(edge_index, vals.to(dtype), matrix.size(0))


def _dense_entries(matrix: Tensor, eps: float | None,
                   topk: int | None) -> tuple[Tensor, Tensor, Tensor]:
    """The entries of a dense ``[R, N]`` block that :func:`sparsify_dense` keeps, as
    ``(rows [nnz], cols [nnz], values [nnz])``."""
    r, n = matrix.shape
    if topk is not None:
        k = min(topk, n)
        vals, cols = matrix.topk(k, dim=1)
        rows = torch.arange(r).repeat_interleave(k)
        cols, vals = cols.reshape(-1), vals.reshape(-1)
        keep = vals > 0 if eps is None else vals >= eps
        return rows[keep], cols[keep], vals[keep]
    keep_mask = matrix != 0 if eps is None else matrix >= eps
    rows, cols = keep_mask.nonzero(as_tuple=True)
    return rows, cols, matrix[rows, cols]


def _to_scipy(edge_index: Tensor, edge_weight: Tensor, n: int) -> sp.csr_matrix:
    """Rows = ``edge_index[0]``."""
    return sp.csr_matrix(
        (edge_weight.numpy(), (edge_index[0].numpy(), edge_index[1].numpy())),
        shape=(n, n))


def _prune(mat: sp.csr_matrix | np.ndarray, threshold: float) -> sp.csr_matrix | np.ndarray:
    """Zero the entries below ``threshold`` in magnitude (dropped from a sparse ``mat``)."""
    if threshold > 0:
        if sp.issparse(mat):
            mat.data[np.abs(mat.data) < threshold] = 0.0
            mat.eliminate_zeros()
        else:
            mat[np.abs(mat) < threshold] = 0.0
    return mat


def _series_rows(trans: sp.csr_matrix, coeff, prune: float, tol: float, max_terms: int,
                 eps: float | None, topk: int | None, block_entries: int,
                 dtype: torch.dtype) -> SparseView:
    """``S = sum_k c_k T^k`` (``c_k = coeff(k)``), sparsified row by row, computed in
    blocks of rows so that memory stays bounded on any graph.

    Rows ``J`` of ``S`` are the columns ``J`` of ``S^T = sum_k c_k (T^T)^k``, so each
    block iterates ``X_k = T^T X_{k-1}`` from ``X_0 = I[:, J]`` (``N x |J|``, each
    ``X_k`` pruned below ``prune``), keeps ``eps`` and ``topk`` on the block's rows as
    :func:`sparsify_dense` does, and only what is kept leaves the block. ``X_k`` starts
    sparse (cheap while the walks stay local) and turns dense once a quarter full. An
    intermediate holds at most ``N |J|`` entries, ``|J| = max(1, block_entries // N)``,
    against ``N^2`` for the whole series; the work is at most (terms) x nnz(T) x N
    multiply-adds, as for the whole series.

    ``coeff(k)`` returns ``(c_k, tail_k)``: the coefficient and the total mass of the
    coefficients after ``k`` (the error bound per entry for a ``T`` whose powers have
    entries of at most 1: a stochastic one, or the heat kernel's symmetric ``"sym"``,
    whose spectral norm is at most 1).
    """
    n = trans.shape[0]
    trans_t = trans.T.tocsr()
    coeffs = []
    for k in range(max_terms + 1):
        ck, tail = coeff(k)
        coeffs.append(ck)
        if k > 0 and tail < tol:
            break
    width = max(1, min(n, block_entries // n))
    rows, cols, vals = [], [], []
    for start in range(0, n, width):
        stop = min(n, start + width)
        power = sp.csr_matrix((np.ones(stop - start), (np.arange(start, stop),
                                                       np.arange(stop - start))),
                              shape=(n, stop - start))
        total = power * coeffs[0]
        for ck in coeffs[1:]:
            power = trans_t @ power
            if sp.issparse(power) and power.nnz > power.shape[0] * power.shape[1] / 4:
                power, total = power.toarray(), total.toarray()
            power = _prune(power, prune)
            total = total + power * ck
        block = total.toarray() if sp.issparse(total) else np.asarray(total)
        r, c, v = _dense_entries(torch.from_numpy(block.T), eps, topk)
        rows.append(r + start)
        cols.append(c)
        vals.append(v)
    edge_index = torch.stack([torch.cat(cols), torch.cat(rows)])  # source j, target i
    return coalesce(edge_index, torch.cat(vals).to(dtype), n)


#: ``"push"`` method: rows computed by one call of PyG's ``get_ppr``, which returns them
#: as Python lists; bounds that memory to the block's entries (on the benchmark's
#: Barabasi-Albert graphs 1600-2000 a row at push_eps 1e-5)
PUSH_BLOCK_ROWS = 2048

#: ``"push"`` method: default residual threshold (PyG's ``eps`` of ``get_ppr``)
PUSH_EPS = 1e-5


def _numba_available() -> bool:
    """Whether numba imports (PyG's get_ppr needs it; installed is not enough: a numba
    built for another numpy fails on import)."""
    try:
        import numba  # noqa: F401
    except Exception:
        return False
    return True


def _push_ppr(edge_index: Tensor, n: int, alpha: float, push_eps: float,
              eps: float | None, topk: int | None, block_rows: int,
              dtype: torch.dtype) -> SparseView:
    """PPR rows by PyG's push algorithm, ``block_rows`` source nodes per call, each
    block sparsified (:func:`_sparse_row_entries`) before the next."""
    if not _numba_available():
        raise ImportError("method='push' (method='auto' on a PPR view of over "
                          f"{POWER_MAX_NODES} nodes) runs PyG's get_ppr, which needs numba: "
                          "pip install numba, or choose method='power' (graphrep "
                          "--diffusion-method power; exact, slower).")
    import numba
    from torch_geometric.utils import add_self_loops, degree, get_ppr

    # one self-loop per node, as in the adjacency view; repeated edges count with their
    # multiplicity, as gcn_norm counts them for the exact and power methods
    edge_index, _ = add_self_loops(remove_self_loops(edge_index)[0], num_nodes=n)
    deg = degree(edge_index[0], n, dtype=torch.float64)
    # get_ppr runs in parallel on numba's threads: as many as torch's. With numba's
    # OpenMP layer the two share one thread pool: numba's first call (get_num_threads
    # included) sets it to every core, and restoring numba's count would too
    # (oversubscription). So torch's count is read before numba is touched and
    # restored last.
    torch_threads = torch.get_num_threads()
    threads = numba.get_num_threads()
    numba.set_num_threads(min(threads, torch_threads))
    try:
        rows, cols, vals = [], [], []
        for start in range(0, n, block_rows):
            target = torch.arange(start, min(n, start + block_rows))
            (r, c), w = get_ppr(edge_index, alpha, push_eps, target=target, num_nodes=n)
            w = w.double() * (deg[r] / deg[c]).sqrt()
            r, c, w = _sparse_row_entries(r, c, w, eps, topk)
            rows.append(r)
            cols.append(c)
            vals.append(w)
    finally:
        numba.set_num_threads(threads)
        torch.set_num_threads(torch_threads)
    edge_index = torch.stack([torch.cat(cols), torch.cat(rows)])  # source j, target i
    return coalesce(edge_index, torch.cat(vals).to(dtype), n)


def _sparse_row_entries(rows: Tensor, cols: Tensor, vals: Tensor, eps: float | None,
                        topk: int | None) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`_dense_entries` for the nonnegative entries of a sparse matrix given as
    ``(rows, cols, vals)`` (``[nnz]`` each, one entry per position): those ``>= eps``
    (``None``: nonzero) and, with ``topk``, the ``topk`` largest of each row (ties at
    the k-th place go to the lower column)."""
    keep = vals != 0 if eps is None else vals >= eps
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    if topk is None or rows.numel() == 0:
        return rows, cols, vals
    order = torch.argsort(cols, stable=True)
    order = order[torch.argsort(vals[order], descending=True, stable=True)]
    order = order[torch.argsort(rows[order], stable=True)]
    rows, cols, vals = rows[order], cols[order], vals[order]
    counts = torch.bincount(rows)
    first = torch.cumsum(counts, 0) - counts
    rank = torch.arange(rows.numel()) - first[rows]
    keep = rank < topk
    return rows[keep], cols[keep], vals[keep]


#: ``"power"`` method: entries of one block of the series (``N`` x block width), which
#: bounds its memory (about 12 bytes an entry, a few blocks alive at once)
POWER_BLOCK_ENTRIES = 1 << 22


def _power_diffusion(edge_index: Tensor, n: int, kind: str, alpha: float, t: float,
                     prune: float, tol: float, eps: float | None, topk: int | None,
                     block_entries: int, dtype: torch.dtype,
                     heat_transition: str = "col") -> SparseView:
    if kind == "ppr":
        ei, ew = _sym_transition(edge_index, n)
        beta = 1.0 - alpha
        coeff = lambda k: (alpha * beta ** k, beta ** (k + 1))  # noqa: E731
    else:
        from scipy.stats import poisson

        ei, ew = _heat_transition(edge_index, n, heat_transition)
        coeff = lambda k: (float(poisson.pmf(k, t)), float(poisson.sf(k, t)))  # noqa: E731
    return _series_rows(_to_scipy(ei, ew, n), coeff, prune, tol, max_terms=10_000,
                        eps=eps, topk=topk, block_entries=block_entries, dtype=dtype)


@_computed_on_cpu
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
    push_eps: float = PUSH_EPS,
    column_scale: str | None = None,
    heat_transition: str = "col",
    dtype: torch.dtype = torch.float,
) -> SparseView:
    r"""A diffusion view in the module's sparse format.

    Args:
        edge_index: ``[2, E]`` undirected edges.
        num_nodes: ``N``.
        kind: ``"ppr"`` or ``"heat"``.
        alpha: PPR teleport probability.
        t: heat-kernel diffusion time.
        method: ``"exact"``, ``"power"``, ``"push"`` or ``"auto"`` (see the module
            doc).
        eps: keep entries ``>= eps`` (``None``: all nonzero entries).
        topk: keep the ``topk`` largest entries of every row.
        prune: ``"power"`` only: entries of each series term below this are
            dropped (bounds memory; adds at most ``prune`` per term and entry).
        tol: ``"power"`` only: stop when the remaining series mass is below.
        push_eps: ``"push"`` only: residual threshold per unit of degree (PyG's
            ``get_ppr`` ``eps``); smaller is closer to exact and slower.
        column_scale: ``None`` or ``"minmax"`` (see :func:`minmax_columns`),
            applied after sparsification.
        heat_transition: the heat kernel's ``T`` (:data:`HEAT_TRANSITIONS`): ``"col"``
            ``A D^-1`` (the paper's), ``"sym"`` ``D^-1/2 A D^-1/2`` or ``"row"`` ``D^-1 A``.

    Returns:
        ``(edge_index [2, nnz], edge_weight [nnz])``.
    """
    _check(edge_index, num_nodes)
    if kind not in ("ppr", "heat"):
        raise ValueError(f"Unknown diffusion {kind!r}; choose 'ppr' or 'heat'.")
    if column_scale not in (None, "minmax"):
        raise ValueError(f"Unknown column_scale {column_scale!r}; choose None or 'minmax'.")
    if kind == "ppr" and not 0.0 < alpha < 1.0:
        raise ValueError(f"PPR alpha must lie in (0, 1), got {alpha}.")
    if kind == "heat":
        _check_heat_time(t)
    _check_heat_transition(heat_transition)
    if kind == "ppr" and heat_transition != "col":
        raise ValueError(f"heat_transition={heat_transition!r} sets the heat kernel; the PPR "
                         f"view takes D^-1/2 (A + I) D^-1/2: leave it 'col' with kind='ppr'.")
    if topk is not None and (isinstance(topk, bool) or not isinstance(topk, numbers.Integral)
                             or topk < 1):
        raise ValueError(f"topk must be a whole number >= 1 (None keeps every entry; the "
                         f"CLI's --topk 0 means None), got {topk!r}.")
    if eps is not None and not 0.0 < eps < math.inf:
        raise ValueError(f"eps must be a finite number > 0 (None keeps every nonzero entry; "
                         f"0 kept the explicit zeros too), got {eps}.")
    if dtype.is_complex or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating type (the weights lie in (0, 1]), got {dtype}.")
    view = _diffuse(edge_index, num_nodes, kind, alpha, t, method, eps, topk, prune,
                    tol, push_eps, dtype, heat_transition)
    return view if column_scale is None else minmax_columns(*view, num_nodes)


def resolve_method(kind: str, num_nodes: int, method: str = "auto") -> str:
    """The method ``diffusion_view`` runs for ``method`` on a graph of ``num_nodes``:
    ``"auto"`` is exact up to :data:`EXACT_MAX_NODES` nodes, power up to
    :data:`POWER_MAX_NODES`, then push for PPR and power for the heat kernel. It does not
    depend on what is installed (push without numba refuses), so a run resumed on another
    machine builds the same views."""
    if method != "auto":
        return method
    if num_nodes <= EXACT_MAX_NODES:
        return "exact"
    if kind == "ppr" and num_nodes > POWER_MAX_NODES:
        return "push"
    return "power"


def _diffuse(edge_index: Tensor, num_nodes: int, kind: str, alpha: float, t: float,
             method: str, eps: float | None, topk: int | None, prune: float,
             tol: float, push_eps: float, dtype: torch.dtype,
             heat_transition: str = "col") -> SparseView:
    if method == "auto":
        method = resolve_method(kind, num_nodes)
    if method == "exact":
        mat = (_ppr_dense(edge_index, num_nodes, alpha) if kind == "ppr" else
               _heat_dense(edge_index, num_nodes, t, heat_transition))
        return sparsify_dense(mat, eps=eps, topk=topk, dtype=dtype)
    if method not in ("power", "push"):
        raise ValueError(
            f"Unknown diffusion method {method!r}; choose 'exact', 'power', 'push' or "
            f"'auto'.")
    if topk is not None and topk < 1:
        raise ValueError(f"topk must be >= 1, got {topk}.")
    if method == "push":
        if kind != "ppr":
            raise ValueError("method='push' computes PPR only; the heat kernel takes "
                             "method='exact' or 'power'.")
        if not push_eps > 0:
            raise ValueError(f"push_eps must be positive, got {push_eps}.")
        return _push_ppr(edge_index, num_nodes, alpha, push_eps, eps, topk,
                         PUSH_BLOCK_ROWS, dtype)
    return _power_diffusion(edge_index, num_nodes, kind, alpha, t, prune, tol, eps, topk,
                            POWER_BLOCK_ENTRIES, dtype, heat_transition)


@_computed_on_cpu
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
