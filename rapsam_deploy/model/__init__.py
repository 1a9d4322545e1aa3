"""The PyTorch reference of RAP-SAM (no MMDetection, no mmcv), with the official state-dict
names. Start with :func:`build_model`."""

from .backbones import backbone_names, register_backbone
from .build import build_model
from .deform_conv import set_deform_impl
from .rapsam import ModelInfo, RapSam

__all__ = ["ModelInfo", "RapSam", "backbone_names", "build_model", "register_backbone", "set_deform_impl"]
