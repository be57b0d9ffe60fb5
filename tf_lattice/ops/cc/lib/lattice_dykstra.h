// Dykstra's alternating projections of the lattice projection, one code for
// the CPU and the GPU. TF-free: isotonic.h, lattice_projection.h and
// lattice_finalize.h (and <vector> for the plan, built on the host).
//
// Math. The program (lattice_projection.h) has P projections, in this order:
// F chain families (every chain of a family is projected onto non-decreasing
// values by isotonic regression, isotonic.h), G half-space groups (rows
// c.x >= 0, meant to have disjoint supports, each projected in turn in
// closed form x += c max(-c.x, 0) / |c|^2), and the box [low, high] when a bound is
// finite. Dykstra's algorithm keeps one increment inc_p per projection
// (0 at the start); each cycle runs, for p = 1..P,
//
//   y = x + inc_p,   x = P_p(y),   inc_p = y - x,
//
// and a unit stops after `num_iterations` cycles or after the first cycle
// that moves none of its values by more than tolerance * (1 + max |x0|)
// (its values at that cycle are its result). A program with a single
// projection runs one cycle (x = P_1(x0), whatever num_iterations says);
// one without projections returns x0. The result then goes to Finalize
// (lattice_finalize.h).
//
// Layout. The cycles run on several units ("lanes") at once, stored
// vertex-major: value v of lane l at x[v * stride + l]. A Layout type names
// which lanes one call works on and where they are:
//
// * BatchLanes (CPU): a batch of `lanes` units, stride = lanes, every lane
//   of the batch in one call. Position i of consecutive chains t = 0..c-1
//   (vertices chain[i] + t) is then the contiguous block
//   x[chain[i] * lanes .. (chain[i] + c) * lanes), and the loops over it
//   vectorize.
// * ThreadLane (GPU): all units of the op, stride = units, one lane per
//   thread; neighbouring threads read neighbouring words (coalesced).
//
// Both call the same step functions below, which loop over
// `layout.Width(c)` positions w at offsets `layout.Offset(w)`; only these
// two members differ.
#ifndef TF_LATTICE_OPS_CC_LIB_LATTICE_DYKSTRA_H_
#define TF_LATTICE_OPS_CC_LIB_LATTICE_DYKSTRA_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tf_lattice/ops/cc/lib/host_device.h"
#include "tf_lattice/ops/cc/lib/isotonic.h"
#include "tf_lattice/ops/cc/lib/lattice_finalize.h"
#include "tf_lattice/ops/cc/lib/lattice_projection.h"
#include "tf_lattice/ops/cc/lib/power_of_two.h"

#if defined(__CUDACC__)
#define TF_LATTICE_IVDEP
#elif defined(__clang__)
#define TF_LATTICE_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define TF_LATTICE_IVDEP _Pragma("GCC ivdep")
#else
#define TF_LATTICE_IVDEP
#endif

// TF_LATTICE_CYCLE_STEP marks the functions of the hot loops: __host__
// __device__ under nvcc; with GCC on x86-64 Linux they also get an AVX2
// clone, chosen when the library loads on a CPU that has AVX2 (the same IEEE
// operations on wider vectors, so results do not depend on the CPU; no FMA
// contraction).
#if defined(__CUDACC__)
#define TF_LATTICE_CYCLE_STEP __host__ __device__
#elif defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define TF_LATTICE_CYCLE_STEP __attribute__((target_clones("avx2", "default")))
#else
#define TF_LATTICE_CYCLE_STEP
#endif

