"""The video path: T frames' features stacked along height, as the official code does, so that
mask pooling over the stacked map is tube pooling (one query pools over every frame)."""

from __future__ import annotations

from torch import Tensor


def stack_frames(features: Tensor, num_frames: int) -> Tensor:
    """[B*T,C,Hf,Wf] (frame-major within each clip) -> [B,C,T*Hf,Wf]."""
    clips = features.unflatten(0, (-1, num_frames))  # [B,T,C,Hf,Wf]
    return clips.transpose(1, 2).flatten(2, 3)


def unstack_masks(mask_logits: Tensor, num_frames: int) -> Tensor:
    """[B,N,T*Hf,Wf] -> [B,N,T,Hf,Wf]."""
    return mask_logits.unflatten(2, (num_frames, -1))
