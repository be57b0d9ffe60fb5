// Input checks of the lattice projection, shared by the CPU and the GPU
// kernel. TF-free: only host_device.h, lattice_projection.h, <cstdint> and
// <vector>.
//
// Both kernels hold the constraint tables in host memory and check them with
// the same host code (FindFirstFailure up to kCheckParams, then
// FindOverlappingChains) before any projection step reads them; the params,
// last, are checked where they are: by the same loop on the CPU, one thread
// per value on the GPU (CheckFails / DescribeFailure). A malformed table or
// a non-finite value is thus the same InvalidArgument error on every device.
//
// Each check covers a list of items and fails for some of them; checks run in
// the order of ProjectionCheck and the error reported is that of the first
// failing item of the first failing check. The items of a check read only
// their own entries of the tables (and offsets already checked by an earlier
// check), never an index taken from a table, so a check is safe on any
// input.
#ifndef TF_LATTICE_OPS_CC_LIB_LATTICE_PROJECTION_CHECKS_H_
#define TF_LATTICE_OPS_CC_LIB_LATTICE_PROJECTION_CHECKS_H_

#include <cstdint>
#include <vector>

#include "tf_lattice/ops/cc/lib/host_device.h"
#include "tf_lattice/ops/cc/lib/lattice_projection.h"

