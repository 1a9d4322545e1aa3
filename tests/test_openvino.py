"""The OpenVINO backend (``--backend openvino``): the decomposed export's fp32 graphs compiled by
OpenVINO's CPU plugin, in fp32 (the PyTorch reference's answers) and in bf16 where the CPU has
bf16 hardware (the answers within the export's reduced-precision gates)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import EXPORT_SIZE, skip_unless_required

from rapsam_deploy.artifacts import contract
from rapsam_deploy.artifacts.export_dir import ExportDir
from rapsam_deploy.backends import fastest, openvino_backend
from rapsam_deploy.backends.select import create_backend
from rapsam_deploy.errors import RapSamError
from rapsam_deploy.export.reference_cases import photos, size_cases
from rapsam_deploy.export.task_parity import (
    QUANTISATION_NOISE,
    noise_gates,
    task_parity,
    with_image_noise,
)

CHAIN = (EXPORT_SIZE, 2, 100, 5)


@pytest.fixture(scope="module")
def export(exported_decomposed) -> ExportDir:
    try:
        openvino_backend.import_openvino()
    except RapSamError:
        skip_unless_required("RAPSAM_REQUIRE_OPENVINO", "OpenVINO is not installed (pip install openvino)")
    return ExportDir.open(exported_decomposed)


@pytest.fixture(scope="module")
def reference(r18):
    return size_cases(r18, *CHAIN)


def test_fp32_gives_the_reference_answers(export, r18, reference):
    backend = create_backend("openvino", export, "fp32", threads=2)
    images = photos(2, EXPORT_SIZE)
    (features,) = backend.call(contract.ENCODER, images)
    ref = r18.forward_encoder(images)
    assert torch.abs(features - ref).max() <= 1e-3 * ref.abs().max()
    parity = task_parity(size_cases(r18, *CHAIN, run=backend.call), reference)
    assert parity.mask_iou_mean >= 0.999 and parity.class_agreement >= 0.99 and parity.prompt_iou_mean >= 0.999


def test_bf16_meets_the_reduced_precision_gates(export, r18, reference):
    if not openvino_backend.bf16_supported():
        pytest.skip("this CPU has no bf16 hardware (AMX-BF16 or AVX512-BF16)")
    backend = create_backend("openvino", export, "bf16", threads=2)
    assert backend.graph_precision(contract.DECODER.name) == "bf16"
    parity = task_parity(size_cases(r18, *CHAIN, run=backend.call), reference)
    floor = task_parity(size_cases(with_image_noise(r18, QUANTISATION_NOISE), *CHAIN), reference)
    assert parity.misses(noise_gates(floor)) == []
    # bf16 computes: the answers move (the fp32 run above matches to 1e-3).
    assert parity.mask_iou_mean < 0.9999


def test_bf16_without_bf16_hardware_is_refused(export, monkeypatch):
    monkeypatch.setattr(openvino_backend, "cpu_isa", lambda: ["AVX2"])
    with pytest.raises(RapSamError, match="no bf16 hardware") as err:
        create_backend("openvino", export, "bf16")
    assert "--precision fp32" in err.value.fix


def test_an_export_with_the_deformconv_op_is_refused_with_the_fix(exported_r18):
    pytest.importorskip("openvino")
    with pytest.raises(RapSamError, match="DeformConv") as err:
        create_backend("openvino", ExportDir.open(exported_r18[0]), "fp32")
    assert "--deform-conv decomposed" in err.value.fix


@pytest.mark.parametrize(("backend", "precision"), [("onnxruntime", "bf16"), ("openvino", "fp16"), ("torch", "bf16")])
def test_a_precision_the_backend_does_not_run_is_refused(exported_decomposed, backend, precision):
    with pytest.raises(RapSamError, match=f"runs .*not {precision}") as err:
        create_backend(backend, ExportDir.open(exported_decomposed), precision)
    assert "--precision" in err.value.fix


def test_auto_skips_backends_that_do_not_run_the_precision(export):
    backend = create_backend("auto", export, "bf16" if openvino_backend.bf16_supported() else "fp32")
    assert backend.info.name in ("openvino", "onnxruntime")
    assert np.isfinite(backend.call(contract.ENCODER, photos(1, EXPORT_SIZE))[0].numpy()).all()


def test_the_export_checks_the_bf16_chain_and_auto_may_pick_it(export, tmp_path, monkeypatch):
    """Exports with the decomposed form record OpenVINO bf16's task figures where the CPU has
    bf16 hardware, and ``--precision auto`` then weighs it with the other forms."""
    if not openvino_backend.bf16_supported():
        pytest.skip("this CPU has no bf16 hardware (AMX-BF16 or AVX512-BF16)")
    entry = export.manifest.validation["tasks"]["forms"]["openvino/bf16"]
    assert entry["mask_iou_mean"] < 1.0 and export.manifest.task_misses("openvino/bf16") == entry["misses"]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(fastest, "time_form", lambda backend, _: 1.0 if backend.info.precision == "bf16" else 9.0)
    picked = create_backend("auto", export, "auto")
    expected = ("openvino", "bf16") if not entry["misses"] else ("openvino", "fp32")
    assert (picked.info.name, picked.info.precision) == expected
