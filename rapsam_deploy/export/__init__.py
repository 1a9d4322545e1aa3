"""Export: the reference model split into the contract's ONNX graphs, checked, simplified and
validated against PyTorch. Start with :func:`export_model`."""

from .exporter import ExportOptions, ExportValidationError, export_model

__all__ = ["ExportOptions", "ExportValidationError", "export_model"]
