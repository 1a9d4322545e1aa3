"""Reference data for the C++ library's tests (cpp/tests), written by the Python runtime.

``python tests/cpp_reference.py DIR`` (or :func:`write_reference`) writes small inputs and what the
Python runtime makes of them: .npy arrays, engine files, images, and ``index.json``, which names
every case and its expected scalars and messages. The ctest binary ``rapsam_cpp_tests`` reads
them from ``$RAPSAM_CPP_REFERENCE`` and compares its own results.

Cases keep away from where PyTorch changes its arithmetic (bilinear resizes to sizes with
H + W <= 128, or three channels on one thread, use another kernel), and near-ties (two scores,
or a probability and 0.5, closer than ``TIE``) are marked so that the C++ side ignores those
pixels: float32 results there depend on the last bit of exp().
"""

from __future__ import annotations

import json
import struct
import sys
import warnings
from dataclasses import asdict, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from rapsam_deploy.artifacts import contract
from rapsam_deploy.artifacts import manifest as manifests
from rapsam_deploy.artifacts.manifest import Artifact, Manifest
from rapsam_deploy.engines import engine_file
from rapsam_deploy.errors import RapSamError
from rapsam_deploy.model.kernel_updator import KernelUpdator
from rapsam_deploy.model.mask_pool import mask_pool
from rapsam_deploy.predict import postprocess, preprocess, prompt, results, rle, visualize

TIE = 1e-5


class Writer:
    """Arrays and files under one folder, named by case."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def npy(self, name: str, array: np.ndarray) -> str:
        path = self.root / f"{name}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.ascontiguousarray(array))
        return path.relative_to(self.root).as_posix()

    def file(self, name: str, data: bytes) -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path.relative_to(self.root).as_posix()


def meta_json(meta: preprocess.ImageMeta) -> dict:
    return {"original": list(meta.ori_shape), "resized": list(meta.img_shape), "padded": list(meta.pad_shape)}


def make_meta(original: tuple[int, int], policy: preprocess.ResizePolicy) -> preprocess.ImageMeta:
    resized = policy.size(*original)
    return preprocess.ImageMeta(original, resized, preprocess.padded_size(*resized))


def policy_json(policy: preprocess.ResizePolicy) -> dict:
    return {"scale": list(policy.scale), "long_side": policy.long_side or 0}


# ---- manifest ------------------------------------------------------------------------------


def tensor_dicts(tensors: tuple[contract.TensorSpec, ...], num_classes: int) -> list[dict]:
    """The artefact's inputs/outputs as rapsam-export writes them (K1 is fixed by then)."""
    return [
        {"name": t.name, "dtype": t.dtype, "shape": [num_classes + 1 if d == "K1" else d for d in t.shape]}
        for t in tensors
    ]


