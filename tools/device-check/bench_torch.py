"""PyTorch eager ResNet-50 on the same GPU, same run, same methodology as cuda-engines.mjs:
latency at batch 1 = median wall time of forward + synchronize; throughput at batch 64 = batches
run back to back, wall time over the count. FP32 with TF32 off (the arithmetic kiln's FP32
engine does), FP32 with PyTorch's default (TF32 convolutions), and FP16 channels_last, eager
and replayed from CUDA graphs (one graph per batch size, captured on a static input).
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


def graphed(m, x):
    """m(x) captured into a CUDA graph; the returned function replays it (x stays the input)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            m(x)
    torch.cuda.current_stream().wait_stream(side)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        m(x)
    return lambda _x: g.replay()


def run(label, m, dtype, channels_last, tf32, graphs=False):
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = True
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    m = m.to(dtype=dtype, memory_format=fmt)
    with torch.inference_mode():
        x1 = torch.randn(1, 3, 224, 224, device="cuda", dtype=dtype).to(memory_format=fmt)
        x64 = torch.randn(64, 3, 224, 224, device="cuda", dtype=dtype).to(memory_format=fmt)
        f1 = graphed(m, x1) if graphs else m
        f64 = graphed(m, x64) if graphs else m
        for _ in range(20):
            f1(x1)
        for _ in range(5):
            f64(x64)
        r = {"latency_b1_ms": latency(f1, x1), "throughput_b64_img_s": throughput(f64, x64)}
    results[label] = r
    print(f"pytorch {label}: batch 1 {r['latency_b1_ms']:.3f} ms, batch 64 "
          f"{r['throughput_b64_img_s']:.0f} img/s", flush=True)


run("fp32 (tf32 off)", model, torch.float32, False, False)
run("fp32 (default, tf32 convs)", model, torch.float32, False, True)
run("fp16 channels_last", model, torch.float16, True, True)
run("fp16 channels_last, CUDA graphs", model, torch.float16, True, True, graphs=True)
json.dump({"torch": torch.__version__, "gpu": torch.cuda.get_device_name(), **results},
          open(sys.argv[1], "w"), indent=1)
