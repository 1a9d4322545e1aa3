"""Serving through NVIDIA's Triton Inference Server: a model repository generated from an export
(one model per graph, pre/post-processing models, the panoptic ensemble and the interactive
prompt model), the server started on it, and the client that talks to it."""
