#!/usr/bin/env bash
# The GPU check: on a machine with a CUDA GPU and PyTorch but no internet and no TensorRT (the
# lent GPU machines), in about 5 minutes:
#   1. builds the fused op's CUDA kernels for this GPU (build/lib/librapsam_ops.so);
#   2. runs `pytest -m gpu` (the kernels against PyTorch; the TensorRT tests skip without it);
#   3. runs benchmarks/fused_op_bench.py (fused op against PyTorch eager and torch.compile);
#   4. exports r18 (random weights, 1024x1024, fp32 graphs) and runs rapsam-bench on torch CUDA,
#      fp32 and fp16, every task.
# Everything it measured goes to OUT_DIR (default runs/gpu-check): gpu_check.log (the machine and
# each step's status), pytest_gpu.txt, fused_op.json/.md, bench/report.json/.md and a chart.
# A failing step is logged and the next one still runs; the exit status is the number of failed
# steps. Python packages the machine lacks (pycocotools) travel as wheels in .whl/ (README,
# "GPU check").
#
#   bash benchmarks/gpu_check.sh [OUT_DIR]
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(mkdir -p "${1:-$root/runs/gpu-check}" && cd "${1:-$root/runs/gpu-check}" && pwd)
log_file=$out/gpu_check.log
python=${PYTHON:-python3}
failed=0
cd "$root"

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$log_file"; }

# step NAME SECONDS COMMAND...: run with a time limit, log its status and duration.
step() {
  local name=$1 limit=$2 start status
  shift 2
  log "== $name"
  start=$(date +%s)
  timeout --kill-after=10 "$limit" "$@"
  status=$?
  if [ "$status" -eq 0 ]; then
    log "== $name: ok ($(($(date +%s) - start)) s)"
  else
    failed=$((failed + 1))
    log "== $name: FAILED with status $status ($(($(date +%s) - start)) s)$([ "$status" -eq 124 ] && echo ', time limit')"
  fi
}

: >"$log_file"
log "rapsam-deploy GPU check, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1 | tee -a "$log_file"
lscpu 2>/dev/null | grep -E "^Model name|^CPU\(s\)" | tee -a "$log_file"

if compgen -G "$root/.whl/*.whl" >/dev/null; then
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/rapsam-site \
    "$root"/.whl/*.whl 2>&1 | tee -a "$log_file"
  export PYTHONPATH=/tmp/rapsam-site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$root${PYTHONPATH:+:$PYTHONPATH}
"$python" - <<'EOF' 2>&1 | tee -a "$log_file"
import platform, torch
print(f"python {platform.python_version()}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
      f"GPU {torch.cuda.get_device_name(0)} (sm_{''.join(map(str, torch.cuda.get_device_capability(0)))})")
EOF
arch=$("$python" -c "import torch; print(''.join(map(str, torch.cuda.get_device_capability(0))))")

step "CUDA kernels (sm_$arch)" 300 env RAPSAM_WITH_CUDA=ON RAPSAM_WITH_CPP=OFF PYTHON="$python" \
  bash .ci/build_plugins.sh -DCMAKE_CUDA_ARCHITECTURES="$arch" -DRAPSAM_WITH_TENSORRT=OFF

step "pytest -m gpu" 300 bash -c "set -o pipefail; RAPSAM_REQUIRE_PLUGINS=1 '$python' -m pytest -m gpu -q -rs \
  -p no:cacheprovider tests/test_fused_op.py tests/test_tensorrt.py 2>&1 | tee '$out/pytest_gpu.txt'"

step "fused-op benchmark" 240 "$python" benchmarks/fused_op_bench.py --out-dir "$out/fused"
for f in "$out"/fused/*/fused_op.*; do [ -e "$f" ] && mv "$f" "$out/"; done
rm -rf "$out/fused"

export_dir=$out/export-r18
step "rapsam-export r18 (fp32, no validation)" 300 "$python" -m rapsam_deploy.cli.export --backbone r18 \
  --no-validate --force --output "$export_dir"
step "rapsam-bench torch CUDA fp32,fp16" 420 "$python" -m rapsam_deploy.cli.bench --backbone r18 \
  --export-dir "$export_dir" --backends torch-cuda --precision fp32,fp16 --out "$out/bench"
rm -rf "$export_dir" "$out/bench/fps_vs_gflops.png"

log "done: $failed step(s) failed; results in $out"
exit "$failed"
