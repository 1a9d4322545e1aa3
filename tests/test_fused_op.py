"""The fused op RapSamMaskPoolDynConv (plugins/) against the PyTorch reference block
``KernelUpdator()(mask_pool(mask_logits, features), kernels)``.

Needs ``librapsam_ops`` (``bash .ci/build_plugins.sh``): the tests skip with that instruction where it
is missing, and fail instead when RAPSAM_REQUIRE_PLUGINS=1 (CI builds it first). GPU tests run with
``pytest -m gpu`` on a CUDA machine and skip elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from conftest import skip_unless_required
from torch import Tensor

from rapsam_deploy.artifacts.contract import FUSED_OP_WEIGHTS
from rapsam_deploy.model.kernel_updator import KernelUpdator
from rapsam_deploy.model.mask_pool import mask_pool
from rapsam_deploy.plugins import (
    FusedOpError,
    PluginLibraryError,
    cuda_kernels_available,
    locate,
    mask_pool_dynconv,
    ops_library_path,
    trt_plugin_library_path,
    trt_static_plugin_library_path,
)

# fp32: the C++ reference sums in double, PyTorch in fp32. The outputs (after LayerNorm and ReLU)
# are at most ~5 and PyTorch's own fp32 error is ~3e-6 on these cases, so 1e-5 is tight.
FP32_TOL = {"atol": 1e-5, "rtol": 1e-5}
# fp16 inputs, fp32 accumulation, one fp16 rounding of the output (half an ulp: 4.9e-4 relative),
# against PyTorch fp32 on the same fp16-rounded inputs.
FP16_TOL = {"atol": 1e-3, "rtol": 1e-3}
# CUDA fp32: pooling on tensor cores with each feature split into three bf16 terms (24 bits),
# fp32 accumulation in another order than cuBLAS, fp32 LayerNorms.
CUDA_FP32_TOL = {"atol": 2e-4, "rtol": 2e-4}


@dataclass(frozen=True)
class Case:
    name: str
    batch: int
    queries: int
    height: int
    width: int
    masks: str = "random"  # "random" (about half the pixels), "empty" (all logits <= 0), "full"
    channels: int = 256


CASES = [
    Case("empty_masks", 2, 10, 16, 16, masks="empty"),
    Case("full_masks", 1, 10, 16, 24, masks="full"),
    Case("one_query", 1, 1, 20, 20),
    Case("300_queries", 1, 300, 32, 48),
    Case("batch_2", 2, 100, 24, 32),
    Case("non_square_odd_pixels", 1, 20, 13, 21),
    Case("stacked_video_3_frames", 1, 20, 3 * 24, 40),
    Case("96_channels", 2, 5, 16, 20, channels=96),
]

# A mask over 256 x 256 = 65,536 pixels of features around 1.0: the pooled sums (~65,536) pass
# the largest fp16 (65,504).
OVERFLOW_CASE = Case("fp16_overflow", 1, 2, 256, 256, masks="full")


@pytest.fixture(scope="module", autouse=True)
def native_library() -> None:
    try:
        ops_library_path()
    except PluginLibraryError as error:
        skip_unless_required("RAPSAM_REQUIRE_PLUGINS", f"librapsam_ops is not built: {error}")


def make_updator(channels: int, seed: int) -> KernelUpdator:
    """Default (PyTorch) init for the Linear layers; LayerNorm affines moved off 1/0 so that a
    swapped LayerNorm would show."""
    torch.manual_seed(seed)
    updator = KernelUpdator(channels).eval()
    with torch.no_grad():
        for module in updator.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.copy_(1.0 + 0.2 * torch.randn_like(module.weight))
                module.bias.copy_(0.2 * torch.randn_like(module.bias))
    return updator


def make_inputs(case: Case, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    shape = (case.batch, case.queries, case.height, case.width)
    logits = torch.randn(shape, generator=generator)
    if case.masks == "empty":
        logits = -logits.abs()
        logits[..., ::3] = 0.0  # exactly 0 is outside: the threshold is strict
    elif case.masks == "full":
        logits = logits.abs() + 1e-3
    if case is OVERFLOW_CASE:
        features = 1.0 + 0.01 * torch.randn((case.batch, case.channels, case.height, case.width), generator=generator)
    else:
        features = torch.randn((case.batch, case.channels, case.height, case.width), generator=generator)
    kernels = torch.randn((case.batch, case.queries, case.channels), generator=generator)
    return logits, features, kernels


def reference(updator: KernelUpdator, logits: Tensor, features: Tensor, kernels: Tensor) -> Tensor:
    """The PyTorch block in fp32, whatever the inputs' dtype."""
    with torch.no_grad():
        return updator.float()(mask_pool(logits.float(), features.float()), kernels.float())


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_cpu_reference_equals_pytorch_fp32(case: Case) -> None:
    updator = make_updator(case.channels, seed=1)
    logits, features, kernels = make_inputs(case, seed=2)
    out = mask_pool_dynconv(logits, features, kernels, updator)
    assert out.dtype == torch.float32 and out.shape == kernels.shape
    torch.testing.assert_close(out, reference(updator, logits, features, kernels), **FP32_TOL)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_cpu_reference_fp16_inputs(case: Case) -> None:
    updator = make_updator(case.channels, seed=3)
    logits, features, kernels = (t.half() for t in make_inputs(case, seed=4))
    out = mask_pool_dynconv(logits, features, kernels, updator)
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.float(), reference(updator, logits, features, kernels), **FP16_TOL)


