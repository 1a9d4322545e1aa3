"""rapsam-demo: the page's actions through its Python API, the page through gradio's client on
loopback, and the page end to end in headless Chromium (Debian's chromium and chromedriver,
driven by Selenium): pick or upload a photo, click, see the mask; bad input gives a message in
the page and the server goes on serving."""

from __future__ import annotations

import contextlib
import io
import json
import socket
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import skip_unless_required, taken_port

from rapsam_deploy.errors import RapSamError

pytest.importorskip("gradio", reason="the demo extra is not installed (pip install 'rapsam-deploy[demo]')")

from rapsam_deploy.demo.handlers import BOX, POINT, DemoHandlers, renumber_tracks
from rapsam_deploy.demo.inputs import read_clip, sample_photo
from rapsam_deploy.demo.models import LocalModel, ServedModel
from rapsam_deploy.predict.postprocess import PanopticConfig
from rapsam_deploy.predict.preprocess import ResizePolicy
from rapsam_deploy.predict.prompt import PromptPredictor

# gradio 6.31's queue uses pandas 3 options and arguments that pandas deprecated: theirs, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")
SIDE = 160  # sample photos and the encoder input: small, so that every test is fast


@pytest.fixture(scope="module")
def model(exported_r18) -> LocalModel:
    from rapsam_deploy.predict.runtime import load

    return LocalModel(load(exported_r18[0], "onnxruntime", threads=2), ResizePolicy(long_side=SIDE))


@pytest.fixture(scope="module")
def handlers(model, tmp_path_factory) -> DemoHandlers:
    return DemoHandlers(model, tmp_path_factory.mktemp("downloads"), max_pixels=400 * 400, sample_side=SIDE)


def _png(path: Path, rgb: np.ndarray) -> Path:
    cv2.imwrite(str(path), rgb[..., ::-1])
    return path


def _alone(model: LocalModel, rgb: np.ndarray, points=None, boxes=None) -> np.ndarray:
    """The mask of one prompt, from the predictor without the page."""
    predictor = PromptPredictor(model.runtime, model.resize)
    predictor.set_image(rgb)
    return predictor.predict(points, boxes).masks[0]


def test_prompts_click_undo_clear(handlers, model):
    """Points and boxes in any order: each mask is the one the predictor gives that prompt alone
    (prompts do not see each other), drawn over the photo; undo and clear drop prompts."""
    session, view = handlers.open_photo(handlers.sample("astronaut"))
    rgb = session.photo.rgb
    assert max(rgb.shape[:2]) == SIDE and view.masks is None and "encoded once" in view.info
    session, view = handlers.click(session, 80, 40, POINT)
    assert view.masks.shape == (1, *rgb.shape[:2]) and "predicted IoU" in view.info and " ms" in view.info
    np.testing.assert_array_equal(view.masks[0], _alone(model, rgb, points=[[80, 40]]))
    assert (view.image != rgb).any(-1)[view.masks[0]].mean() > 0.9  # the mask is drawn where it is
    session, view = handlers.click(session, 20, 30, BOX)
    assert len(session.prompts) == 1 and session.corner == (20, 30) and "first corner" in view.info
    session, view = handlers.click(session, 120, 100, BOX)
    session, view = handlers.click(session, 50, 120, POINT)
    assert [p.kind for p in session.prompts] == [POINT, BOX, POINT] and len(view.masks) == 3
    np.testing.assert_array_equal(view.masks[1], _alone(model, rgb, boxes=[[20, 30, 120, 100]]))
    np.testing.assert_array_equal(view.masks[2], _alone(model, rgb, points=[[50, 120]]))
    assert "3 prompts → 3 masks" in view.info
    session, view = handlers.undo(session)
    assert len(session.prompts) == 2 and len(view.masks) == 2
    session, view = handlers.clear(session)
    assert session.prompts == [] and view.masks is None and session.encoded is not None


