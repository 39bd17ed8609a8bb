#!/usr/bin/env bash
# On the GPU machine (no Node, no network): unpacks .devcarry (pack-carry.sh), builds the addon
# with the cuda device, regenerates the reference models and their onnxruntime outputs, runs
# cuda-engines.mjs (agreement + benchmark), PyTorch's benchmark and cuda-int8.mjs. Logs go to
# $OUT. `run-on-gpu.sh int8` builds the addon and runs cuda-int8.mjs and int8_paths.cu alone.
set -euo pipefail
what=${1:-all}
out=${OUT:-/tmp/kiln-out}
mkdir -p "$out" /tmp/kiln-node /tmp/kiln-ref
xz -dc .devcarry/node.xz > /tmp/kiln-node/node && chmod +x /tmp/kiln-node/node
export PATH=/tmp/kiln-node:$PATH
tar -xJf .devcarry/js.tar.xz
mkdir -p node_modules/@kiln
for p in core onnx builder runtime; do ln -sfn ../../packages/$p node_modules/@kiln/$p; done
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv
# cuBLAS and cuDNN: the toolkit's, the system's, or the pip wheels beside PyTorch.
roots=$(python3 -c 'import nvidia, os; p = list(nvidia.__path__)[0]; print(";".join(os.path.join(p, d) for d in ("cudnn", "cu13", "cublas") if os.path.isdir(os.path.join(p, d))))' 2>/dev/null || true)
for r in ${roots//;/ }; do export LD_LIBRARY_PATH=$r/lib:${LD_LIBRARY_PATH:-}; done
cmake -S native -B packages/core/build -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$PWD/packages/core/build/Release" \
  -DCMAKE_JS_INC="$PWD/.devcarry/napi/node-api-headers" \
  -DNODE_ADDON_API_DIR="$PWD/.devcarry/napi/node-addon-api" \
  -DCMAKE_CXX_FLAGS=-DBUILDING_NODE_EXTENSION -DKILN_CUDA=ON -DKILN_BUILD_TESTS=OFF \
  "-DKILN_CUDA_LIBRARY_ROOTS=$roots" > "$out/cmake.log" 2>&1 || { tail -40 "$out/cmake.log"; exit 1; }
grep 'kiln:' "$out/cmake.log"
cmake --build packages/core/build -j 16 > "$out/build.log" 2>&1 || { grep -B2 -A8 -m5 'error' "$out/build.log"; exit 1; }
node tools/device-check/cuda-smoke.mjs > "$out/smoke.log" 2>&1 || true; tail -2 "$out/smoke.log"
status=0
# resnet50 and its QDQ form for cuda-int8.mjs's INT8 vs FP16 timing (100 MB do not travel).
PYTHONUNBUFFERED=1 python3 .devcarry/export_reference_models.py .devcarry/int8 resnet50 > /dev/null
PYTHONUNBUFFERED=1 python3 tools/device-check/resnet50_qdq.py .devcarry/int8/resnet50.onnx \
  .devcarry/int8/resnet50_int8_qdq.onnx 2>&1 | grep -v -i warning || true
node tools/device-check/cuda-int8.mjs .devcarry/int8 "$out/int8.json" 2>&1 | tee "$out/int8.log" || status=1
# The INT8 convolution paths against each other on resnet50's shapes (int8_paths.cu).
nvcc -std=c++17 -O2 -arch=native -I native/src -I native/include tools/device-check/int8_paths.cu \
  native/src/kernels/cuda/quant/quant.cu -lcublas -o /tmp/kiln-int8-paths > "$out/int8-paths-build.log" 2>&1 &&
  /tmp/kiln-int8-paths 2>&1 | tee "$out/int8-paths.log" || status=1
grep -q 'all outputs equal' "$out/int8-paths.log" 2>/dev/null || status=1
[ "$what" = int8 ] && exit $status
PYTHONUNBUFFERED=1 python3 tools/device-check/reference.py .devcarry/export_reference_models.py \
  .devcarry/fashion_mnist_cnn.onnx /tmp/kiln-ref 2>&1 | grep -v Warning | tee "$out/reference.log"
node tools/device-check/cuda-engines.mjs /tmp/kiln-ref "$out/kiln.json" 2>&1 | tee "$out/kiln.log" || status=1
PYTHONUNBUFFERED=1 python3 tools/device-check/bench_torch.py "$out/torch.json" 2>&1 | tee "$out/torch.log" || status=1
exit $status
