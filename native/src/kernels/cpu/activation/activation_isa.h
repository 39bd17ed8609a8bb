// Vector paths of applyActivation, one namespace per ISA tier; each returns how many leading
// elements it handled so the caller finishes the tail with the scalar path.
#pragma once

#include <cstddef>

#include "kiln/kernels/activation.h"

namespace kiln::kernels {
namespace isa_scalar {
void applyActivation(const Activation& act, float* data, size_t n);
}
namespace isa_avx512 {
size_t applyActivation(const Activation& act, float* data, size_t n);
// data[i] += bias, fused with the activation for none/Relu/Clip; returns whether the activation
// was applied too (otherwise only the bias was added).
bool addBiasActivation(const Activation& act, float bias, float* data, size_t n);
}  // namespace isa_avx512
}  // namespace kiln::kernels
