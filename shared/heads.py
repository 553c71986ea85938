"""Heads shared by the contrastive models: projection MLPs and a bilinear discriminator."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

#: ``"prelu"`` learns one slope per channel, ``"prelu_shared"`` one slope per layer
#: (``nn.PReLU()``'s default, MVGRL's released heads; InfoGraph's use ReLU)
Activation = Literal["relu", "prelu", "prelu_shared", "gelu"]


def _activation(name: Activation, dim: int) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "prelu":
        return nn.PReLU(dim)
    if name == "prelu_shared":
        return nn.PReLU()
    if name == "gelu":
        return nn.GELU()
    raise ValueError(f"activation must be 'relu', 'prelu', 'prelu_shared' or 'gelu', "
                     f"got {name!r}")


class ProjectionHead(nn.Module):
    """MLP projection head ``in_dim -> hidden_dim x (num_layers - 1) -> out_dim``.

    ``num_layers`` Linear layers, an activation (and optional BatchNorm) after each but the
    last. With ``shortcut=True`` a linear map of the input is added to the output, the form of
    MVGRL's / InfoGraph's graph-level heads (three Linear+activation blocks plus a linear
    skip: ``num_layers=3, shortcut=True, final_activation=True`` with
    ``activation="prelu_shared"`` as MVGRL's release, ``"relu"`` as InfoGraph's; graphrep
    defaults to ``"prelu"``, one slope per channel).

    Shapes: ``[N, in_dim] -> [N, out_dim]``.

    Example:
        >>> head = ProjectionHead(512, 512, 128)
        >>> head(torch.randn(4, 512)).shape
        torch.Size([4, 128])
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        num_layers: int = 2,
        activation: Activation = "relu",
        batch_norm: bool = False,
        shortcut: bool = False,
        final_activation: bool = False,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        for what, dim in (("in_dim", in_dim), ("hidden_dim", hidden_dim), ("out_dim", out_dim)):
            if dim < 1:
                raise ValueError(f"{what} must be >= 1, got {dim}")
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        layers: list[nn.Module] = []
        for i in range(num_layers):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            last = i == num_layers - 1
            if not last or final_activation:
                if batch_norm and not last:
                    layers.append(nn.BatchNorm1d(dims[i + 1]))
                layers.append(_activation(activation, dims[i + 1]))
        self.mlp = nn.Sequential(*layers)
        self.shortcut = nn.Linear(in_dim, out_dim) if shortcut else None

    def forward(self, x: Tensor) -> Tensor:
        out = self.mlp(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return out


class BilinearDiscriminator(nn.Module):
    r"""Bilinear score :math:`s(x, y) = x^\top W y + b`.

    Computed as ``((x @ W) * y).sum(-1)``: the same scores as ``nn.Bilinear(dx, dy, 1)``
    without its ``[N, dx, dy]`` intermediate (2 GB for 2000 rows of 512 on current PyTorch).

    ``init`` sets the scale of ``W`` (uniform in ``[-b, b]``, bias zero):

    - ``"xavier"``: Xavier-uniform of the ``[Dx, Dy]`` matrix, ``b = sqrt(6 / (Dx + Dy))``.
    - ``"bilinear"``: Xavier-uniform as ``nn.Bilinear``'s ``[1, Dx, Dy]`` weight reads it
      (fan-in ``Dx Dy``, fan-out ``Dy``): ``b = sqrt(6 / (Dx Dy + Dy))``, 16x smaller at
      ``Dx = Dy = 512``. What the DGI and MVGRL releases get from
      ``xavier_uniform_(nn.Bilinear(...).weight)``.

    Shapes:
        - forward(x ``[N, Dx]``, y ``[N, Dy]`` or ``[Dy]`` broadcast) -> ``[N]`` logits.
        - score_matrix(x ``[N, Dx]``, y ``[M, Dy]``) -> ``[N, M]`` logits (every pair; CURL's
          InfoNCE uses it with ``cross_entropy(logits, arange(N))``).

    Example:
        >>> disc = BilinearDiscriminator(64)
        >>> disc(torch.randn(5, 64), torch.randn(64)).shape
        torch.Size([5])
    """

    def __init__(self, dim_x: int, dim_y: int | None = None, bias: bool = True,
                 init: Literal["xavier", "bilinear"] = "xavier") -> None:
        super().__init__()
        if init not in ("xavier", "bilinear"):
            raise ValueError(f"init must be 'xavier' or 'bilinear', got {init!r}")
        dim_y = dim_x if dim_y is None else dim_y
        self.init = init
        self.weight = nn.Parameter(torch.empty(dim_x, dim_y))
        self.bias = nn.Parameter(torch.zeros(())) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.init == "bilinear":  # the fans of nn.Bilinear's [1, Dx, Dy] weight
            with torch.no_grad():
                nn.init.xavier_uniform_(self.weight.view(1, *self.weight.shape))
        else:
            nn.init.xavier_uniform_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def _check(self, x: Tensor, y: Tensor) -> None:
        if x.shape[-1] != self.weight.shape[0] or y.shape[-1] != self.weight.shape[1]:
            raise ValueError(
                f"BilinearDiscriminator expects x [..., {self.weight.shape[0]}] and y "
                f"[..., {self.weight.shape[1]}], got {tuple(x.shape)} and {tuple(y.shape)}"
            )

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        self._check(x, y)
        scores = ((x @ self.weight) * y).sum(-1)
        return scores + self.bias if self.bias is not None else scores

    def score_matrix(self, x: Tensor, y: Tensor) -> Tensor:
        self._check(x, y)
        if x.dim() != 2 or y.dim() != 2:  # a 1-D y gave [N] (torch's deprecated .T), not [N, 1]
            raise ValueError(f"score_matrix expects x [N, {self.weight.shape[0]}] and y "
                             f"[M, {self.weight.shape[1]}], got {tuple(x.shape)} and "
                             f"{tuple(y.shape)} (a single y: y[None])")
        scores = (x @ self.weight) @ y.T
        return scores + self.bias if self.bias is not None else scores
