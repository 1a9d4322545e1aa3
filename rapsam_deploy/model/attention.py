"""Multi-head attention with ``nn.MultiheadAttention``'s parameters and numerics.

The official model uses ``nn.MultiheadAttention`` (decoder self-attention) and mmcv's wrapper
around it (prompt adapter). Both run PyTorch's explicit path there (``batch_first=False``,
``need_weights=True``): packed in-projection, ``q * head_dim**-0.5``, ``q @ k^T`` plus the
mask, softmax, ``@ v``, out-projection. It is written out here in plain matmuls so that
exported graphs keep every axis dynamic (the legacy ONNX exporter bakes shapes into
``nn.MultiheadAttention``), batch-first.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MultiheadAttention(nn.Module):
    """Batch-first multi-head attention; state-dict names as ``nn.MultiheadAttention``.

    ``forward(query [B,Nq,E], key [B,Nk,E] | None, attn_mask [Nq,Nk] bool | None)`` returns
    [B,Nq,E]; ``attn_mask`` True means "may not attend" (PyTorch's convention).
    """

    def __init__(self, embed_dim: int, num_heads: int) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def _split_heads(self, x: Tensor) -> Tensor:
        batch, length, _ = x.shape
        return x.reshape(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query: Tensor, key: Tensor | None = None, attn_mask: Tensor | None = None) -> Tensor:
        """Self-attention when ``key`` is None, else cross-attention with value = key."""
        dim = self.embed_dim
        weight, bias = self.in_proj_weight, self.in_proj_bias
        # Mirrors PyTorch's rounding: one packed projection for self-attention; separate q, k,
        # v projections where the official caller hands over distinct key and value tensors.
        if key is None:
            q, k, v = F.linear(query, weight, bias).chunk(3, dim=-1)
        else:
            q = F.linear(query, weight[:dim], bias[:dim])
            k = F.linear(key, weight[dim : 2 * dim], bias[dim : 2 * dim])
            v = F.linear(key, weight[2 * dim :], bias[2 * dim :])
        q, k, v = self._split_heads(q), self._split_heads(k), self._split_heads(v)

        scores = torch.matmul(q * math.sqrt(1.0 / self.head_dim), k.transpose(-2, -1))  # [B, h, Nq, Nk]
        if attn_mask is not None:
            scores = scores.masked_fill(attn_mask, float("-inf"))
        # Softmax in fp32 whatever the compute dtype (fp16 exports keep it there); a no-op in fp32.
        out = torch.matmul(scores.float().softmax(dim=-1).to(v.dtype), v)  # [B, h, Nq, d]
        batch, _, length, _ = out.shape
        out = out.transpose(1, 2).reshape(batch, length, dim)
        return self.out_proj(out)


class ResidualCrossAttention(nn.Module):
    """mmcv's ``MultiheadAttention`` wrapper as the prompt adapter uses it: no positional
    encodings, value = key, identity residual: ``query + attn(query, key, key)``.

    ``forward(query [B,Nq,E], key [B,Nk,E]) -> [B,Nq,E]``; parameters under ``attn.``.
    ``folded`` (``fold_key_projections``) computes the same attention without projecting the
    keys and values (:meth:`folded_attention`).
    """

    def __init__(self, embed_dim: int, num_heads: int) -> None:
        super().__init__()
        self.attn = MultiheadAttention(embed_dim, num_heads)
        self.folded = False

    def forward(self, query: Tensor, key: Tensor) -> Tensor:
        return query + (self.folded_attention(query, key) if self.folded else self.attn(query, key))

    def folded_attention(self, query: Tensor, key: Tensor) -> Tensor:
        """``attn(query, key)`` with the key and value projections moved onto the queries: the
        prompt adapter's keys are every pixel (Nk = 65,536 at 1024x1024) and its queries a few
        prompts, so projecting the keys (2·Nk·E² multiply-adds per image) costs far more than
        attending to the raw keys (2·h·Nq·Nk·E). Per head h, with Wk_h, Wv_h its [d,E] rows:
        scores = (q_h Wk_h) keyᵀ + q_h·bk_h, where the last term is the same for every key and
        cancels in the softmax; out = (softmax · key) Wv_hᵀ + bv_h, since softmax rows sum to 1.
        Equal to the projected form up to float rounding (tests/test_model_numerics.py).
        query [B,Nq,E], key [B,Nk,E] -> [B,Nq,E]."""
        attn = self.attn
        dim, heads, head_dim = attn.embed_dim, attn.num_heads, attn.head_dim
        w_q, w_k, w_v = attn.in_proj_weight.split(dim)
        b_q, _, b_v = attn.in_proj_bias.split(dim)
        batch, length, _ = query.shape
        q = F.linear(query, w_q, b_q) * math.sqrt(1.0 / head_dim)  # [B,Nq,E]
        # One 2-D weight product per head, on a contiguous copy of the head's slice: a 4-D
        # product with per-head weights, or one on a strided slice, makes the exporter fix the
        # batch size at the tracing batch of 1 (the graph's outputs lose their dynamic batch).
        rows = [slice(h * head_dim, (h + 1) * head_dim) for h in range(heads)]
        q_keys = torch.stack([torch.matmul(q[..., r].contiguous(), w_k[r]) for r in rows], dim=1)  # [B,h,Nq,E]
        # Both products read the keys as [B,E,Nk]: the adapter's keys are the feature map
        # transposed, and a graph that needs them [Nk,E] copies the whole map.
        keys = key.transpose(1, 2)
        scores = torch.bmm(q_keys.reshape(batch, heads * length, dim), keys)  # [B,h·Nq,Nk]
        weights = scores.float().softmax(dim=-1).to(key.dtype)
        pooled = torch.bmm(keys, weights.transpose(1, 2)).transpose(1, 2)  # [B,h·Nq,E]
        pooled = pooled.reshape(batch, heads, length, dim)
        out = torch.cat([F.linear(pooled[:, h], w_v[r], b_v[r]) for h, r in enumerate(rows)], dim=-1)
        return attn.out_proj(out)  # [B,Nq,E], heads in order as the projected form concatenates them


def fold_key_projections(module: nn.Module, folded: bool) -> None:
    """Select the form of every ``ResidualCrossAttention`` inside ``module``: the official
    projected keys (False, the reference) or the folded form (True, what exports trace)."""
    for m in module.modules():
        if isinstance(m, ResidualCrossAttention):
            m.folded = folded
