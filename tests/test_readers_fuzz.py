"""Property-based tests (hypothesis) of the Python readers of files users get from anywhere:
manifest.json, engine sidecars (<graph>.plan.json) and the datasets' annotation JSON (COCO
panoptic, COCO instances, YouTube-VIS). Whatever the bytes (random, a valid file with bytes
changed, or a valid document with fields deleted, added or replaced by JSON values of any type),
a reader gives a valid object or a RapSamError, never another exception. The C++ library's
parsers get the same from libFuzzer (cpp/fuzz, tests/test_fuzz.py)."""

from __future__ import annotations

import contextlib
import copy
import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from cpp_reference import EXPECT, SIDECAR, write_manifest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rapsam_deploy.artifacts.manifest import Artifact, Manifest, parse_manifest
from rapsam_deploy.engines import engine_file
from rapsam_deploy.errors import RapSamError
from rapsam_deploy.eval.coco_instances import CocoInstances
from rapsam_deploy.eval.coco_panoptic import CocoPanoptic
from rapsam_deploy.eval.masks import encode, to_rle
from rapsam_deploy.eval.youtube_vis import YouTubeVIS
from rapsam_deploy.predict.postprocess import panoptic_png

# pycocotools 2.0 against numpy 2 (decode), on every mask: not this test's concern.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# What json.loads refuses with other errors than JSONDecodeError, which every reader let through:
# RecursionError, and ValueError for an integer of more than 4300 digits.
DEEP = b"[" * 100_000
LONG_NUMBER = b'{"version": ' + b"9" * 5000 + b"}"
PLAN = b"ftrt"
SIZE = (8, 12)  # the test images' height and width

# Any JSON value, numbers at their edges included (NaN and infinities are what Python's json writes).
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=8,
)


@st.composite
def mutated_json(draw: st.DrawFn, document: dict) -> bytes:
    """``document`` with one to three fields somewhere inside it deleted, replaced by any JSON
    value, or joined by an unknown one."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        node = document
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = draw(st.sampled_from(keys))
            if isinstance(node[key], (dict, list)) and node[key] and draw(st.booleans()):
                node = node[key]
                continue
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                node[key] = draw(JSON_VALUES)
            elif action == "delete":
                del node[key]
            elif isinstance(node, dict):
                node[draw(st.text(max_size=8))] = draw(JSON_VALUES)
            break
    return json.dumps(document).encode()


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few bytes overwritten, inserted or cut, as libFuzzer mutates."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        patch = draw(st.binary(min_size=1, max_size=8))
        action = draw(st.sampled_from(["overwrite", "insert", "cut"]))
        if action == "overwrite":
            data[at : at + len(patch)] = patch
        elif action == "insert":
            data[at:at] = patch
        else:
            del data[at : at + len(patch)]
    return bytes(data)


def any_input(valid: bytes, document: dict) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=200) | mutated_bytes(valid) | mutated_json(document)


# ---- manifest.json -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifest_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    directory = tmp_path_factory.mktemp("export")
    write_manifest(directory)
    return (directory / "manifest.json").read_bytes()


def check_manifest(manifest: Manifest) -> None:
    """A Manifest whose fields have their annotated types."""
    for name in ("model", "image", "prompts", "vocabulary", "profiles", "object_queries", "validation", "tools"):
        assert isinstance(getattr(manifest, name), dict), name
    assert isinstance(manifest.created, str) and isinstance(manifest.version, int)
    for artifact in manifest.artifacts:
        assert isinstance(artifact, Artifact)
        assert all(isinstance(getattr(artifact, n), str) for n in ("graph", "file", "variant", "precision", "sha256"))
        assert isinstance(artifact.bytes, int) and not isinstance(artifact.bytes, bool)
        assert all(isinstance(t, dict) for t in artifact.inputs + artifact.outputs)
        assert all(isinstance(op, str) for op in artifact.custom_ops)


def test_manifest_reader_accepts_or_refuses_any_bytes(manifest_bytes: bytes) -> None:
    check_manifest(parse_manifest(manifest_bytes, "manifest.json"))

    @EXAMPLES
    @given(any_input(manifest_bytes, json.loads(manifest_bytes)))
    @example(DEEP)
    @example(LONG_NUMBER)
    def property(data: bytes) -> None:
        try:
            manifest = parse_manifest(data, "manifest.json")
        except RapSamError:
            return
        check_manifest(manifest)

    property()


# ---- engine sidecars -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("engines") / "decoder.plan"
    engine_file.write_engine(path, SIDECAR, PLAN)
    return path


NOT_TEXT = {"plugin_sha256", "profile", "plan_bytes", "version"}


def check_sidecar(sidecar: engine_file.EngineSidecar) -> None:
    """A sidecar whose fields have the types the C++ reader checks (and mismatches() relies on)."""
    assert all(isinstance(v, str) for k, v in vars(sidecar).items() if k not in NOT_TEXT)
    assert sidecar.plugin_sha256 is None or isinstance(sidecar.plugin_sha256, str)
    assert isinstance(sidecar.plan_bytes, int) and not isinstance(sidecar.plan_bytes, bool)
    for points in sidecar.profile.values():
        for shape in (points["min"], points["opt"], points["max"]):
            assert all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
    engine_file.mismatches(sidecar, EXPECT)


def test_engine_sidecar_reader_accepts_or_refuses_any_bytes(plan: Path) -> None:
    valid = engine_file.sidecar_path(plan).read_bytes()
    check_sidecar(engine_file.read_sidecar(plan))

    @EXAMPLES
    @given(any_input(valid, json.loads(valid)))
    @example(DEEP)
    @example(LONG_NUMBER)
    def property(data: bytes) -> None:
        engine_file.sidecar_path(plan).write_bytes(data)
        try:
            sidecar = engine_file.read_sidecar(plan)
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a plan with a sidecar is never loaded unchecked
                engine_file.read_engine(plan, EXPECT)
        except RapSamError:
            return
        check_sidecar(sidecar)

    property()


# ---- datasets' annotation JSON --------------------------------------------------------------


def two_segments() -> np.ndarray:
    """Segment ids [H,W]: 1000 on the left half, 2000 on the right."""
    ids = np.full(SIZE, 1000, np.int64)
    ids[:, SIZE[1] // 2 :] = 2000
    return ids


def rle(mask: np.ndarray) -> dict:
    compressed = encode(mask[None])[0]
    return {"size": compressed["size"], "counts": compressed["counts"].decode()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One image with its panoptic PNG, and one two-frame video, in a folder."""
    root = tmp_path_factory.mktemp("dataset")
    image = np.zeros((*SIZE, 3), np.uint8)
    for name in ("a.jpg", "video/0.jpg", "video/1.jpg"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / name), image)
    cv2.imwrite(str(root / "a.png"), panoptic_png(two_segments())[..., ::-1])
    return root


