#include "engine/quant/calibration_ranges.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace quantd::engine {
namespace {

// The observed range clipped to [-t, t]. Keeping min's sign matters: the
// runtime picks u8 for non-negative ranges and s8 otherwise.
TensorRange ClipToThreshold(const TensorRange& observed, double threshold) {
  const float t = static_cast<float>(threshold);
  TensorRange clipped{std::max(observed.min, -t), std::min(observed.max, t)};
  clipped.min = std::min(clipped.min, clipped.max);
  return clipped;
}

// Bins that can hold data: after growth the top of the histogram may be empty,
// and thresholds beyond the last non-empty bin only lose resolution.
int UsedBins(const Histogram& histogram) {
  const std::vector<int64_t>& counts = histogram.counts();
  int used = static_cast<int>(counts.size());
  while (used > 1 && counts[used - 1] == 0) --used;
  return used;
}

// MXNet's _smooth_distribution: gives empty bins a tiny mass taken evenly
// from the others so that KL stays finite where Q has no mass but P has.
// False when every bin is empty. (Floored at eps: a small expanded Q bin
// could otherwise go negative when most bins are empty.)
bool Smooth(std::vector<double>& distribution) {
  constexpr double kEps = 1e-4;
  const auto zeros = std::count(distribution.begin(), distribution.end(), 0.0);
  const auto nonzeros = static_cast<int64_t>(distribution.size()) - zeros;
  if (nonzeros == 0) return false;
  const double taken = kEps * static_cast<double>(zeros) / static_cast<double>(nonzeros);
  for (double& d : distribution) d = d == 0.0 ? kEps : std::max(d - taken, kEps);
  return true;
}

// KL(P || Q) of two unnormalized, strictly positive distributions.
double KlDivergence(const std::vector<double>& p, const std::vector<double>& q) {
  double p_sum = 0.0;
  double q_sum = 0.0;
  for (size_t j = 0; j < p.size(); ++j) {
    p_sum += p[j];
    q_sum += q[j];
  }
  double kl = 0.0;
  for (size_t j = 0; j < p.size(); ++j) {
    const double pj = p[j] / p_sum;
    kl += pj * std::log(pj / (q[j] / q_sum));
  }
  return kl;
}

// KL(P || Q) for the threshold at `kept` bins, or infinity when Q is empty.
double EntropyForThreshold(const std::vector<int64_t>& counts, int kept, int levels,
                           double clipped_count) {
  std::vector<double> p(counts.begin(), counts.begin() + kept);
  p[kept - 1] += clipped_count;
  std::vector<double> q(kept, 0.0);
  for (int level = 0; level < levels; ++level) {
    // Spread `kept` bins over the levels as evenly as integer edges allow.
    const int begin = static_cast<int>(static_cast<int64_t>(level) * kept / levels);
    const int end = static_cast<int>(static_cast<int64_t>(level + 1) * kept / levels);
    double mass = 0.0;
    int nonzero = 0;
    for (int j = begin; j < end; ++j) {
      mass += static_cast<double>(counts[j]);
      nonzero += p[j] != 0.0;
    }
    // Expanding back: the level's mass is shared by the bins P has mass in,
    // so Q keeps P's support (as in TensorRT and MXNet).
    for (int j = begin; j < end; ++j) {
      if (p[j] != 0.0) q[j] = mass / nonzero;
    }
  }
  if (!Smooth(p) || !Smooth(q)) return std::numeric_limits<double>::infinity();
  return KlDivergence(p, q);
}

// ∫_0^x (u - round(u / step) * step)^2 du: the squared rounding error
// accumulated from 0 to x on a grid of `step`.
double AccumulatedRoundingError(double x, double step) {
  const double periods = std::floor(x / step);
  const double r = x - periods * step;
  const double step3 = step * step * step;
  const double partial = r <= step / 2
                             ? r * r * r / 3
                             : step3 / 24 + ((r - step) * (r - step) * (r - step) + step3 / 8) / 3;
  return periods * step3 / 12 + partial;
}

// Per-bin sums over the bins at and beyond each index, so the clipping error
// of any threshold is O(1): for x uniform on [a, b], E[(x - t)^2] =
// E[x^2] - 2t E[x] + t^2 with E[x] = (a + b) / 2, E[x^2] = (a^2 + ab + b^2) / 3.
struct TailMoments {
  std::vector<double> count, first, second;
};

// Bin j spans [j * width, (j + 1) * width], except that the last non-empty
// bin ends at the observed |x| maximum.
double BinEnd(int j, double width, double max_magnitude) {
  return std::max(j * width, std::min((j + 1) * width, max_magnitude));
}

TailMoments ComputeTailMoments(const std::vector<int64_t>& counts, int used, double width,
                               double max_magnitude) {
  TailMoments m{std::vector<double>(used + 1, 0.0), std::vector<double>(used + 1, 0.0),
                std::vector<double>(used + 1, 0.0)};
  for (int j = used - 1; j >= 0; --j) {
    const double n = static_cast<double>(counts[j]);
    const double a = j * width;
    const double b = BinEnd(j, width, max_magnitude);
    m.count[j] = m.count[j + 1] + n;
    m.first[j] = m.first[j + 1] + n * (a + b) / 2;
    m.second[j] = m.second[j + 1] + n * (a * a + a * b + b * b) / 3;
  }
  return m;
}

// Expected squared error (summed over all values) for clipping threshold
// t = kept * width with `steps` grid steps over [0, t].
double SquaredErrorForThreshold(const std::vector<int64_t>& counts, const TailMoments& tail,
                                int kept, double width, double max_magnitude, double t, int steps) {
  const double step = t / steps;
  double error = tail.second[kept] - 2 * t * tail.first[kept] + t * t * tail.count[kept];
  for (int j = 0; j < kept; ++j) {
    if (counts[j] == 0) continue;
    const double a = j * width;
    const double b = BinEnd(j, width, max_magnitude);
    double mean_error = 0.0;
    if (b > a) {
      mean_error =
          (AccumulatedRoundingError(b, step) - AccumulatedRoundingError(a, step)) / (b - a);
    } else {  // every value of the bin sits at its lower edge
      const double d = a - std::round(a / step) * step;
      mean_error = d * d;
    }
    error += static_cast<double>(counts[j]) * mean_error;
  }
  return error;
}

// The counts without the exact zeros: zero is exactly representable whatever
// the threshold, so zeros carry no quantization error. Left in, a ReLU output's
// zero spike dominates bin 0, and KL then favours the threshold at which that
// bin keeps a level of its own, i.e. the smallest one searched (pytorch-
// quantization's skip_zeros option exists for the same reason).
std::vector<int64_t> NonZeroCounts(const Histogram& histogram) {
  std::vector<int64_t> counts = histogram.counts();
  counts[0] -= histogram.zeros();
  return counts;
}

double MaxMagnitude(const TensorRange& range) {
  return std::max(std::fabs(static_cast<double>(range.min)),
                  std::fabs(static_cast<double>(range.max)));
}

// The magnitude above which at most `budget` of the values counted in
// `counts` lie, interpolated within the bin where the budget runs out.
double TailThreshold(const std::vector<int64_t>& counts, double width, double budget) {
  double above = 0.0;
  for (int j = static_cast<int>(counts.size()) - 1; j >= 0; --j) {
    const double in_bin = static_cast<double>(counts[j]);
    if (above + in_bin > budget) return (j + 1 - (budget - above) / in_bin) * width;
    above += in_bin;
  }
  return 0.0;
}

TensorRange PerTailPercentileRange(const Histogram& histogram, double percentile) {
  const double budget = (100.0 - percentile) / 100.0 * static_cast<double>(histogram.total());
  std::vector<int64_t> positive = histogram.counts();
  const std::vector<int64_t>& negative = histogram.negative_counts();
  for (size_t j = 0; j < positive.size(); ++j) positive[j] -= negative[j];
  const TensorRange observed = histogram.range();
  TensorRange range = observed;
  // A side without values keeps its observed bound (e.g. min of a ReLU output).
  if (observed.max >= 0.0f) {
    range.max = std::min(
        observed.max, static_cast<float>(TailThreshold(positive, histogram.bin_width(), budget)));
  }
  if (observed.min < 0.0f) {
    range.min = std::max(
        observed.min, -static_cast<float>(TailThreshold(negative, histogram.bin_width(), budget)));
  }
  range.min = std::min(range.min, range.max);
  return range;
}

}  // namespace

