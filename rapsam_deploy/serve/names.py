"""The serving API: the names of the models a generated repository holds and of their tensors
(the graph models keep the graph contract's tensor names; these are the names of the models
around them, which clients call).

Byte strings (encoded images, ids, JSON) travel as UINT8 vectors, not Triton's BYTES type: the
Python backend of the nvidia-pytriton wheel corrupts BYTES tensors under numpy 2."""

from __future__ import annotations

DEFAULT_PREFIX = "rapsam_"

# Models besides one per graph (``PREFIX + graph name``).
PREPROCESS = "preprocess"
POSTPROCESS_PANOPTIC = "postprocess_panoptic"
PANOPTIC = "panoptic"  # the ensemble: encoded image in, panoptic results out
PROMPT = "prompt"  # the interactive model: an image once, then prompts by its id

# Tensors of the models clients call.
IMAGE = "IMAGE"  # UINT8 [L]: an encoded image file (JPEG, PNG, ...)
SCORE_THRESHOLD = "SCORE_THRESHOLD"  # FP32 [1]: instances scoring at or below it are dropped
PANOPTIC_ID_MAP = "PANOPTIC_ID_MAP"  # INT32 [H,W]: segment id per pixel, 0 = none
RESULT_JSON = "RESULT_JSON"  # UINT8 [L]: UTF-8 JSON of segments and instances (rapsam-infer's)
IMAGE_ID = "IMAGE_ID"  # UINT8 [L]: UTF-8 of the client's name for an image, to prompt it again
POINTS = "POINTS"  # FP32 [P,2]: x, y in original pixels
BOXES = "BOXES"  # FP32 [Q,4]: x1, y1, x2, y2 in original pixels
MASKS = "MASKS"  # BOOL [N,H,W]: a mask per prompt, best predicted IoU first
IOU = "IOU"  # FP32 [N]: the predicted IoU of each mask
PROMPT_INDEX = "PROMPT_INDEX"  # INT64 [N]: the prompt (points first, then boxes) of each mask

# Tensors between the preprocessing model and the graphs, and back to post-processing.
PIXELS = "PIXELS"  # FP32 [1,3,H,W]: the encoder's input
OBJECT_QUERIES = "OBJECT_QUERIES"  # FP32 [1,N,C]
OBJECT_ATTN_MASK = "OBJECT_ATTN_MASK"  # BOOL [N,N]
META = "META"  # INT64 [6]: original, resized and padded (H, W)
CLASS_LOGITS = "CLASS_LOGITS"
MASK_LOGITS = "MASK_LOGITS"


def model_name(prefix: str, role: str) -> str:
    """A model's name in a repository generated with ``--name-prefix prefix``."""
    return f"{prefix}{role}"
