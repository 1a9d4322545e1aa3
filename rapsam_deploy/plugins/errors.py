"""Errors of the native fused op: a library that is missing, and a call that it refused."""

from __future__ import annotations

from ..errors import RapSamError


class PluginLibraryError(RapSamError):
    """A native library (``librapsam_ops``, ``librapsam_trt_plugin``, ``librapsam``) that is not built or
    cannot be loaded."""


class FusedOpError(RapSamError):
    """Inputs that ``RapSamMaskPoolDynConv`` cannot take, or a failure inside the native op."""
