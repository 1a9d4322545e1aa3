"""Shapes and task semantics of the reference model's entry points (graph contract)."""

from __future__ import annotations

import torch
from conftest import photo

from rapsam_deploy.artifacts.contract import CHANNELS
from rapsam_deploy.model.mask_pool import mask_pool
from rapsam_deploy.model.video import stack_frames, unstack_masks
from rapsam_deploy.parity import mask_agreement, scaled_error


def test_entry_point_shapes(r18):
    image = torch.cat([photo(64, 96), photo(64, 96, "coffee")])  # B=2, non-square
    boxes = torch.tensor([[0.1, 0.1, 0.3, 0.4], [0.5, 0.2, 0.9, 0.9], [0.0, 0.0, 1.0, 1.0]]).expand(2, 3, 4)
    kinds = torch.ones(2, 3, dtype=torch.long)
    with torch.no_grad():
        features = r18.forward_encoder(image)
        queries = r18.forward_prompt_encoder(boxes, kinds)
        kernels, masks, classes, iou = r18.forward_decoder(features, queries, r18.prompt_attn_mask(3))
        obj_masks, obj_classes, obj_kernels = r18.forward_adapter_object(features, kernels, masks)
        prompt_masks, prompt_iou = r18.forward_adapter_prompt(features, kernels)
    k1 = r18.num_classes + 1
    assert features.shape == (2, CHANNELS, 16, 24)
    assert queries.shape == (2, 3, CHANNELS)
    assert kernels.shape == (2, 3, CHANNELS) and masks.shape == (2, 3, 16, 24)
    assert classes.shape == (2, 3, k1) and iou.shape == (2, 3, 1)
    assert obj_masks.shape == (2, 3, 16, 24) and obj_classes.shape == (2, 3, k1) and obj_kernels.shape == (2, 3, 256)
    assert prompt_masks.shape == (2, 3, 16, 24) and prompt_iou.shape == (2, 3, 1)
    assert r18.object_queries.shape == (100, CHANNELS)
    for t in (
        features,
        queries,
        kernels,
        masks,
        classes,
        iou,
        obj_masks,
        obj_classes,
        obj_kernels,
        prompt_masks,
        prompt_iou,
    ):
        assert torch.isfinite(t).all()


def test_no_object_class_scores_zero(r18):
    """The appended no-object embedding is zero: its cosine score is 0 for every query."""
    with torch.no_grad():
        _, classes = r18.forward_panoptic(photo(64, 64))
    assert torch.equal(classes[..., -1], torch.zeros_like(classes[..., -1]))
    assert classes[..., :-1].abs().max() > 1


