// The little floating-point arithmetic the heap profiler needs, without libm: the .so depends on libc
// alone (tests/api/deps_test.sh), and log/exp are libm's.
// - neg_log(u): -ln(u) for u in (0, 1], to draw exponentially distributed sampling intervals;
// - one_minus_exp_neg(x): 1 - e^-x for x >= 0, the chance that an allocation of x sampling intervals is
//   sampled (pprof's heap_v2 unsampling divides by it; we do the same for the leak report's estimates).
// Series with range reduction, accurate to about 1e-12, which is far below the sampling noise.
#ifndef BRK_PROF_MATH_H
#define BRK_PROF_MATH_H

#include <stdint.h>
#include <string.h>

namespace brkmalloc {

inline double prof_neg_log(double u) {
  constexpr double kLn2 = 0.69314718055994530942;
  uint64_t bits;
  memcpy(&bits, &u, sizeof bits);
  int e = int((bits >> 52) & 0x7ff) - 1023;                 // u is normal: at least 2^-53
  bits = (bits & ((uint64_t{1} << 52) - 1)) | (uint64_t{1023} << 52);
  double m;
  memcpy(&m, &bits, sizeof m);                              // u = m * 2^e, m in [1, 2)
  // ln m = 2 atanh(s), s = (m - 1) / (m + 1) in [0, 1/3): the odd series converges by 1/9 a term.
  double s = (m - 1) / (m + 1), s2 = s * s, term = s, sum = 0;
  for (int k = 1; k < 28; k += 2) {
    sum += term / k;
    term *= s2;
  }
  return -(2 * sum + e * kLn2);
}

// e^-x for x >= 0 (0 beyond 700, where a double would underflow anyway).
inline double prof_exp_neg(double x) {
  constexpr double kLn2 = 0.69314718055994530942;
  if (x > 700) return 0;
  int k = int(x / kLn2);
  double r = x - k * kLn2;  // in [0, ln 2)
  double term = 1, sum = 1;
  for (int n = 1; n < 22; ++n) {
    term *= -r / n;
    sum += term;
  }
  uint64_t bits = uint64_t(1023 - k) << 52;  // 2^-k, k <= 1010
  double scale;
  memcpy(&scale, &bits, sizeof scale);
  return sum * scale;
}

inline double prof_one_minus_exp_neg(double x) {
  if (x >= 0.5) return 1 - prof_exp_neg(x);
  // Small x: the series itself, so that tiny allocations do not lose every digit to cancellation.
  double term = x, sum = 0;
  for (int n = 1; n < 20; ++n) {
    sum += term;
    term *= -x / (n + 1);
  }
  return sum;
}

}  // namespace brkmalloc

#endif
