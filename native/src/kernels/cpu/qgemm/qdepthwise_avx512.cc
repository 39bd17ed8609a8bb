// The depthwise loops of qdepthwise_impl.h, vectorized by the compiler for AVX-512.
#include "kernels/cpu/qgemm/qdepthwise_impl.h"

namespace kiln::kernels::qgemm {

void depthwiseChannelAvx512(const QConv2dParams& p, const uint8_t* plane, int64_t pw,
                            const int8_t* filter, int32_t bias, float scale, const QRequant& rq,
                            int64_t oh, int64_t ow, int32_t* acc, uint8_t* out) {
  depthwiseChannel(p, plane, pw, filter, bias, scale, rq, oh, ow, acc, out);
}

}  // namespace kiln::kernels::qgemm