CATEGORIES = [{"id": 1, "name": "person", "isthing": 1}, {"id": 2, "name": "sky", "isthing": 0}]
IMAGES = [{"id": 1, "file_name": "a.jpg", "height": SIZE[0], "width": SIZE[1]}]
PANOPTIC = {
    "images": IMAGES,
    "annotations": [
        {
            "image_id": 1,
            "file_name": "a.png",
            "segments_info": [{"id": 1000, "category_id": 1, "iscrowd": 0}, {"id": 2000, "category_id": 2}],
        }
    ],
    "categories": CATEGORIES,
}
INSTANCES = {
    "images": IMAGES,
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "segmentation": rle(two_segments() == 1000)},
        {"id": 2, "image_id": 1, "category_id": 2, "segmentation": [[1.0, 1.0, 6.0, 1.5, 3.0, 7.0]]},
        {"id": 3, "image_id": 1, "category_id": 1, "segmentation": {"size": list(SIZE), "counts": [10, 86]}},
    ],
    "categories": CATEGORIES,
}
YOUTUBE_VIS = {
    "videos": [{"id": 1, "file_names": ["video/0.jpg", "video/1.jpg"], "height": SIZE[0], "width": SIZE[1]}],
    "annotations": [
        {
            "id": 1,
            "video_id": 1,
            "category_id": 1,
            "iscrowd": 0,
            "segmentations": [rle(two_segments() == 2000), None],
            "areas": [48, None],
        },
        {
            "id": 2,
            "video_id": 1,
            "category_id": 2,
            "segmentations": [[[0, 0, 5, 0, 5, 5]], {"size": [8, 12], "counts": [96]}],
        },
    ],
    "categories": CATEGORIES,
}


def read_panoptic(path: Path, root: Path) -> None:
    dataset = CocoPanoptic(path, images=root, masks=root)
    for sample in dataset.samples:
        truth = dataset.truth(sample)
        assert truth.id_map.shape == sample.size and all(isinstance(c, int) for c in truth.categories.values())
        dataset.objects(sample)


def read_instances(path: Path, root: Path) -> None:
    dataset = CocoInstances(path, images=root)
    for sample in dataset.samples:
        objects = dataset.objects(sample)
        assert objects.masks.shape[1:] == sample.size and objects.masks.dtype == bool


def read_youtube_vis(path: Path, root: Path) -> None:
    dataset = YouTubeVIS(path, images=root)
    for video in dataset.samples:
        for track in video.tracks:
            assert isinstance(track.avg_area, float)
            assert all(r is None or r["size"] == list(video.size) for r in track.rles)


@pytest.mark.parametrize(
    ("read", "document"),
    [(read_panoptic, PANOPTIC), (read_instances, INSTANCES), (read_youtube_vis, YOUTUBE_VIS)],
    ids=["coco_panoptic", "coco_instances", "youtube_vis"],
)
def test_dataset_readers_accept_or_refuse_any_bytes(read, document: dict, dataset: Path) -> None:
    path = dataset / "annotations.json"
    valid = json.dumps(document).encode()
    path.write_bytes(valid)
    read(path, dataset)

    @EXAMPLES
    @given(any_input(valid, document))
    @example(DEEP)
    @example(LONG_NUMBER)
    def property(data: bytes) -> None:
        path.write_bytes(data)
        with contextlib.suppress(RapSamError):
            read(path, dataset)

    property()


@pytest.mark.parametrize(
    "segmentation",
    [
        {"size": list(SIZE), "counts": "P"},  # a run continued past the text's end: rleFrString reads on
        {"size": list(SIZE), "counts": [200]},  # runs past the mask: rleDecode writes past its buffer
        {"size": [SIZE[1], SIZE[0]], "counts": [96]},  # another image's size
        [[0, 0, 1e12, 0, 5, 5]],  # rleFrPoly's int overflows, its buffers grow without bound
        [[1, 2, 3, 4]],  # four numbers are a box to frPyObjects, not a polygon
        [],
    ],
)
def test_segmentations_pycocotools_would_misread_are_refused(segmentation: object) -> None:
    with pytest.raises(RapSamError, match="the segmentation of annotation 7"):
        to_rle(segmentation, *SIZE, "the segmentation of annotation 7")
