"""Overlays: masks in distinct colours over the image, with outlines and class names / IDs."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

_ALPHA = 0.5


def colour(index: int) -> tuple[int, int, int]:
    """A distinct, stable RGB colour for ``index`` (golden-ratio hues)."""
    hue = (index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def overlay(image: np.ndarray, masks: np.ndarray, labels: list[str], colour_keys: list[int]) -> np.ndarray:
    """RGB uint8 [H,W,3] with each mask [M,H,W] blended in its colour, outlined, and labelled
    at its largest region's centre; returns a new RGB uint8 image."""
    out = image.astype(np.float32)
    outlines = []
    for mask, key in zip(masks, colour_keys, strict=True):
        if not mask.any():
            continue
        rgb = np.array(colour(key), dtype=np.float32)
        out[mask] = out[mask] * (1 - _ALPHA) + rgb * _ALPHA
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        outlines.append((contours, colour(key)))
    out = out.clip(0, 255).astype(np.uint8)
    for contours, rgb in outlines:
        cv2.drawContours(out, contours, -1, rgb, 2)
    for mask, text, key in zip(masks, labels, colour_keys, strict=True):
        if mask.any() and text:
            _label(out, mask, text, colour(key))
    return out


def _label(image: np.ndarray, mask: np.ndarray, text: str, rgb: tuple[int, int, int]) -> None:
    count, _, stats, centroids = cv2.connectedComponentsWithStats(mask.astype(np.uint8))
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])) if count > 1 else 0
    x, y = (int(v) for v in centroids[largest])
    scale = max(0.4, min(image.shape[:2]) / 1000)
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x, y = min(max(0, x - w // 2), image.shape[1] - w), min(max(h, y), image.shape[0] - base)
    cv2.rectangle(image, (x, y - h - base), (x + w, y + base), rgb, -1)
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)


def draw_prompts(
    image: np.ndarray, points: list[tuple[float, float]], boxes: list[tuple[float, float, float, float]]
) -> np.ndarray:
    """RGB uint8 [H,W,3] with point prompts (x, y) as dots and box prompts (x1, y1, x2, y2) as
    rectangles, in white outlined in black so that they show on any mask colour; a new image."""
    out = image.copy()
    radius = max(3, min(image.shape[:2]) // 80)
    for x1, y1, x2, y2 in boxes:
        corners = (round(x1), round(y1)), (round(x2), round(y2))
        cv2.rectangle(out, *corners, (0, 0, 0), 4)
        cv2.rectangle(out, *corners, (255, 255, 255), 2)
    for x, y in points:
        cv2.circle(out, (round(x), round(y)), radius + 1, (0, 0, 0), -1, cv2.LINE_AA)
        cv2.circle(out, (round(x), round(y)), radius, (255, 255, 255), -1, cv2.LINE_AA)
    return out