def test_cpu_reference_fp16_overflow_case_is_finite_and_matches_fp32() -> None:
    updator = make_updator(OVERFLOW_CASE.channels, seed=5)
    logits, features, kernels = make_inputs(OVERFLOW_CASE, seed=6)
    half = [t.half() for t in (logits, features, kernels)]
    assert torch.isinf(mask_pool(half[0], half[1])).any(), "the case must overflow an fp16 sum"
    out = mask_pool_dynconv(*half, updator)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.float(), reference(updator, *half), **FP16_TOL)
    torch.testing.assert_close(
        mask_pool_dynconv(logits, features, kernels, updator), reference(updator, logits, features, kernels), **FP32_TOL
    )


def test_updator_as_20_tensors_in_contract_order() -> None:
    case = CASES[2]
    updator = make_updator(case.channels, seed=7)
    inputs = make_inputs(case, seed=8)
    tensors = [updator.state_dict()[name] for name in FUSED_OP_WEIGHTS]
    torch.testing.assert_close(mask_pool_dynconv(*inputs, tensors), mask_pool_dynconv(*inputs, updator))


def test_empty_batch_and_queries() -> None:
    updator = make_updator(256, seed=9)
    logits, features, kernels = make_inputs(Case("none", 2, 0, 8, 8), seed=10)
    assert mask_pool_dynconv(logits, features, kernels, updator).shape == (2, 0, 256)


def test_bad_inputs_raise_fused_op_error() -> None:
    updator = make_updator(256, seed=11)
    logits, features, kernels = make_inputs(CASES[2], seed=12)
    with pytest.raises(FusedOpError, match="inconsistent shapes"):
        mask_pool_dynconv(logits, features[..., :-1], kernels, updator)
    with pytest.raises(FusedOpError, match="float32 or all float16"):
        mask_pool_dynconv(logits.half(), features, kernels, updator)
    with pytest.raises(FusedOpError, match="expected 20"):
        mask_pool_dynconv(logits, features, kernels, list(updator.parameters())[:3])


def test_missing_library_says_how_to_build(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(locate, "search_dirs", lambda: [tmp_path])
    with pytest.raises(PluginLibraryError, match=r"build_plugins\.sh"):
        ops_library_path()
    for trt_path in (trt_plugin_library_path, trt_static_plugin_library_path):
        with pytest.raises(PluginLibraryError, match="TENSORRT_ROOT"):
            trt_path()


def test_plugin_dir_env_var_comes_first(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv(locate.PLUGIN_DIR_ENV, str(tmp_path))
    assert locate.search_dirs()[0] == tmp_path


requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU (torch.cuda.is_available())")


def run_on_gpu(case: Case, dtype: torch.dtype, seed: int) -> tuple[Tensor, Tensor]:
    if not cuda_kernels_available():
        pytest.fail("librapsam_ops was built without the CUDA kernels: rebuild with nvcc on PATH")
    updator = make_updator(case.channels, seed=seed)
    inputs = [t.to(dtype) for t in make_inputs(case, seed=seed + 1)]
    expected = reference(updator.cuda(), *(t.cuda() for t in inputs)).cpu()
    out = mask_pool_dynconv(*(t.cuda() for t in inputs), updator.cuda())
    torch.cuda.synchronize()
    assert out.dtype == dtype and out.is_cuda
    return out.float().cpu(), expected


@pytest.mark.gpu
@requires_cuda
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_cuda_fp32_equals_pytorch(case: Case) -> None:
    out, expected = run_on_gpu(case, torch.float32, seed=20)
    torch.testing.assert_close(out, expected, **CUDA_FP32_TOL)


@pytest.mark.gpu
@requires_cuda
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_cuda_fp16_equals_pytorch_fp32(case: Case) -> None:
    out, expected = run_on_gpu(case, torch.float16, seed=30)
    torch.testing.assert_close(out, expected, **FP16_TOL)


@pytest.mark.gpu
@requires_cuda
def test_cuda_fp16_overflow_case_is_finite_and_matches_fp32() -> None:
    out, expected = run_on_gpu(OVERFLOW_CASE, torch.float16, seed=40)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, expected, **FP16_TOL)


@pytest.mark.gpu
@requires_cuda
def test_cuda_equals_cpu_reference() -> None:
    case = CASES[4]
    updator = make_updator(case.channels, seed=50)
    inputs = make_inputs(case, seed=51)
    cpu = mask_pool_dynconv(*inputs, updator)
    gpu = mask_pool_dynconv(*(t.cuda() for t in inputs), updator.cuda()).cpu()
    torch.testing.assert_close(gpu, cpu, **CUDA_FP32_TOL)
