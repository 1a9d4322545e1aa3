"""Task accuracy of an export on any backend (``rapsam-eval``): COCO panoptic PQ, COCO-SAM prompt
mIoU and YouTube-VIS video AP, with one backend compared against another on the same inputs."""
