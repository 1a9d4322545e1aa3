"""Each building block of the reference model against an independent reference: PyTorch's
own modules, a by-definition implementation, or the formula written out."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from reference_ops import modulated_deform_conv2d_direct
from torch import nn

from rapsam_deploy.model.attention import MultiheadAttention, ResidualCrossAttention, fold_key_projections
from rapsam_deploy.model.classifier import LOGIT_SCALE, CosineClassifier
from rapsam_deploy.model.deform_conv import ModulatedDeformConv2d, deform_conv2d_decomposed, set_deform_impl
from rapsam_deploy.model.mask_pool import mask_pool
from rapsam_deploy.model.prompt_encoding import box_code, coordinate_to_encoding, inverse_sigmoid


def _torch_mha(ours: MultiheadAttention) -> nn.MultiheadAttention:
    ref = nn.MultiheadAttention(ours.embed_dim, ours.num_heads)
    ref.load_state_dict(ours.state_dict())
    return ref.eval()


def test_self_attention_equals_torch_multihead_attention():
    torch.manual_seed(0)
    ours = MultiheadAttention(64, 8)
    ref = _torch_mha(ours)
    x = torch.randn(2, 7, 64)
    mask = ~torch.eye(7, dtype=torch.bool)
    mask[0, 3] = False
    with torch.no_grad():
        for attn_mask in (None, mask):
            seq_first = x.transpose(0, 1)
            expected = ref(seq_first, seq_first, seq_first, attn_mask=attn_mask)[0].transpose(0, 1)
            torch.testing.assert_close(ours(x, attn_mask=attn_mask), expected, rtol=1e-6, atol=1e-6)


def test_residual_cross_attention_equals_query_plus_torch_attention():
    torch.manual_seed(1)
    ours = ResidualCrossAttention(64, 8)
    ref = _torch_mha(ours.attn)
    query, key = torch.randn(2, 3, 64), torch.randn(2, 50, 64)
    with torch.no_grad():
        q, k = query.transpose(0, 1), key.transpose(0, 1)
        expected = query + ref(q, k, k.clone())[0].transpose(0, 1)
        torch.testing.assert_close(ours(query, key), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("num_keys", [50, 4096])
def test_folded_key_projections_equal_the_projected_attention(num_keys):
    """The exported prompt adapter's form: the same answer as the official projected keys and
    values, with non-zero biases (the key bias cancels in the softmax; the value bias passes
    through because the attention weights sum to 1) and keys of feature-map size."""
    torch.manual_seed(2)
    ours = ResidualCrossAttention(64, 8)
    with torch.no_grad():
        ours.attn.in_proj_bias.normal_(0, 0.5)
        ours.attn.out_proj.bias.normal_(0, 0.5)
        query, key = torch.randn(2, 5, 64), torch.randn(2, num_keys, 64) * 3
        expected = ours(query, key)
        fold_key_projections(ours, True)
        got = ours(query, key)
        fold_key_projections(ours, False)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
        assert torch.equal(ours(query, key), expected)


def test_mask_pool_is_unnormalised_sum_under_logit_above_zero():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 5, 6)
    logits[0, 0, 0, 0] = 0.0  # exactly 0 is outside the mask (sigmoid 0.5 is not > 0.5)
    features = torch.randn(2, 3, 5, 6)
    expected = torch.einsum("bnhw,bchw->bnc", (logits.sigmoid() > 0.5).float(), features)
    torch.testing.assert_close(mask_pool(logits, features), expected, rtol=1e-6, atol=1e-6)


def test_cosine_classifier_formula():
    torch.manual_seed(0)
    embed = torch.randn(5, 3, 16)
    embed = embed / embed.norm(dim=-1, keepdim=True)
    x = torch.randn(2, 4, 16)
    scores = CosineClassifier(embed)(x)
    unit = x / x.norm(dim=-1, keepdim=True)
    expected = torch.zeros(2, 4, 6)
    for k in range(5):
        expected[..., k] = torch.stack([(unit * embed[k, p]).sum(-1) for p in range(3)]).amax(0)
    expected *= math.exp(LOGIT_SCALE)
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("stride,padding,dilation", [(1, 1, 1), (2, 1, 1), (1, 2, 2)])
def test_deformable_conv_forms_equal_the_direct_definition(stride, padding, dilation):
    torch.manual_seed(0)
    x = torch.randn(2, 6, 9, 11)
    weight = torch.randn(4, 6, 3, 3)
    out_h = (9 + 2 * padding - 2 * dilation - 1) // stride + 1
    out_w = (11 + 2 * padding - 2 * dilation - 1) // stride + 1
    # Offsets up to +-6 pixels reach outside the image; integer and half-pixel offsets hit the
    # interpolation's edge cases exactly.
    offset = torch.randn(2, 18, out_h, out_w) * 3
    offset[:, :, 0, 0] = -1.0
    offset[:, :, 1, 1] = 0.5
    offset[:, :, -1, -1] = 12.0
    mask = torch.rand(2, 9, out_h, out_w)
    expected = modulated_deform_conv2d_direct(x, offset, mask, weight, stride, padding, dilation)
    decomposed = deform_conv2d_decomposed(x, offset, mask, weight, stride, padding, dilation)
    layer = ModulatedDeformConv2d(6, 4, 3, stride, padding, dilation)
    layer.weight.data.copy_(weight)
    via_op = layer(x, offset, mask)
    set_deform_impl(layer, "decomposed")
    via_module = layer(x, offset, mask)
    for got in (decomposed, via_op, via_module):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_deformable_conv_with_zero_offsets_and_unit_mask_is_a_convolution():
    torch.manual_seed(0)
    x, weight = torch.randn(1, 5, 8, 8), torch.randn(3, 5, 3, 3)
    got = deform_conv2d_decomposed(x, torch.zeros(1, 18, 8, 8), torch.ones(1, 9, 8, 8), weight)
    torch.testing.assert_close(got, torch.nn.functional.conv2d(x, weight, padding=1), rtol=1e-5, atol=1e-5)


def test_unknown_deform_impl_is_rejected():
    with pytest.raises(ValueError, match="decomposed"):
        set_deform_impl(ModulatedDeformConv2d(2, 2), "cuda")


def test_sine_box_encoding_formula():
    coords = torch.tensor([[[0.1, 0.7, 0.25, 0.05]]])
    code = coordinate_to_encoding(coords).numpy()[0, 0]
    assert code.shape == (512,)
    i = np.arange(128)
    dim_t = 10000.0 ** (2 * (i // 2) / 128)
    for block, value in enumerate((0.7, 0.1, 0.25, 0.05)):  # y, x, w, h
        angle = value * 2 * np.pi / dim_t
        expected = np.where(i % 2 == 0, np.sin(angle), np.cos(angle))
        np.testing.assert_allclose(code[block * 128 : (block + 1) * 128], expected, rtol=1e-5, atol=1e-5)


def test_box_code_clamps_like_the_official_round_trip():
    """A point box at the image corner reaches outside [0, 1]: inverse_sigmoid clamps it."""
    boxes = torch.tensor([[[-0.01, -0.02, 0.02, 0.01]]])
    cxcywh = torch.tensor([[[0.005, 0.0, 0.03, 0.03]]]).clamp(1e-5, 1 - 1e-5)
    torch.testing.assert_close(box_code(boxes), coordinate_to_encoding(cxcywh), rtol=1e-4, atol=1e-4)
    assert torch.isfinite(inverse_sigmoid(torch.tensor([0.0, 1.0, -3.0, 4.0]))).all()