std::optional<TensorRange> FiniteRange(const float* values, int64_t count) {
  std::optional<TensorRange> range;
  for (int64_t i = 0; i < count; ++i) {
    const float v = values[i];
    if (!std::isfinite(v)) continue;
    if (!range) {
      range = TensorRange{v, v};
    } else {
      range->min = std::min(range->min, v);
      range->max = std::max(range->max, v);
    }
  }
  return range;
}

TensorRange EntropyRange(const Histogram& histogram, int bits) {
  if (histogram.empty() || histogram.limit() == 0.0) return histogram.range();
  const int levels = histogram.non_negative() ? 1 << bits : 1 << (bits - 1);
  const std::vector<int64_t> counts = NonZeroCounts(histogram);
  const int used = UsedBins(histogram);
  if (used <= levels) return histogram.range();  // every bin already has its own level

  // clipped[i] = mass beyond the first i bins.
  std::vector<double> clipped(used + 1, 0.0);
  for (int i = used - 1; i >= 0; --i) clipped[i] = clipped[i + 1] + counts[i];

  int best_kept = used;
  double best_kl = std::numeric_limits<double>::infinity();
  for (int kept = levels; kept <= used; ++kept) {
    const double kl = EntropyForThreshold(counts, kept, levels, clipped[kept]);
    if (kl < best_kl) {
      best_kl = kl;
      best_kept = kept;
    }
  }
  return ClipToThreshold(histogram.range(), best_kept * histogram.bin_width());
}

