"""Runtime: pre/post-processing, the torch and ONNX Runtime backends and the three predictors
on real photos and a synthetic clip, and bad input."""

from __future__ import annotations

import json
import shutil
import warnings

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from rapsam_deploy.artifacts.contract import IMAGE_MEAN
from rapsam_deploy.artifacts.export_dir import ExportDir
from rapsam_deploy.artifacts.manifest import read_manifest
from rapsam_deploy.backends.onnxruntime_backend import OnnxRuntimeBackend
from rapsam_deploy.backends.select import create_backend
from rapsam_deploy.cli import infer as infer_cli
from rapsam_deploy.cli.common import run as run_cli
from rapsam_deploy.errors import RapSamError
from rapsam_deploy.parity import mask_iou as iou
from rapsam_deploy.predict.panoptic import PanopticPredictor
from rapsam_deploy.predict.postprocess import PanopticConfig
from rapsam_deploy.predict.preprocess import ImageMeta, ResizePolicy, load_image, preprocess
from rapsam_deploy.predict.prompt import PromptPredictor
from rapsam_deploy.predict.runtime import load
from rapsam_deploy.predict.video import VideoPredictor, match_queries, read_video, video_split

SMALL = ResizePolicy(long_side=160)
PERMISSIVE = PanopticConfig(object_mask_thr=0.0, iou_thr=0.3)


def photo(name: str = "astronaut") -> np.ndarray:
    from skimage import data

    image = getattr(data, name)()
    return np.ascontiguousarray(np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image[..., :3])


def clip(frames: int = 7) -> list[np.ndarray]:
    """A camera panning over a photo: 120x160 crops moving 3 px right and 2 px down per frame."""
    image = photo()
    return [np.ascontiguousarray(image[60 + 2 * t : 180 + 2 * t, 80 + 3 * t : 240 + 3 * t]) for t in range(frames)]


@pytest.fixture(scope="module")
def runtimes(exported_r18):
    directory, _ = exported_r18
    return {name: load(directory, name) for name in ("torch", "onnxruntime")}


def by_pair(found) -> dict[tuple[int, int], np.ndarray]:
    """Instance masks by (query, class): the order by score can swap near-equal scores."""
    return {(int(q), int(c)): m for q, c, m in zip(found.queries, found.labels, found.masks, strict=True)}


def assert_same_instances(ours, theirs) -> None:
    a, b = by_pair(ours), by_pair(theirs)
    assert a.keys() == b.keys()
    assert all(iou(a[k], b[k]) >= 0.99 for k in a)


# ---- pre-processing -------------------------------------------------------------------------
def test_resize_follows_mmcv_and_pads_with_the_mean():
    assert ResizePolicy().size(480, 640) == (800, 1067)  # min(1333/640, 800/480), rounded half up
    assert ResizePolicy().size(1000, 3000) == (444, 1333)
    assert ResizePolicy(long_side=1024).size(480, 640) == (768, 1024)
    image = np.full((480, 640, 3), 7, dtype=np.uint8)
    batch, (meta,) = preprocess([image], ResizePolicy())
    assert batch.shape == (1, 3, 800, 1088) and meta == ImageMeta((480, 640), (800, 1067), (800, 1088))
    assert torch.equal(batch[0, :, 0, 1067], torch.tensor(IMAGE_MEAN, dtype=torch.float32))
    assert torch.all(batch[0, :, :, :1067] == 7)


