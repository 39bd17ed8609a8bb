"""On the GPU machine: quantizes the regenerated resnet50.onnx into QDQ form with onnxruntime's
quantize_static, as ../shared/models/resnet50_int8_qdq.onnx was made (per-channel int8 weights,
uint8 activations, MinMax), calibrated on 8 seeded normal-noise images (the weights are random:
the engine is timed, not scored). The 100 MB model does not travel; this regenerates it there.
Usage: python3 resnet50_qdq.py RESNET50_ONNX OUT_ONNX"""
import sys

import numpy as np
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                      quantize_static)

src, dst = sys.argv[1:3]


class Noise(CalibrationDataReader):
    def __init__(self):
        rng = np.random.default_rng(12345)
        self.batches = iter([{"input": rng.standard_normal((1, 3, 224, 224), dtype=np.float32)}
                             for _ in range(8)])

    def get_next(self):
        return next(self.batches, None)


quantize_static(src, dst, Noise(), quant_format=QuantFormat.QDQ, per_channel=True,
                weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
print(f"wrote {dst}", flush=True)