def test_bad_input_is_refused_with_what_to_do(handlers, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(RapSamError, match=r"notes.png: .*cannot be decoded"):
        handlers.upload(text)
    with pytest.raises(RapSamError, match=r"big.png is 500x410 .* up to 0.2 MP") as refused:
        handlers.upload(_png(tmp_path / "big.png", np.zeros((410, 500, 3), np.uint8)))
    assert "--max-pixels" in refused.value.fix
    with pytest.raises(RapSamError, match="no photo to prompt"):
        handlers.click(None, 1, 1)
    session, _ = handlers.open_photo(handlers.upload(_png(tmp_path / "ok.png", sample_photo("coffee", 100).rgb)))
    width = session.photo.rgb.shape[1]
    with pytest.raises(RapSamError, match="outside"):
        handlers.click(session, width + 5, 10)
    with pytest.raises(RapSamError, match="outside"):
        handlers.click(session, 10, -1, BOX)
    assert session.prompts == [] and session.corner is None  # a refused click changes nothing
    broken = tmp_path / "clip.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 and then nothing a decoder wants")
    with pytest.raises(RapSamError, match=r"clip\.mp4 cannot be decoded as a video"):
        handlers.upload_clip(broken)
    with pytest.raises(RapSamError, match="no file"):
        handlers.upload(None)


