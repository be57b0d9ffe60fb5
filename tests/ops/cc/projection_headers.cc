// Test driver of the TensorFlow-free projection headers (ops/cc/lib),
// compiled by tests/ops/test_projection_headers.py with the host compiler.
//
//   projection_headers isotonic < cases   # per case: size, values, weights
//   projection_headers layouts < program  # tables and params, see below
//
// "isotonic" prints, per case, three rows: IsotonicRow (weighted,
// increasing, unbounded), IsotonicInPlace (unweighted) and
// IsotonicShortChain<size> (unweighted; sizes 2..8, else IsotonicInPlace
// again).
//
// "layouts" projects every unit twice: by ProjectBatch (the CPU kernel's
// path, BatchLanes layout, all units in one batch) and by LoadLanes,
// DykstraCycles and FinalizeLane in the ThreadLane layout over arrays of
// all units (the GPU kernel's path; each of the three phases runs for every
// thread before the next begins), and prints both results.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "tf_lattice/ops/cc/lib/isotonic.h"
#include "tf_lattice/ops/cc/lib/lattice_dykstra.h"
#include "tf_lattice/ops/cc/lib/lattice_finalize.h"
#include "tf_lattice/ops/cc/lib/lattice_projection.h"

namespace {

template <typename V>
std::vector<V> ReadArray() {
  int64_t n = 0;
  std::cin >> n;
  std::vector<V> values(n);
  for (V& value : values) std::cin >> value;
  return values;
}

void Print(const double* values, int64_t n) {
  for (int64_t i = 0; i < n; ++i) std::printf("%s%.17g", i ? " " : "", values[i]);
  std::printf("\n");
}

template <int M>
bool ShortChain(double* y, int64_t size) {
  if (size != M) return false;
  tf_lattice::IsotonicShortChain<double, M>(y);
  return true;
}

int Isotonic() {
  int64_t cases = 0;
  std::cin >> cases;
  for (int64_t c = 0; c < cases; ++c) {
    const std::vector<double> values = ReadArray<double>();
    const std::vector<double> weights = ReadArray<double>();
    const int64_t size = static_cast<int64_t>(values.size());
    std::vector<double> sums(size), block_weights(size), means(size), out(size);
    std::vector<int64_t> ends(size);
    tf_lattice::IsotonicRow(values.data(), weights.data(), size, true, -HUGE_VAL, HUGE_VAL,
                            sums.data(), block_weights.data(), means.data(), ends.data(),
                            out.data());
    Print(out.data(), size);
    out = values;
    tf_lattice::IsotonicInPlace(out.data(), size, sums.data(), block_weights.data(),
                                means.data(), ends.data());
    Print(out.data(), size);
    std::vector<double> y = values;
    const bool short_chain = ShortChain<2>(y.data(), size) || ShortChain<3>(y.data(), size) ||
                             ShortChain<4>(y.data(), size) || ShortChain<5>(y.data(), size) ||
                             ShortChain<6>(y.data(), size) || ShortChain<7>(y.data(), size) ||
                             ShortChain<8>(y.data(), size);
    Print(short_chain ? y.data() : out.data(), size);
  }
  return 0;
}

// Input: num_vertices units num_iterations tolerance low high margin, then
// the arrays chain_index, chain_families, halfspace_index, halfspace_coef,
// halfspace_groups, row_index, row_coef, row_offsets, row_family,
// interior_direction, params (each as its length, then its values).
int Layouts() {
  tf_lattice::ProjectionProgram<double> program;
  int64_t units = 0;
  std::string low, high;  // may be "inf" or "-inf", which strtod reads
  std::cin >> program.num_vertices >> units >> program.num_iterations >> program.tolerance >>
      low >> high >> program.interior_margin;
  program.low = std::strtod(low.c_str(), nullptr);
  program.high = std::strtod(high.c_str(), nullptr);
  const std::vector<int64_t> chain_index = ReadArray<int64_t>();
  const std::vector<int64_t> chain_families = ReadArray<int64_t>();
  const std::vector<int64_t> halfspace_index = ReadArray<int64_t>();
  const std::vector<double> halfspace_coef = ReadArray<double>();
  const std::vector<int64_t> halfspace_groups = ReadArray<int64_t>();
  const std::vector<int64_t> row_index = ReadArray<int64_t>();
  const std::vector<double> row_coef = ReadArray<double>();
  const std::vector<int64_t> row_offsets = ReadArray<int64_t>();
  const std::vector<int64_t> row_family = ReadArray<int64_t>();
  const std::vector<double> interior_direction = ReadArray<double>();
  const std::vector<double> params = ReadArray<double>();
  const int64_t n = program.num_vertices;
  program.num_chain_families = static_cast<int64_t>(chain_families.size() / 3);
  program.chain_index = chain_index.data();
  program.chain_families = chain_families.data();
  program.num_halfspace_groups = static_cast<int64_t>(halfspace_groups.size()) - 1;
  program.halfspace_index = halfspace_index.data();
  program.halfspace_coef = halfspace_coef.data();
  program.halfspace_groups = halfspace_groups.data();
  program.row_index = row_index.data();
  program.row_coef = row_coef.data();
  program.row_offsets = row_offsets.data();
  program.interior_direction = interior_direction.data();
  program.num_chain_values = static_cast<int64_t>(chain_index.size());
  program.num_halfspaces = static_cast<int64_t>(halfspace_coef.size() / 4);
  program.num_rows = static_cast<int64_t>(row_family.size());
  program.row_family = row_family.data();
  program.num_families = 0;

  const tf_lattice::DykstraPlanTables<double> tables = tf_lattice::MakeDykstraPlan(program);
  const tf_lattice::DykstraPlan<double> plan = tables.HostView(program.chain_index);

  // The CPU kernel's path: every unit in one batch (all need no scaling).
  std::vector<double> batch(units * n);
  std::vector<uint64_t> batch_masks(units);
  tf_lattice::BatchScratch<double> scratch(plan, units);
  tf_lattice::ProjectBatch(program, plan, tf_lattice::MakeOrderRowTable(program), units, 0,
                           params.data(), batch.data(), &scratch, batch_masks.data());

  // The GPU kernel's path, thread by thread.
  std::vector<double> cycle_values(units * tf_lattice::CycleValuesPerLane(plan));
  const int64_t size = n * units;
  double* x = cycle_values.data();
  double* start = x + size;
  double* result = start + size;
  double* increments = result + size;
  std::vector<double> threads(units * n);
  std::vector<uint64_t> thread_masks(units);
  std::vector<double> rows(units * (2 * n + tf_lattice::kPoolReals * plan.max_chain_length));
  std::vector<int64_t> ends(units * tf_lattice::kPoolInts * plan.max_chain_length);
  std::vector<double> thresholds(units), changes(units);
  std::vector<char> actives(units);
  std::vector<int> shifts(units);
  const int64_t ints_per_thread = tf_lattice::kPoolInts * plan.max_chain_length;
  const auto thread_scratch = [&](int64_t u) {
    double* unit_rows = rows.data() + u * (2 * n + tf_lattice::kPoolReals * plan.max_chain_length);
    return tf_lattice::LaneScratch<double>{thresholds.data() + u, changes.data() + u,
                                           actives.data() + u, unit_rows + 2 * n,
                                           ends.data() + u * ints_per_thread};
  };
  // Each phase runs every thread before the next phase starts, so that a
  // thread that touched another's lane would change that thread's result.
  for (int64_t u = 0; u < units; ++u) {
    const double* x0 = params.data() + u * n;
    shifts[u] = tf_lattice::DownscaleExponent(x0, n);
    tf_lattice::LoadLanes(program, tf_lattice::ThreadLane{units, u}, shifts[u], x0, x,
                          thread_scratch(u));
  }
  for (int64_t u = 0; u < units; ++u) {
    double low, high;
    tf_lattice::ScaledBounds(program, shifts[u], &low, &high);
    tf_lattice::DykstraCycles(plan, tf_lattice::ThreadLane{units, u},
                              tf_lattice::DykstraCycleCount(program), low, high, x, start,
                              increments, result, thread_scratch(u));
  }
  for (int64_t u = 0; u < units; ++u) {
    double* unit_rows = rows.data() + u * (2 * n + tf_lattice::kPoolReals * plan.max_chain_length);
    thread_masks[u] = tf_lattice::FinalizeLane(
        program, tf_lattice::ThreadLane{units, u}, 0, shifts[u], params.data() + u * n, result,
        threads.data() + u * n, unit_rows, unit_rows + n);
  }
  for (int64_t u = 0; u < units; ++u) Print(batch.data() + u * n, n);
  for (int64_t u = 0; u < units; ++u) Print(threads.data() + u * n, n);
  for (int64_t u = 0; u < units; ++u) {
    std::printf("%llu %llu\n", static_cast<unsigned long long>(batch_masks[u]),
                static_cast<unsigned long long>(thread_masks[u]));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "isotonic") == 0) return Isotonic();
  if (argc == 2 && std::strcmp(argv[1], "layouts") == 0) return Layouts();
  std::fprintf(stderr, "usage: %s isotonic|layouts < input\n", argv[0]);
  return 2;
}
