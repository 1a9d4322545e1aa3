"""What each of the page's actions does, without the page: a photo opened for prompting (the
encoder runs once), a click (a point, or a box's corner), undo, clear; a photo segmented
panoptically; a clip tracked. Each returns plain values (RGB arrays, Markdown, table rows,
file paths) and refuses bad input with a :class:`RapSamError`, which the page shows."""

from __future__ import annotations

import html
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..artifacts.files import private_directory
from ..errors import RapSamError
from ..predict import results
from ..predict.postprocess import PanopticConfig
from ..predict.prompt import check_prompts
from ..predict.video import FramePrediction
from ..predict.visualize import colour, draw_prompts, overlay
from .inputs import MAX_FRAMES, MAX_PIXELS, Photo, read_clip, read_photo, sample_clip, sample_photo
from .models import LocalModel, ServedModel

POINT, BOX = "point", "box"
CLICK_MODES = {POINT: "point (one click)", BOX: "box (two clicks: opposite corners)"}


@dataclass(frozen=True)
class Prompt:
    """A point (x, y) or a box (x1, y1, x2, y2) in the photo's pixels."""

    kind: str
    coords: tuple[float, ...]

    def describe(self) -> str:
        return f"{self.kind} ({', '.join(f'{v:.0f}' for v in self.coords)})"


@dataclass
class PromptSession:
    """One visitor's prompt tab: the photo, what the encoder made of it, the prompts so far
    (in the order given) and the first corner of a box being drawn."""

    photo: Photo | None = None
    encoded: object = None
    prompts: list[Prompt] = field(default_factory=list)
    corner: tuple[float, float] | None = None
    encode_ms: float = 0.0


@dataclass
class PromptView:
    """What the prompt tab shows: the photo with the masks and prompts drawn (RGB uint8
    [H,W,3]) and a Markdown summary (masks, predicted IoU, latency)."""

    image: np.ndarray
    info: str
    masks: np.ndarray | None = None  # [N,H,W] bool, one per prompt in the order given


@dataclass
class PanopticView:
    """The panoptic tab: the overlay (RGB uint8 [H,W,3]) with class names, a legend (HTML),
    the segments table, the files ``rapsam-infer`` writes (COCO-panoptic PNG, results JSON,
    overlay PNG) and a summary."""

    image: np.ndarray
    legend: str
    rows: list[list]
    files: list[str]
    info: str


@dataclass
class VideoView:
    """The video tab: each frame's overlay (RGB uint8 [H,W,3]) with tracks in stable colours
    and IDs, the tracks' legend (HTML) and table, and a summary."""

    frames: list[np.ndarray]
    legend: str
    rows: list[list]
    info: str


SEGMENT_COLUMNS = ["id", "class", "kind", "score", "area (px)", "box x,y,w,h"]
TRACK_COLUMNS = ["track", "class", "frames", "mean score"]


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def legend_html(entries: list[tuple[int, str]]) -> str:
    """A legend of (colour key, text) swatches, in the colours :func:`overlay` draws with."""
    items = []
    for key, text in entries:
        r, g, b = colour(key)
        items.append(
            f'<span class="rapsam-legend-item"><span class="rapsam-swatch" style="background:rgb({r},{g},{b})">'
            f"</span>{html.escape(text)}</span>"
        )
    return '<div class="rapsam-legend">' + "".join(items) + "</div>" if items else "<p>nothing found</p>"


def renumber_tracks(frames: list[FramePrediction]) -> list[FramePrediction]:
    """The predictor's track IDs (query x class, up to 13,300) as 1, 2, 3, ... in the order the
    tracks first appear: the same track keeps its number, and so its colour, in every frame."""
    numbers: dict[int, int] = {}
    for frame in frames:
        for track in frame.track_ids:
            numbers.setdefault(int(track), len(numbers) + 1)
    return [
        replace(frame, track_ids=np.array([numbers[int(t)] for t in frame.track_ids], np.int64)) for frame in frames
    ]


