#!/usr/bin/env bash
# Configure and build the native code (plugins/) into build/ (Release); any compile error fails.
# RAPSAM_WITH_CUDA=AUTO (default) builds the CUDA kernels where nvcc is found and the CPU
# reference alone otherwise; CI sets ON so that a missing nvcc or any kernel compile error fails.
# RAPSAM_WITH_CPP likewise for the C++ library (cpp/: nlohmann-json, OpenCV).
# Extra arguments go to the CMake configure step (e.g. -DTENSORRT_ROOT=/opt/tensorrt).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${RAPSAM_BUILD_DIR:-$root/build}
jobs=${RAPSAM_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}

# The Python whose pip-installed TensorRT libraries (tensorrt_libs) CMake may use: the project's
# .venv where there is one.
python=${PYTHON:-$([ -x "$root/.venv/bin/python" ] && echo "$root/.venv/bin/python" || command -v python3 || true)}

cmake -S "$root" -B "$build_dir" \
  -DCMAKE_BUILD_TYPE=Release \
  ${python:+-DPython3_EXECUTABLE="$python"} \
  -DRAPSAM_WITH_CUDA="${RAPSAM_WITH_CUDA:-AUTO}" \
  -DRAPSAM_WITH_CPP="${RAPSAM_WITH_CPP:-AUTO}" \
  -DRAPSAM_WERROR=ON \
  "$@"
cmake --build "$build_dir" --parallel "$jobs"
