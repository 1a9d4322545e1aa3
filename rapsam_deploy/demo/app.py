"""The page (gradio): a model line saying what runs, then three tabs, prompts, panoptic and
video, wired to :class:`DemoHandlers`. A refused input becomes a message in the page
(``gr.Error``; a cut clip a ``gr.Warning``) and the server goes on serving.

Nothing is fetched from the internet: gradio's analytics are off, its fonts ship with it, and
share links are never made. The server listens on loopback unless told otherwise.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

# Before gradio is imported: it reads this once, and would otherwise report usage online.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr

from ..errors import RapSamError
from ..predict.postprocess import PanopticConfig
from .address import DEFAULT_HOST, DEFAULT_PORT, check_port
from .handlers import CLICK_MODES, POINT, SEGMENT_COLUMNS, TRACK_COLUMNS, DemoHandlers
from .inputs import SAMPLE_PHOTOS
from .models import ModelLine

# The upload limit gradio enforces before our checks: an image at --max-pixels is far smaller.
MAX_UPLOAD = "100mb"
CSS = """
.rapsam-legend { display: flex; flex-wrap: wrap; gap: 4px 14px; }
.rapsam-legend-item { display: inline-flex; align-items: center; gap: 5px; }
.rapsam-swatch { width: 14px; height: 14px; border-radius: 3px; border: 1px solid #0004; display: inline-block; }
"""


def shown(fn: Callable) -> Callable:
    """``fn`` with its refusals (:class:`RapSamError`) shown in the page as one message, what is
    wrong and what to do, instead of gradio's bare "Error"."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RapSamError as err:
            message = err.what if err.fix is None else f"{err.what}. Fix: {err.fix}"
            raise gr.Error(message, title="Cannot do that", print_exception=False) from err

    return wrapper


def build(handlers: DemoHandlers, line: ModelLine) -> gr.Blocks:
    """The page over ``handlers``; ``line`` says what runs. Components have ``elem_id``s
    (``prompt-image``, ``panoptic-upload``, ...) that the browser tests and screenshots find."""
    with gr.Blocks(title="RAP-SAM demo", analytics_enabled=False, delete_cache=(1800, 3600)) as page:
        gr.Markdown("# RAP-SAM: segment anything, in real time\n" + line.markdown(), elem_id="model-line")
        with gr.Tabs():
            with gr.Tab("Prompts", id="prompt"):
                _prompt_tab(handlers)
            with gr.Tab("Panoptic", id="panoptic"):
                _panoptic_tab(handlers)
            with gr.Tab("Video", id="video"):
                _video_tab(handlers)
    return page


def _prompt_tab(handlers: DemoHandlers) -> None:
    session = gr.State(None)
    with gr.Row():
        with gr.Column(scale=1, min_width=240):
            sample = gr.Dropdown(list(SAMPLE_PHOTOS), value=None, label="Sample photo", elem_id="prompt-sample")
            upload = gr.File(label="…or upload a photo", type="filepath", elem_id="prompt-upload")
            mode = gr.Radio([(text, key) for key, text in CLICK_MODES.items()], value=POINT, label="A click adds a",
                            elem_id="prompt-mode")  # fmt: skip
            with gr.Row():
                undo = gr.Button("Undo", elem_id="prompt-undo")
                clear = gr.Button("Clear", elem_id="prompt-clear")
        with gr.Column(scale=3):
            image = gr.Image(label="Click on the photo", interactive=False, format="png", elem_id="prompt-image",
                             buttons=["download", "fullscreen"])  # fmt: skip
            info = gr.Markdown("Pick a sample photo or upload one, then click on it.", elem_id="prompt-info")
    shown_view = [session, image, info]

    @shown
    def open_sample(name: str | None):
        if not name:
            return gr.skip(), gr.skip(), gr.skip()
        return _prompt_outputs(*handlers.open_photo(handlers.sample(name)))

    @shown
    def open_upload(path: str | None):
        return _prompt_outputs(*handlers.open_photo(handlers.upload(path)))

    @shown
    def click(state, click_mode: str, evt: gr.SelectData):
        x, y = evt.index
        return _prompt_outputs(*handlers.click(state, x, y, click_mode))

    sample.input(open_sample, sample, shown_view, api_name="prompt_sample")
    _then_empty(upload.upload(open_upload, upload, shown_view, api_name="prompt_upload"), upload)
    image.select(click, [session, mode], shown_view, api_name="prompt_click")
    undo.click(shown(lambda state: _prompt_outputs(*handlers.undo(state))), session, shown_view, api_name="undo")
    clear.click(shown(lambda state: _prompt_outputs(*handlers.clear(state))), session, shown_view, api_name="clear")


def _then_empty(event, upload: gr.File) -> None:
    """After an upload is handled, refused or not, empty the file box so that the next file can
    be dropped in (the page names the photo or clip it shows). Not ``then``: gradio 6 runs
    those after successes only."""
    for after in (event.success, event.failure):
        after(lambda: None, None, upload, api_visibility="private")


def _prompt_outputs(session, view) -> tuple:
    return session, view.image, view.info


def _panoptic_tab(handlers: DemoHandlers) -> None:
    with gr.Row():
        with gr.Column(scale=1, min_width=240):
            sample = gr.Dropdown(list(SAMPLE_PHOTOS), value=None, label="Sample photo", elem_id="panoptic-sample")
            upload = gr.File(label="…or upload a photo", type="filepath", elem_id="panoptic-upload")
            with gr.Accordion("Merge thresholds", open=False, visible=handlers.model.tunable,
                              elem_id="panoptic-thresholds"):  # fmt: skip
                official = PanopticConfig()
                gr.Markdown(f"The official test config keeps a segment scoring above {official.object_mask_thr} "
                            f"with at least {official.iou_thr} of its mask left after overlaps; an untrained "
                            "model's masks overlap, and few pass.")  # fmt: skip
                score = gr.Slider(0.05, 0.95, value=official.object_mask_thr, step=0.05, label="Segment score above",
                                  elem_id="panoptic-score")  # fmt: skip
                overlap = gr.Slider(0.05, 0.95, value=official.iou_thr, step=0.05, label="Mask left at least",
                                    elem_id="panoptic-overlap")  # fmt: skip
            files = gr.File(label="COCO-panoptic PNG, results JSON, overlay", file_count="multiple", interactive=False,
                            elem_id="panoptic-files")  # fmt: skip
        with gr.Column(scale=3):
            image = gr.Image(label="Panoptic segments", interactive=False, format="png", elem_id="panoptic-image",
                             buttons=["download", "fullscreen"])  # fmt: skip
            legend = gr.HTML(elem_id="panoptic-legend")
            info = gr.Markdown("Pick a sample photo or upload one.", elem_id="panoptic-info")
    table = gr.Dataframe(headers=SEGMENT_COLUMNS, label="Segments", interactive=False, elem_id="panoptic-table")
    outputs = [image, legend, table, files, info]

    def show(photo, score_thr: float, overlap_thr: float) -> tuple:
        view = handlers.panoptic(photo, PanopticConfig(object_mask_thr=score_thr, iou_thr=overlap_thr))
        return view.image, view.legend, view.rows, view.files, view.info

    @shown
    def from_sample(name: str | None, score_thr: float, overlap_thr: float):
        return show(handlers.sample(name), score_thr, overlap_thr) if name else tuple(gr.skip() for _ in outputs)

    @shown
    def from_upload(path: str | None, score_thr: float, overlap_thr: float):
        return show(handlers.upload(path), score_thr, overlap_thr)

    sample.input(from_sample, [sample, score, overlap], outputs, api_name="panoptic_sample")
    _then_empty(upload.upload(from_upload, [upload, score, overlap], outputs, api_name="panoptic_upload"), upload)


def _video_tab(handlers: DemoHandlers) -> None:
    with gr.Row():
        with gr.Column(scale=1, min_width=240):
            sample = gr.Button("Track the sample clip", elem_id="video-sample")
            upload = gr.File(label=f"…or upload a short clip (the first {handlers.max_frames} frames are tracked)",
                             type="filepath", elem_id="video-upload")  # fmt: skip
            threshold = gr.Slider(0.05, 0.95, value=handlers.model.score_thr, step=0.05,
                                  label="Keep instances scoring above", visible=handlers.model.tunable,
                                  elem_id="video-threshold")  # fmt: skip
        with gr.Column(scale=3):
            gallery = gr.Gallery(label="Tracked instances: one colour and ID per track", columns=3, format="png",
                                 buttons=["download", "fullscreen"], elem_id="video-frames")  # fmt: skip
            legend = gr.HTML(elem_id="video-legend")
            info = gr.Markdown("Track the sample clip or upload one.", elem_id="video-info")
    table = gr.Dataframe(headers=TRACK_COLUMNS, label="Tracks", interactive=False, elem_id="video-table")
    outputs = [gallery, legend, table, info]

    def show(frames, score_thr: float) -> tuple:
        view = handlers.video(frames, score_thr)
        captions = [(image, f"frame {i}") for i, image in enumerate(view.frames)]
        return captions, view.legend, view.rows, view.info

    @shown
    def from_upload(path: str | None, score_thr: float):
        frames, cut = handlers.upload_clip(path)
        if cut:
            gr.Warning(f"the clip is longer than {handlers.max_frames} frames: its first {len(frames)} are tracked")
        return show(frames, score_thr)

    @shown
    def from_sample(score_thr: float):
        return show(handlers.sample_frames(), score_thr)

    sample.click(from_sample, threshold, outputs, api_name="video_sample")
    _then_empty(upload.upload(from_upload, [upload, threshold], outputs, api_name="video_upload"), upload)


def launch(page: gr.Blocks, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, block: bool = True) -> str:
    """Serve ``page`` on ``host``:``port`` (never a share link) and return its URL; with
    ``block`` wait until Ctrl-C, else return at once (``page.close()`` stops it)."""
    check_port(host, port)
    try:
        _, url, _ = page.launch(
            server_name=host,
            server_port=port,
            share=False,
            prevent_thread_lock=True,
            show_error=True,
            quiet=True,  # gradio's banner suggests share links; the URL is printed below
            max_file_size=MAX_UPLOAD,
            ssr_mode=False,  # the page renders in the browser: no Node.js server beside Python
            css=CSS,
        )
    except OSError as err:  # taken between the check and the bind
        raise RapSamError(f"cannot serve on {host}:{port} ({err})", "pass another --port") from err
    if block:
        print(f"the demo is at {url} (Ctrl-C stops it)", flush=True)
        page.block_thread()  # until Ctrl-C, then closes the server
    return url