class DemoHandlers:
    """The page's actions over one model (local or served). ``sample_side``: the sample photos'
    long side (None: as shipped), ``downloads``: where result files for download are written."""

    def __init__(
        self,
        model: LocalModel | ServedModel,
        downloads: Path,
        max_pixels: int = MAX_PIXELS,
        max_frames: int = MAX_FRAMES,
        sample_side: int | None = None,
    ) -> None:
        self.model = model
        self.downloads = Path(downloads)
        self.max_pixels, self.max_frames, self.sample_side = max_pixels, max_frames, sample_side

    # --- photos in -------------------------------------------------------------------------

    def sample(self, name: str) -> Photo:
        return sample_photo(name, self.sample_side)

    def upload(self, path: str | Path | None) -> Photo:
        if not path:
            raise RapSamError("no file came with the upload", "choose an image file")
        return read_photo(path, self.max_pixels)

    # --- prompt tab ------------------------------------------------------------------------

    def open_photo(self, photo: Photo) -> tuple[PromptSession, PromptView]:
        """A new session on ``photo``: the encoder runs now, once; clicks run the prompt graphs only."""
        start = time.perf_counter()
        encoded = self.model.encode(photo)
        session = PromptSession(photo, encoded, encode_ms=(time.perf_counter() - start) * 1e3)
        return session, self._view(session, None)

    def click(self, session: PromptSession | None, x: float, y: float, mode: str = POINT) -> tuple:
        """A click at pixel (x, y): a point prompt, or (``mode`` box) a box's first or second
        corner; returns the session and the view with every prompt's mask."""
        session = self._check_session(session)
        height, width = session.photo.rgb.shape[:2]
        check_prompts([[x, y]], None, height, width)
        if mode == BOX and session.corner is None:
            session.corner = (float(x), float(y))
            return session, self._view(session, None)
        if mode == BOX:
            (x0, y0), session.corner = session.corner, None
            box = (min(x0, x), min(y0, y), max(x0, x), max(y0, y))
            if box[2] - box[0] < 1 or box[3] - box[1] < 1:
                raise RapSamError("a box needs two different corners", "click the opposite corner of the box")
            session.prompts.append(Prompt(BOX, box))
        elif mode == POINT:
            session.corner = None
            session.prompts.append(Prompt(POINT, (float(x), float(y))))
        else:
            raise RapSamError(f"unknown click mode {mode!r}", f"choose {' or '.join(CLICK_MODES)}")
        return session, self._predict(session)

    def undo(self, session: PromptSession | None) -> tuple:
        """Drop the box corner being drawn, else the last prompt."""
        session = self._check_session(session)
        if session.corner is not None:
            session.corner = None
        elif session.prompts:
            session.prompts.pop()
        return session, self._predict(session)

    def clear(self, session: PromptSession | None) -> tuple:
        """Drop every prompt; the photo stays encoded."""
        session = self._check_session(session)
        session.prompts, session.corner = [], None
        return session, self._view(session, None)

    def _check_session(self, session: PromptSession | None) -> PromptSession:
        if session is None or session.photo is None:
            raise RapSamError("no photo to prompt yet", "pick a sample photo or upload one, then click on it")
        return session

    def _predict(self, session: PromptSession) -> PromptView:
        if not session.prompts:
            return self._view(session, None)
        points = np.array([p.coords for p in session.prompts if p.kind == POINT], np.float64).reshape(-1, 2)
        boxes = np.array([p.coords for p in session.prompts if p.kind == BOX], np.float64).reshape(-1, 4)
        start = time.perf_counter()
        prediction = self.model.prompt(session.photo, session.encoded, points, boxes)
        elapsed_ms = (time.perf_counter() - start) * 1e3
        # The predictor numbers prompts points first, then boxes; the page numbers them in the order given.
        given = [i for i, p in enumerate(session.prompts) if p.kind == POINT]
        given += [i for i, p in enumerate(session.prompts) if p.kind == BOX]
        number = np.array(given, dtype=np.int64)[prediction.prompts]
        masks = np.zeros((len(session.prompts), *session.photo.rgb.shape[:2]), bool)
        iou = np.zeros(len(session.prompts), np.float32)
        masks[number], iou[number] = prediction.masks, prediction.iou
        return self._view(session, (masks, iou, elapsed_ms))

    def _view(self, session: PromptSession, predicted: tuple | None) -> PromptView:
        photo = session.photo
        encoded = (
            f"encoded once in {session.encode_ms:.0f} ms"
            if self.model.encodes_on_open
            else "the server encodes it once, at the first click"
        )
        lines = [f"**{photo.source}**, {photo.rgb.shape[1]}x{photo.rgb.shape[0]}: {encoded}."]
        image, masks = photo.rgb, None
        if predicted is not None:
            masks, iou, elapsed_ms = predicted
            texts = [f"#{i + 1} IoU {v:.2f}" for i, v in enumerate(iou)]
            image = overlay(photo.rgb, masks, texts, list(range(len(masks))))
            count = len(session.prompts)
            lines.append(
                f"**{_count(count, 'prompt')} → {_count(count, 'mask')} in {elapsed_ms:.0f} ms** "
                f"({self.model.click_parts})."
            )
            lines += [
                f"{i + 1}. {p.describe()}: predicted IoU {v:.2f}, {int(m.sum())} px"
                for i, (p, v, m) in enumerate(zip(session.prompts, iou, masks, strict=True))
            ]
        elif not session.prompts:
            lines.append("Click on the photo to add a point; switch to *box* to draw a box with two clicks.")
        if session.corner is not None:
            lines.append(f"Box: first corner at ({session.corner[0]:.0f}, {session.corner[1]:.0f}); click the other.")
        points = [p.coords for p in session.prompts if p.kind == POINT]
        if session.corner is not None:
            points.append(session.corner)
        image = draw_prompts(image, points, [p.coords for p in session.prompts if p.kind == BOX])
        return PromptView(image, "\n".join(lines), masks)

    # --- panoptic tab ----------------------------------------------------------------------

    def panoptic(self, photo: Photo, config: PanopticConfig | None = None) -> PanopticView:
        """Panoptic segments of ``photo`` merged with ``config`` (default: the official test
        config's), with the COCO-panoptic PNG, results JSON and overlay written for download."""
        start = time.perf_counter()
        id_map, result = self.model.panoptic(photo, config or PanopticConfig())
        elapsed_ms = (time.perf_counter() - start) * 1e3
        segments = result["segments_info"]
        stem = private_directory("panoptic-", self.downloads) / Path(photo.source).stem
        drawn = results.write_panoptic(stem, photo.rgb, photo.source, id_map, result)
        files = results.panoptic_files(stem)
        rows = [
            [s["id"], s["name"], "thing" if s["isthing"] else "stuff", round(s["score"], 3), s["area"],
             ",".join(str(v) for v in s["bbox"])]
            for s in segments
        ]  # fmt: skip
        classes = sorted({(s["category_id"], s["name"]) for s in segments})
        info = (
            f"**{_count(len(segments), 'segment')}** ({sum(s['isthing'] for s in segments)} things) in "
            f"{elapsed_ms:.0f} ms (encoder, decoder, object adapter, panoptic merge)."
        )
        return PanopticView(drawn, legend_html(classes), rows, [str(f) for f in files], info)

    # --- video tab -------------------------------------------------------------------------

    def sample_frames(self) -> list[np.ndarray]:
        return sample_clip(self.sample_side)

    def upload_clip(self, path: str | Path | None) -> tuple[list[np.ndarray], bool]:
        """An uploaded clip's first frames, and whether it was cut (the page warns)."""
        if not path:
            raise RapSamError("no file came with the upload", "choose a video file")
        return read_clip(path, self.max_frames, self.max_pixels)

    def video(self, frames: list[np.ndarray], score_thr: float | None = None) -> VideoView:
        """Tracked instances of a clip scoring above ``score_thr`` (None: the model's): every
        frame drawn, a track in one colour and ID throughout."""
        start = time.perf_counter()
        found = self.model.video(frames, self.model.score_thr if score_thr is None else score_thr)
        elapsed_ms = (time.perf_counter() - start) * 1e3
        names = self.model.names
        found = renumber_tracks(found)
        seen: dict[int, list] = defaultdict(list)
        for frame in found:
            hits = zip(frame.track_ids, frame.instances.labels, frame.instances.scores, strict=True)
            for track, label, score in hits:
                seen[int(track)].append((int(label), float(score)))
        rows = [
            [track, names[hits[0][0]], len(hits), round(float(np.mean([s for _, s in hits])), 3)]
            for track, hits in sorted(seen.items())
        ]
        legend = legend_html([(track, f"{names[hits[0][0]]} #{track}") for track, hits in sorted(seen.items())])
        drawn = [results.frame_overlay(image, frame, names) for image, frame in zip(frames, found, strict=True)]
        info = (
            f"**{_count(len(frames), 'frame')}, {_count(len(seen), 'track')}** in {elapsed_ms:.0f} ms "
            f"({elapsed_ms / len(frames):.0f} ms a frame: encoder per frame, decoder per clip, tracks matched "
            "between clips)."
        )
        return VideoView(drawn, legend, rows, info)
