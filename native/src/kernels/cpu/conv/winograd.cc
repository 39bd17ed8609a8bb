#include "kernels/cpu/conv/winograd.h"

#include <algorithm>
#include <functional>

#include "kernels/cpu/common/scratch.h"
#include "kernels/cpu/conv/winograd_transform.h"
#include "kernels/cpu/gemm/gemm_internal.h"
#include "kiln/cpu_features.h"
#include "kiln/thread_pool.h"

namespace kiln::kernels {

using winograd::kAlpha;
using winograd::kPositions;
using winograd::kTile;

namespace {

// G of F(4, 3): the 6 x 3 weight transform.
constexpr double kG[kAlpha][3] = {{1.0 / 4, 0, 0},
                                  {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                  {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                  {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                  {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                  {0, 0, 1}};

// Floats of V plus GEMM results one block may hold per thread: with the weights streaming
// through, about a 1 MB L2.
constexpr int64_t kBlockBudget = int64_t{192} << 10;

void runParallel(ThreadPool* pool, size_t n, const std::function<void(size_t, size_t)>& fn) {
  if (pool && n > 1)
    pool->parallelFor(n, 1, fn);
  else if (n > 0)
    fn(0, n);
}

}  // namespace

bool winogradApplies(const Conv2dParams& p) {
  int64_t oh, ow;
  conv2dOutputShape(p, &oh, &ow);
  // Gather offsets are 32-bit: planes up to 2^30 elements.
  return p.kernelH == 3 && p.kernelW == 3 && p.strideH == 1 && p.strideW == 1 && p.dilationH == 1 &&
         p.dilationW == 1 && p.group == 1 && oh > 0 && ow > 0 && p.inH > 0 && p.inW > 0 &&
         p.inH < (int64_t{1} << 30) / p.inW && oh < (int64_t{1} << 30) / ow;
}

std::vector<float> winogradTransformWeights(const Conv2dParams& p, const float* w) {
  const int64_t M = p.outChannels, C = p.inChannels;
  std::vector<float> u(static_cast<size_t>(kPositions * M * C));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t c = 0; c < C; ++c) {
      const float* g = w + (m * C + c) * 9;
      double gt[kAlpha][3];  // G g
      for (int i = 0; i < kAlpha; ++i)
        for (int b = 0; b < 3; ++b)
          gt[i][b] = kG[i][0] * g[b] + kG[i][1] * g[3 + b] + kG[i][2] * g[6 + b];
      for (int i = 0; i < kAlpha; ++i)
        for (int j = 0; j < kAlpha; ++j) {
          const double v = gt[i][0] * kG[j][0] + gt[i][1] * kG[j][1] + gt[i][2] * kG[j][2];
          u[static_cast<size_t>(((i * kAlpha + j) * M + m) * C + c)] = static_cast<float>(v);
        }
    }
  return u;
}

void winogradInputGeneric(const WinogradInputArgs& a) {
  const WinogradGeometry& g = *a.g;
  for (int64_t c = a.c0; c < a.c1; ++c) {
    const float* xc = a.x + c * g.inH * g.inW;
    const int64_t padded = (a.nt + a.nr - 1) / a.nr * a.nr;
    for (int64_t l = 0; l < padded; ++l) {
      float d[kPositions] = {}, v[kPositions] = {};
      if (l < a.nt) {
        const int64_t t = a.t0 + l;
        const int64_t y0 = (t / g.tilesW) * kTile - g.padTop;
        const int64_t x0 = (t % g.tilesW) * kTile - g.padLeft;
        for (int r = 0; r < kAlpha; ++r)
          for (int k = 0; k < kAlpha; ++k) {
            const int64_t iy = y0 + r, ix = x0 + k;
            if (iy >= 0 && iy < g.inH && ix >= 0 && ix < g.inW)
              d[r * kAlpha + k] = xc[iy * g.inW + ix];
          }
        winograd::inputTile(d, v);
      }
      float* dst = a.v + (l / a.nr) * a.channels * a.nr + c * a.nr + l % a.nr;
      for (int q = 0; q < kPositions; ++q) dst[q * a.posStride] = v[q];
    }
  }
}

void winogradOutputGeneric(const WinogradOutputArgs& a) {
  const WinogradGeometry& g = *a.g;
  for (int64_t m = a.m0; m < a.m1; ++m) {
    const float bias = a.bias ? a.bias[m] : 0.0f;
    float* ym = a.y + m * g.outH * g.outW;
    const float* rm = a.residual ? a.residual + m * g.outH * g.outW : nullptr;
    for (int64_t l = 0; l < a.nt; ++l) {
      float mv[kPositions], o[kTile * kTile];
      for (int q = 0; q < kPositions; ++q) mv[q] = a.mo[q * a.posStride + m * a.ldm + l];
      winograd::outputTile(mv, o);
      const int64_t t = a.t0 + l;
      const int64_t y0 = (t / g.tilesW) * kTile, x0 = (t % g.tilesW) * kTile;
      for (int i = 0; i < kTile && y0 + i < g.outH; ++i) {
        const int64_t cols = std::min<int64_t>(kTile, g.outW - x0);
        float* row = ym + (y0 + i) * g.outW + x0;
        for (int64_t j = 0; j < cols; ++j) {
          float v = o[i * kTile + j] + bias;
          if (rm) v += rm[(y0 + i) * g.outW + x0 + j];
          row[j] = v;
        }
        applyActivation(*a.act, row, static_cast<size_t>(cols));
      }
    }
  }
}

WinogradBlocking winogradBlocking(int64_t C, int64_t M, int64_t tiles, int64_t T, int NR) {
  // Tiles per block: V and the GEMM results of a block stay in L2. With enough blocks each
  // thread runs whole blocks (transform, GEMMs, output on one core, no barrier); otherwise one
  // block at a time is split across the threads stage by stage.
  WinogradBlocking b;
  const int64_t maxTiles = std::max<int64_t>(NR, kBlockBudget / (kPositions * (C + M)) / NR * NR);
  int64_t blocks = (tiles + maxTiles - 1) / maxTiles;
  b.blockParallel = T > 1 && blocks >= T;
  if (b.blockParallel) blocks = (blocks + T - 1) / T * T;
  b.blockTiles = ((tiles + blocks - 1) / blocks + 15) / 16 * 16;
  b.blocks = (tiles + b.blockTiles - 1) / b.blockTiles;
  b.ldm = (b.blockTiles + NR - 1) / NR * NR;
  b.vStride = b.ldm * C;
  b.mStride = M * b.ldm;
  return b;
}

void winogradScratch(const Conv2dParams& p, ScratchNeed* need) {
  int64_t OH, OW;
  conv2dOutputShape(p, &OH, &OW);
  const int64_t tiles = ((OW + kTile - 1) / kTile) * ((OH + kTile - 1) / kTile);
  const WinogradBlocking b = winogradBlocking(p.inChannels, p.outChannels, tiles,
                                              globalThreadPool().size(), selectGemmKernel().nr);
  need->atLeast(static_cast<size_t>(ScratchSlot::kWork), scratchProduct(kPositions, b.vStride));
  need->atLeast(static_cast<size_t>(ScratchSlot::kWork2),
                scratchProduct(kPositions, b.mStride) + 16);
  // The 36 GEMMs take both operands packed.
  gemmScratch(p.outChannels, b.blockTiles, p.inChannels, true, true, need);
}

void conv2dWinograd(const Conv2dParams& p, const float* x, const float* u, size_t posFloats,
                    const float* bias, const float* residual, float* y) {
  int64_t OH, OW;
  conv2dOutputShape(p, &OH, &OW);
  WinogradGeometry g;
  g.inH = p.inH, g.inW = p.inW, g.outH = OH, g.outW = OW;
  g.padTop = p.padTop, g.padLeft = p.padLeft;
  g.tilesW = (OW + kTile - 1) / kTile;
  g.tiles = g.tilesW * ((OH + kTile - 1) / kTile);
  const int64_t C = p.inChannels, M = p.outChannels;
  const GemmKernelInfo ker = selectGemmKernel();
  const int NR = ker.nr;
  const bool vector = activeIsa() == CpuIsa::kAvx512 && NR % 16 == 0;
  const auto input = vector ? isa_avx512::winogradInput : winogradInputGeneric;
  const auto output = vector ? isa_avx512::winogradOutput : winogradOutputGeneric;

  ThreadPool& threads = globalThreadPool();
  const int64_t T = threads.size();
  const WinogradBlocking b = winogradBlocking(C, M, g.tiles, T, NR);
  const int64_t blockTiles = b.blockTiles, blocks = b.blocks, ldm = b.ldm;
  const int64_t vStride = b.vStride, mStride = b.mStride;
  const bool blockParallel = b.blockParallel;

  const auto runBlock = [&](const float* xn, const float* rn, float* yn, int64_t t0,
                            ThreadPool* pool) {
    const int64_t nt = std::min(blockTiles, g.tiles - t0);
    float* v = threadScratch(ScratchSlot::kWork, static_cast<size_t>(kPositions * vStride));
    float* mo = threadScratch(ScratchSlot::kWork2, static_cast<size_t>(kPositions * mStride + 16));
    const int64_t cTasks = pool ? std::min<int64_t>(C, 4 * T) : 1;
    runParallel(pool, static_cast<size_t>(cTasks), [&](size_t b, size_t e) {
      for (size_t task = b; task < e; ++task) {
        WinogradInputArgs a{&g,
                            xn,
                            C,
                            C * static_cast<int64_t>(task) / cTasks,
                            C * static_cast<int64_t>(task + 1) / cTasks,
                            t0,
                            nt,
                            NR,
                            v,
                            vStride};
        input(a);
      }
    });
    runParallel(pool, kPositions, [&](size_t b, size_t e) {
      for (size_t q = b; q < e; ++q) {
        GemmParams gp;
        gp.m = M;
        gp.n = nt;
        gp.k = C;
        gp.ldc = ldm;
        gemmDriver(gp, nullptr, u + q * posFloats, nullptr, v + q * vStride, mo + q * mStride,
                   nullptr, nullptr, 0);
      }
    });
    const int64_t mTasks = pool ? std::min<int64_t>(M, 4 * T) : 1;
    runParallel(pool, static_cast<size_t>(mTasks), [&](size_t b, size_t e) {
      for (size_t task = b; task < e; ++task) {
        WinogradOutputArgs a{&g,
                             mo,
                             mStride,
                             ldm,
                             M * static_cast<int64_t>(task) / mTasks,
                             M * static_cast<int64_t>(task + 1) / mTasks,
                             t0,
                             nt,
                             bias,
                             rn,
                             &p.activation,
                             yn};
        output(a);
      }
    });
  };

  for (int64_t n = 0; n < p.batch; ++n) {
    const float* xn = x + n * C * p.inH * p.inW;
    const float* rn = residual ? residual + n * M * OH * OW : nullptr;
    float* yn = y + n * M * OH * OW;
    if (blockParallel) {
      threads.parallelFor(static_cast<size_t>(blocks), 1, [&](size_t b, size_t e) {
        for (size_t blk = b; blk < e; ++blk)
          runBlock(xn, rn, yn, static_cast<int64_t>(blk) * blockTiles, nullptr);
      });
    } else {
      for (int64_t t0 = 0; t0 < g.tiles; t0 += blockTiles) runBlock(xn, rn, yn, t0, &threads);
    }
  }
}

}  // namespace kiln::kernels