namespace tf_lattice {

// Longest chain projected by IsotonicShortChain (its cost grows as
// length^2, pooling's as length); longer ones are pooled.
constexpr int kMaxShortChainLength = 8;
// Reals per chain vertex that LongChainsStep's pooling uses (the chain's
// values, its Dykstra input and three pooling stacks), and integers (the
// pooling's block ends and the chain's offsets in the layout).
constexpr int kPoolReals = 5;
constexpr int kPoolInts = 2;

// CPU layout: the `lanes` units of a batch, all in one call.
struct BatchLanes {
  int64_t lanes;
  TF_LATTICE_HOST_DEVICE int64_t Stride() const { return lanes; }
  // Lanes of this call: local lane k is at offset Offset(k) of every vertex.
  TF_LATTICE_HOST_DEVICE int64_t NumLanes() const { return lanes; }
  // Positions w of `count` consecutive vertices (times the call's lanes)
  // and their offsets from the first vertex's lane 0.
  TF_LATTICE_HOST_DEVICE int64_t Width(int64_t count) const { return count * lanes; }
  TF_LATTICE_HOST_DEVICE int64_t Offset(int64_t w) const { return w; }
};

// GPU layout: one lane (unit `lane` of `stride` units) per call.
struct ThreadLane {
  int64_t stride;
  int64_t lane;
  TF_LATTICE_HOST_DEVICE int64_t Stride() const { return stride; }
  TF_LATTICE_HOST_DEVICE int64_t NumLanes() const { return 1; }
  TF_LATTICE_HOST_DEVICE int64_t Width(int64_t count) const { return count; }
  TF_LATTICE_HOST_DEVICE int64_t Offset(int64_t w) const { return w * stride + lane; }
};

// The program's projections regrouped for the cycles (see MakeDykstraPlan);
// every pointer on the device that runs them.
//
// A chain family is a list of runs: a run is `repeats` equally spaced
// (by `step` vertices) groups of `count` consecutive chains, the chains with
// vertices chain[i] + r * step + t for r < repeats, t < count, where chain
// is the run's first chain. A half-space row keeps its nonzero terms only.
template <typename T>
struct DykstraPlan {
  int64_t num_vertices;
  int64_t num_chain_families;
  const int64_t* family_length;  // [F]
  const int64_t* family_runs;    // [F + 1]: offsets into runs
  const int64_t* runs;           // [num_runs, 4]: first chain's offset
                                 // into chain_index, count, repeats, step
  const int64_t* chain_index;    // the program's chain_index
  int64_t max_chain_length;      // >= 1
  int64_t num_halfspace_groups;
  const int64_t* group_rows;     // [G + 1]: offsets into the rows
  const int64_t* row_terms;      // [rows]: number of nonzero terms
  const int64_t* row_index;      // [rows, kRowTerms]
  const T* row_coef;             // [rows, kRowTerms]
  const T* row_inverse_norm;     // [rows]: 1 / sum_t coef_t^2
  bool has_bounds;
  int64_t num_projections;
};

// The plan's tables on the host, packed into one array of integers and one
// of reals, so that a GPU kernel copies two arrays; View places them.
template <typename T>
struct DykstraPlanTables {
  std::vector<int64_t> ints;
  std::vector<T> reals;
  int64_t num_vertices = 0;
  int64_t num_chain_families = 0;
  int64_t num_runs = 0;
  int64_t max_chain_length = 1;
  int64_t num_halfspace_groups = 0;
  int64_t num_rows = 0;
  bool has_bounds = false;
  int64_t num_projections = 0;

  // The plan over tables at `ints` and `reals` (copies of the two arrays,
  // on the device that runs the cycles) and the program's chain_index.
  DykstraPlan<T> View(const int64_t* ints_at, const T* reals_at,
                      const int64_t* chain_index) const {
    DykstraPlan<T> plan;
    plan.num_vertices = num_vertices;
    plan.num_chain_families = num_chain_families;
    plan.family_length = ints_at;
    plan.family_runs = plan.family_length + num_chain_families;
    plan.runs = plan.family_runs + num_chain_families + 1;
    plan.chain_index = chain_index;
    plan.max_chain_length = max_chain_length;
    plan.num_halfspace_groups = num_halfspace_groups;
    plan.group_rows = plan.runs + 4 * num_runs;
    plan.row_terms = plan.group_rows + num_halfspace_groups + 1;
    plan.row_index = plan.row_terms + num_rows;
    plan.row_coef = reals_at;
    plan.row_inverse_norm = plan.row_coef + kRowTerms * num_rows;
    plan.has_bounds = has_bounds;
    plan.num_projections = num_projections;
    return plan;
  }

