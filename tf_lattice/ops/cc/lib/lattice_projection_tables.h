// The tables of one constraint set of TfLattice>LatticeProjection, stated
// once for the op's shape function and for its kernels. TF-free: only
// <cstdint>.
//
// A set's tables are the op's inputs after params, in the order of
// ProjectionTable (tf_lattice/ops/lattice_projection.py, kernel_tables,
// builds them). TfLattice>LatticeProjectionSets takes each table as a list of
// one tensor per set. Each table has a fixed rank and, where the format fixes
// it, a fixed last dimension; the dimensions that depend on another table or
// on the lattice (R rows, V vertices) are checked by the kernels, which know
// them.
#ifndef TF_LATTICE_OPS_CC_LIB_LATTICE_PROJECTION_TABLES_H_
#define TF_LATTICE_OPS_CC_LIB_LATTICE_PROJECTION_TABLES_H_

#include <cstdint>

namespace tf_lattice {

enum ProjectionTable : int {
  kChainIndex = 0,
  kChainFamilies,
  kHalfspaceIndex,
  kHalfspaceCoef,
  kHalfspaceGroups,
  kRowIndex,
  kRowCoef,
  kRowOffsets,
  kRowFamily,
  kInteriorDirection,
  kInteriorMargin,
  kBounds,
  kNumProjectionTables,
};

// A table's name (the op input's), rank, fixed last dimension (-1: none) and
// shape in words, for error messages.
struct ProjectionTableFormat {
  const char* name;
  int rank;
  int64_t last;
  const char* shape;
};

inline constexpr ProjectionTableFormat kProjectionTableFormats[kNumProjectionTables] = {
    {"chain_index", 1, -1, "[num_chain_values]"},
    {"chain_families", 2, 3, "[F, 3]"},
    {"halfspace_index", 2, 4, "[H, 4]"},
    {"halfspace_coef", 2, 4, "[H, 4] (like halfspace_index)"},
    {"halfspace_groups", 1, -1, "[G + 1] (group offsets)"},
    {"row_index", 2, 4, "[R, 4]"},
    {"row_coef", 2, 4, "[R, 4] (like row_index)"},
    {"row_offsets", 1, -1, "[V + 1] (num_vertices + 1)"},
    {"row_family", 1, -1, "[R] (one family per row)"},
    {"interior_direction", 1, -1, "[V] (num_vertices)"},
    {"interior_margin", 0, -1, "[] (a scalar)"},
    {"bounds", 1, 2, "[2] (output_min, output_max)"},
};

}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_LIB_LATTICE_PROJECTION_TABLES_H_
