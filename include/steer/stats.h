// Uncertainty of effects measured on a few dozen prompts or questions: the mean with a
// percentile bootstrap interval over the items, seeded so a report is reproducible.
//
//   steer::Interval ci = steer::bootstrap_mean(p_matching, 0.95, 2000, 7);
//   // ci.mean, ci.lo, ci.hi
//   steer::Interval d = steer::bootstrap_mean_difference(steered, unsteered);  // paired
//
// Failure: steer::Error for an empty sample, unequal paired samples, a level outside (0, 1) or
// fewer than 100 resamples. Non-finite values are an error (they would poison every resample).
#pragma once
#include <cstdint>
#include <vector>

namespace steer {

struct Interval {
  double mean = 0, lo = 0, hi = 0;  // the sample mean and the interval's bounds
  bool contains(double x) const { return lo <= x && x <= hi; }
};

// The mean of `values` and the percentile bootstrap interval at `level`: `resamples` draws of
// n items with replacement (std::mt19937_64 seeded with `seed`), the level's central quantiles
// of the resampled means. A single value gives lo = hi = mean.
Interval bootstrap_mean(const std::vector<double>& values, double level = 0.95, int resamples = 2000,
                        uint64_t seed = 7);

// The mean of a[i] − b[i] and its interval, resampling the pairs together (the same questions
// under two conditions): tighter than two independent intervals and the right test of whether
// a steering effect is more than noise.
Interval bootstrap_mean_difference(const std::vector<double>& a, const std::vector<double>& b, double level = 0.95,
                                   int resamples = 2000, uint64_t seed = 7);

}  // namespace steer
