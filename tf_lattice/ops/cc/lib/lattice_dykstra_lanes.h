// Dykstra cycles of the lattice projection for a batch of units at once, on
// the CPU. TF-free and host-only (the CUDA kernel runs one unit per thread
// with lib/lattice_projection.h instead).
//
// Values are stored vertex-major, x[v * L + l] for L units ("lanes"), so
// that every projection of the program (lattice_projection.h) becomes a
// loop over contiguous memory that the compiler vectorizes:
//
// * A chain family is grouped into runs: chains t = 0..count-1 whose
//   vertices are chain[i] + t (consecutive chains along a lattice dimension),
//   repeated at equal steps. Position i of every chain of a run is then the
//   contiguous block x[chain[i] * L .. (chain[i] + count) * L), and one pass
//   over the m blocks of a run projects count * L chains of length m at
//   once, each by the max-min formula of isotonic regression,
//     P(y)_i = max_{j <= i} min_{k >= i} mean(y_j, ..., y_k),
//   whose results are non-decreasing in floating point too (the sets of
//   means nest) and equal where the pooled inputs are equal. Chains longer
//   than kMaxClosedFormLength use pool adjacent violators element by element.
// * A half-space row updates its vertices' L lanes.
// * The box clips all V * L values.
//
// Each lane stops, as ProjectUnit does, after the first cycle that moves none
// of its values by more than tolerance * (1 + max |x0|); its values at that
// cycle are its result while the other lanes go on.
#ifndef TF_LATTICE_OPS_CC_LIB_LATTICE_DYKSTRA_LANES_H_
#define TF_LATTICE_OPS_CC_LIB_LATTICE_DYKSTRA_LANES_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tf_lattice/ops/cc/lib/lattice_projection.h"

#if defined(__clang__)
#define TF_LATTICE_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define TF_LATTICE_IVDEP _Pragma("GCC ivdep")
#else
#define TF_LATTICE_IVDEP
#endif

#if defined(__clang__)
#define TF_LATTICE_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define TF_LATTICE_UNROLL _Pragma("GCC unroll 16")
#else
#define TF_LATTICE_UNROLL
#endif

// With GCC on x86-64 Linux the hot loops also get an AVX2 clone, chosen when
// the library loads on a CPU that has AVX2 (the same IEEE operations on
// wider vectors, so results do not depend on the CPU; no FMA contraction).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define TF_LATTICE_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TF_LATTICE_VECTOR_CLONES
#endif

