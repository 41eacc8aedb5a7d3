// Bootstrap intervals (contract in include/steer/stats.h).
#include "steer/stats.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "steer/error.h"

namespace steer {
namespace {

void check(const std::vector<double>& v, double level, int resamples, const char* what) {
  if (v.empty()) fail(std::string(what) + ": no values");
  if (!(level > 0 && level < 1)) fail(std::string(what) + ": the level must be in (0, 1), got " + std::to_string(level));
  if (resamples < 100) fail(std::string(what) + ": at least 100 resamples are needed, got " + std::to_string(resamples));
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) fail(std::string(what) + ": value " + std::to_string(i + 1) + " is not finite");
}

double quantile(std::vector<double>& sorted, double q) {
  // Linear interpolation between order statistics (numpy's default "linear" method).
  const double pos = q * double(sorted.size() - 1);
  const size_t i = size_t(std::floor(pos));
  const size_t j = std::min(sorted.size() - 1, i + 1);
  return sorted[i] + (pos - double(i)) * (sorted[j] - sorted[i]);
}

}  // namespace

Interval bootstrap_mean(const std::vector<double>& values, double level, int resamples, uint64_t seed) {
  check(values, level, resamples, "bootstrap");
  const size_t n = values.size();
  Interval out;
  for (double x : values) out.mean += x;
  out.mean /= double(n);
  if (n == 1) {
    out.lo = out.hi = out.mean;
    return out;
  }
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  std::vector<double> means(static_cast<size_t>(resamples));
  for (double& m : means) {
    double s = 0;
    for (size_t k = 0; k < n; ++k) s += values[pick(rng)];
    m = s / double(n);
  }
  std::sort(means.begin(), means.end());
  out.lo = quantile(means, (1 - level) / 2);
  out.hi = quantile(means, 1 - (1 - level) / 2);
  return out;
}

Interval bootstrap_mean_difference(const std::vector<double>& a, const std::vector<double>& b, double level,
                                   int resamples, uint64_t seed) {
  if (a.size() != b.size())
    fail("paired bootstrap: " + std::to_string(a.size()) + " and " + std::to_string(b.size()) +
         " values; the pairs must match");
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return bootstrap_mean(d, level, resamples, seed);
}

}  // namespace steer
