"""TensorRT engines built from an export's graphs, their files and what TensorRT needs in this
process (imported lazily: everything here imports without TensorRT)."""
