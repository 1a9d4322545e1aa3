"""The precision machinery: ``mixed_precision`` puts exactly the named blocks in a lower precision
(their fp32 islands kept), ``BLOCKS`` covers the model, and ``task_parity`` turns two chains into
task figures that a broken chain fails."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from rapsam_deploy.artifacts import contract
from rapsam_deploy.export.reference_cases import size_cases
from rapsam_deploy.export.task_parity import task_parity
from rapsam_deploy.model.build import build_model
from rapsam_deploy.model.precision import BLOCKS, FP32_MODULES, mixed_precision

SIZE = (128, 160)
# Parameters no block holds: the object queries (a graph input), the prompt encoder (an fp32
# graph) and the neck's fusion bias (added between blocks, in fp32).
OUTSIDE_BLOCKS = ("panoptic_head.kernels", "panoptic_head.mask_tokens", "panoptic_head.pb_embedding",
                  "panoptic_head.pos_linear", "neck.deconv.bias")  # fmt: skip


@pytest.fixture(scope="module")
def model():
    return build_model("r18").eval()


@pytest.fixture(scope="module")
def reference(model):
    return size_cases(model, SIZE, 1, 20, 3)


@pytest.mark.parametrize("backbone", ["r18", "r50"])
def test_blocks_hold_every_parameter_once(backbone: str) -> None:
    model = build_model(backbone)
    modules = dict(model.named_modules())
    paths = [path for paths in BLOCKS.values() for path in paths]
    assert all(path in modules for path in paths)
    for name, _ in model.named_parameters():
        holders = [p for p in paths if name.startswith(p + ".")]
        assert len(holders) == (0 if name.startswith(OUTSIDE_BLOCKS) else 1), name


def test_only_the_named_blocks_change_dtype_and_their_islands_stay_fp32(model) -> None:
    named = ["decoder.stage1", "neck.offsets", "adapter_object"]
    mixed = mixed_precision(model, torch.bfloat16, named)
    low = {f"{p}." for b in named for p in BLOCKS[b]}
    islands = {f"{n}." for n, m in mixed.named_modules() if isinstance(m, FP32_MODULES)}
    for name, parameter in mixed.named_parameters():
        in_low = any(name.startswith(p) for p in low) and not any(name.startswith(i) for i in islands)
        assert parameter.dtype == (torch.bfloat16 if in_low else torch.float32), name
    assert all(p.dtype == torch.float32 for p in model.parameters()), "the original model changed"
    assert mixed.get_submodule("panoptic_head.panoptic_cls.0").weight.dtype == torch.bfloat16
    assert mixed.get_submodule("panoptic_head.panoptic_attn.fc_layer").weight.dtype == torch.float32
    # a block made of islands only is lowered whole (its share is measured so)
    sampling = mixed_precision(model, torch.float16, ["neck.sampling"])
    assert sampling.get_submodule("neck.deconv.deform_conv1.dcn").weight.dtype == torch.float16
    with pytest.raises(ValueError, match=r"unknown block 'neck\.everything'"):
        mixed_precision(model, torch.float16, ["neck.everything"])


def test_no_block_in_low_precision_is_the_fp32_model(model, reference) -> None:
    parity = task_parity(size_cases(mixed_precision(model, torch.float16, []), SIZE, 1, 20, 3), reference)
    assert parity.features_mean_rel == 0.0 and parity.mask_iou_min == 1.0 and parity.class_agreement == 1.0
    assert parity.prompt_iou_min == 1.0 and not parity.misses()


def test_a_low_precision_block_moves_the_figures(model, reference) -> None:
    parity = task_parity(size_cases(mixed_precision(model, torch.bfloat16, BLOCKS), SIZE, 1, 20, 3), reference)
    assert 0 < parity.features_mean_rel < 0.5 and parity.mask_iou_mean < 1.0


def _with(cases, spec: contract.GraphSpec, output: int, change) -> list:
    """``cases`` with one output of ``spec``'s image-path case changed by ``change``."""
    changed = []
    for case in cases:
        if case.graph == spec.name and not case.name.startswith("prompt"):
            name = spec.output_names[output]
            case = dataclasses.replace(case, expected=case.expected | {name: change(case.expected[name].copy())})
        changed.append(case)
    return changed


def test_broken_chains_miss_the_gates(reference) -> None:
    def one_query_inverted(masks):
        masks[:, 3] = -masks[:, 3]
        return masks

    def classes_shifted(logits):
        return np.roll(logits, 1, axis=-1)

    masks = task_parity(_with(reference, contract.ADAPTER_OBJECT, 0, one_query_inverted), reference)
    assert masks.mask_iou_min < 0.5 and any("mask IoU min" in m for m in masks.misses())
    classes = task_parity(_with(reference, contract.ADAPTER_OBJECT, 1, classes_shifted), reference)
    assert classes.class_agreement < 0.5 and any("class agreement" in m for m in classes.misses())
