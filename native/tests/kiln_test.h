// A minimal test harness: TEST(name) registers a case, CHECK* record failures, main runs all.
// Kept tiny on purpose: the project vendors nothing and needs only ctest's pass/fail.
#pragma once

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace kiln_test {

struct Case {
  const char* name;
  std::function<void()> body;
};

inline std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}
inline int& failures() {
  static int count = 0;
  return count;
}
struct Register {
  Register(const char* name, std::function<void()> body) { cases().push_back({name, body}); }
};

inline void fail(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
  ++failures();
}

}  // namespace kiln_test

#define KT_CAT2(a, b) a##b
#define KT_CAT(a, b) KT_CAT2(a, b)
#define TEST(name)                                                 \
  static void name();                                              \
  static kiln_test::Register KT_CAT(register_, name)(#name, name); \
  static void name()

#define CHECK(cond)                                          \
  do {                                                       \
    if (!(cond)) kiln_test::fail(__FILE__, __LINE__, #cond); \
  } while (0)
#define CHECK_EQ(a, b)                                                    \
  do {                                                                    \
    if (!((a) == (b))) kiln_test::fail(__FILE__, __LINE__, #a " == " #b); \
  } while (0)
#define CHECK_THROWS(expr, ErrorType)                                                     \
  do {                                                                                    \
    bool thrown_ = false;                                                                 \
    try {                                                                                 \
      expr;                                                                               \
    } catch (const ErrorType&) {                                                          \
      thrown_ = true;                                                                     \
    }                                                                                     \
    if (!thrown_) kiln_test::fail(__FILE__, __LINE__, #expr " should throw " #ErrorType); \
  } while (0)

int main() {
  for (const auto& c : kiln_test::cases()) {
    const int before = kiln_test::failures();
    try {
      c.body();
    } catch (const std::exception& e) {
      kiln_test::fail(__FILE__, __LINE__, std::string(c.name) + " threw: " + e.what());
    }
    std::printf("%s %s\n", kiln_test::failures() == before ? "ok  " : "FAIL", c.name);
  }
  std::printf("%zu cases, %d failures\n", kiln_test::cases().size(), kiln_test::failures());
  return kiln_test::failures() == 0 ? 0 : 1;
}
