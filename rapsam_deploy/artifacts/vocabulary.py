"""Class vocabularies of the official class-embedding files, in their embedding order.

An embedding file holds only tensors; its number of classes tells which vocabulary it was made
for: COCO panoptic (133 = 80 things + 53 stuff, ``CocoPanopticOVDataset``), YouTube-VIS 2019
(40 things), or the two merged as the official model was trained (155 = 102 things + 53 stuff,
``Concat_CocoPanopticOVDataset_YouTubeVISDataset_2019``). Other sizes get generic names and are
reported as an unknown vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

COCO_THINGS = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)  # fmt: skip
COCO_STUFF = (
    "banner", "blanket", "bridge", "cardboard", "counter", "curtain", "door", "wood floor", "flower", "fruit",
    "gravel", "house", "light", "mirror", "net", "pillow", "platform", "playingfield", "railroad", "river",
    "road", "roof", "sand", "sea", "shelf", "snow", "stairs", "tent", "towel", "brick wall", "stone wall",
    "tile wall", "wood wall", "water", "window blind", "window", "tree", "fence", "ceiling", "sky", "cabinet",
    "table", "floor", "pavement", "mountain", "grass", "dirt", "paper", "food", "building", "rock", "wall", "rug",
)  # fmt: skip
YOUTUBE_VIS_2019 = (
    "person", "giant panda", "lizard", "parrot", "skateboard", "sedan", "ape", "dog", "snake", "monkey", "hand",
    "rabbit", "duck", "cat", "cow", "fish", "train", "horse", "turtle", "bear", "motorbike", "giraffe", "leopard",
    "fox", "deer", "owl", "surfboard", "airplane", "truck", "zebra", "tiger", "elephant", "snowboard", "boat",
    "shark", "mouse", "frog", "eagle", "earless seal", "tennis racket",
)  # fmt: skip

# The official training set (``ConcatOVDataset`` of COCO panoptic and YouTube-VIS 2019) merges
# classes whose synonym lists share a name; these YouTube-VIS classes share none with COCO and are
# appended to COCO's things, in YouTube-VIS order. Every other YouTube-VIS class is the COCO class
# of the same name (YouTube-VIS spells them with "_" where COCO has a space).
YOUTUBE_VIS_2019_ONLY = tuple(name for name in YOUTUBE_VIS_2019 if name not in COCO_THINGS)
# COCO panoptic's own category names (panoptic_val2017.json), in the order of COCO_STUFF; the
# things are spelled as in COCO_THINGS.
COCO_PANOPTIC_STUFF_NAMES = (
    "banner", "blanket", "bridge", "cardboard", "counter", "curtain", "door-stuff", "floor-wood", "flower", "fruit",
    "gravel", "house", "light", "mirror-stuff", "net", "pillow", "platform", "playingfield", "railroad", "river",
    "road", "roof", "sand", "sea", "shelf", "snow", "stairs", "tent", "towel", "wall-brick", "wall-stone",
    "wall-tile", "wall-wood", "water-other", "window-blind", "window-other", "tree-merged", "fence-merged",
    "ceiling-merged", "sky-other-merged", "cabinet-merged", "table-merged", "floor-other-merged", "pavement-merged",
    "mountain-merged", "grass-merged", "dirt-merged", "paper-merged", "food-other-merged", "building-other-merged",
    "rock-merged", "wall-other-merged", "rug-merged",
)  # fmt: skip


@dataclass(frozen=True)
class Vocabulary:
    """Class names in embedding order; the first ``num_things`` are countable things."""

    name: str
    classes: tuple[str, ...]
    num_things: int

    def to_json(self) -> dict:
        return {"name": self.name, "classes": list(self.classes), "num_things": self.num_things}


KNOWN = (
    Vocabulary("coco_panoptic", COCO_THINGS + COCO_STUFF, len(COCO_THINGS)),
    Vocabulary("youtube_vis_2019", YOUTUBE_VIS_2019, len(YOUTUBE_VIS_2019)),
    Vocabulary(
        "coco_panoptic+youtube_vis_2019",
        COCO_THINGS + YOUTUBE_VIS_2019_ONLY + COCO_STUFF,
        len(COCO_THINGS) + len(YOUTUBE_VIS_2019_ONLY),
    ),
)


def vocabulary_for(num_classes: int) -> Vocabulary:
    """The known vocabulary with ``num_classes`` classes, else generic names (all things)."""
    for vocabulary in KNOWN:
        if len(vocabulary.classes) == num_classes:
            return vocabulary
    return Vocabulary("unknown", tuple(f"class_{i}" for i in range(num_classes)), num_classes)
