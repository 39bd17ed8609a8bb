"""PyTorch eager ResNet-50 on the same GPU, same run, same methodology as cuda-engines.mjs:
latency at batch 1 = median wall time of forward + synchronize; throughput at batch 64 = batches
run back to back, wall time over the count. FP32 with TF32 off (the arithmetic kiln's FP32
engine does), FP32 with PyTorch's default (TF32 convolutions), and FP16 channels_last.
Usage: python3 bench_torch.py OUT.json"""
import json, statistics, sys, time

import torch, torchvision

torch.manual_seed(0)
model = torchvision.models.resnet50(weights=None).eval().cuda()
results = {}


def latency(m, x, iters=200):
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        m(x)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def throughput(m, x, iters=30):
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(iters):
        m(x)
    torch.cuda.synchronize()
    return x.shape[0] * iters / (time.perf_counter() - t)


def run(label, m, dtype, channels_last, tf32):
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = True
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    m = m.to(dtype=dtype, memory_format=fmt)
    with torch.inference_mode():
        x1 = torch.randn(1, 3, 224, 224, device="cuda", dtype=dtype).to(memory_format=fmt)
        x64 = torch.randn(64, 3, 224, 224, device="cuda", dtype=dtype).to(memory_format=fmt)
        for _ in range(20):
            m(x1)
        for _ in range(5):
            m(x64)
        r = {"latency_b1_ms": latency(m, x1), "throughput_b64_img_s": throughput(m, x64)}
    results[label] = r
    print(f"pytorch {label}: batch 1 {r['latency_b1_ms']:.3f} ms, batch 64 "
          f"{r['throughput_b64_img_s']:.0f} img/s", flush=True)


run("fp32 (tf32 off)", model, torch.float32, False, False)
run("fp32 (default, tf32 convs)", model, torch.float32, False, True)
run("fp16 channels_last", model, torch.float16, True, True)
json.dump({"torch": torch.__version__, "gpu": torch.cuda.get_device_name(), **results},
          open(sys.argv[1], "w"), indent=1)