def test_whole_task_forwards_compose_the_entry_points(r18):
    image = photo(64, 64)
    boxes = torch.tensor([[[0.2, 0.2, 0.6, 0.7], [0.4, 0.1, 0.5, 0.2]]])
    with torch.no_grad():
        features = r18.forward_encoder(image)
        queries = r18.object_queries[None]
        kernels, masks, _, _ = r18.forward_decoder(features, queries, r18.object_attn_mask())
        expected = r18.forward_adapter_object(features, kernels, masks)[:2]
        got = r18.forward_panoptic(image)
        prompt_kernels, _, _, _ = r18.forward_decoder(
            features, r18.forward_prompt_encoder(boxes, torch.ones(1, 2, dtype=torch.long)), r18.prompt_attn_mask(2)
        )
        expected_prompt = r18.forward_adapter_prompt(features, prompt_kernels)
        got_prompt = r18.forward_prompts(image, boxes)
    for a, b in zip(got + got_prompt, expected + expected_prompt, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_prompts_cannot_see_each_other(r18):
    """With the prompt mask each prompt's outputs do not depend on the other prompts;
    without it they do (so the check can fail)."""
    image = photo(64, 64)
    first = torch.tensor([[0.2, 0.2, 0.6, 0.7]])
    others_a = torch.tensor([[0.5, 0.5, 0.9, 0.9], [0.1, 0.6, 0.3, 0.8]])
    others_b = torch.tensor([[0.0, 0.0, 0.2, 0.2], [0.7, 0.1, 0.8, 0.3]])
    with torch.no_grad():
        features = r18.forward_encoder(image)

        def run(boxes, attn_mask):
            queries = r18.forward_prompt_encoder(boxes[None], torch.ones(1, len(boxes), dtype=torch.long))
            kernels, _, _, _ = r18.forward_decoder(features, queries, attn_mask)
            return r18.forward_adapter_prompt(features, kernels)

        masked_a = run(torch.cat([first, others_a]), r18.prompt_attn_mask(3))
        masked_b = run(torch.cat([first, others_b]), r18.prompt_attn_mask(3))
        alone = run(first, r18.prompt_attn_mask(1))
        open_a = run(torch.cat([first, others_a]), r18.object_attn_mask(3))
        open_b = run(torch.cat([first, others_b]), r18.object_attn_mask(3))
    for a, b, c in zip(masked_a, masked_b, alone, strict=True):
        torch.testing.assert_close(a[:, :1], b[:, :1], rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(a[:, :1], c, rtol=1e-5, atol=1e-4)
    assert (open_a[0][:, :1] - open_b[0][:, :1]).abs().max() > 1e-2


def test_stacking_frames_makes_pooling_tube_pooling():
    """Pooling the height-stacked map equals the sum of each frame's pooling (tube pooling)."""
    torch.manual_seed(0)
    frames, n, c, h, w = 3, 5, 8, 4, 6
    features = torch.randn(2 * frames, c, h, w)  # 2 clips of 3 frames
    masks = torch.randn(2 * frames, n, h, w)
    stacked_features = stack_frames(features, frames)
    stacked_masks = masks.unflatten(0, (2, frames)).permute(0, 2, 1, 3, 4).flatten(2, 3)  # [B,N,T*h,w]
    assert stacked_features.shape == (2, c, frames * h, w)
    per_frame = mask_pool(masks, features).unflatten(0, (2, frames)).sum(dim=1)
    torch.testing.assert_close(mask_pool(stacked_masks, stacked_features), per_frame, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(unstack_masks(stacked_masks, frames).transpose(1, 2), masks.unflatten(0, (2, frames)))


def test_video_is_one_query_set_per_clip(r18):
    """Permuting a clip's frames permutes its masks along T and leaves the class scores alone
    (pooling sums over all frames); a 1-frame clip is the image path.

    Permuting changes the order of the pooled sums: the float noise flips a few hard-mask pixels
    (3 of 76,800 on an AVX-512 Xeon, none on an AVX2 EPYC), which moves logits downstream by up
    to 0.7 of a 165 range. So masks are compared as masks and the rest by scaled error."""
    clip = torch.stack([photo(64, 64), photo(64, 64, "coffee"), photo(64, 64, "chelsea")], dim=1)  # [1,T,3,H,W]
    order = torch.tensor([2, 0, 1])
    with torch.no_grad():
        masks, classes = r18.forward_video(clip)
        masks_p, classes_p = r18.forward_video(clip[:, order])
        single_masks, single_classes = r18.forward_video(clip[:, :1])
        image_masks, image_classes = r18.forward_panoptic(clip[:, 0])
    assert masks.shape == (1, 100, 3, 16, 16) and classes.shape == (1, 100, r18.num_classes + 1)
    permuted = mask_agreement(masks_p, masks[:, :, order])
    assert permuted.sign >= 0.999 and permuted.iou_min >= 0.95, permuted
    assert scaled_error(masks_p, masks[:, :, order]) <= 1e-2
    assert scaled_error(classes_p, classes) <= 1e-2
    unpermuted = mask_agreement(masks_p, masks)  # so the comparison can fail
    assert unpermuted.sign < 0.99 and unpermuted.iou_min < 0.5, unpermuted
    torch.testing.assert_close(single_masks[:, :, 0], image_masks, rtol=0, atol=0)
    torch.testing.assert_close(single_classes, image_classes, rtol=0, atol=0)
    assert not torch.allclose(masks[:, :, 0], image_masks, atol=1e-2), "pooling over 3 frames must differ from 1"
