// RoiAlign on float32: pools each region of interest of X [N, C, H, W] into an
// [output_height, output_width] grid, averaging (or taking the largest of) bilinear samples
// spread evenly over each bin.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/op.h"
#include "engine/ops/register.h"

namespace kiln {
namespace {

constexpr double kMaxGridPoints = double(int64_t{1} << 24);

void inferRoiAlign(OpContext& ctx) {
  ctx.requireFloatInputs({0, 1});
  ctx.outTypes[0] = DataType::kFloat32;  // what the kernel writes, whatever the plan declares
  const Dims& x = ctx.shape(0);
  const Dims& rois = ctx.shape(1);
  ctx.require(x.size() == 4, "X must be [N, C, H, W]");
  ctx.require(rois.size() == 2 && rois[1] == 4, "rois must be [num_rois, 4]");
  const DataType bt = ctx.dtype(2);
  ctx.require(bt == DataType::kInt64 || bt == DataType::kInt32, "batch_indices must be integers");
  ctx.require(ctx.shape(2) == Dims{rois[0]}, "batch_indices must be [num_rois]");
  const std::string mode = ctx.layer.attrString("mode", "avg");
  ctx.require(mode == "avg" || mode == "max", "mode must be avg or max");
  const std::string ctm = ctx.layer.attrString("coordinate_transformation_mode", "half_pixel");
  ctx.require(ctm == "half_pixel" || ctm == "output_half_pixel",
              "unknown coordinate_transformation_mode '" + ctm + "'");
  ctx.outShapes[0] = Dims{rois[0], x[1], ctx.layer.attrInt("output_height", 1),
                          ctx.layer.attrInt("output_width", 1)};
}

// One bilinear sample as its four taps and weights (all zero outside [-1, size]).
struct Sample {
  int64_t offset[4] = {0, 0, 0, 0};
  float weight[4] = {0, 0, 0, 0};
};

Sample bilinearSample(double y, double x, int64_t h, int64_t w) {
  Sample s;
  if (y < -1.0 || y > static_cast<double>(h) || x < -1.0 || x > static_cast<double>(w)) return s;
  y = std::max(y, 0.0);
  x = std::max(x, 0.0);
  auto y0 = static_cast<int64_t>(y), x0 = static_cast<int64_t>(x);
  int64_t y1 = y0 + 1, x1 = x0 + 1;
  if (y0 >= h - 1) y0 = y1 = h - 1, y = static_cast<double>(y0);
  if (x0 >= w - 1) x0 = x1 = w - 1, x = static_cast<double>(x0);
  const double ly = y - static_cast<double>(y0), lx = x - static_cast<double>(x0);
  const double hy = 1 - ly, hx = 1 - lx;
  s.offset[0] = y0 * w + x0, s.offset[1] = y0 * w + x1;
  s.offset[2] = y1 * w + x0, s.offset[3] = y1 * w + x1;
  s.weight[0] = static_cast<float>(hy * hx), s.weight[1] = static_cast<float>(hy * lx);
  s.weight[2] = static_cast<float>(ly * hx), s.weight[3] = static_cast<float>(ly * lx);
  return s;
}

void runRoiAlign(OpContext& ctx) {
  const Dims& x = ctx.shape(0);
  const int64_t c = x[1], h = x[2], w = x[3];
  const Dims& y = ctx.outShapes[0];
  const int64_t rois = y[0], oh = y[2], ow = y[3];
  const bool halfPixel =
      ctx.layer.attrString("coordinate_transformation_mode", "half_pixel") == "half_pixel";
  const bool isMax = ctx.layer.attrString("mode", "avg") == "max";
  const double scale = ctx.layer.attrFloat("spatial_scale", 1.0);
  const int64_t ratio = ctx.layer.attrInt("sampling_ratio", 0);
  const float* boxes = ctx.f32(1);
  const float* src = ctx.f32(0);
  float* dst = ctx.outF32(0);
  for (int64_t r = 0; r < rois; ++r) {
    int64_t batch = 0;
    if (ctx.dtype(2) == DataType::kInt64)
      batch = static_cast<const int64_t*>(ctx.in[2].data)[r];
    else
      batch = static_cast<const int32_t*>(ctx.in[2].data)[r];
    ctx.require(batch >= 0 && batch < x[0], "batch index out of range");
    const double offset = halfPixel ? 0.5 : 0.0;
    const double x0 = boxes[r * 4] * scale - offset, y0 = boxes[r * 4 + 1] * scale - offset;
    double roiW = boxes[r * 4 + 2] * scale - offset - x0;
    double roiH = boxes[r * 4 + 3] * scale - offset - y0;
    // The older mode keeps every region at least one pixel wide.
    if (!halfPixel) roiW = std::max(roiW, 1.0), roiH = std::max(roiH, 1.0);
    const double binH = roiH / static_cast<double>(oh), binW = roiW / static_cast<double>(ow);
    const double gh =
        ratio > 0 ? static_cast<double>(ratio) : std::ceil(roiH / static_cast<double>(oh));
    const double gw =
        ratio > 0 ? static_cast<double>(ratio) : std::ceil(roiW / static_cast<double>(ow));
    // Hostile boxes or ratios would make the grid overflow (and run for hours): 2^24 points a bin
    // is far beyond any real region.
    ctx.require(std::isfinite(gh) && std::isfinite(gw) && std::abs(gh) <= kMaxGridPoints &&
                    std::abs(gw) <= kMaxGridPoints && std::abs(gh * gw) <= kMaxGridPoints,
                "a bin's sampling grid (sampling_ratio, or region size / output size) must be "
                "finite and at most 2^24 points");
    const auto gridH = static_cast<int64_t>(gh), gridW = static_cast<int64_t>(gw);
    const double count = static_cast<double>(std::max<int64_t>(gridH * gridW, 1));
    for (int64_t ph = 0; ph < oh; ++ph) {
      for (int64_t pw = 0; pw < ow; ++pw) {
        std::vector<Sample> samples;
        for (int64_t iy = 0; iy < gridH; ++iy) {
          const double sy = y0 + static_cast<double>(ph) * binH +
                            (static_cast<double>(iy) + 0.5) * binH / static_cast<double>(gridH);
          for (int64_t ix = 0; ix < gridW; ++ix) {
            const double sx = x0 + static_cast<double>(pw) * binW +
                              (static_cast<double>(ix) + 0.5) * binW / static_cast<double>(gridW);
            samples.push_back(bilinearSample(sy, sx, h, w));
          }
        }
        for (int64_t ch = 0; ch < c; ++ch) {
          const float* plane = src + (batch * c + ch) * h * w;
          double acc = isMax ? -std::numeric_limits<double>::infinity() : 0.0;
          for (const Sample& s : samples) {
            if (isMax) {
              // Like onnxruntime: the largest weighted tap, not the interpolated value.
              for (int t = 0; t < 4; ++t)
                acc = std::max(acc, static_cast<double>(s.weight[t] * plane[s.offset[t]]));
            } else {
              for (int t = 0; t < 4; ++t) acc += s.weight[t] * plane[s.offset[t]];
            }
          }
          if (samples.empty()) acc = 0;
          dst[((r * c + ch) * oh + ph) * ow + pw] = static_cast<float>(isMax ? acc : acc / count);
        }
      }
    }
  }
}

}  // namespace

void registerRoiAlignOps(OpTable& table) { table["RoiAlign"] = OpImpl{inferRoiAlign, runRoiAlign}; }

}  // namespace kiln