def test_a_decompression_bomb_is_refused_from_its_header(handlers, tmp_path):
    """A 20000x20000 PNG of one colour is under 1 MB but 1.2 GB decoded: refused unread."""
    from PIL import Image

    path = tmp_path / "bomb.png"
    Image.frombytes("1", (20000, 20000), bytes(20000 * 20000 // 8)).save(path)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(RapSamError, match=r"bomb\.png is too large to segment \(Image size \(400000000 pixels\)"):
        handlers.upload(path)


def test_panoptic_tab_gives_the_files_rapsam_infer_writes(handlers):
    view = handlers.panoptic(handlers.sample("coffee"), PanopticConfig(iou_thr=0.2))
    png, result_json, overlay_png = (Path(f) for f in view.files)
    result = json.loads(result_json.read_text())
    assert result["image"] == "coffee" and len(result["segments_info"]) == len(view.rows) > 0
    id_map = cv2.imread(str(png))[..., ::-1].astype(np.int64) @ np.array([1, 256, 65536])
    assert sorted(np.unique(id_map[id_map > 0]).tolist()) == sorted(row[0] for row in view.rows)
    np.testing.assert_array_equal(cv2.imread(str(overlay_png))[..., ::-1], view.image)
    assert all(row[1] in view.legend for row in view.rows) and "segment" in view.info


def test_video_tab_tracks_with_stable_numbers(handlers):
    frames = handlers.sample_frames()
    view = handlers.video(frames, score_thr=0.5)
    assert len(view.frames) == len(frames) and view.frames[0].shape == frames[0].shape
    tracks = [row[0] for row in view.rows]
    assert tracks == list(range(1, len(tracks) + 1)) and f"{len(tracks)} track" in view.info
    assert sum(row[2] for row in view.rows) > 0


def test_renumbered_tracks_keep_their_identity():
    from rapsam_deploy.predict.video import FramePrediction

    def frame(tracks):
        return FramePrediction(None, np.array(tracks, np.int64), None)

    renumbered = renumber_tracks([frame([7000, 12]), frame([12, 99]), frame([99, 7000])])
    assert [f.track_ids.tolist() for f in renumbered] == [[1, 2], [2, 3], [3, 1]]


def test_a_long_clip_is_cut(tmp_path):
    path = str(tmp_path / "long.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(7):
        writer.write(np.full((48, 64, 3), i * 30, np.uint8))
    writer.release()
    frames, cut = read_clip(path, max_frames=5)
    assert len(frames) == 5 and cut and frames[0].shape == (48, 64, 3)
    assert read_clip(path, max_frames=7)[1] is False


class _FakeClient:
    """What ServedModel needs of TritonClient; records the calls."""

    label, url = "rapsam_panoptic at fake:8001", "fake:8001"

    def __init__(self, shape: tuple[int, int]) -> None:
        self.calls, self.shape = [], shape

    def click(self, points, boxes, image=None, image_id=None):
        from rapsam_deploy.predict.prompt import PromptPrediction

        self.calls.append((points.tolist(), boxes.tolist(), image, image_id))
        return PromptPrediction(np.ones((1, *self.shape), bool), np.array([0.5], np.float32), np.array([0]))


def test_served_model_sends_the_photo_and_its_id(tmp_path):
    photo = sample_photo("rocket", 5)
    client = _FakeClient(photo.rgb.shape[:2])
    served = DemoHandlers(ServedModel(client), tmp_path)
    session, _ = served.open_photo(photo)
    session, view = served.click(session, 2, 1)
    ((points, boxes, image, image_id),) = client.calls
    assert points == [[2, 1]] and boxes == [] and image == photo.data and len(image_id) == 64
    assert "the server encodes it once, at the first click" in view.info
    assert view.masks.all() and "Triton server at fake:8001" in served.model.line.markdown()
    with pytest.raises(RapSamError, match="segments images, not videos"):
        served.video([photo.rgb])


def test_the_model_line_says_untrained(model):
    line = model.line.markdown()
    assert "r18, random weights" in line and "untrained" in line
    assert "onnxruntime on cpu · **precision:** fp32 (standard graphs)" in line
    # The terminal gets the same line without Markdown.
    assert (
        model.line.text()
        == f"model: {model.runtime.label}; runs on: onnxruntime on cpu; precision: fp32 (standard graphs)"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_cli_refuses_a_port_in_use(tmp_path):
    """Before anything loads (the export named does not even exist): one message, exit status 1."""
    from rapsam_deploy.cli import demo as demo_cli
    from rapsam_deploy.cli.common import run

    with taken_port() as port:
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            code = run(demo_cli.main, ["--export-dir", str(tmp_path / "none"), "--port", str(port)])
    assert code == 1 and f"port {port} on 127.0.0.1 is in use" in stderr.getvalue()
    assert "Traceback" not in stderr.getvalue()


@pytest.fixture(scope="module")
def page_url(handlers, model):
    """The page served on loopback for this module's tests."""
    from rapsam_deploy.demo import app

    page = app.build(handlers, model.line)
    url = app.launch(page, port=_free_port(), block=False)
    yield url
    page.close()


def test_gradio_client_on_loopback(page_url, tmp_path):
    """The page's API as gradio's client calls it; a refused upload is an error with our message,
    and the server answers the next request."""
    from gradio_client import Client, handle_file

    client = Client(page_url, verbose=False)
    image, info = client.predict("chelsea", api_name="/prompt_sample")
    assert Path(image).is_file() and "encoded once" in info
    overlay, _, _, files, info = client.predict("coffee", 0.8, 0.2, api_name="/panoptic_sample")
    assert cv2.imread(overlay).shape[:2] == sample_photo("coffee", SIDE).rgb.shape[:2] and len(files) == 3
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    with pytest.raises(Exception, match="cannot be decoded"):
        client.predict(handle_file(str(bad)), 0.8, 0.8, api_name="/panoptic_upload")
    gallery, _, _, info = client.predict(0.5, api_name="/video_sample")
    assert len(gallery) == 6 and "frames" in info


@pytest.fixture(scope="module")
def browser():
    from rapsam_deploy.demo.browser import Browser, find_chromium

    try:
        find_chromium()
    except RapSamError as err:
        skip_unless_required("RAPSAM_REQUIRE_BROWSER", f"no headless browser here: {err.what}")
    with Browser(width=1100, height=900) as opened:
        yield opened


def test_browser_click_shows_the_mask(browser, page_url, model, tmp_path):
    """Upload a photo, click a point, wait for the mask: the overlay the page shows differs from
    the photo where the predictor's mask for that point is. A file that is not an image gives a
    message in the page, and the page goes on working."""
    rgb = sample_photo("astronaut", SIDE).rgb
    browser.open(page_url)
    assert "random weights" in browser.wait_for_text("model-line", "untrained")
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    browser.upload("prompt-upload", bad)
    browser.wait_for_message("notes.png: image bytes cannot be decoded")
    browser.upload("prompt-upload", _png(tmp_path / "astronaut.png", rgb))
    browser.wait_for_text("prompt-info", "astronaut.png")
    shown, url = browser.image("prompt-image")
    np.testing.assert_array_equal(shown, rgb)
    browser.click_image("prompt-image", 100, 50)
    info = browser.wait_for_text("prompt-info", "predicted IoU")
    assert "1 prompt → 1 mask" in info and "point (100, 50)" in info
    drawn, _ = browser.image("prompt-image", url)
    mask = _alone(model, rgb, points=[[100, 50]])
    assert mask.any() and not mask.all()
    changed = (drawn != rgb).any(-1)
    assert changed[mask].mean() > 0.9
    away = ~cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    assert changed[away].mean() < 0.05  # outside the mask only the point's marker and the IoU label
