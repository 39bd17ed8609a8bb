// KILN_NO_COVERAGE: the fuzz build (tools/sanitize/run) traces every integer comparison for
// coverage, a call per element in a kernel's inner loops that made a large convolution 20 times
// slower there (and a pool over many small planes too); the fuzzers need the coverage of shape
// and plan code, not of this arithmetic. ASan and UBSan still check these functions.
#pragma once

#if defined(__clang__)
#define KILN_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define KILN_NO_COVERAGE
#endif