namespace tf_lattice {

// Longest chain projected by the max-min formula (its cost grows as
// length^2, pool adjacent violators' as length).
constexpr int kMaxClosedFormLength = 8;

// Chains of one family with vertices chain[i] + r * step + t for
// r = 0..repeats-1 and t = 0..count-1: `repeats` equally spaced runs of
// `count` consecutive chains.
struct ChainRun {
  const int64_t* chain;
  int64_t count;
  int64_t repeats;
  int64_t step;
};

// A chain family as runs of consecutive chains.
struct LaneChainFamily {
  int64_t length;
  std::vector<ChainRun> runs;
};

// A half-space row with its nonzero terms only.
template <typename T>
struct LaneRow {
  int num_terms;
  int64_t index[kRowTerms];
  T coef[kRowTerms];
  T inverse_norm;  // 1 / sum_t coef_t^2
};

// The program's projections regrouped for the lane layout; built once per op
// call from the tables (which outlive it).
template <typename T>
struct LanePlan {
  std::vector<LaneChainFamily> chain_families;
  std::vector<std::vector<LaneRow<T>>> halfspace_groups;
  bool has_bounds;
  int64_t num_projections;
  // When every finalize row is an order row x[target] >= x[other] or
  // x[target] <= x[other]: the rows of target t are order_offsets[t] ..
  // order_offsets[t + 1] - 1, with their other vertex and direction.
  bool order_rows_only;
  std::vector<int64_t> order_offsets;
  std::vector<int64_t> order_other;
  std::vector<char> order_target_is_upper;  // x[target] >= x[other]
};

// Whether b[i] == a[i] + shift for every position i.
inline bool IsShifted(const int64_t* a, const int64_t* b, int64_t length, int64_t shift) {
  for (int64_t i = 0; i < length; ++i) {
    if (b[i] != a[i] + shift) return false;
  }
  return true;
}

// Groups a family's chains [num_chains, length] into runs of consecutive
// chains, and equally spaced runs of equal counts into one ChainRun.
inline std::vector<ChainRun> GroupChains(const int64_t* chains, int64_t num_chains,
                                         int64_t length) {
  std::vector<ChainRun> runs;
  for (int64_t c = 0; c < num_chains; ++c) {
    const int64_t* chain = chains + c * length;
    if (!runs.empty() && runs.back().repeats == 1 &&
        IsShifted(chain - length, chain, length, 1)) {
      ++runs.back().count;
    } else {
      runs.push_back({chain, 1, 1, 0});
    }
  }
  std::vector<ChainRun> grouped;
  for (const ChainRun& run : runs) {
    if (!grouped.empty()) {
      ChainRun& last = grouped.back();
      const int64_t step = run.chain[0] - last.chain[0];
      const bool same_step = last.repeats == 1 || step == last.repeats * last.step;
      if (run.count == last.count && step > 0 && same_step &&
          IsShifted(last.chain, run.chain, length, step)) {
        if (last.repeats == 1) last.step = step;
        ++last.repeats;
        continue;
      }
    }
    grouped.push_back(run);
  }
  return grouped;
}

// Fills the plan's order-row tables from the finalize rows, or sets
// order_rows_only to false when some row is not an order row.
template <typename T>
void AddOrderRows(const ProjectionProgram<T>& program, LanePlan<T>* plan) {
  const int64_t n = program.num_vertices;
  plan->order_rows_only = true;
  plan->order_offsets.assign(1, 0);
  for (int64_t target = 0; target < n; ++target) {
    for (int64_t r = program.row_offsets[target]; r < program.row_offsets[target + 1]; ++r) {
      int64_t upper = 0;
      int64_t lower = 0;
      if (!IsOrderRow(program, r, &upper, &lower)) {
        plan->order_rows_only = false;
        return;
      }
      plan->order_other.push_back(upper == target ? lower : upper);
      plan->order_target_is_upper.push_back(upper == target);
    }
    plan->order_offsets.push_back(static_cast<int64_t>(plan->order_other.size()));
  }
}

template <typename T>
LanePlan<T> MakeLanePlan(const ProjectionProgram<T>& program) {
  LanePlan<T> plan;
  for (int64_t f = 0; f < program.num_chain_families; ++f) {
    const int64_t* family = program.chain_families + 3 * f;
    const int64_t num_chains = family[1];
    const int64_t length = family[2];
    const int64_t* chains = program.chain_index + family[0];
    plan.chain_families.push_back({length, GroupChains(chains, num_chains, length)});
  }
  for (int64_t g = 0; g < program.num_halfspace_groups; ++g) {
    std::vector<LaneRow<T>> rows;
    for (int64_t h = program.halfspace_groups[g]; h < program.halfspace_groups[g + 1]; ++h) {
      LaneRow<T> row{0, {}, {}, T(0)};
      double norm = 0.0;
      for (int t = 0; t < kRowTerms; ++t) {
        const T c = program.halfspace_coef[h * kRowTerms + t];
        if (c == T(0)) continue;
        row.index[row.num_terms] = program.halfspace_index[h * kRowTerms + t];
        row.coef[row.num_terms] = c;
        ++row.num_terms;
        norm += static_cast<double>(c) * static_cast<double>(c);
      }
      row.inverse_norm = static_cast<T>(1.0 / norm);
      if (row.num_terms > 0) rows.push_back(row);
    }
    plan.halfspace_groups.push_back(rows);
  }
  plan.has_bounds = HasBounds(program);
  plan.num_projections = NumProjections(program);
  AddOrderRows(program, &plan);
  return plan;
}

// The values a chain family step works on: for r = 0..repeats-1, position i
// of `width` chains (times lanes) is x[i] + r * stride .. + width, and its
// increments inc[i] + r * stride .. + width.
template <typename T>
struct Blocks {
  T* const* x;
  T* const* inc;
  int64_t width;
  int64_t repeats;
  int64_t stride;
};

// One Dykstra step of a chain family on blocks: at each position w,
// y_i = x_i[w] + inc_i[w], x_i[w] = P(y)_i, inc_i[w] = y_i - x_i[w] for the M
// positions i of the chain. P(y)_i is the max over j <= i of
// s_j(i) = min_{k >= i} mean(y_j..y_k), each s_j a suffix minimum. The loop
// over w vectorizes once the loops over the chain (fixed M) are unrolled.
template <typename T, int M>
TF_LATTICE_VECTOR_CLONES void IsotonicBlocks(const Blocks<T>& blocks) {
  for (int64_t r = 0; r < blocks.repeats; ++r) {
    T* x[M];
    T* inc[M];
    for (int i = 0; i < M; ++i) {
      x[i] = blocks.x[i] + r * blocks.stride;
      inc[i] = blocks.inc[i] + r * blocks.stride;
    }
    TF_LATTICE_IVDEP
    for (int64_t w = 0; w < blocks.width; ++w) {
      T y[M];
      TF_LATTICE_UNROLL
      for (int i = 0; i < M; ++i) y[i] = x[i][w] + inc[i][w];
      T result[M];
      TF_LATTICE_UNROLL
      for (int j = 0; j < M; ++j) {
        T mean[M];  // mean[k] = mean(y_j..y_k), k >= j
        T sum = y[j];
        mean[j] = sum;
        TF_LATTICE_UNROLL
        for (int k = j + 1; k < M; ++k) {
          sum += y[k];
          mean[k] = sum / static_cast<T>(k - j + 1);
        }
        T suffix_min = mean[M - 1];
        TF_LATTICE_UNROLL
        for (int k = M - 1; k >= j; --k) {
          suffix_min = Min(suffix_min, mean[k]);
          result[k] = j == 0 ? suffix_min : Max(result[k], suffix_min);
        }
      }
      TF_LATTICE_UNROLL
      for (int i = 0; i < M; ++i) {
        x[i][w] = result[i];
        inc[i][w] = y[i] - result[i];
      }
    }
  }
}

// The two-vertex case: the pair is pooled when it decreases.
template <typename T>
TF_LATTICE_VECTOR_CLONES void IsotonicPairs(const Blocks<T>& blocks) {
  for (int64_t r = 0; r < blocks.repeats; ++r) {
    T* x0 = blocks.x[0] + r * blocks.stride;
    T* x1 = blocks.x[1] + r * blocks.stride;
    T* inc0 = blocks.inc[0] + r * blocks.stride;
    T* inc1 = blocks.inc[1] + r * blocks.stride;
    TF_LATTICE_IVDEP
    for (int64_t w = 0; w < blocks.width; ++w) {
      const T y0 = x0[w] + inc0[w];
      const T y1 = x1[w] + inc1[w];
      const T mean = (y0 + y1) / T(2);
      const T low = Min(y0, mean);
      const T high = Max(y1, mean);
      x0[w] = low;
      x1[w] = high;
      inc0[w] = y0 - low;
      inc1[w] = y1 - high;
    }
  }
}

// The same step for chains of any length, position by position with pool
// adjacent violators; buffer holds 4 * length values.
template <typename T>
void IsotonicBlocksByPooling(const Blocks<T>& blocks, int64_t length, T* buffer) {
  T* y = buffer;
  T* input = y + length;
  T* sums = input + length;
  T* counts = sums + length;
  for (int64_t r = 0; r < blocks.repeats; ++r) {
    const int64_t offset = r * blocks.stride;
    for (int64_t w = offset; w < offset + blocks.width; ++w) {
      for (int64_t i = 0; i < length; ++i) {
        y[i] = blocks.x[i][w] + blocks.inc[i][w];
        input[i] = y[i];
      }
      PoolAdjacentViolatorsContiguous(y, length, sums, counts);
      for (int64_t i = 0; i < length; ++i) {
        blocks.x[i][w] = y[i];
        blocks.inc[i][w] = input[i] - y[i];
      }
    }
  }
}

template <typename T>
void IsotonicBlocksOfLength(const Blocks<T>& blocks, int64_t length, T* buffer) {
  switch (length) {
    case 1: return;  // a single vertex is its own projection; inc stays 0
    case 2: return IsotonicPairs(blocks);
    case 3: return IsotonicBlocks<T, 3>(blocks);
    case 4: return IsotonicBlocks<T, 4>(blocks);
    case 5: return IsotonicBlocks<T, 5>(blocks);
    case 6: return IsotonicBlocks<T, 6>(blocks);
    case 7: return IsotonicBlocks<T, 7>(blocks);
    case 8: return IsotonicBlocks<T, 8>(blocks);
    default: return IsotonicBlocksByPooling(blocks, length, buffer);
  }
}

// Dykstra step of a chain family on x [V, lanes] and the family's increments
// inc [V, lanes]; pointers holds 2 * length pointers and buffer 4 * length
// values.
template <typename T>
void ChainFamilyStep(const LaneChainFamily& family, int64_t lanes, T* x, T* inc, T** pointers,
                     T* buffer) {
  const int64_t length = family.length;
  T** x_blocks = pointers;
  T** inc_blocks = pointers + length;
  for (const ChainRun& run : family.runs) {
    for (int64_t i = 0; i < length; ++i) {
      x_blocks[i] = x + run.chain[i] * lanes;
      inc_blocks[i] = inc + run.chain[i] * lanes;
    }
    const Blocks<T> blocks{x_blocks, inc_blocks, run.count * lanes, run.repeats,
                           run.step * lanes};
    IsotonicBlocksOfLength(blocks, length, buffer);
  }
}

// Dykstra step of a half-space group (rows with disjoint supports).
template <typename T>
void HalfspaceGroupStep(const std::vector<LaneRow<T>>& rows, int64_t lanes, T* x, T* inc) {
  for (const LaneRow<T>& row : rows) {
    T* xs[kRowTerms];
    T* incs[kRowTerms];
    for (int t = 0; t < row.num_terms; ++t) {
      xs[t] = x + row.index[t] * lanes;
      incs[t] = inc + row.index[t] * lanes;
    }
    for (int64_t l = 0; l < lanes; ++l) {
      T values[kRowTerms];
      T slack = T(0);
      for (int t = 0; t < row.num_terms; ++t) {
        values[t] = xs[t][l] + incs[t][l];
        slack += row.coef[t] * values[t];
      }
      const T step = Max(-slack, T(0)) * row.inverse_norm;
      for (int t = 0; t < row.num_terms; ++t) {
        const T projected = values[t] + row.coef[t] * step;
        incs[t][l] = values[t] - projected;
        xs[t][l] = projected;
      }
    }
  }
}

// Dykstra step of the box on all n values.
template <typename T>
void BoxStep(T low, T high, int64_t n, T* x, T* inc) {
  TF_LATTICE_IVDEP
  for (int64_t i = 0; i < n; ++i) {
    const T value = x[i] + inc[i];
    x[i] = Clip(value, low, high);
    inc[i] = value - x[i];
  }
}

// Largest |x - start| of each lane: change [lanes].
template <typename T>
void LaneChanges(const T* x, const T* start, int64_t num_vertices, int64_t lanes, T* change) {
  for (int64_t l = 0; l < lanes; ++l) change[l] = T(0);
  for (int64_t v = 0; v < num_vertices; ++v) {
    const T* xv = x + v * lanes;
    const T* sv = start + v * lanes;
    for (int64_t l = 0; l < lanes; ++l) change[l] = Max(change[l], Abs(xv[l] - sv[l]));
  }
}

// Values one batch of `lanes` units needs besides its plan: x, the cycle
// start, one increment per projection, the Dykstra result and its finalized
// copy, each [V, lanes].
template <typename T>
int64_t LaneScratchSize(const LanePlan<T>& plan, int64_t num_vertices, int64_t lanes) {
  return (plan.num_projections + 4) * num_vertices * lanes;
}

// Runs Dykstra's cycles for the units x0 [lanes, V] (unit-major, as in the
// op's input) and writes each unit's Dykstra result to result [V, lanes];
// scratch holds (num_projections + 2) * V * lanes values.
template <typename T>
void DykstraLanes(const ProjectionProgram<T>& program, const LanePlan<T>& plan, int64_t lanes,
                  const T* x0, T* result, T* scratch) {
  const int64_t n = program.num_vertices;
  const int64_t size = n * lanes;
  T* x = scratch;
  T* start = x + size;
  T* increments = start + size;
  std::fill(increments, increments + plan.num_projections * size, T(0));
  for (int64_t l = 0; l < lanes; ++l) {
    for (int64_t v = 0; v < n; ++v) x[v * lanes + l] = x0[l * n + v];
  }
  std::vector<T> threshold(lanes), change(lanes);
  std::vector<char> active(lanes, 1);
  for (int64_t l = 0; l < lanes; ++l) {
    threshold[l] = program.tolerance * (T(1) + MaxAbs(x0 + l * n, n));
  }
  int64_t max_length = 1;
  for (const LaneChainFamily& family : plan.chain_families) {
    max_length = std::max(max_length, family.length);
  }
  std::vector<T*> pointers(2 * max_length);
  std::vector<T> buffer(4 * max_length);
  const auto keep_lane = [&](int64_t l) {
    for (int64_t v = 0; v < n; ++v) result[v * lanes + l] = x[v * lanes + l];
  };
  int64_t num_active = lanes;
  for (int64_t cycle = 0; cycle < program.num_iterations && num_active > 0; ++cycle) {
    std::copy(x, x + size, start);
    T* inc = increments;
    for (const LaneChainFamily& family : plan.chain_families) {
      ChainFamilyStep(family, lanes, x, inc, pointers.data(), buffer.data());
      inc += size;
    }
    for (const std::vector<LaneRow<T>>& rows : plan.halfspace_groups) {
      HalfspaceGroupStep(rows, lanes, x, inc);
      inc += size;
    }
    if (plan.has_bounds) BoxStep(program.low, program.high, size, x, inc);
    LaneChanges(x, start, n, lanes, change.data());
    for (int64_t l = 0; l < lanes; ++l) {
      if (active[l] && !(change[l] > threshold[l])) {
        keep_lane(l);
        active[l] = 0;
        --num_active;
      }
    }
  }
  for (int64_t l = 0; l < lanes; ++l) {
    if (active[l]) keep_lane(l);
  }
}

// FinalizeSweep of an order-rows-only program on x [V, lanes], in place, for
// all lanes at once: each vertex is clamped, in increasing order, between
// its lower and upper neighbours (and the bounds), as FinalizeSweep does.
// Then checks exactly, per lane, every row and bound: holds[l] is 1 when the
// swept lane is feasible, 0 when it needs FinalizeSweep's nudges or
// Finalize's fallbacks.
template <typename T>
void SweepOrderRowsLanes(const LanePlan<T>& plan, T low, T high, int64_t num_vertices,
                         int64_t lanes, T* x, char* holds) {
  std::vector<T> lower(lanes), upper(lanes);
  for (int64_t target = 0; target < num_vertices; ++target) {
    T* xt = x + target * lanes;
    const int64_t first = plan.order_offsets[target];
    const int64_t last = plan.order_offsets[target + 1];
    if (first == last) {
      for (int64_t l = 0; l < lanes; ++l) xt[l] = Clip(xt[l], low, high);
      continue;
    }
    std::fill(lower.begin(), lower.end(), low);
    std::fill(upper.begin(), upper.end(), high);
    for (int64_t r = first; r < last; ++r) {
      const T* xo = x + plan.order_other[r] * lanes;
      if (plan.order_target_is_upper[r]) {
        for (int64_t l = 0; l < lanes; ++l) lower[l] = Max(lower[l], xo[l]);
      } else {
        for (int64_t l = 0; l < lanes; ++l) upper[l] = Min(upper[l], xo[l]);
      }
    }
    for (int64_t l = 0; l < lanes; ++l) {
      const T value = lower[l] <= upper[l] ? Min(Max(xt[l], lower[l]), upper[l]) : lower[l];
      xt[l] = Clip(value, low, high);
    }
  }
  std::fill(holds, holds + lanes, 1);
  for (int64_t target = 0; target < num_vertices; ++target) {
    const T* xt = x + target * lanes;
    for (int64_t l = 0; l < lanes; ++l) {
      holds[l] = holds[l] && xt[l] >= low && xt[l] <= high;
    }
    for (int64_t r = plan.order_offsets[target]; r < plan.order_offsets[target + 1]; ++r) {
      const T* xo = x + plan.order_other[r] * lanes;
      if (plan.order_target_is_upper[r]) {
        for (int64_t l = 0; l < lanes; ++l) holds[l] = holds[l] && xt[l] >= xo[l];
      } else {
        for (int64_t l = 0; l < lanes; ++l) holds[l] = holds[l] && xt[l] <= xo[l];
      }
    }
  }
}

// Projects the units x0 [lanes, V] to out [lanes, V] (ProjectUnit's result
// for each): Dykstra's cycles for all lanes at once, then the finalize, swept
// for all lanes at once when the program has order rows only, and by
// Finalize for every other lane. scratch holds LaneScratchSize values and
// saved num_vertices; masks[l] receives lane l's Finalize mask (0 when
// feasible). The units must need no scaling (DownscaleExponent 0).
template <typename T>
void ProjectLanes(const ProjectionProgram<T>& program, const LanePlan<T>& plan, int64_t lanes,
                  const T* x0, T* out, T* scratch, T* saved, uint64_t* masks) {
  const int64_t n = program.num_vertices;
  const int64_t size = n * lanes;
  T* result = scratch + (plan.num_projections + 2) * size;
  T* swept = result + size;
  DykstraLanes(program, plan, lanes, x0, result, scratch);
  std::vector<char> holds(lanes, 0);
  if (plan.order_rows_only) {
    std::copy(result, result + size, swept);
    SweepOrderRowsLanes(plan, program.low, program.high, n, lanes, swept, holds.data());
  }
  for (int64_t l = 0; l < lanes; ++l) {
    const T* column = holds[l] ? swept : result;
    T* unit = out + l * n;
    for (int64_t v = 0; v < n; ++v) unit[v] = column[v * lanes + l];
    masks[l] = holds[l] ? 0 : Finalize(program, x0 + l * n, unit, saved);
  }
}

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_LIB_LATTICE_DYKSTRA_LANES_H_
