"""Global and local audio-visual contrastive losses (Ma et al., NeurIPS 2021).

Both losses share one *multiple-instance, symmetric* InfoNCE over a score tensor
``S[i, j, k]`` (anchor ``i``, candidate ``j``, instance ``k``)::

    loss_i = logsumexp_{j,k}( S[i, j, k] ++ S[j, i, k] )  -  logsumexp_k S[i, i, k]

i.e. the positive is a bag of ``K`` instances pooled with logsumexp, and the denominator
runs over the row *and* the column of anchor ``i`` together (``2 * N * K`` terms, the
positive bag counted twice). This is the form of the official release
(yunyikristy/global_local, ``model.py``): raw dot products, no L2 normalisation and no
temperature. Consequences, checked in the tests: equal scores give ``log(2N)``, and a
perfectly aligned batch (positives far above negatives) gives ``log 2``.

* **Global**: the clip-level audio vector ``a_i`` (mean over audio time) is scored against
  every spatial position ``p`` of video ``j``'s time-averaged feature map, so ``K = P``
  positions and ``N = B``: equal logits -> ``log(2B)``.
* **Local**: audio frames against attention-pooled video frames. Video frame ``t`` of clip
  ``i`` is an anchor (``N = B*T``); its positive bag is the chunk of ``k = Ta // T`` audio
  frames that co-occur with it. Equal logits -> ``log(2*B*T)``.

Paper vs release (both reachable through ``chunking``):

* ``chunking="clip"`` (default, the paper): frame ``t`` of clip ``i`` is paired with the
  audio frames ``[t*k, (t+1)*k)`` *of clip i*.
* ``chunking="release"``: the release flattens all ``B*Ta`` audio frames, keeps the first
  ``k*B*T`` and cuts them into consecutive groups of ``k``; when ``Ta`` is not a multiple of
  ``T`` the groups drift across clip boundaries (e.g. Ta=98, T=31 in the release).

The attention used to pool video frames is the release's: softmax over positions of the
clip-level audio vector dotted with the time-averaged (global-pathway) feature map; the
weights are then applied to the local pathway's per-frame maps (gradients flow through).

Example::

    >>> import torch
    >>> from shared.bridge.global_local import GlobalLocalLoss
    >>> B, T, P, Ta = 4, 8, 16, 32
    >>> loss = GlobalLocalLoss()
    >>> out = loss(torch.randn(B, 64), torch.randn(B, P, 64),
    ...            torch.randn(B, Ta, 32), torch.randn(B, T, P, 32))
    >>> sorted(out)
    ['attention', 'global', 'local', 'loss']
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from shared._precision import autocast_off, upcast
from shared._validation import check_choice, check_float_match
from shared.bridge._checks import check_dims_match, check_negatives, check_tensor

#: how local_audio_visual_loss cuts the audio frames into one chunk per video frame
_CHUNKINGS = ("clip", "release")

__all__ = [
    "multiple_instance_nce",
    "global_audio_visual_loss",
    "local_audio_visual_loss",
    "audio_spatial_attention",
    "attention_pool",
    "GlobalLocalLoss",
]


def multiple_instance_nce(scores: Tensor) -> Tensor:
    """Symmetric multiple-instance InfoNCE of the global-local release.

    Args:
        scores: ``[N, N, K]``: ``scores[i, j, k]`` is the score of anchor ``i`` with instance
            ``k`` of candidate ``j``; the diagonal ``j == i`` holds the positive bags.

    Returns:
        Scalar: mean over ``i`` of ``logsumexp(row_i ++ column_i) - logsumexp(scores[i, i])``.
        Equal scores -> ``log(2N)``.
    """
    check_tensor("scores", scores, 3, "[N, N, K]")
    n = scores.shape[0]
    check_dims_match(
        "scores' first two dims (anchors and candidates)", ["N", "N'"], [n, scores.shape[1]]
    )
    idx = torch.arange(n, device=scores.device)
    with autocast_off(scores.device):  # raw dot products, no temperature: float32 at least
        scores = upcast(scores)
        positive = torch.logsumexp(scores[idx, idx], dim=1)  # [N]
        both = torch.cat([scores, scores.transpose(0, 1)], dim=1).reshape(n, -1)  # [N, 2NK]
        return (torch.logsumexp(both, dim=1) - positive).mean()


def global_audio_visual_loss(audio: Tensor, video_map: Tensor, *,
                             require_negatives: bool = True) -> Tensor:
    """Global (clip-level) audio-visual loss.

    Args:
        audio: ``[B, D]`` clip-level audio vectors (the release: mean over audio time of a
            1x1-projected audio feature).
        video_map: ``[B, P, D]`` video features at ``P`` spatial positions (mean over time).
        require_negatives: refuse (``ValueError``) a batch with no negative, whose loss
            would contrast nothing; ``False`` computes it anyway (the combined losses pass
            it when another weighted term has negatives).

    Returns:
        Scalar; ``log(2B)`` when all scores are equal.
    """
    check_tensor("audio", audio, 2, "[B, D]")
    check_tensor("video_map", video_map, 3, "[B, P, D]")
    check_dims_match("batch size", ["audio", "video_map"], [audio.shape[0], video_map.shape[0]])
    check_dims_match("feature dim", ["audio", "video_map"], [audio.shape[1], video_map.shape[2]])
    check_float_match(("audio", audio), ("video_map", video_map))
    if require_negatives:  # off: a combined loss whose other term has negatives
        check_negatives("global_audio_visual_loss", audio.shape[0])
    with autocast_off(audio.device):  # half-precision dot products overflow or round away
        scores = torch.einsum("id,jpd->ijp", upcast(audio), upcast(video_map))  # [B, B, P]
    return multiple_instance_nce(scores)


def audio_spatial_attention(audio: Tensor, video_map: Tensor) -> Tensor:
    """Sound-source attention: softmax over positions of ``audio . video_map[p]``.

    Args:
        audio: ``[B, D]``; video_map: ``[B, P, D]``.

    Returns:
        ``[B, P]`` weights summing to one over ``P`` (its argmax localises the sound).
    """
    check_tensor("audio", audio, 2, "[B, D]")
    check_tensor("video_map", video_map, 3, "[B, P, D]")
    check_dims_match("batch size", ["audio", "video_map"], [audio.shape[0], video_map.shape[0]])
    check_dims_match("feature dim", ["audio", "video_map"], [audio.shape[1], video_map.shape[2]])
    check_float_match(("audio", audio), ("video_map", video_map))
    with autocast_off(audio.device):
        return torch.softmax(torch.einsum("bd,bpd->bp", upcast(audio), upcast(video_map)), dim=-1)


def attention_pool(weights: Tensor, frame_maps: Tensor) -> Tensor:
    """Pool per-frame feature maps with spatial weights.

    Args:
        weights: ``[B, P]`` (from :func:`audio_spatial_attention`).
        frame_maps: ``[B, T, P, D]`` per-frame maps of the local pathway.

    Returns:
        ``[B, T, D]`` = ``sum_p weights[b, p] * frame_maps[b, t, p]``.
    """
    check_tensor("weights", weights, 2, "[B, P]")
    check_tensor("frame_maps", frame_maps, 4, "[B, T, P, D]")
    check_dims_match(
        "batch size", ["weights", "frame_maps"], [weights.shape[0], frame_maps.shape[0]]
    )
    check_dims_match(
        "positions", ["weights", "frame_maps"], [weights.shape[1], frame_maps.shape[2]]
    )
    check_float_match(("weights", weights), ("frame_maps", frame_maps))
    # the weights are float32 (audio_spatial_attention); half-precision maps join them there
    return torch.einsum("bp,btpd->btd", upcast(weights), upcast(frame_maps))


def local_audio_visual_loss(
    audio_frames: Tensor,
    video_frames: Tensor,
    chunking: Literal["clip", "release"] = "clip",
    *,
    require_negatives: bool = True,
) -> Tensor:
    """Local (frame-level) audio-visual loss.

    Args:
        audio_frames: ``[B, Ta, D]`` audio features per audio frame.
        video_frames: ``[B, T, D]`` attention-pooled video features per frame, ``Ta >= T``.
        chunking: ``"clip"`` (paper, default) pairs video frame ``t`` with audio frames
            ``[t*k, (t+1)*k)`` of the same clip, ``k = Ta // T`` (trailing audio frames are
            dropped); ``"release"`` reproduces the official code's flattened grouping.
        require_negatives: refuse (``ValueError``) a batch with no negative, whose loss
            would contrast nothing; ``False`` computes it anyway (the combined losses pass
            it when another weighted term has negatives).

    Returns:
        Scalar; ``log(2*B*T)`` when all scores are equal.
    """
    check_tensor("audio_frames", audio_frames, 3, "[B, Ta, D]")
    check_tensor("video_frames", video_frames, 3, "[B, T, D]")
    b, ta, d = audio_frames.shape
    _, t, dv = video_frames.shape
    check_dims_match("batch size", ["audio_frames", "video_frames"], [b, video_frames.shape[0]])
    check_dims_match("feature dim", ["audio_frames", "video_frames"], [d, dv])
    check_float_match(("audio_frames", audio_frames), ("video_frames", video_frames))
    if ta < t:
        raise ValueError(
            f"audio_frames must have at least as many frames as video_frames, got Ta={ta} < T={t}"
        )
    check_choice("chunking", chunking, _CHUNKINGS)
    if require_negatives:
        check_negatives("local_audio_visual_loss (B * T frames)", b * t)
    k = ta // t
    v = video_frames.reshape(b * t, d)
    if chunking == "clip":
        a = audio_frames[:, : k * t].reshape(b * t, k, d)  # chunk of clip b, frame t
    else:  # "release"
        a = audio_frames.reshape(b * ta, d)[: k * b * t].reshape(b * t, k, d)
    with autocast_off(v.device):
        scores = torch.einsum("id,jkd->ijk", upcast(v), upcast(a))  # [B*T, B*T, k]
    return multiple_instance_nce(scores)


class GlobalLocalLoss(nn.Module):
    """Total global-local objective: ``global_weight * global + local_weight * local``.

    The release weights both terms 1:1. Setting a weight to 0 gives the single-term
    ablations of the paper (the term is still computed and reported).
    ``detach_attention=True`` pools the local frames with a detached copy of the attention,
    so only the global term trains where the sound is looked for (an ablation, not the
    paper's form; in the demo it aligns frames worse than the local term alone).

    Forward args:
        audio_global: ``[B, D]`` clip-level audio vectors.
        video_map: ``[B, P, D]`` time-averaged video feature map (global pathway).
        audio_frames: ``[B, Ta, E]`` per-frame audio features (local pathway).
        video_frame_maps: ``[B, T, P, E]`` per-frame video feature maps (local pathway).

    Returns:
        dict with ``loss`` (weighted total), ``global``, ``local`` (scalars) and
        ``attention`` (``[B, P]`` sound-source weights).
    """

    def __init__(
        self,
        global_weight: float = 1.0,
        local_weight: float = 1.0,
        chunking: Literal["clip", "release"] = "clip",
        detach_attention: bool = False,
    ) -> None:
        super().__init__()
        check_choice("chunking", chunking, _CHUNKINGS)  # now, not at the first batch
        self.global_weight = float(global_weight)
        self.local_weight = float(local_weight)
        self.chunking = chunking
        self.detach_attention = detach_attention

    def forward(
        self,
        audio_global: Tensor,
        video_map: Tensor,
        audio_frames: Tensor,
        video_frame_maps: Tensor,
    ) -> dict[str, Tensor]:
        # one clip has no negative clip, but its T frames still contrast with each other:
        # refused only when no weighted term has a negative
        b, t = video_frame_maps.shape[:2] if video_frame_maps.dim() == 4 else (0, 0)
        strict = not any(w != 0 and n >= 2 for w, n in ((self.global_weight, b),
                                                         (self.local_weight, b * t)))
        g = global_audio_visual_loss(audio_global, video_map, require_negatives=strict)
        att = audio_spatial_attention(audio_global, video_map)
        pooled = attention_pool(att.detach() if self.detach_attention else att, video_frame_maps)
        loc = local_audio_visual_loss(audio_frames, pooled, chunking=self.chunking,
                                      require_negatives=strict)
        total = self.global_weight * g + self.local_weight * loc
        return {"loss": total, "global": g, "local": loc, "attention": att}