TensorRange PercentileRange(const Histogram& histogram, double percentile, bool per_tail) {
  if (histogram.empty() || histogram.limit() == 0.0) return histogram.range();
  if (per_tail) return PerTailPercentileRange(histogram, percentile);
  const std::vector<int64_t>& counts = histogram.counts();
  const double target = percentile / 100.0 * static_cast<double>(histogram.total());
  double below = 0.0;
  double threshold = histogram.limit();
  for (size_t j = 0; j < counts.size(); ++j) {
    const double in_bin = static_cast<double>(counts[j]);
    if (in_bin > 0.0 && below + in_bin >= target) {
      threshold = (static_cast<double>(j) + (target - below) / in_bin) * histogram.bin_width();
      break;
    }
    below += in_bin;
  }
  return ClipToThreshold(histogram.range(), threshold);
}

TensorRange MseRange(const Histogram& histogram, int bits) {
  if (histogram.empty() || histogram.limit() == 0.0) return histogram.range();
  const int steps = histogram.non_negative() ? (1 << bits) - 1 : (1 << (bits - 1)) - 1;
  const std::vector<int64_t> counts = NonZeroCounts(histogram);
  const int used = UsedBins(histogram);
  const double width = histogram.bin_width();
  const double max_magnitude = MaxMagnitude(histogram.range());

  const TailMoments tail = ComputeTailMoments(counts, used, width, max_magnitude);

  auto error_at = [&](int kept) {
    // kept == used stands for the observed maximum itself, so MSE never does
    // worse than naive on its own measure.
    const double t = kept >= used ? max_magnitude : kept * width;
    return SquaredErrorForThreshold(counts, tail, std::min(kept, used), width, max_magnitude, t,
                                    steps);
  };
  // Each candidate costs O(bins), so a search over every bin edge would be
  // quadratic (seconds per value at 8192 bins). The error is a smooth sum of
  // a rising rounding term and a falling clipping term, so a coarse pass over
  // ~256 edges followed by every edge around the coarse optimum finds its
  // minimum in O(256 * bins); only a dip narrower than the stride could hide.
  const int stride = std::max(1, used / 256);
  int best_kept = used;
  double best_error = error_at(used);
  for (int kept = stride; kept < used; kept += stride) {
    const double error = error_at(kept);
    if (error < best_error) {
      best_error = error;
      best_kept = kept;
    }
  }
  const int coarse_best = best_kept;
  for (int kept = std::max(1, coarse_best - stride); kept <= std::min(used, coarse_best + stride);
       ++kept) {
    const double error = error_at(kept);
    if (error < best_error) {
      best_error = error;
      best_kept = kept;
    }
  }
  const double best_threshold = best_kept >= used ? max_magnitude : best_kept * width;
  return ClipToThreshold(histogram.range(), best_threshold);
}

void EmaRange::Update(const TensorRange& batch) {
  if (!initialized_) {
    min_ = batch.min;
    max_ = batch.max;
    initialized_ = true;
    return;
  }
  min_ = decay_ * min_ + (1.0 - decay_) * batch.min;
  max_ = decay_ * max_ + (1.0 - decay_) * batch.max;
}

}  // namespace quantd::engine
