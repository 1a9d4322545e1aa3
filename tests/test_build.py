"""Random weights, parameter counts and FLOPs."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import official_keys

from rapsam_deploy.model import build_model, set_deform_impl
from rapsam_deploy.model.build import random_class_embed
from rapsam_deploy.model.complexity import PARTS, flop_counts, parameter_counts
from rapsam_deploy.model.rapsam import RapSam


def test_random_weights_are_reproducible_and_labelled(r18):
    again = build_model("r18", seed=0)
    other = build_model("r18", seed=1)
    ours, theirs = r18.state_dict(), again.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert not torch.equal(ours["panoptic_head.kernels.weight"], other.state_dict()["panoptic_head.kernels.weight"])
    assert not r18.info.trained
    assert r18.info.label == "r18, random weights (seed 0), untrained"


def test_random_weights_give_trained_scale_activations(r18):
    """BatchNorm statistics come from a calibration batch: on another image the features are
    neither vanishing nor exploding, and masks have both signs."""
    from conftest import photo

    with torch.no_grad():
        features = r18.forward_encoder(photo(96, 96))
        masks, _ = r18.forward_panoptic(photo(96, 96))
    assert 0.1 < features.std() < 100
    assert 0.05 < (masks > 0).float().mean() < 0.95


@pytest.mark.parametrize("backbone", ["r18", "r50"])
def test_parameter_counts_equal_the_official_model(backbone):
    with torch.device("meta"):
        model = RapSam(backbone, random_class_embed())
    counts = parameter_counts(model)
    official = sum(
        math.prod(shape)
        for key, (shape, _) in official_keys(backbone).items()
        if not key.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    assert counts["total"] == official
    assert sum(counts[p] for p in PARTS) == counts["total"]
    assert all(counts[p] > 0 for p in PARTS)


def test_flops_per_part(r18):
    report = flop_counts(r18, (64, 96), num_prompts=2)
    assert all(value > 0 for value in report.flops.values()), report.flops
    assert report.panoptic > report.flops["backbone"] > report.flops["neck"]
    # The deformable convolution's registered count equals what its decomposition's 1x1 convolution counts.
    set_deform_impl(r18, "decomposed")
    try:
        decomposed = flop_counts(r18, (64, 96), num_prompts=2)
    finally:
        set_deform_impl(r18, "op")
    assert decomposed.flops["neck"] == report.flops["neck"]
    bigger = flop_counts(r18, (128, 192), num_prompts=2)
    assert 3.5 < bigger.flops["backbone"] / report.flops["backbone"] < 4.5
