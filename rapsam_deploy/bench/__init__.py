"""``rapsam-bench``: latency, FPS, FLOPs and parity of every backend against the PyTorch reference."""