def write_manifest(directory: Path) -> dict:
    classes = [f"thing{i}" for i in range(5)] + [f"stuff{i}" for i in range(3)]
    artifacts = [
        Artifact(
            graph=spec.name,
            file=f"{spec.name}{'.fp16' if precision == 'fp16' else ''}.onnx",
            variant="standard",
            precision=precision,
            sha256=f"{index:064x}",
            bytes=1000 + index,
            opset=19,
            inputs=tensor_dicts(spec.inputs, len(classes)),
            outputs=tensor_dicts(spec.outputs, len(classes)),
        )
        for index, (precision, spec) in enumerate((p, s) for p in ("fp32", "fp16") for s in contract.GRAPHS)
    ]
    manifest = Manifest(
        model={
            "backbone": "r18",
            "label": "r18, random weights (seed 0), untrained",
            "num_classes": len(classes),
            "num_queries": 10,
            "channels": contract.CHANNELS,
        },
        image={
            "color": "RGB",
            "range": [0, 255],
            "mean": list(contract.IMAGE_MEAN),
            "std": list(contract.IMAGE_STD),
            "pad_value": list(contract.IMAGE_MEAN),
            "pad": "right and bottom, to a multiple of 32",
            "size_divisor": contract.SIZE_DIVISOR,
            "feature_stride": contract.FEATURE_STRIDE,
        },
        prompts={"default_kind": contract.PROMPT_KIND_DEFAULT, "point_box_half_size": contract.POINT_BOX_HALF_SIZE},
        vocabulary={"name": "test", "classes": classes, "num_things": 5},
        profiles={axis: {"min": 1, "opt": 1, "max": 2} for axis in "BNT"}
        | {axis: {"min": 128, "opt": 256, "max": 1344} for axis in "HW"},
        object_queries={"file": contract.OBJECT_QUERIES_FILE, "sha256": "0" * 64, "shape": [10, contract.CHANNELS]},
        artifacts=artifacts,
        validation={"ran": False},
        tools={"rapsam_deploy": "test"},
        created="2026-01-01T00:00:00+00:00",
    )
    directory.mkdir(parents=True, exist_ok=True)
    manifests.write_manifest(manifest, directory)
    read = manifests.read_manifest(directory)  # the Python runtime accepts it
    np.save(directory / contract.OBJECT_QUERIES_FILE, np.zeros((10, contract.CHANNELS), np.float32))
    return {
        "dir": directory.name,
        "num_classes": len(classes),
        "num_things": read.vocabulary["num_things"],
        "num_queries": read.model["num_queries"],
        "artifacts": len(read.artifacts),
        "fp16_decoder_file": read.artifact("decoder", "standard", "fp16").file,
    }


# ---- engine files --------------------------------------------------------------------------


SIDECAR = engine_file.EngineSidecar(
    tensorrt="10.13.0",
    gpu_name="NVIDIA H100",
    compute_capability="sm_90",
    precision="fp16",
    variant="plugin",
    graph="decoder",
    onnx_file="decoder.plugin.fp16.onnx",
    onnx_sha256="ab" * 32,
    plugin_sha256="cd" * 32,
    profile={"queries": {"min": [1, 1, 256], "opt": [1, 100, 256], "max": [2, 256, 256]}},
    rapsam_deploy="0.1.0",
    created="2026-01-01T00:00:00+00:00",
)


EXPECT = engine_file.EngineExpectation(
    tensorrt="10.13.0",
    gpu_name="NVIDIA H100",
    compute_capability="sm_90",
    precision="fp16",
    variant="plugin",
    graph="decoder",
    onnx_sha256="ab" * 32,
    plugin_sha256="cd" * 32,
    export_dir="exports/r18",
)


