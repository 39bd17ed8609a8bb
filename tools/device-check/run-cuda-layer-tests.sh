#!/usr/bin/env bash
# On the GPU machine (no Node needed): configures native/ with the cuda device and the C++ tests
# (no addon), builds test_cuda_layers and runs it: every cuda layer against the cpu op on the
# same inputs (native/tests/test_cuda_layers.cc). Logs go to $OUT (cmake.log, build.log,
# cuda-layers.log); the exit status is the test's.
set -euo pipefail
out=${OUT:-/tmp/kiln-out}
build=${KILN_CUDA_TEST_BUILD:-/tmp/kiln-cuda-tests}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt" || true
# cuBLAS and cuDNN: the toolkit's, the system's, or the pip wheels beside PyTorch.
roots=$(python3 -c 'import nvidia, os; p = list(nvidia.__path__)[0]; print(";".join(os.path.join(p, d) for d in ("cudnn", "cu13", "cublas") if os.path.isdir(os.path.join(p, d))))' 2>/dev/null || true)
for r in ${roots//;/ }; do export LD_LIBRARY_PATH=$r/lib:${LD_LIBRARY_PATH:-}; done
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
# sm_90 only (H100 / H200): half the kernel compile time of the default 80;90.
cmake -S native -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DKILN_CUDA=ON \
  -DKILN_BUILD_TESTS=ON -DKILN_BUILD_ADDON=OFF -DKILN_CUDA_ARCHITECTURES=90 \
  "-DKILN_CUDA_LIBRARY_ROOTS=$roots" > "$out/cmake.log" 2>&1 || { tail -40 "$out/cmake.log"; exit 1; }
grep 'kiln:' "$out/cmake.log" || true
cmake --build "$build" --target test_cuda_layers -j "$(nproc)" > "$out/build.log" 2>&1 ||
  { grep -B2 -A8 -m5 'error' "$out/build.log"; exit 1; }
grep -i 'warning' "$out/build.log" | head -20 || true
"$build/test_cuda_layers" 2>&1 | tee "$out/cuda-layers.log"
