"""The official ``KernelUpdator``: the gated dynamic convolution of the fused op.

It updates each query's kernel with the feature pooled under its mask: two linear maps give
(in, out) halves for the pooled feature and for the kernel, a gate feature ``in_k * in_f``
drives two sigmoid gates through LayerNorms, and the result
``update_gate * LN(out_f) + input_gate * LN(out_k)`` goes through Linear, LayerNorm and ReLU.
"""

from __future__ import annotations

from torch import Tensor, nn


class KernelUpdator(nn.Module):
    """``forward(update_feature [B,N,C], input_feature [B,N,C]) -> [B,N,C]``.

    ``update_feature`` is the mask-pooled feature, ``input_feature`` the current kernel (the
    official argument order). Channels are 256 everywhere in RAP-SAM.
    """

    def __init__(self, channels: int = 256) -> None:
        super().__init__()
        self.channels = channels
        self.dynamic_layer = nn.Linear(channels, 2 * channels)
        self.input_layer = nn.Linear(channels, 2 * channels)
        self.input_gate = nn.Linear(channels, channels)
        self.update_gate = nn.Linear(channels, channels)
        self.norm_in = nn.LayerNorm(channels)
        self.norm_out = nn.LayerNorm(channels)
        self.input_norm_in = nn.LayerNorm(channels)
        self.input_norm_out = nn.LayerNorm(channels)
        self.fc_layer = nn.Linear(channels, channels)
        self.fc_norm = nn.LayerNorm(channels)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, update_feature: Tensor, input_feature: Tensor) -> Tensor:
        c = self.channels
        parameters = self.dynamic_layer(update_feature)
        param_in, param_out = parameters[..., :c], parameters[..., -c:]
        input_feats = self.input_layer(input_feature)
        input_in, input_out = input_feats[..., :c], input_feats[..., -c:]

        gate_feats = input_in * param_in
        input_gate = self.input_norm_in(self.input_gate(gate_feats)).sigmoid()
        update_gate = self.norm_in(self.update_gate(gate_feats)).sigmoid()
        param_out = self.norm_out(param_out)
        input_out = self.input_norm_out(input_out)

        features = update_gate * param_out + input_gate * input_out
        return self.activation(self.fc_norm(self.fc_layer(features)))
