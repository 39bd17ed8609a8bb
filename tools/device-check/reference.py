"""Reference data for cuda-engines.mjs, made on the GPU machine (it has PyTorch and
onnxruntime for Python; Node there has neither). Regenerates the random-weight models with
../shared/models/export_reference_models.py (only 64 MiB travels), checks their sha256 against
the models README, then writes seeded random inputs and onnxruntime-CPU outputs as raw float32
files plus meta.json.
Usage: python3 reference.py EXPORT_SCRIPT FASHION_ONNX OUT_DIR"""
import hashlib, json, os, subprocess, sys

import numpy as np
import onnxruntime as ort

export_script, fashion, out = sys.argv[1:4]
os.makedirs(out, exist_ok=True)
# sha256 prefixes from ../shared/models/README.md
expected = {"resnet50": "d33113429f9dd960", "mobilenet_v2": "920de704a1dcb7db",
            "deit_tiny": "07446f46d95a5957", "fashion_mnist_cnn": "57788e22a9bbbd8b"}
subprocess.run([sys.executable, export_script, out, "resnet50", "mobilenet_v2", "deit_tiny"],
               check=True, stdout=subprocess.DEVNULL)
models = {"fashion_mnist_cnn": fashion, **{n: f"{out}/{n}.onnx" for n in
                                          ["resnet50", "mobilenet_v2", "deit_tiny"]}}
# batch sizes to check agreement at (CPU reference time keeps them small)
cases = {"fashion_mnist_cnn": ("image", [8, 1, 28, 28]), "resnet50": ("input", [2, 3, 224, 224]),
         "mobilenet_v2": ("input", [2, 3, 224, 224]), "deit_tiny": ("input", [1, 3, 224, 224])}
meta = {}
rng = np.random.default_rng(12345)
for name, path in models.items():
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    input_name, shape = cases[name]
    x = rng.standard_normal(shape, dtype=np.float32)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {input_name: x})
    x.tofile(f"{out}/{name}.input.bin")
    y.astype(np.float32).tofile(f"{out}/{name}.ort.bin")
    meta[name] = {"onnx": os.path.abspath(path), "input": input_name, "shape": shape,
                  "output": sess.get_outputs()[0].name, "outShape": list(y.shape),
                  "sha256": digest[:16], "shaOk": digest.startswith(expected[name])}
    print(f"{name}: sha256 {digest[:16]} {'matches' if meta[name]['shaOk'] else 'DIFFERS FROM'} "
          f"the README; ort output {list(y.shape)}", flush=True)
json.dump(meta, open(f"{out}/meta.json", "w"), indent=1)