namespace tf_lattice {

enum ProjectionCheck : int {
  kCheckChainIndex = 0,     // item i: chain_index[i] is a vertex
  kCheckChainFamilies,      // item f: chain_families[f] fits chain_index
  kCheckHalfspaces,         // item i: vertices, finite and not all-zero coefs
  kCheckHalfspaceGroups,    // item g: offsets non-decreasing from 0 to H
  kCheckRowOffsets,         // item 0: the ends 0 and R; item t: order at t - 1
  kCheckRows,               // item i: vertices, coefficients, target of row i
  kCheckRowFamilies,        // item i: row_family[i] names a family (or is >= 0)
  kCheckInteriorDirection,  // item v: interior_direction[v] is finite
  kCheckParams,             // item i: params (flat) is finite
  kNumProjectionChecks,
};

// What is wrong with the first failing item: `kind` tells which sub-check
// (per ProjectionCheck, see DescribeFailure) and `ints` / `real` the values
// the message shows.
struct ProjectionCheckFailure {
  int check;
  int kind;
  int64_t item;
  int64_t ints[4];
  double real;
};

// Row-coefficient values the finalize's exact arithmetic supports.
template <typename T>
TF_LATTICE_HOST_DEVICE bool IsRowCoefficient(T c) {
  return c == T(0) || c == T(1) || c == T(-1) || c == T(2) || c == T(-2);
}

// Number of items of `check` (params holds num_params values).
template <typename T>
TF_LATTICE_HOST_DEVICE int64_t NumCheckItems(const ProjectionProgram<T>& program, int check,
                                             int64_t num_params) {
  switch (check) {
    case kCheckChainIndex: return program.num_chain_values;
    case kCheckChainFamilies: return program.num_chain_families;
    case kCheckHalfspaces: return program.num_halfspaces;
    case kCheckHalfspaceGroups: return program.num_halfspace_groups + 1;
    case kCheckRowOffsets: return program.num_vertices + 1;
    case kCheckRows: return program.num_rows;
    case kCheckRowFamilies: return program.num_rows;
    case kCheckInteriorDirection: return program.num_vertices;
    case kCheckParams: return num_params;
    default: return 0;
  }
}

// The target vertex of row i: the t with row_offsets[t] <= i <
// row_offsets[t + 1] (row_offsets already checked).
template <typename T>
TF_LATTICE_HOST_DEVICE int64_t RowTarget(const ProjectionProgram<T>& program, int64_t i) {
  int64_t low = 0;
  int64_t high = program.num_vertices;  // row_offsets[high] = R > i
  while (high - low > 1) {
    const int64_t middle = low + (high - low) / 2;
    if (program.row_offsets[middle] <= i) {
      low = middle;
    } else {
      high = middle;
    }
  }
  return low;
}

// Term t of a row of kRowTerms (vertex `index`, coefficient `coef`) of a
// table over v vertices: records t and the vertex in failure->ints[0..1] and
// fails with kind 0 when the vertex is outside [0, v) or `bad_index`, else
// with kind 1 (failure->real = coef) when `bad_coef`. Returns whether it fails.
template <typename T>
TF_LATTICE_HOST_DEVICE bool TermFails(int t, int64_t index, T coef, int64_t v, bool bad_index,
                                      bool bad_coef, ProjectionCheckFailure* failure) {
  failure->ints[0] = t;
  failure->ints[1] = index;
  if (index < 0 || index >= v || bad_index) {
    failure->kind = 0;
    return true;
  }
  if (bad_coef) {
    failure->kind = 1;
    failure->real = static_cast<double>(coef);
    return true;
  }
  return false;
}

// Clears *failure for `item` of `check`.
TF_LATTICE_HOST_DEVICE void StartFailure(int check, int64_t item,
                                         ProjectionCheckFailure* failure) {
  failure->check = check;
  failure->item = item;
  failure->kind = 0;
  failure->real = 0.0;
  for (int k = 0; k < 4; ++k) failure->ints[k] = 0;
}

// Row `item` of the order-row table, whose target vertex is `target`: its
// terms name vertices up to the target, with supported coefficients, and one
// of them is the target. Fills *failure (kCheckRows) and returns whether it
// fails.
template <typename T>
TF_LATTICE_HOST_DEVICE bool RowFails(const ProjectionProgram<T>& program, int64_t item,
                                     int64_t target, ProjectionCheckFailure* failure) {
  const int64_t* index = program.row_index + item * kRowTerms;
  const T* coef = program.row_coef + item * kRowTerms;
  bool has_target = false;
  failure->ints[2] = target;
  for (int t = 0; t < kRowTerms; ++t) {
    const bool after_target = coef[t] != T(0) && index[t] > target;
    if (TermFails(t, index[t], coef[t], program.num_vertices, after_target,
                  !IsRowCoefficient(coef[t]), failure)) {
      return true;
    }
    has_target = has_target || (index[t] == target && coef[t] != T(0));
  }
  failure->kind = 2;
  return !has_target;
}

// Fills *failure when `item` of `check` fails; returns whether it does.
template <typename T>
TF_LATTICE_HOST_DEVICE bool DescribeFailure(const ProjectionProgram<T>& program,
                                            const T* params, int check, int64_t item,
                                            ProjectionCheckFailure* failure) {
  const int64_t v = program.num_vertices;
  StartFailure(check, item, failure);
  switch (check) {
    case kCheckChainIndex: {
      const int64_t vertex = program.chain_index[item];
      failure->ints[0] = vertex;
      return vertex < 0 || vertex >= v;
    }
    case kCheckChainFamilies: {
      const int64_t* family = program.chain_families + 3 * item;
      const int64_t offset = family[0], count = family[1], length = family[2];
      for (int k = 0; k < 3; ++k) failure->ints[k] = family[k];
      const int64_t values = program.num_chain_values;
      return offset < 0 || count < 0 || length < 1 || length > v || offset > values ||
             count > (values - offset) / length;
    }
    case kCheckHalfspaces: {
      const int64_t* index = program.halfspace_index + item * kRowTerms;
      const T* coef = program.halfspace_coef + item * kRowTerms;
      bool nonzero = false;
      for (int t = 0; t < kRowTerms; ++t) {
        if (TermFails(t, index[t], coef[t], v, false, !IsFiniteValue(coef[t]), failure)) {
          return true;
        }
        nonzero = nonzero || coef[t] != T(0);
      }
      failure->kind = 2;
      return !nonzero;
    }
    case kCheckHalfspaceGroups: {
      const int64_t g = item;
      const int64_t value = program.halfspace_groups[g];
      const int64_t previous = g == 0 ? 0 : program.halfspace_groups[g - 1];
      const bool last = g == program.num_halfspace_groups;
      failure->ints[0] = value;
      return value < previous || value > program.num_halfspaces || (g == 0 && value != 0) ||
             (last && value != program.num_halfspaces);
    }
    case kCheckRowOffsets: {
      const int64_t* offsets = program.row_offsets;
      if (item == 0) {
        failure->kind = 0;
        failure->ints[0] = offsets[0];
        failure->ints[1] = offsets[v];
        return offsets[0] != 0 || offsets[v] != program.num_rows;
      }
      failure->kind = 1;
      failure->ints[0] = offsets[item - 1];
      failure->ints[1] = offsets[item];
      return offsets[item] < offsets[item - 1];
    }
    case kCheckRows:
      return RowFails(program, item, RowTarget(program, item), failure);
    case kCheckRowFamilies: {
      const int64_t family = program.row_family[item];
      failure->ints[0] = family;
      failure->ints[1] = program.num_families;
      // Without names (a raw call) any family id >= 0 serves.
      return family < 0 || (program.num_families > 0 && family >= program.num_families);
    }
    case kCheckInteriorDirection: {
      failure->real = program.interior_direction[item];
      return !IsFiniteValue(failure->real);
    }
    case kCheckParams: {
      const T value = params[item];
      failure->ints[0] = item / v;
      failure->ints[1] = item % v;
      failure->real = static_cast<double>(value);
      return !IsFiniteValue(value);
    }
    default:
      return false;
  }
}

// Whether `item` of `check` fails.
template <typename T>
TF_LATTICE_HOST_DEVICE bool CheckFails(const ProjectionProgram<T>& program, const T* params,
                                       int check, int64_t item) {
  ProjectionCheckFailure failure;
  return DescribeFailure(program, params, check, item, &failure);
}

// Host loop: the first failing item of the first failing check in
// [begin_check, end_check) (true), or false when every input passes.
template <typename T>
bool FindFirstFailure(const ProjectionProgram<T>& program, const T* params, int64_t num_params,
                      ProjectionCheckFailure* failure, int begin_check = 0,
                      int end_check = kNumProjectionChecks) {
  for (int check = begin_check; check < end_check; ++check) {
    if (check == kCheckRows) {
      // Rows in order, each target's rows in turn: the same checks as
      // DescribeFailure without a search for every row's target.
      for (int64_t target = 0; target < program.num_vertices; ++target) {
        for (int64_t item = program.row_offsets[target]; item < program.row_offsets[target + 1];
             ++item) {
          StartFailure(check, item, failure);
          if (RowFails(program, item, target, failure)) return true;
        }
      }
      continue;
    }
    const int64_t items = NumCheckItems(program, check, num_params);
    for (int64_t item = 0; item < items; ++item) {
      if (DescribeFailure(program, params, check, item, failure)) return true;
    }
  }
  return false;
}

// A vertex that two chains of one family hold, or one chain twice (see
// FindOverlappingChains).
struct ChainOverlap {
  int64_t family;
  int64_t vertex;
  int64_t first;   // the chains (numbered within the family) that both
  int64_t second;  // hold it
};

// Host check, after the per-item checks up to kCheckParams pass: the chains
// of a family must be disjoint and visit each vertex once, as the family's
// projection (each chain by isotonic regression, the chains at once)
// assumes. Returns whether some vertex is held twice, and the first such (in
// table order) in *overlap.
template <typename T>
bool FindOverlappingChains(const ProjectionProgram<T>& program, ChainOverlap* overlap) {
  // stamp[v]: the last family that held v, and holder[v] its chain.
  std::vector<int64_t> stamp(program.num_vertices, -1), holder(program.num_vertices, -1);
  for (int64_t f = 0; f < program.num_chain_families; ++f) {
    const int64_t* family = program.chain_families + 3 * f;
    for (int64_t c = 0; c < family[1]; ++c) {
      for (int64_t i = 0; i < family[2]; ++i) {
        const int64_t vertex = program.chain_index[family[0] + c * family[2] + i];
        if (stamp[vertex] == f) {
          *overlap = {f, vertex, holder[vertex], c};
          return true;
        }
        stamp[vertex] = f;
        holder[vertex] = c;
      }
    }
  }
  return false;
}

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_LIB_LATTICE_PROJECTION_CHECKS_H_
