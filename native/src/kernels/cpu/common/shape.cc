#include "kiln/kernels/shape.h"

#include <algorithm>
#include <string>

#include "kiln/error.h"

namespace kiln::kernels {

int64_t shapeSize(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Shape broadcastShapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      throw Error(ErrorCode::kInvalidArgument, "broadcast: dims " + std::to_string(da) + " and " +
                                                   std::to_string(db) + " at axis " +
                                                   std::to_string(i) + " are neither equal nor 1");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace kiln::kernels