def _read(path: Path, expect: engine_file.EngineExpectation) -> dict:
    """What Python makes of the plan at ``path``: its error, or its size, its warning (a plan
    without a sidecar) and the error if TensorRT refused it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sidecar, plan = engine_file.read_engine(path, expect)
        except RapSamError as err:
            return {"error": str(err), "warning": None, "plan_bytes": None, "refused": None}
    unchecked = [str(w.message) for w in caught if issubclass(w.category, engine_file.UncheckedEngineWarning)]
    return {
        "error": None,
        "warning": unchecked[0] if unchecked else None,
        "plan_bytes": plan.nbytes,
        "refused": str(engine_file.refused_by_tensorrt(path, expect, sidecar, "TensorRT: refused")),
    }


def engine_cases(w: Writer) -> list[dict]:
    """Plans with and without sidecars, damaged ones, old-format files, and mismatches."""
    rng = np.random.default_rng(0)
    cases = []

    def case(
        name: str,
        plan: bytes | None,
        sidecar: bytes | None = None,
        expect: engine_file.EngineExpectation = EXPECT,
        old: bytes | None = None,
    ) -> None:
        """``engines/NAME.plan`` (if ``plan``), its sidecar (if ``sidecar``) and an old-format
        ``engines/NAME.engine`` (if ``old``)."""
        for suffix, data in ((".plan", plan), (".plan.json", sidecar), (".engine", old)):
            if data is not None:
                w.file(f"engines/{name}{suffix}", data)
        path = w.root / "engines" / f"{name}.plan"
        cases.append({"name": name, "file": f"engines/{name}.plan", "expect": asdict(expect)} | _read(path, expect))

    def written(plan: bytes) -> tuple[bytes, bytes]:
        """The plan and its sidecar as write_engine writes them."""
        path = w.root / "engines" / ".scratch.plan"
        engine_file.write_engine(path, SIDECAR, plan)
        data = path.read_bytes(), engine_file.sidecar_path(path).read_bytes()
        path.unlink()
        engine_file.sidecar_path(path).unlink()
        return data

    # Good plans, with sizes around SHA-256's 64-byte blocks and its 56-byte padding limit.
    for size in (0, 1, 55, 56, 63, 64, 65, 1000, 100_003):
        case(f"good_{size}", *written(rng.integers(0, 256, size, dtype=np.uint8).tobytes()))
    plan, sidecar = written(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    case("truncated", plan[:-10], sidecar)
    case("longer", plan + b"\0", sidecar)
    corrupt = bytearray(plan)
    corrupt[-1] ^= 0xFF
    case("corrupt", bytes(corrupt), sidecar)
    case("plan_without_sidecar", b"ftrt" + bytes(100))
    case("short_plan_without_sidecar", engine_file.OLD_MAGIC[:5])
    old = engine_file.OLD_MAGIC + struct.pack("<I", len(sidecar)) + sidecar + plan
    case("old_format", old)
    case("old_format_only", None, old=old)
    case("missing_file", None)

    fields = json.loads(sidecar)
    case("sidecar_corrupt", plan, sidecar[: len(sidecar) // 2])
    case("sidecar_not_an_object", plan, b"[1, 2]")
    case("sidecar_other_format", plan, json.dumps(fields | {"format": "something/else"}).encode())
    case("sidecar_version_2", plan, json.dumps(fields | {"version": 2}).encode())
    case("sidecar_without_version", plan, json.dumps({k: v for k, v in fields.items() if k != "version"}).encode())
    other_fields = {k: v for k, v in fields.items() if k != "created"} | {"extra": 1}
    case("sidecar_missing_and_unknown_fields", plan, json.dumps(other_fields).encode())

    case("other_tensorrt", plan, sidecar, replace(EXPECT, tensorrt="10.14.1"))
    case("other_gpu", plan, sidecar, replace(EXPECT, compute_capability="sm_89", gpu_name="NVIDIA L4"))
    case("other_graph", plan, sidecar, replace(EXPECT, graph="encoder", precision="fp32"))
    case("other_onnx", plan, sidecar, replace(EXPECT, onnx_sha256="ef" * 32))
    case("other_plugin", plan, sidecar, replace(EXPECT, plugin_sha256=None))
    everything = replace(EXPECT, tensorrt="11.1.0", compute_capability="sm_80", onnx_sha256="0" * 64)
    case("everything_else", plan, sidecar, everything)
    return cases


def engine_dir_cases(w: Writer) -> list[dict]:
    """Engine folders with every plan, with some missing, and with old-format engines instead."""
    graphs = ["encoder", "decoder", "adapter_object"]
    expects = [replace(EXPECT, graph=graph) for graph in graphs]
    cases = []
    for name, files in (
        ("complete", [f"{g}.plan" for g in graphs]),
        ("some_missing", ["decoder.plan"]),
        ("old_format", ["encoder.engine", "decoder.engine", "adapter_object.plan"]),
    ):
        for file in files:
            w.file(f"engine_dirs/{name}/{file}", b"ftrt")
        try:
            engine_file.check_engine_dir(w.root / "engine_dirs" / name, expects)
            error = None
        except RapSamError as err:
            error = str(err)
        cases.append({"dir": f"engine_dirs/{name}", "expects": [asdict(e) for e in expects], "error": error})
    return cases


# ---- pre-processing ------------------------------------------------------------------------


def smooth_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Gradients, edges and noise: what bilinear resizing rounds differently if done wrong."""
    ys, xs = np.mgrid[0:height, 0:width]
    base = np.stack([xs * 255 / max(width - 1, 1), ys * 255 / max(height - 1, 1), (xs + ys) % 37 * 7], axis=-1)
    noise = rng.integers(-40, 40, (height, width, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def preprocess_cases(w: Writer) -> dict:
    rng = np.random.default_rng(1)
    policies = {
        "fit_160x96": preprocess.ResizePolicy((160, 96)),
        "long_200": preprocess.ResizePolicy(long_side=200),
        "fit_128x96": preprocess.ResizePolicy((128, 96)),
        "long_15": preprocess.ResizePolicy(long_side=15),
    }
    images = [
        ("upscale", (37, 53), "fit_160x96"),
        ("downscale", (480, 640), "long_200"),
        ("unchanged", (96, 128), "fit_128x96"),
        ("half_up", (10, 7), "long_15"),
        ("portrait", (131, 47), "fit_160x96"),
    ]
    cases = []
    for name, (height, width), policy_name in images:
        image = smooth_image(rng, height, width)
        batch, (meta,) = preprocess.preprocess([image], policies[policy_name])
        cases.append(
            {
                "name": name,
                "image": w.npy(f"pre/{name}_image", image),
                "policy": policy_json(policies[policy_name]),
                "meta": meta_json(meta),
                "expected": w.npy(f"pre/{name}_input", batch[0].numpy()),
            }
        )
    # Resize arithmetic alone, at the sizes users have (no pixels needed).
    sizes = []
    for policy in (
        preprocess.ResizePolicy(preprocess.COCO_SCALE),
        preprocess.ResizePolicy(preprocess.YOUTUBE_VIS_SCALE),
        preprocess.ResizePolicy(long_side=1024),
    ):
        for height, width in ((480, 640), (640, 480), (427, 640), (1080, 1920), (333, 500), (1, 1), (799, 1333)):
            sizes.append(
                {"policy": policy_json(policy), "size": [height, width], "resized": list(policy.size(height, width))}
            )
    return {"images": cases, "sizes": sizes}


# ---- post-processing -----------------------------------------------------------------------


def upsample_cases(w: Writer) -> list[dict]:
    rng = np.random.default_rng(2)
    metas = {
        "resized_and_padded": make_meta((100, 150), preprocess.ResizePolicy(long_side=128)),
        "same_size": preprocess.ImageMeta((96, 128), (96, 128), (96, 128)),
        "crop_only": preprocess.ImageMeta((90, 120), (90, 120), (96, 128)),
        "downscale_to_original": preprocess.ImageMeta((70, 90), (100, 130), (128, 160)),
    }
    cases = []
    for name, meta in metas.items():
        logits = (rng.standard_normal((5, meta.pad_shape[0] // 4, meta.pad_shape[1] // 4)) * 8).astype(np.float32)
        out = postprocess.upsample_masks(torch.from_numpy(logits), meta).numpy()
        cases.append(
            {
                "name": name,
                "meta": meta_json(meta),
                "logits": w.npy(f"up/{name}_logits", logits),
                "expected": w.npy(f"up/{name}_expected", out),
            }
        )
    return cases


def blob_logits(rng: np.random.Generator, count: int, height: int, width: int, size: float = 0.5) -> np.ndarray:
    """Mask logits of round blobs (positive inside, radius up to `size` of the long side), some
    overlapping, with noise."""
    ys, xs = np.mgrid[0:height, 0:width]
    logits = np.empty((count, height, width), np.float32)
    for q in range(count):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        radius = rng.uniform(2, max(height, width) * size)
        distance = np.hypot(ys - cy, xs - cx)
        logits[q] = 2.0 * (radius - distance) + rng.standard_normal((height, width))
    return logits


def class_logits(rng: np.random.Generator, labels: list[int | None], num_classes: int, confident: float) -> np.ndarray:
    """Confident logits at `labels` (None: random, low scores); no-object is the last class."""
    logits = rng.standard_normal((len(labels), num_classes + 1)).astype(np.float32)
    for q, label in enumerate(labels):
        if label is not None:
            logits[q, label] += confident
    return logits


def ties(values: torch.Tensor) -> np.ndarray:
    """[K,H,W] -> pixels whose two largest values are within TIE (relative) of each other."""
    if values.shape[0] < 2:
        return np.zeros(values.shape[1:], bool)
    top = values.topk(2, dim=0).values
    return ((top[0] - top[1]).abs() <= TIE * top[0].abs().clamp(min=1e-30)).numpy()


def panoptic_cases(w: Writer) -> list[dict]:
    rng = np.random.default_rng(3)
    config = postprocess.PanopticConfig()
    specs = [
        # name, original size, policy, labels (8 classes: 5 things, 3 stuff; 8 = no-object), blob size
        (
            "small_vocabulary",
            (90, 120),
            preprocess.ResizePolicy(long_side=128),
            [0, 1, 5, 5, 6, 2, 8, None, None, 3, 7, None],
            8,
            5,
            0.5,
        ),
        (
            "coco_sized",
            (120, 100),
            preprocess.ResizePolicy(long_side=160),
            [int(x) for x in rng.integers(0, 133, 40)] + [133] * 10 + [None] * 50,
            133,
            80,
            0.2,
        ),
    ]
    cases = []
    for name, original, policy, labels, num_classes, num_things, size in specs:
        meta = make_meta(original, policy)
        classes = class_logits(rng, labels, num_classes, confident=9.0)
        masks = blob_logits(rng, len(labels), meta.pad_shape[0] // 4, meta.pad_shape[1] // 4, size)
        result, found = postprocess.segment(
            torch.from_numpy(classes), torch.from_numpy(masks), meta, num_things, config
        )
        # Pixels whose owner or 0.5-threshold is a near-tie.
        scores, kept_labels = torch.softmax(torch.from_numpy(classes), -1).max(-1)
        keep = kept_labels.ne(num_classes) & (scores > config.object_mask_thr)
        probs = postprocess.upsample_masks(torch.from_numpy(masks)[keep], meta).sigmoid()
        ambiguous = ties(scores[keep].view(-1, 1, 1) * probs) | ((probs - 0.5).abs() <= TIE).any(0).numpy()
        logits = postprocess.upsample_masks(torch.from_numpy(masks), meta)
        near_zero = (logits.abs() <= TIE).numpy()
        segments = [asdict(s) for s in result.segments]
        instances = [
            {
                "label": int(found.labels[i]),
                "query": int(found.queries[i]),
                "score": float(found.scores[i]),
                "box": [float(v) for v in found.boxes[i]],
            }
            for i in range(len(found))
        ]
        prediction = type("Prediction", (), {"panoptic": result, "instances": found, "meta": meta})
        names = tuple(f"class{i}" for i in range(num_classes))
        cases.append(
            {
                "name": name,
                "meta": meta_json(meta),
                "num_things": num_things,
                "names": list(names),
                "classes": w.npy(f"pan/{name}_classes", classes),
                "masks": w.npy(f"pan/{name}_masks", masks),
                "id_map": w.npy(f"pan/{name}_id_map", result.id_map),
                "ambiguous": w.npy(f"pan/{name}_ambiguous", ambiguous),
                "segments": segments,
                "instances": instances,
                "instance_masks": w.npy(f"pan/{name}_instance_masks", found.masks.astype(np.uint8)),
                "near_zero": w.npy(f"pan/{name}_near_zero", near_zero.astype(np.uint8)),
                "json": results.panoptic_json(prediction, names),
            }
        )
    return cases


# ---- prompts -------------------------------------------------------------------------------


def prompt_box_cases() -> list[dict]:
    meta = make_meta((300, 400), preprocess.ResizePolicy(long_side=224))
    small = make_meta((31, 47), preprocess.ResizePolicy(long_side=200))
    inputs = [
        ("points_and_boxes", meta, [[10, 20], [399.5, 299.0]], [[0, 0, 400, 300], [12.5, 30.25, 100.75, 200]]),
        ("points_only", small, [[0, 0], [46.9, 30.9], [13.3, 7.7]], []),
        ("boxes_clipped", meta, [], [[-20, -10, 100, 80], [350, 250, 450, 320]]),
        ("no_prompts", meta, [], []),
        ("point_outside", meta, [[400, 10], [-1, 5], [5, 5]], []),
        ("box_inverted", meta, [], [[10, 10, 5, 20]]),
        ("box_outside", meta, [], [[410, 10, 500, 20]]),
        ("not_finite", meta, [[float("nan"), 1]], []),
    ]
    cases = []
    for name, m, points, boxes in inputs:
        case = {"name": name, "meta": meta_json(m), "points": points, "boxes": boxes, "error": None, "warnings": []}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                # None, not [], for no points or boxes: the Python API takes [] as a malformed array.
                normalised = prompt.prompt_boxes(points or None, boxes or None, m)
                case["expected"] = normalised.astype(np.float32).tolist()
            except RapSamError as err:
                case["error"] = str(err)
        case["warnings"] = [str(c.message) for c in caught]
        case["points"] = [[str(v) for v in p] for p in points]  # JSON has no NaN: numbers as text
        cases.append(case)
    return cases


def prompt_mask_cases(w: Writer) -> list[dict]:
    rng = np.random.default_rng(4)
    meta = make_meta((100, 150), preprocess.ResizePolicy(long_side=128))
    masks = blob_logits(rng, 4, meta.pad_shape[0] // 4, meta.pad_shape[1] // 4)
    iou = np.array([0.3, 0.9, 0.1, 0.5], np.float32)
    order = torch.from_numpy(iou).argsort(descending=True)
    expected = postprocess.upsample_masks(torch.from_numpy(masks)[order], meta) > 0
    return [
        {
            "meta": meta_json(meta),
            "iou": iou.tolist(),
            "masks": w.npy("prompt/masks", masks),
            "order": order.tolist(),
            "expected": w.npy("prompt/expected", expected.numpy().astype(np.uint8)),
        }
    ]


# ---- the fused op's CPU reference ----------------------------------------------------------


def fused_op_cases(w: Writer) -> list[dict]:
    """KernelUpdator(mask_pool(...)) in PyTorch fp32, as tests/test_fused_op.py checks from Python."""
    shapes = [
        ("one_query", 1, 1, 20, 20, 256),
        ("odd_pixels", 1, 20, 13, 21, 256),
        ("batch_2", 2, 7, 16, 24, 256),
        ("96_channels", 2, 5, 16, 20, 96),
        ("empty_masks", 1, 4, 8, 8, 256),
    ]
    cases = []
    for index, (name, batch, queries, height, width, channels) in enumerate(shapes):
        torch.manual_seed(index)
        updator = KernelUpdator(channels).eval()
        with torch.no_grad():
            for module in updator.modules():
                if isinstance(module, torch.nn.LayerNorm):  # off 1/0, so that a swapped LayerNorm shows
                    module.weight.copy_(1.0 + 0.2 * torch.randn_like(module.weight))
                    module.bias.copy_(0.2 * torch.randn_like(module.bias))
        logits = torch.randn(batch, queries, height, width)
        if name == "empty_masks":
            logits = -logits.abs()
            logits[..., ::3] = 0.0  # exactly 0 is outside: the threshold is strict
        features = torch.randn(batch, channels, height, width)
        kernels = torch.randn(batch, queries, channels)
        with torch.no_grad():
            expected = updator(mask_pool(logits, features), kernels)
        state = updator.state_dict()
        weights = [w.npy(f"fused/{name}_{key}", state[key].numpy()) for key in contract.FUSED_OP_WEIGHTS]
        tensors = {"mask_logits": logits, "features": features, "kernels": kernels}
        cases.append(
            {
                "name": name,
                "shape": [batch, queries, channels, height, width],
                "eps": contract.FUSED_OP_EPS,
                **{k: w.npy(f"fused/{name}_{k}", v.numpy()) for k, v in tensors.items()},
                "weights": weights,
                "expected": w.npy(f"fused/{name}_expected", expected.numpy()),
            }
        )
    return cases


# ---- the demo's parts: images, RLE, overlays, colours --------------------------------------


def encode(suffix: str, image: np.ndarray, *params: int) -> bytes:
    """An image file's bytes, as OpenCV writes them."""
    return cv2.imencode(suffix, image, list(params))[1].tobytes()


def image_cases(w: Writer) -> list[dict]:
    rng = np.random.default_rng(5)
    rgb = smooth_image(rng, 33, 45)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    png, jpeg = encode(".png", bgr), encode(".jpg", bgr, cv2.IMWRITE_JPEG_QUALITY, 95)
    gray16 = (rng.integers(0, 65536, (20, 30))).astype(np.uint16)
    rgba = np.concatenate([bgr, np.full((33, 45, 1), 128, np.uint8)], axis=-1)
    files = {
        "rgb.png": png,
        "photo.jpg": jpeg,
        "gray16.png": encode(".png", gray16),
        "rgba.png": encode(".png", rgba),
        "cut.jpg": jpeg[: len(jpeg) // 2],
        "cut.png": png[: len(png) - 20],
        "empty.png": b"",
        "garbage.png": bytes(rng.integers(0, 256, 300, dtype=np.uint8)),
    }
    cases = []
    for name, data in files.items():
        path = w.root / "images" / name
        w.file(f"images/{name}", data)
        case = {"file": f"images/{name}", "error": None, "expected": None}
        try:
            case["expected"] = w.npy(f"images/{name}.expected", preprocess.load_image(path))
        except RapSamError as err:
            case["error"] = str(err)
        cases.append(case)
    return cases


def rle_cases(w: Writer) -> list[dict]:
    rng = np.random.default_rng(6)
    masks = {
        "empty": np.zeros((7, 9), bool),
        "full": np.ones((40, 50), bool),
        "one_pixel": np.pad(np.ones((1, 1), bool), ((3, 4), (5, 2))),
        "random": rng.random((37, 41)) > 0.5,
        "long_runs": np.pad(np.ones((300, 200), bool), ((100, 10), (30, 300))),
        "blob": blob_logits(rng, 1, 60, 80)[0] > 0,
    }
    return [{"mask": w.npy(f"rle/{name}", m.astype(np.uint8)), "rle": rle.mask_rle(m)} for name, m in masks.items()]


def overlay_cases(w: Writer) -> list[dict]:
    rng = np.random.default_rng(7)
    image = smooth_image(rng, 120, 160)
    masks = blob_logits(rng, 4, 120, 160) > 0
    masks[2] = False  # an empty mask is skipped
    labels, keys = ["person", "", "sky", "0.87"], [0, 5, 7, 121]
    # Without labels: OpenCV 5 (opencv-python) renders Hershey text with other metrics than 4.x.
    drawn = visualize.overlay(image, masks, [""] * len(labels), keys)
    id_map = rng.integers(0, 70000, (5, 6)).astype(np.int32)
    return [
        {
            "image": w.npy("overlay/image", image),
            "masks": w.npy("overlay/masks", masks.astype(np.uint8)),
            "labels": labels,
            "keys": keys,
            "expected": w.npy("overlay/expected", drawn),
            "colours": [list(visualize.colour(i)) for i in range(300)],
            "id_map": w.npy("overlay/id_map", id_map),
            "panoptic_png": w.npy("overlay/panoptic_png", postprocess.panoptic_png(id_map)),
        }
    ]


def write_reference(root: Path) -> Path:
    """Write every case under ``root``; returns the path of ``index.json``."""
    root.mkdir(parents=True, exist_ok=True)
    w = Writer(root)
    index = {
        "manifest": write_manifest(root / "export"),
        "engine_files": engine_cases(w),
        "engine_dirs": engine_dir_cases(w),
        "preprocess": preprocess_cases(w),
        "upsample": upsample_cases(w),
        "panoptic": panoptic_cases(w),
        "prompt_boxes": prompt_box_cases(),
        "prompt_masks": prompt_mask_cases(w),
        "fused_op": fused_op_cases(w),
        "images": image_cases(w),
        "rle": rle_cases(w),
        "overlay": overlay_cases(w),
    }
    path = root / "index.json"
    path.write_text(json.dumps(index, indent=1) + "\n")
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/cpp_reference.py OUTPUT_DIR")
    print(write_reference(Path(sys.argv[1])))