  // The plan over the host arrays themselves.
  DykstraPlan<T> HostView(const int64_t* chain_index) const {
    return View(ints.data(), reals.data(), chain_index);
  }
};

// Whether b[i] == a[i] + shift for every position i.
inline bool IsShifted(const int64_t* a, const int64_t* b, int64_t length, int64_t shift) {
  for (int64_t i = 0; i < length; ++i) {
    if (b[i] != a[i] + shift) return false;
  }
  return true;
}

// Groups a family's chains [num_chains, length] (starting at offset `first`
// of chain_index) into runs {first chain's offset, count, repeats, step}:
// consecutive chains first, then equally spaced runs of equal counts.
inline void GroupChains(const int64_t* chain_index, int64_t first, int64_t num_chains,
                        int64_t length, std::vector<int64_t>* out) {
  struct Run {
    int64_t offset, count, repeats, step;
  };
  std::vector<Run> runs;
  for (int64_t c = 0; c < num_chains; ++c) {
    const int64_t offset = first + c * length;
    const int64_t* chain = chain_index + offset;
    if (!runs.empty() && runs.back().repeats == 1 &&
        IsShifted(chain - length, chain, length, 1)) {
      ++runs.back().count;
    } else {
      runs.push_back({offset, 1, 1, 0});
    }
  }
  std::vector<Run> grouped;
  for (const Run& run : runs) {
    if (!grouped.empty()) {
      Run& last = grouped.back();
      const int64_t* last_chain = chain_index + last.offset;
      const int64_t* chain = chain_index + run.offset;
      const int64_t step = chain[0] - last_chain[0];
      const bool same_step = last.repeats == 1 || step == last.repeats * last.step;
      if (run.count == last.count && step > 0 && same_step &&
          IsShifted(last_chain, chain, length, step)) {
        if (last.repeats == 1) last.step = step;
        ++last.repeats;
        continue;
      }
    }
    grouped.push_back(run);
  }
  for (const Run& run : grouped) {
    out->insert(out->end(), {run.offset, run.count, run.repeats, run.step});
  }
}

// The plan of a program whose tables are on the host (checked by
// lattice_projection_checks.h).
template <typename T>
DykstraPlanTables<T> MakeDykstraPlan(const ProjectionProgram<T>& program) {
  DykstraPlanTables<T> tables;
  tables.num_vertices = program.num_vertices;
  tables.num_chain_families = program.num_chain_families;
  tables.num_halfspace_groups = program.num_halfspace_groups;
  tables.has_bounds = HasBounds(program);
  tables.num_projections = NumProjections(program);
  std::vector<int64_t> lengths, family_runs(1, 0), runs;
  for (int64_t f = 0; f < program.num_chain_families; ++f) {
    const int64_t* family = program.chain_families + 3 * f;
    lengths.push_back(family[2]);
    tables.max_chain_length = std::max(tables.max_chain_length, family[2]);
    GroupChains(program.chain_index, family[0], family[1], family[2], &runs);
    family_runs.push_back(static_cast<int64_t>(runs.size() / 4));
  }
  tables.num_runs = static_cast<int64_t>(runs.size() / 4);
  std::vector<int64_t> group_rows(1, 0), row_terms, row_index;
  std::vector<T> row_coef, row_inverse_norm;
  for (int64_t g = 0; g < program.num_halfspace_groups; ++g) {
    for (int64_t h = program.halfspace_groups[g]; h < program.halfspace_groups[g + 1]; ++h) {
      int64_t terms = 0;
      int64_t index[kRowTerms] = {0, 0, 0, 0};
      T coef[kRowTerms] = {T(0), T(0), T(0), T(0)};
      double norm = 0.0;
      for (int t = 0; t < kRowTerms; ++t) {
        const T c = program.halfspace_coef[h * kRowTerms + t];
        if (c == T(0)) continue;
        index[terms] = program.halfspace_index[h * kRowTerms + t];
        coef[terms] = c;
        ++terms;
        norm += static_cast<double>(c) * static_cast<double>(c);
      }
      if (terms == 0) continue;
      row_terms.push_back(terms);
      row_index.insert(row_index.end(), index, index + kRowTerms);
      row_coef.insert(row_coef.end(), coef, coef + kRowTerms);
      row_inverse_norm.push_back(static_cast<T>(1.0 / norm));
    }
    group_rows.push_back(static_cast<int64_t>(row_terms.size()));
  }
  tables.num_rows = static_cast<int64_t>(row_terms.size());
  for (const std::vector<int64_t>* part :
       {&lengths, &family_runs, &runs, &group_rows, &row_terms, &row_index}) {
    tables.ints.insert(tables.ints.end(), part->begin(), part->end());
  }
  tables.reals = row_coef;
  tables.reals.insert(tables.reals.end(), row_inverse_norm.begin(), row_inverse_norm.end());
  return tables;
}

// Scratch of one call of DykstraCycles besides the layout's arrays: per
// lane of the call, its stop threshold and last change and whether it still
// runs; and the pooling buffers of one chain longer than
// kMaxShortChainLength (kPoolReals * max_chain_length reals,
// kPoolInts * max_chain_length ints).
template <typename T>
struct LaneScratch {
  T* threshold;
  T* change;
  char* active;
  T* pool;
  int64_t* pool_ends;
};

// Dykstra step of M-vertex chains (M <= kMaxShortChainLength) of one run:
// `x` and `inc` point at the run's first chain's vertices; see the top of the
// file for the positions w.
template <typename T, int M, typename Layout>
TF_LATTICE_CYCLE_STEP void ShortChainsStep(
    const Layout& layout, const int64_t* chain, int64_t count, int64_t repeats,
    int64_t step, T* x, T* inc) {
  const int64_t stride = layout.Stride();
  const int64_t width = layout.Width(count);
  for (int64_t r = 0; r < repeats; ++r) {
    T* xs[M];
    T* incs[M];
    for (int i = 0; i < M; ++i) {
      xs[i] = x + (chain[i] + r * step) * stride;
      incs[i] = inc + (chain[i] + r * step) * stride;
    }
    TF_LATTICE_IVDEP
    for (int64_t w = 0; w < width; ++w) {
      const int64_t o = layout.Offset(w);
      T y[M];
      T input[M];
      TF_LATTICE_UNROLL
      for (int i = 0; i < M; ++i) {
        y[i] = xs[i][o] + incs[i][o];
        input[i] = y[i];
      }
      IsotonicShortChain<T, M>(y);
      TF_LATTICE_UNROLL
      for (int i = 0; i < M; ++i) {
        xs[i][o] = y[i];
        incs[i][o] = input[i] - y[i];
      }
    }
  }
}

// The same step for chains of any length, by pooling each chain in turn.
template <typename T, typename Layout>
TF_LATTICE_HOST_DEVICE void LongChainsStep(const Layout& layout, const int64_t* chain,
                                           int64_t length, int64_t count, int64_t repeats,
                                           int64_t step, T* x, T* inc,
                                           const LaneScratch<T>& scratch) {
  const int64_t stride = layout.Stride();
  const int64_t width = layout.Width(count);
  T* y = scratch.pool;
  T* input = y + length;
  T* block_sum = input + length;
  T* block_weight = block_sum + length;
  T* block_mean = block_weight + length;
  int64_t* block_end = scratch.pool_ends;
  int64_t* offsets = block_end + length;
  for (int64_t r = 0; r < repeats; ++r) {
    for (int64_t i = 0; i < length; ++i) offsets[i] = (chain[i] + r * step) * stride;
    for (int64_t w = 0; w < width; ++w) {
      const int64_t o = layout.Offset(w);
      for (int64_t i = 0; i < length; ++i) {
        const int64_t at = offsets[i] + o;
        y[i] = x[at] + inc[at];
        input[i] = y[i];
      }
      IsotonicInPlace(y, length, block_sum, block_weight, block_mean, block_end);
      for (int64_t i = 0; i < length; ++i) {
        const int64_t at = offsets[i] + o;
        x[at] = y[i];
        inc[at] = input[i] - y[i];
      }
    }
  }
}

// Dykstra step of chain family f on x and its increments inc.
template <typename T, typename Layout>
TF_LATTICE_HOST_DEVICE void ChainFamilyStep(const DykstraPlan<T>& plan, const Layout& layout,
                                            int64_t f, T* x, T* inc,
                                            const LaneScratch<T>& scratch) {
  const int64_t length = plan.family_length[f];
  for (int64_t k = plan.family_runs[f]; k < plan.family_runs[f + 1]; ++k) {
    const int64_t* run = plan.runs + 4 * k;
    const int64_t* chain = plan.chain_index + run[0];
    const int64_t count = run[1], repeats = run[2], step = run[3];
    switch (length) {
      case 1: break;  // a single vertex is its own projection; inc stays 0
      case 2: ShortChainsStep<T, 2>(layout, chain, count, repeats, step, x, inc); break;
      case 3: ShortChainsStep<T, 3>(layout, chain, count, repeats, step, x, inc); break;
      case 4: ShortChainsStep<T, 4>(layout, chain, count, repeats, step, x, inc); break;
      case 5: ShortChainsStep<T, 5>(layout, chain, count, repeats, step, x, inc); break;
      case 6: ShortChainsStep<T, 6>(layout, chain, count, repeats, step, x, inc); break;
      case 7: ShortChainsStep<T, 7>(layout, chain, count, repeats, step, x, inc); break;
      case 8: ShortChainsStep<T, 8>(layout, chain, count, repeats, step, x, inc); break;
      default:
        LongChainsStep(layout, chain, length, count, repeats, step, x, inc, scratch);
    }
  }
}

// Dykstra step of half-space group g: its rows one after another, each by
// its closed form (a row's increment is kept per vertex, so rows of a group
// are meant to touch disjoint vertices).
template <typename T, typename Layout>
TF_LATTICE_HOST_DEVICE void HalfspaceGroupStep(const DykstraPlan<T>& plan, const Layout& layout,
                                               int64_t g, T* x, T* inc) {
  const int64_t stride = layout.Stride();
  const int64_t width = layout.Width(1);
  for (int64_t h = plan.group_rows[g]; h < plan.group_rows[g + 1]; ++h) {
    const int64_t terms = plan.row_terms[h];
    const int64_t* index = plan.row_index + h * kRowTerms;
    const T* coef = plan.row_coef + h * kRowTerms;
    const T inverse_norm = plan.row_inverse_norm[h];
    for (int64_t w = 0; w < width; ++w) {
      const int64_t o = layout.Offset(w);
      T values[kRowTerms];
      T slack = T(0);
      for (int t = 0; t < terms; ++t) {
        const int64_t at = index[t] * stride + o;
        values[t] = x[at] + inc[at];
        slack += coef[t] * values[t];
      }
      const T step = Max(-slack, T(0)) * inverse_norm;
      for (int t = 0; t < terms; ++t) {
        const int64_t at = index[t] * stride + o;
        const T projected = values[t] + coef[t] * step;
        inc[at] = values[t] - projected;
        x[at] = projected;
      }
    }
  }
}

// Dykstra step of the box [low, high] on every value of the call's lanes
// (positions w < Width(V) from vertex 0 are all of them).
template <typename T, typename Layout>
TF_LATTICE_HOST_DEVICE void BoxStep(const Layout& layout, int64_t num_vertices, T low, T high,
                                    T* x, T* inc) {
  const int64_t width = layout.Width(num_vertices);
  TF_LATTICE_IVDEP
  for (int64_t w = 0; w < width; ++w) {
    const int64_t at = layout.Offset(w);
    const T value = x[at] + inc[at];
    x[at] = Clip(value, low, high);
    inc[at] = value - x[at];
  }
}

// Cycles a program with P projections runs: see the top of the file.
template <typename T>
TF_LATTICE_HOST_DEVICE int64_t DykstraCycleCount(const ProjectionProgram<T>& program) {
  const int64_t p = NumProjections(program);
  return p == 0 ? 0 : (p == 1 ? 1 : program.num_iterations);
}

// Runs Dykstra's cycles on the call's lanes of x (the units' starting values,
// in the layout) and writes each lane's result to `result` (same layout).
// `start` holds V values per lane, `increments` P times as many (projection
// p's at p * V * stride); scratch.threshold[k] holds lane k's stop threshold
// tolerance * (1 + max |x0|). low and high are the box.
template <typename T, typename Layout>
TF_LATTICE_HOST_DEVICE void DykstraCycles(const DykstraPlan<T>& plan, const Layout& layout,
                                          int64_t cycles, T low, T high, T* x, T* start,
                                          T* increments, T* result,
                                          const LaneScratch<T>& scratch) {
  const int64_t n = plan.num_vertices;
  const int64_t stride = layout.Stride();
  const int64_t lanes = layout.NumLanes();
  const int64_t size = n * stride;
  // Positions w < Width(n) (offsets Offset(w)) are every value of the
  // call's lanes.
  const int64_t width = layout.Width(n);
  for (int64_t p = 0; p < plan.num_projections; ++p) {
    T* inc = increments + p * size;
    TF_LATTICE_IVDEP
    for (int64_t w = 0; w < width; ++w) inc[layout.Offset(w)] = T(0);
  }
  for (int64_t k = 0; k < lanes; ++k) scratch.active[k] = 1;
  const auto keep_lane = [&](int64_t k) {
    for (int64_t v = 0; v < n; ++v) {
      const int64_t at = v * stride + layout.Offset(k);
      result[at] = x[at];
    }
  };
  int64_t num_active = lanes;
  for (int64_t cycle = 0; cycle < cycles && num_active > 0; ++cycle) {
    TF_LATTICE_IVDEP
    for (int64_t w = 0; w < width; ++w) start[layout.Offset(w)] = x[layout.Offset(w)];
    T* inc = increments;
    for (int64_t f = 0; f < plan.num_chain_families; ++f, inc += size) {
      ChainFamilyStep(plan, layout, f, x, inc, scratch);
    }
    for (int64_t g = 0; g < plan.num_halfspace_groups; ++g, inc += size) {
      HalfspaceGroupStep(plan, layout, g, x, inc);
    }
    if (plan.has_bounds) BoxStep(layout, n, low, high, x, inc);
    T* change = scratch.change;
    for (int64_t k = 0; k < lanes; ++k) change[k] = T(0);
    for (int64_t v = 0; v < n; ++v) {
      const T* xv = x + v * stride;
      const T* sv = start + v * stride;
      TF_LATTICE_IVDEP
      for (int64_t k = 0; k < lanes; ++k) {
        const int64_t at = layout.Offset(k);
        change[k] = Max(change[k], Abs(xv[at] - sv[at]));
      }
    }
    for (int64_t k = 0; k < lanes; ++k) {
      if (scratch.active[k] && !(change[k] > scratch.threshold[k])) {
        keep_lane(k);
        scratch.active[k] = 0;
        --num_active;
      }
    }
  }
  for (int64_t k = 0; k < lanes; ++k) {
    if (scratch.active[k]) keep_lane(k);
  }
}

// Loads the call's lanes: unit row k of `rows` [lanes, V] (unit-major),
// times 2^-shift, into x (the layout), and sets lane k's stop threshold.
template <typename T, typename Layout>
TF_LATTICE_HOST_DEVICE void LoadLanes(const ProjectionProgram<T>& program, const Layout& layout,
                                      int shift, const T* rows, T* x,
                                      const LaneScratch<T>& scratch) {
  const int64_t n = program.num_vertices;
  const int64_t stride = layout.Stride();
  for (int64_t k = 0; k < layout.NumLanes(); ++k) {
    T largest = T(0);
    for (int64_t v = 0; v < n; ++v) {
      const T value = shift == 0 ? rows[k * n + v] : ScaleByPowerOfTwo(rows[k * n + v], -shift);
      x[v * stride + layout.Offset(k)] = value;
      largest = Max(largest, Abs(value));
    }
    scratch.threshold[k] = program.tolerance * (T(1) + largest);
  }
}

// The finalize of local lane k: copies its Dykstra result from `result`
// (the layout) to out [V] (unit-major) and repairs it there (Finalize). With
// shift > 0 the lane was loaded scaled by 2^-shift: the scaled program is
// finalized (scaled_x0 [V] holds the scaled input), the result scaled back
// and checked against the unscaled program (the rows are homogeneous, so
// exact feasibility survives the exact scaling unless a value underflows),
// falling back to the constant clip(mean(x0)). saved [V] is scratch.
// Returns 0, or the InfeasibleFamilies mask of a unit whose output is not
// exactly feasible.
template <typename T, typename Layout>
TF_LATTICE_HOST_DEVICE uint64_t FinalizeLane(const ProjectionProgram<T>& program,
                                             const Layout& layout, int64_t k, int shift,
                                             const T* x0, const T* result, T* out, T* saved,
                                             T* scaled_x0) {
  const int64_t n = program.num_vertices;
  const int64_t stride = layout.Stride();
  for (int64_t v = 0; v < n; ++v) out[v] = result[v * stride + layout.Offset(k)];
  if (shift == 0) return Finalize(program, x0, out, saved);
  ProjectionProgram<T> scaled = program;
  scaled.low = ScaleByPowerOfTwo(program.low, -shift);
  scaled.high = ScaleByPowerOfTwo(program.high, -shift);
  for (int64_t v = 0; v < n; ++v) scaled_x0[v] = ScaleByPowerOfTwo(x0[v], -shift);
  Finalize(scaled, scaled_x0, out, saved);
  for (int64_t v = 0; v < n; ++v) out[v] = ScaleByPowerOfTwo(out[v], shift);
  if (ExactlyFeasible(program, out)) return 0;
  const T mean = ScaleByPowerOfTwo(Mean(scaled_x0, n), shift);
  const T constant = Clip(mean, program.low, program.high);
  for (int64_t v = 0; v < n; ++v) out[v] = constant;
  return InfeasibleFamilies(program, out);
}

// The box of the cycles of units loaded with 2^-shift.
template <typename T>
TF_LATTICE_HOST_DEVICE void ScaledBounds(const ProjectionProgram<T>& program, int shift, T* low,
                                         T* high) {
  *low = shift == 0 ? program.low : ScaleByPowerOfTwo(program.low, -shift);
  *high = shift == 0 ? program.high : ScaleByPowerOfTwo(program.high, -shift);
}

// Values per lane of DykstraCycles' layout arrays: x, start, result and one
// increment per projection, V each.
template <typename T>
TF_LATTICE_HOST_DEVICE int64_t CycleValuesPerLane(const DykstraPlan<T>& plan) {
  return (plan.num_projections + 3) * plan.num_vertices;
}

// Host scratch of ProjectBatch for batches of up to `lanes` lanes.
template <typename T>
struct BatchScratch {
  BatchScratch(const DykstraPlan<T>& plan, int64_t lanes)
      : values(CycleValuesPerLane(plan) * lanes),
        swept(plan.num_vertices * lanes),
        threshold(lanes),
        change(lanes),
        pool(kPoolReals * plan.max_chain_length),
        saved(plan.num_vertices),
        scaled_x0(plan.num_vertices),
        active(lanes),
        holds(lanes),
        pool_ends(kPoolInts * plan.max_chain_length) {}
  std::vector<T> values, swept, threshold, change, pool, saved, scaled_x0;
  std::vector<char> active, holds;
  std::vector<int64_t> pool_ends;
};

// Projects the units x0 [lanes, V] (unit-major) to out [lanes, V] on the
// host: LoadLanes, DykstraCycles and FinalizeLane in the BatchLanes layout
// (the steps the GPU kernel runs in the ThreadLane layout). A program with
// order rows only is first swept for all lanes at once
// (SweepOrderRowsLanes); only the lanes that fail its exact check go through
// Finalize. shift is that of every unit of the batch (a unit with shift > 0
// comes alone). masks[k] receives unit k's mask (0 when feasible).
template <typename T>
void ProjectBatch(const ProjectionProgram<T>& program, const DykstraPlan<T>& plan,
                  const OrderRowTable& order_rows, int64_t lanes, int shift, const T* x0,
                  T* out, BatchScratch<T>* s, uint64_t* masks) {
  const int64_t n = program.num_vertices;
  const int64_t size = n * lanes;
  const BatchLanes layout{lanes};
  T* x = s->values.data();
  T* start = x + size;
  T* result = start + size;
  T* increments = result + size;
  const LaneScratch<T> scratch{s->threshold.data(), s->change.data(), s->active.data(),
                               s->pool.data(), s->pool_ends.data()};
  T low, high;
  ScaledBounds(program, shift, &low, &high);
  LoadLanes(program, layout, shift, x0, x, scratch);
  DykstraCycles(plan, layout, DykstraCycleCount(program), low, high, x, start, increments,
                result, scratch);
  char* holds = s->holds.data();
  std::fill(holds, holds + lanes, 0);
  T* swept = s->swept.data();
  if (shift == 0 && order_rows.order_rows_only) {
    std::copy(result, result + size, swept);
    SweepOrderRowsLanes(order_rows, program.low, program.high, n, lanes, swept, holds);
  }
  for (int64_t k = 0; k < lanes; ++k) {
    T* unit = out + k * n;
    if (holds[k]) {
      for (int64_t v = 0; v < n; ++v) unit[v] = swept[v * lanes + k];
      masks[k] = 0;
    } else {
      masks[k] = FinalizeLane(program, layout, k, shift, x0 + k * n, result, unit,
                              s->saved.data(), s->scaled_x0.data());
    }
  }
}

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_LIB_LATTICE_DYKSTRA_H_
