import pytest
import torch
from torch import nn

from shared.heads import BilinearDiscriminator, ProjectionHead


def test_bilinear_matches_nn_bilinear_without_its_intermediate():
    torch.manual_seed(0)
    disc = BilinearDiscriminator(6, 4)
    ref = torch.nn.Bilinear(6, 4, 1)
    with torch.no_grad():
        disc.weight.copy_(ref.weight[0])
        disc.bias.copy_(ref.bias[0])
    x, y = torch.randn(5, 6), torch.randn(5, 4)
    torch.testing.assert_close(disc(x, y), ref(x, y).squeeze(-1))
    # a single summary vector broadcasts over rows, as in DGI / MVGRL
    torch.testing.assert_close(disc(x, y[0]), ref(x, y[0].expand(5, 4)).squeeze(-1))


def test_score_matrix_holds_every_pair():
    torch.manual_seed(1)
    disc = BilinearDiscriminator(3)
    x, y = torch.randn(4, 3), torch.randn(6, 3)
    m = disc.score_matrix(x, y)
    assert m.shape == (4, 6)
    torch.testing.assert_close(m[2, 5], disc(x[2:3], y[5:6])[0])
    with pytest.raises(ValueError, match=r"score_matrix expects x \[N, 3\] and y \[M, 3\]"):
        disc.score_matrix(x, y[0])  # gave [4] through torch's deprecated 1-D .T, not [4, 1]


def test_bilinear_rejects_wrong_dims():
    with pytest.raises(ValueError, match="expects x"):
        BilinearDiscriminator(3, 5)(torch.randn(2, 3), torch.randn(2, 3))


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_projection_head_shapes_and_shortcut(layers):
    head = ProjectionHead(
        8, 16, 4, num_layers=layers, activation="prelu", shortcut=True, batch_norm=True
    )
    x = torch.randn(5, 8)
    out = head(x)
    assert out.shape == (5, 4)
    n_linear = sum(isinstance(m, torch.nn.Linear) for m in head.modules())
    assert n_linear == layers + 1
    head.eval()  # batch norm on its running statistics: the reference below reads them
    torch.testing.assert_close(head(x), _by_hand(head, x))  # the skip is added
    # Linear, then BatchNorm + activation after every layer but the last
    kinds = [type(m).__name__ for m in head.mlp]
    assert kinds == ["Linear", "BatchNorm1d", "PReLU"] * (layers - 1) + ["Linear"]


def test_projection_head_final_activation_without_batch_norm():
    """MVGRL's form: Linear+PReLU blocks, the last one activated too but never
    batch-normalised; without a shortcut the output is the MLP's alone."""
    head = ProjectionHead(6, 6, 6, num_layers=3, activation="prelu", batch_norm=True,
                          final_activation=True)
    kinds = [type(m).__name__ for m in head.mlp]
    assert kinds == ["Linear", "BatchNorm1d", "PReLU"] * 2 + ["Linear", "PReLU"]
    head.eval()
    x = torch.randn(4, 6)
    assert head.shortcut is None
    torch.testing.assert_close(head(x), _by_hand(head, x))


def _by_hand(head: ProjectionHead, x: torch.Tensor) -> torch.Tensor:
    """The head in eval mode from its parameters with functional ops: its layers in turn,
    plus the linear shortcut of the input where there is one."""
    h = x
    for m in head.mlp:
        if isinstance(m, torch.nn.Linear):
            h = h @ m.weight.T + m.bias
        elif isinstance(m, torch.nn.BatchNorm1d):
            h = (h - m.running_mean) / torch.sqrt(m.running_var + m.eps) * m.weight + m.bias
        elif isinstance(m, torch.nn.PReLU):
            h = torch.where(h >= 0, h, m.weight * h)
        else:
            raise AssertionError(f"unexpected layer {m}")
    if head.shortcut is not None:
        h = h + x @ head.shortcut.weight.T + head.shortcut.bias
    return h


def test_projection_head_shared_prelu_has_one_slope_per_layer():
    head = ProjectionHead(8, 16, 4, num_layers=3, activation="prelu_shared",
                          final_activation=True)
    acts = [m for m in head.modules() if isinstance(m, nn.PReLU)]
    assert len(acts) == 3 and all(a.weight.shape == (1,) for a in acts)
    per_channel = ProjectionHead(8, 16, 4, num_layers=3, activation="prelu",
                                 final_activation=True)
    assert [a.weight.numel() for a in per_channel.modules()
            if isinstance(a, nn.PReLU)] == [16, 16, 4]


def test_projection_head_bad_args():
    with pytest.raises(ValueError, match="num_layers"):
        ProjectionHead(4, 4, 4, num_layers=0)
    with pytest.raises(ValueError, match="activation"):
        ProjectionHead(4, 4, 4, activation="tanh")
    with pytest.raises(ValueError, match="hidden_dim must be >= 1, got 0"):
        ProjectionHead(4, 0, 2)  # built silently before: a constant output


def test_bilinear_init_has_nn_bilinear_fans():
    # "bilinear" draws W as xavier_uniform_ does for nn.Bilinear's [1, Dx, Dy] weight
    # (the DGI / MVGRL releases): same values from the same seed, bound sqrt(6/(DxDy+Dy))
    torch.manual_seed(3)
    ref = torch.nn.Bilinear(512, 256, 1)
    torch.manual_seed(4)
    torch.nn.init.xavier_uniform_(ref.weight)
    torch.manual_seed(4)
    disc = BilinearDiscriminator(512, 256, init="bilinear")
    torch.testing.assert_close(disc.weight, ref.weight[0])
    bound = (6 / (512 * 256 + 256)) ** 0.5
    assert disc.weight.abs().max() <= bound < 1.01 * disc.weight.abs().max()
    # the default is Xavier of the [Dx, Dy] matrix: sqrt(171) ~ 13x wider here
    wide = BilinearDiscriminator(512, 256).weight.abs().max()
    assert wide > 10 * bound and wide <= (6 / (512 + 256)) ** 0.5
    assert float(disc.bias.detach()) == 0.0
    with pytest.raises(ValueError, match="init must be"):
        BilinearDiscriminator(4, init="kaiming")