def test_load_image_formats(tmp_path):
    rgb = photo("coffee")[:64, :96]
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    cv2.imwrite(str(tmp_path / "deep.png"), (gray.astype(np.uint16) * 257))
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])
    cv2.imwrite(str(tmp_path / "rgba.png"), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    for name in ("gray.png", "deep.png"):
        loaded = load_image(tmp_path / name)
        assert loaded.shape == (64, 96, 3) and loaded.dtype == np.uint8
        assert np.abs(loaded[..., 0].astype(int) - gray).max() <= 1
    np.testing.assert_array_equal(load_image(tmp_path / "rgba.png"), rgb)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(rgb).save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    assert load_image(tmp_path / "rotated.jpg").shape == (96, 64, 3)


def test_bad_images(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not an image")
    Image.fromarray(photo()).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    cases = {
        "missing.jpg": "does not exist",
        "empty.jpg": "is empty",
        "text.jpg": "cannot be decoded",
        "cut.jpg": "truncated",
    }
    for name, message in cases.items():
        with pytest.raises(RapSamError, match=message):
            load_image(tmp_path / name)


# ---- backends and predictors -----------------------------------------------------------------
@pytest.mark.parametrize("config", [PanopticConfig(), PERMISSIVE], ids=["official", "permissive"])
def test_torch_and_onnxruntime_give_the_same_panoptic_result(runtimes, config):
    # One image per call: in a batch, the smaller image's mean-colour padding is a constant
    # region whose hard-mask decision flips all at once on rounding noise.
    images = [photo(), photo("coffee")]
    results = {
        name: [PanopticPredictor(runtime, SMALL, config).predict(image)[0] for image in images]
        for name, runtime in runtimes.items()
    }
    for ours, theirs in zip(results["torch"], results["onnxruntime"], strict=True):
        a, b = ours.panoptic, theirs.panoptic
        assert len(a.segments) == len(b.segments)
        for sa, sb in zip(a.segments, b.segments, strict=True):
            assert sa.label == sb.label
            assert iou(a.id_map == sa.id, b.id_map == sb.id) >= 0.99
        assert_same_instances(ours.instances, theirs.instances)
        assert ours.panoptic.id_map.shape == ours.meta.ori_shape
    assert sum(len(r.panoptic.segments) for r in results["torch"]) > (2 if config is PERMISSIVE else 0)


def test_torch_and_onnxruntime_give_the_same_prompt_masks(runtimes):
    points, boxes = [[250, 150], [100, 400]], [[150, 50, 350, 300]]
    results = {}
    for name, runtime in runtimes.items():
        predictor = PromptPredictor(runtime, SMALL)
        predictor.set_image(photo())
        results[name] = predictor.predict(points, boxes)
        again = predictor.predict(points[:1])
        assert again.masks.shape == (1, 512, 512)
    ours, theirs = results["torch"], results["onnxruntime"]
    assert ours.masks.shape == (3, 512, 512) and sorted(ours.prompts) == [0, 1, 2]
    assert list(ours.prompts) == list(theirs.prompts)
    assert np.all(np.diff(ours.iou) <= 0), "best predicted IoU first"
    np.testing.assert_allclose(ours.iou, theirs.iou, atol=1e-4)
    assert all(iou(a, b) >= 0.99 for a, b in zip(ours.masks, theirs.masks, strict=True))


def test_bad_prompts(runtimes):
    predictor = PromptPredictor(runtimes["onnxruntime"], SMALL)
    with pytest.raises(RapSamError, match="no image set"):
        predictor.predict([[1, 1]])
    predictor.set_image(photo())
    with pytest.raises(RapSamError, match="no prompts"):
        predictor.predict()
    with pytest.raises(RapSamError, match="outside"):
        predictor.predict([[600, 10]])
    with pytest.raises(RapSamError, match="entirely outside"):
        predictor.predict(boxes=[[600, 600, 700, 700]])
    with pytest.raises(RapSamError, match="x2 > x1"):
        predictor.predict(boxes=[[50, 50, 40, 60]])
    with pytest.warns(UserWarning, match="clipped"):
        assert predictor.predict(boxes=[[-20, 10, 100, 600]]).masks.shape == (1, 512, 512)


def test_video_split_is_the_official_rule():
    assert video_split(7, 3) == [3, 5, 7]
    assert video_split(20, 5) == [5, 10, 15, 20]
    assert video_split(9, 5, overlap=1) == [5, 9]
    assert video_split(3, 3) == [3]
    with pytest.raises(RapSamError, match="overlap"):
        video_split(9, 3, overlap=3)


def test_identical_clips_match_to_the_identity():
    kernels = torch.randn(100, 256)
    assert list(match_queries(kernels, kernels)) == list(range(100))
    order = torch.randperm(100)
    assert list(match_queries(kernels, kernels[order])) == order.argsort().tolist()


def test_video_ids_are_stable_and_backends_agree(runtimes):
    frames = clip()
    results = {name: VideoPredictor(runtime, resize=SMALL).predict(frames) for name, runtime in runtimes.items()}
    for ours, theirs in zip(results["torch"], results["onnxruntime"], strict=True):
        assert ours.instances.masks.shape[1:] == (120, 160)
        assert sorted(ours.track_ids) == sorted(theirs.track_ids)
        assert_same_instances(ours.instances, theirs.instances)
    tracks = [set(frame.track_ids.tolist()) for frame in results["torch"]]
    assert tracks[0] and all(t == tracks[0] for t in tracks), "a track is a (query, class) pair of the video"


def test_clips_are_matched_and_stitched(runtimes):
    """Clips of 3 over frames (a, b, c, a, b, c): the second clip is the first again, so matching
    must map its queries to the same tracks and frame 3 must equal frame 0."""
    frames = clip(3) * 2
    result = VideoPredictor(runtimes["onnxruntime"], clip_size=3, resize=SMALL).predict(frames)
    first, repeat = by_pair(result[0].instances), by_pair(result[3].instances)
    assert first.keys() == repeat.keys() and first
    assert all(iou(first[k], repeat[k]) >= 0.99 for k in first)


def test_unreadable_video(tmp_path):
    (tmp_path / "fake.mp4").write_text("not a video")
    with pytest.raises(RapSamError, match="cannot be decoded as a video"):
        next(read_video(tmp_path / "fake.mp4"))


def test_missing_or_tampered_graph(exported_r18, tmp_path):
    directory = tmp_path / "copy"
    shutil.copytree(exported_r18[0], directory)
    manifest = read_manifest(directory)
    decoder = directory / manifest.artifact("decoder").file
    data = bytearray(decoder.read_bytes())
    data[-100] ^= 0xFF
    decoder.write_bytes(bytes(data))
    runtime = load(directory, "onnxruntime")
    with pytest.raises(RapSamError, match="sha256 differs"):
        PanopticPredictor(runtime, SMALL).predict(photo())
    (directory / manifest.artifact("encoder").file).unlink()
    with pytest.raises(RapSamError, match="missing"):
        PanopticPredictor(load(directory, "onnxruntime"), SMALL).predict(photo())


def test_tensorrt_without_tensorrt_names_what_to_install(exported_r18):
    pytest.importorskip("rapsam_deploy.backends.tensorrt_backend")
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        with pytest.raises(RapSamError, match=r"(?i)tensorrt"):
            create_backend("tensorrt", ExportDir.open(exported_r18[0]))
    else:
        pytest.skip("TensorRT is installed here")


def test_auto_picks_a_backend_and_says_which(exported_r18, caplog):
    with caplog.at_level("WARNING"):
        runtime = load(exported_r18[0], "auto")
    expected = "onnxruntime" if not torch.cuda.is_available() else runtime.backend.info.name
    assert runtime.backend.info.name == expected
    assert "backend:" in caplog.text


def test_cli_images_prompts_and_video(exported_r18, tmp_path):
    image = tmp_path / "astronaut.png"
    cv2.imwrite(str(image), photo()[..., ::-1])
    video = tmp_path / "pan.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for frame in clip(4):
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    common = ["--export-dir", str(exported_r18[0]), "--backend", "onnxruntime", "--resize", "long:160"]
    assert run_cli(infer_cli.main, [str(image), str(video), *common, "--output", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} >= {
        "astronaut.png",
        "astronaut.json",
        "astronaut_panoptic.png",
        "pan.json",
        "pan",
    }
    assert len(list((out / "pan").glob("frame_*.png"))) == 4
    argv = [str(image), *common, "--points", "250,150", "--boxes", "150,50,350,300", "--output", str(tmp_path / "p")]
    assert run_cli(infer_cli.main, argv) == 0
    import json

    masks = json.loads((tmp_path / "p" / "astronaut.json").read_text())["masks"]
    assert len(masks) == 2 and masks[0]["iou"] >= masks[1]["iou"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert run_cli(infer_cli.main, [str(tmp_path / "none.jpg"), *common]) == 1
        assert run_cli(infer_cli.main, [str(image), *common, "--points", "1,2,3"]) == 1


def test_onnxruntime_profile_records_every_node(exported_r18, tmp_path):
    directory, _ = exported_r18
    export = ExportDir.open(directory)
    backend = OnnxRuntimeBackend(export, threads=1, profile_dir=tmp_path)
    PanopticPredictor(load(export, backend), ResizePolicy(long_side=160)).predict(photo())
    traces = backend.end_profiling()
    assert set(traces) == {"encoder", "decoder", "adapter_object"}
    events = json.loads(traces["encoder"].read_text())
    assert any(e.get("cat") == "Node" and e["args"].get("op_name") == "Conv" for e in events)
    with pytest.raises(RapSamError, match="profile_dir"):
        OnnxRuntimeBackend(export).end_profiling()


def test_torch_fp16_follows_the_exported_graphs_policy(r18):
    """The torch backend's fp16 keeps the pooled sums in fp32, as the exported fp16 graphs do:
    at 512x512 (16,384 pixels per mask) autocast's fp16 sums overflow into NaN masks, which a
    lent H200 showed (benchmarks/results/gpu-check-nvidia-h200)."""
    from conftest import photo

    from rapsam_deploy.artifacts import contract
    from rapsam_deploy.backends.torch_backend import TorchBackend
    from rapsam_deploy.parity import mask_agreement

    image = photo(512, 512)
    fp32, fp16 = TorchBackend(r18, precision="fp32"), TorchBackend(r18, precision="fp16")
    (features,) = fp32.call(contract.ENCODER, image)
    queries = r18.object_queries[None]
    attn_mask = r18.object_attn_mask()
    _, masks32, _, _ = fp32.call(contract.DECODER, features, queries, attn_mask)
    _, masks16, _, _ = fp16.call(contract.DECODER, features, queries, attn_mask)
    assert masks16.dtype == torch.float32 and torch.isfinite(masks16).all()
    agreement = mask_agreement(masks16, masks32)
    assert agreement.sign >= 0.99 and agreement.iou_mean >= 0.98, agreement
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.float16):  # what the backend did before
        overflowed = r18.forward_decoder(features, queries, attn_mask)[1]
    assert not torch.isfinite(overflowed).all()


def test_torch_fp16_runs_every_graph_and_keeps_the_fp32_graphs(r18):
    """Every graph runs on the torch backend in fp16 (the lent H200 found the prompt path
    failing: fp32 boxes into fp16 weights), returns fp32, and the graphs an export keeps in fp32
    (``FP32_GRAPHS``) give the fp32 backend's results exactly, as the shared fp32 file does."""
    from rapsam_deploy.artifacts import contract
    from rapsam_deploy.backends.torch_backend import TorchBackend
    from rapsam_deploy.export.tracing import example_inputs
    from rapsam_deploy.model.precision import FP32_GRAPHS

    fp32, fp16 = TorchBackend(r18, precision="fp32"), TorchBackend(r18, precision="fp16")
    for spec in contract.GRAPHS:
        inputs = example_inputs(spec, (64, 96), num_queries=5)
        ours, ref = fp16.call(spec, *inputs), fp32.call(spec, *inputs)
        for name, a, b in zip(spec.output_names, ours, ref, strict=True):
            assert a.dtype == torch.float32 and a.shape == b.shape and torch.isfinite(a).all(), (spec.name, name)
            if spec.name in FP32_GRAPHS:
                assert torch.equal(a, b), (spec.name, name)
            else:
                assert (a - b).abs().max() <= 0.05 * b.abs().max() + 1e-3, (spec.name, name)
