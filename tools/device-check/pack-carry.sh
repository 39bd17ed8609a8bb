#!/usr/bin/env bash
# Fills .devcarry/ (git-ignored) with what the GPU machine lacks for run-on-gpu.sh: this
# machine's node binary, the built JS packages, the Node-API headers, and the inputs kept
# outside the repo (../shared/models). Run after `pnpm build`, from the repository root.
set -euo pipefail
models=${KILN_MODELS_DIR:-../shared/models}
rm -rf .devcarry && mkdir -p .devcarry
xz -T0 -6 -c "$(command -v node)" > .devcarry/node.xz
# (cmake-js's own dependency, so found in pnpm's store folder)
headers=$(ls -d node_modules/.pnpm/node-api-headers@*/node_modules/node-api-headers | tail -1)
addonApi=$(ls -d node_modules/.pnpm/node-addon-api@*/node_modules/node-addon-api | tail -1)
mkdir -p .devcarry/napi && cp -r "$headers/include" .devcarry/napi/node-api-headers
cp -r "$addonApi" .devcarry/napi/node-addon-api
tar -cJf .devcarry/js.tar.xz packages/{core,onnx,builder,runtime}/dist
cp "$models/fashion_mnist_cnn.onnx" "$models/export_reference_models.py" .devcarry/
# cuda-int8.mjs's data: the Fashion-MNIST test set (`node tools/test-data/fetch.mjs
# dataset-fashion-mnist`), fashion_mnist_cnn's INT8 plans calibrated here, mobilenet_v2's QDQ model.
fashion=.data/deb/dataset-fashion-mnist/usr/share/datasets/fashion-mnist
mkdir -p .devcarry/int8
cp "$fashion"/t10k-*-ubyte.gz "$models/fashion_mnist_cnn.onnx" "$models/mobilenet_v2_int8_qdq.onnx" \
  .devcarry/int8/
node tools/device-check/int8-plans.mjs "$models/fashion_mnist_cnn.onnx" \
  "$fashion/train-images-idx3-ubyte.gz" .devcarry/int8
du -sh .devcarry
