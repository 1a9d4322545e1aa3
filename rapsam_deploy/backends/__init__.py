"""One interface, one module per backend: the contract's graphs run by PyTorch, ONNX Runtime or
TensorRT on torch tensors."""
