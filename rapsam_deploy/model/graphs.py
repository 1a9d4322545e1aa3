"""The model as the contract's graphs: one ``nn.Module`` per graph whose forward takes and returns
exactly the graph's tensors, in the contract's order, fp32 at the boundary whatever the
precision inside. The one map from a graph to the model's entry point: the exporter traces these
modules, and the torch backend runs them."""

from __future__ import annotations

from torch import Tensor, nn

from ..artifacts import contract
from ..artifacts.contract import GraphSpec
from .rapsam import RapSam


class ContractGraph(nn.Module):
    """One graph of the contract. Float inputs are cast to the model's compute dtype (fp16 for
    fp16 graphs) and float outputs back to fp32, so every graph has fp32 I/O."""

    spec: GraphSpec

    def __init__(self, model: RapSam) -> None:
        super().__init__()
        self.model = model
        self.dtype = model.compute_dtype

    def inputs(self, *tensors: Tensor) -> list[Tensor]:
        return [t.to(self.dtype) if t.is_floating_point() else t for t in tensors]

    @staticmethod
    def outputs(*tensors: Tensor) -> tuple[Tensor, ...]:
        return tuple(t.float() for t in tensors)


class EncoderGraph(ContractGraph):
    spec = contract.ENCODER

    def forward(self, image: Tensor) -> Tensor:
        # The image stays fp32: normalisation happens in fp32 before the backbone's dtype.
        return self.model.forward_encoder(image).float()


class PromptEncoderGraph(ContractGraph):
    spec = contract.PROMPT_ENCODER

    def forward(self, prompt_boxes: Tensor, prompt_kinds: Tensor) -> Tensor:
        return self.model.forward_prompt_encoder(prompt_boxes, prompt_kinds).float()


class DecoderGraph(ContractGraph):
    spec = contract.DECODER

    def forward(self, features: Tensor, queries: Tensor, attn_mask: Tensor) -> tuple[Tensor, ...]:
        features, queries = self.inputs(features, queries)
        return self.outputs(*self.model.forward_decoder(features, queries, attn_mask))


class ObjectAdapterGraph(ContractGraph):
    spec = contract.ADAPTER_OBJECT

    def forward(self, features: Tensor, kernels: Tensor, mask_logits: Tensor) -> tuple[Tensor, ...]:
        return self.outputs(*self.model.forward_adapter_object(*self.inputs(features, kernels, mask_logits)))


class PromptAdapterGraph(ContractGraph):
    spec = contract.ADAPTER_PROMPT

    def forward(self, features: Tensor, kernels: Tensor) -> tuple[Tensor, ...]:
        return self.outputs(*self.model.forward_adapter_prompt(*self.inputs(features, kernels)))


GRAPH_MODULES: dict[str, type[ContractGraph]] = {
    cls.spec.name: cls
    for cls in (EncoderGraph, PromptEncoderGraph, DecoderGraph, ObjectAdapterGraph, PromptAdapterGraph)
}
# Graphs that contain the fused mask-pooling + dynamic-conv block (and so have a plugin form).
FUSED_GRAPHS = (contract.DECODER.name, contract.ADAPTER_OBJECT.name)
