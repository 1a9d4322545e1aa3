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
    """

    def __init__(self, embed_dim: int, num_heads: int) -> None:
        super().__init__()
        self.attn = MultiheadAttention(embed_dim, num_heads)

    def forward(self, query: Tensor, key: Tensor) -> Tensor:
        return query + self.attn(query, key)
