// CPU (and, with CUDA, GPU) kernels of TfLattice>LatticeProjection. Both run
// the Dykstra cycles of lib/lattice_dykstra.h (the CPU on batches of units,
// vectorized across them; the GPU one unit per thread) and the finalize of
// lib/lattice_finalize.h. Both keep the tables in host memory and check them
// with the host loop of lib/lattice_projection_checks.h, then the params
// (the CPU in the same loop, the GPU on the device), and report the first
// failure with the same message; both fail for a unit that ends infeasible.
// Both check and plan a set of table tensors once (PreparedTablesCache).
// The same kernels serve TfLattice>LatticeProjectionSets, whose units come
// in contiguous blocks, each with a constraint set (tables) of its own: they
// run the single-set code on each block in turn.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <list>
#include <memory>
#include <mutex>  // NOLINT(build/c++11)
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/framework/tensor_shape.h"
#include "tensorflow/core/platform/threadpool.h"
#include "tf_lattice/ops/cc/kernels/cpu_sharding.h"
#include "tf_lattice/ops/cc/kernels/gpu_stream.h"
#include "tf_lattice/ops/cc/kernels/lattice_projection_gpu.h"
#include "tf_lattice/ops/cc/lib/lattice_dykstra.h"
#include "tf_lattice/ops/cc/lib/lattice_finalize.h"
#include "tf_lattice/ops/cc/lib/lattice_projection.h"
#include "tf_lattice/ops/cc/lib/lattice_projection_checks.h"
#include "tf_lattice/ops/cc/lib/lattice_projection_tables.h"
#include "tf_lattice/ops/cc/ops/iteration_attrs.h"

namespace tensorflow {
namespace tf_lattice {
namespace {

using ::tf_lattice::BatchScratch;
using ::tf_lattice::CycleValuesPerLane;
using ::tf_lattice::DownscaleExponent;
using ::tf_lattice::DykstraCycleCount;
using ::tf_lattice::DykstraPlan;
using ::tf_lattice::DykstraPlanTables;
using ::tf_lattice::kBoundsBit;
using ::tf_lattice::kLastFamilyBit;
using ::tf_lattice::MakeDykstraPlan;
using ::tf_lattice::MakeOrderRowTable;
using ::tf_lattice::NumProjections;
using ::tf_lattice::OrderRowTable;
using ::tf_lattice::ProjectBatch;
using ::tf_lattice::ProjectionCheckFailure;
using ::tf_lattice::ProjectionProgram;

// The tables of one constraint set (lib/lattice_projection_tables.h).
using ::tf_lattice::kBounds;
using ::tf_lattice::kChainFamilies;
using ::tf_lattice::kChainIndex;
using ::tf_lattice::kHalfspaceCoef;
using ::tf_lattice::kHalfspaceGroups;
using ::tf_lattice::kHalfspaceIndex;
using ::tf_lattice::kInteriorDirection;
using ::tf_lattice::kInteriorMargin;
using ::tf_lattice::kProjectionTableFormats;
using ::tf_lattice::kRowCoef;
using ::tf_lattice::kRowFamily;
using ::tf_lattice::kRowIndex;
using ::tf_lattice::kRowOffsets;
constexpr int kNumTables = ::tf_lattice::kNumProjectionTables;

// One constraint set of a call and the units it projects.
struct TableSet {
  std::array<const Tensor*, kNumTables> tables{};
  int64_t begin = 0;  // its units: params rows [begin, end)
  int64_t end = 0;
  int64_t first_name = 0;  // its names: family_names[first_name, first_name + num_names)
  int64_t num_names = 0;
  int64_t index = -1;  // its position among a call's several sets, -1 when alone

  const Tensor& table(int t) const { return *tables[t]; }
};

// `status` with "constraint set s: " in front of its message when the set is
// one of several (built only for an error: the sets are read on every call).
absl::Status InSet(const TableSet& set, const absl::Status& status) {
  if (status.ok() || set.index < 0) return status;
  return absl::Status(status.code(),
                      absl::StrCat("constraint set ", set.index, ": ", status.message()));
}

absl::Status ShapeError(const char* name, const std::string& expected, const Tensor& tensor) {
  return absl::InvalidArgumentError(absl::StrCat(name, " must have shape ", expected, ", got ",
                                                 tensor.shape().DebugString()));
}

absl::Status CheckParamsShape(const Tensor& params) {
  if (params.dims() != 2 || params.dim_size(1) < 1) {
    return ShapeError("params", "[units, num_vertices >= 1]", params);
  }
  return absl::OkStatus();
}

// Checks the shape of every table of a set for `v` vertices.
absl::Status CheckTableShapes(const TableSet& set, int64_t v) {
  // The rank and fixed last dimension of each table (as the shape function checks them).
  for (int t = 0; t < kNumTables; ++t) {
    const auto& format = kProjectionTableFormats[t];
    const Tensor& table = set.table(t);
    if (table.dims() != format.rank ||
        (format.last >= 0 && table.dim_size(format.rank - 1) != format.last)) {
      return ShapeError(format.name, format.shape, table);
    }
  }
  // The dimensions that one table or the lattice sets for another.
  const auto same_length = [&](int t, int64_t length, const std::string& shape) {
    const Tensor& table = set.table(t);
    return table.dim_size(0) == length
               ? absl::OkStatus()
               : ShapeError(kProjectionTableFormats[t].name, shape, table);
  };
  const int64_t h = set.table(kHalfspaceIndex).dim_size(0);
  TF_RETURN_IF_ERROR(
      same_length(kHalfspaceCoef, h, absl::StrCat("[", h, ", 4] (like halfspace_index)")));
  if (set.table(kHalfspaceGroups).dim_size(0) < 1) {
    return ShapeError("halfspace_groups", "[G + 1] (group offsets)",
                      set.table(kHalfspaceGroups));
  }
  const int64_t r = set.table(kRowIndex).dim_size(0);
  TF_RETURN_IF_ERROR(same_length(kRowCoef, r, absl::StrCat("[", r, ", 4] (like row_index)")));
  TF_RETURN_IF_ERROR(
      same_length(kRowOffsets, v + 1, absl::StrCat("[", v + 1, "] (num_vertices + 1)")));
  TF_RETURN_IF_ERROR(same_length(kRowFamily, r, absl::StrCat("[", r, "] (one family per row)")));
  return same_length(kInteriorDirection, v, absl::StrCat("[", v, "] (num_vertices)"));
}

template <typename T>
absl::Status CheckScalars(const Tensor& margin, const Tensor& bounds) {
  const double m = margin.scalar<double>()();
  if (std::isnan(m)) return absl::InvalidArgumentError("interior_margin must not be NaN");
  const T low = bounds.flat<T>()(0);
  const T high = bounds.flat<T>()(1);
  if (!(low <= high)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bounds must satisfy output_min <= output_max, got [", low, ", ", high, "]"));
  }
  return absl::OkStatus();
}

// Checks a set's table shapes, then its scalar tables' values (host
// memory): what both the CPU and the GPU kernel require before the table
// checks.
template <typename T>
absl::Status CheckSetShapesAndScalars(const TableSet& set, int64_t v) {
  TF_RETURN_IF_ERROR(InSet(set, CheckTableShapes(set, v)));
  return InSet(set, CheckScalars<T>(set.table(kInteriorMargin), set.table(kBounds)));
}

// The message of the first failing input item (lattice_projection_checks.h),
// the same on both devices.
template <typename T>
absl::Status CheckFailureStatus(const ProjectionCheckFailure& f,
                                const ProjectionProgram<T>& program) {
  const int64_t i = f.item;
  const int64_t v = program.num_vertices;
  const auto error = [](auto... parts) {
    return absl::InvalidArgumentError(absl::StrCat(parts...));
  };
  switch (f.check) {
    case ::tf_lattice::kCheckChainIndex:
      return error("chain_index[", i, "] = ", f.ints[0], " is not a vertex in [0, ", v, ")");
    case ::tf_lattice::kCheckChainFamilies:
      return error("chain_families[", i, "] = (", f.ints[0], ", ", f.ints[1], ", ", f.ints[2],
                   ") does not fit chain_index of size ", program.num_chain_values, " and ", v,
                   " vertices");
    case ::tf_lattice::kCheckHalfspaces:
      if (f.kind == 0) {
        return error("halfspace_index[", i, ", ", f.ints[0], "] = ", f.ints[1],
                     " is not a vertex in [0, ", v, ")");
      }
      if (f.kind == 1) {
        return error("halfspace_coef[", i, ", ", f.ints[0], "] = ", f.real, " is not finite");
      }
      return error("halfspace_coef[", i, "] is all zeros");
    case ::tf_lattice::kCheckHalfspaceGroups:
      return error("halfspace_groups must be non-decreasing offsets from 0 to ",
                   program.num_halfspaces, " (the number of half-spaces); entry ", i, " is ",
                   f.ints[0]);
    case ::tf_lattice::kCheckRowOffsets:
      if (f.kind == 0) {
        return error("row_offsets must run from 0 to ", program.num_rows,
                     " (the number of rows), got ", f.ints[0], " ... ", f.ints[1]);
      }
      return error("row_offsets must be non-decreasing, got ", f.ints[0], " then ", f.ints[1],
                   " at vertex ", i - 1);
    case ::tf_lattice::kCheckRows:
      if (f.kind == 0) {
        return error("row_index[", i, ", ", f.ints[0], "] = ", f.ints[1], " must lie in [0, ",
                     f.ints[2],
                     "] (rows are sorted by their largest vertex with a nonzero coefficient)");
      }
      if (f.kind == 1) {
        return error("row_coef[", i, ", ", f.ints[0], "] must be one of 0, +-1, +-2, got ",
                     f.real);
      }
      return error("row ", i, " is listed under vertex ", f.ints[2],
                   " by row_offsets but has no nonzero coefficient on it");
    case ::tf_lattice::kCheckRowFamilies:
      return error("row_family[", i, "] = ", f.ints[0], " must be >= 0 and below the ",
                   f.ints[1], " names of the family_names attr (when given)");
    case ::tf_lattice::kCheckInteriorDirection:
      return error("interior_direction[", i, "] = ", f.real, " is not finite");
    case ::tf_lattice::kCheckParams:
      return error("params[", f.ints[0], ", ", f.ints[1], "] = ", f.real,
                   " is not finite: the lattice projection needs finite parameters (NaN or "
                   "infinite parameters usually mean that training diverged)");
    default:
      return error("lattice projection input check ", f.check, " failed at item ", i);
  }
}

// The checks of the tables (host memory on both devices): the per-item
// checks before kCheckParams, then FindOverlappingChains. Both kernels run
// it before the params check.
template <typename T>
absl::Status CheckTables(const ProjectionProgram<T>& program) {
  ProjectionCheckFailure failure;
  if (::tf_lattice::FindFirstFailure(program, static_cast<const T*>(nullptr), 0, &failure, 0,
                                     ::tf_lattice::kCheckParams)) {
    return CheckFailureStatus(failure, program);
  }
  ::tf_lattice::ChainOverlap overlap;
  if (::tf_lattice::FindOverlappingChains(program, &overlap)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "chain_index: vertex ", overlap.vertex, " is in chains ", overlap.first, " and ",
        overlap.second, " of chain family ", overlap.family,
        " (the chains of a family must be disjoint and visit a vertex once)"));
  }
  return absl::OkStatus();
}

// The error for the first unit of `set` whose projection is not exactly
// feasible (masks from ProjectBatch, one per unit of the set), or OK.
template <typename T>
absl::Status InfeasibilityStatus(const std::vector<uint64_t>& masks,
                                 const std::vector<std::string>& family_names,
                                 const ProjectionProgram<T>& program, const TableSet& set) {
  for (size_t unit = 0; unit < masks.size(); ++unit) {
    const uint64_t mask = masks[unit];
    if (mask == 0) continue;
    std::vector<std::string> failing;
    const int64_t num_names = set.num_names;
    for (int bit = 0; bit <= kLastFamilyBit; ++bit) {
      if (!((mask >> bit) & 1)) continue;
      if (bit == kLastFamilyBit && num_names > kLastFamilyBit + 1) {
        failing.push_back(absl::StrCat("constraint families ", kLastFamilyBit, " and above"));
      } else {
        failing.push_back(bit < num_names ? family_names[set.first_name + bit]
                                          : absl::StrCat("constraint family ", bit));
      }
    }
    if ((mask >> kBoundsBit) & 1) {
      failing.push_back(absl::StrCat("output bounds [", static_cast<double>(program.low), ", ",
                                     static_cast<double>(program.high), "]"));
    }
    return InSet(set, absl::InvalidArgumentError(absl::StrCat(
        "lattice projection found no point that satisfies every constraint exactly for unit ",
        set.begin + static_cast<int64_t>(unit), ": even the constant lattice violates ",
        absl::StrJoin(failing, ", "), " (these constraints contradict one another)")));
  }
  return absl::OkStatus();
}

// Whether `a` and `b` are the same tensor: the same dtype and shape and, when
// not empty, the same data in the same buffer.
bool SameTensor(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  if (a.NumElements() == 0) return true;
  return a.tensor_data().data() == b.tensor_data().data() && a.SharesBufferWith(b);
}

// What a kernel derives from its table inputs (every input but params):
// their check passed, and the Dykstra plan and the finalize's order-row
// table built from them. `tables` are references to those inputs.
template <typename T>
struct PreparedTables {
  std::vector<Tensor> tables;
  DykstraPlanTables<T> plan;
  OrderRowTable order_rows;
};

// The tables a kernel prepared last. Checking the tables and building the
// plan cost more than projecting one small lattice, and a layer passes the
// same table tensors on every call. Tensors are immutable and each entry
// holds references to its tensors, which keep their buffers alive (a
// resource variable copies a buffer that someone else holds before it
// updates it), so an entry found for the same buffers holds for their
// contents. A failing check is never kept: it fails every call.
template <typename T>
class PreparedTablesCache {
 public:
  // Tables of a few layers at once (an eager kernel serves every layer whose
  // attrs are the same), each set of a call among them; each entry keeps its
  // tables' memory.
  explicit PreparedTablesCache(int64_t sets_per_call) : capacity_(4 + sets_per_call) {}

  // Sets *prepared to the prepared tables of a set's table inputs, checking
  // and planning them (for `program`, their view) when they are new;
  // returns the check's error for tables that fail it. `order_rows`: also
  // build the finalize's order-row table (the CPU kernel's).
  absl::Status Find(const TableSet& set, const ProjectionProgram<T>& program, bool order_rows,
                    std::shared_ptr<const PreparedTables<T>>* prepared) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto entry = entries_.begin(); entry != entries_.end(); ++entry) {
        if (Matches(**entry, set)) {
          *prepared = *entry;
          entries_.splice(entries_.begin(), entries_, entry);
          return absl::OkStatus();
        }
      }
    }
    TF_RETURN_IF_ERROR(CheckTables(program));
    auto entry = std::make_shared<PreparedTables<T>>();
    for (int t = 0; t < kNumTables; ++t) entry->tables.push_back(set.table(t));
    entry->plan = MakeDykstraPlan(program);
    if (order_rows) entry->order_rows = MakeOrderRowTable(program);
    *prepared = entry;
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.push_front(std::move(entry));
    if (static_cast<int64_t>(entries_.size()) > capacity_) entries_.pop_back();
    return absl::OkStatus();
  }

 private:
  static bool Matches(const PreparedTables<T>& entry, const TableSet& set) {
    for (int t = 0; t < kNumTables; ++t) {
      if (!SameTensor(entry.tables[t], set.table(t))) return false;
    }
    return true;
  }

  const int64_t capacity_;
  std::mutex mutex_;
  std::list<std::shared_ptr<const PreparedTables<T>>> entries_;
};

template <typename T>
ProjectionProgram<T> MakeProgram(const Tensor& params, const TableSet& set, int64_t num_iterations,
                                 float tolerance) {
  ProjectionProgram<T> program;
  program.num_vertices = params.dim_size(1);
  program.num_chain_families = set.table(kChainFamilies).dim_size(0);
  program.chain_index = set.table(kChainIndex).flat<int64_t>().data();
  program.chain_families = set.table(kChainFamilies).flat<int64_t>().data();
  program.num_halfspace_groups = set.table(kHalfspaceGroups).dim_size(0) - 1;
  program.halfspace_index = set.table(kHalfspaceIndex).flat<int64_t>().data();
  program.halfspace_coef = set.table(kHalfspaceCoef).flat<T>().data();
  program.halfspace_groups = set.table(kHalfspaceGroups).flat<int64_t>().data();
  program.row_index = set.table(kRowIndex).flat<int64_t>().data();
  program.row_coef = set.table(kRowCoef).flat<T>().data();
  program.row_offsets = set.table(kRowOffsets).flat<int64_t>().data();
  program.interior_direction = set.table(kInteriorDirection).flat<double>().data();
  program.interior_margin = set.table(kInteriorMargin).scalar<double>()();
  program.low = set.table(kBounds).flat<T>()(0);
  program.high = set.table(kBounds).flat<T>()(1);
  program.num_iterations = num_iterations;
  program.tolerance = static_cast<T>(tolerance);
  program.num_chain_values = set.table(kChainIndex).dim_size(0);
  program.num_halfspaces = set.table(kHalfspaceIndex).dim_size(0);
  program.num_rows = set.table(kRowIndex).dim_size(0);
  program.row_family = set.table(kRowFamily).flat<int64_t>().data();
  program.num_families = set.num_names;
  return program;
}

// Reads and checks the attrs, of TfLattice>LatticeProjection or (with the
// attr N) TfLattice>LatticeProjectionSets.
class ProjectionAttrs {
 public:
  explicit ProjectionAttrs(OpKernelConstruction* context) {
    OP_REQUIRES_OK(context, ReadIterationAttrs(context, &num_iterations_, &tolerance_));
    OP_REQUIRES_OK(context, context->GetAttr("family_names", &family_names_));
    if (!context->HasAttr("N")) {
      family_counts_.push_back(static_cast<int64_t>(family_names_.size()));
      return;
    }
    OP_REQUIRES_OK(context, context->GetAttr("N", &num_sets_));
    OP_REQUIRES_OK(context, context->GetAttr("family_counts", &family_counts_));
    if (family_counts_.empty() && family_names_.empty()) family_counts_.assign(num_sets_, 0);
    int64_t total = 0;
    bool counts_valid = static_cast<int64_t>(family_counts_.size()) == num_sets_;
    for (const int64_t count : family_counts_) {
      counts_valid = counts_valid && count >= 0;
      total += count;
    }
    OP_REQUIRES(context,
                counts_valid && total == static_cast<int64_t>(family_names_.size()),
                absl::InvalidArgumentError(absl::StrCat(
                    "family_counts must hold one count >= 0 per constraint set (", num_sets_,
                    ") summing to the ", family_names_.size(), " family_names, got [",
                    absl::StrJoin(family_counts_, ", "), "]")));
  }

  const std::vector<std::string>& family_names() const { return family_names_; }

  // The constraint sets of the op's inputs: one for
  // TfLattice>LatticeProjection (inputs 1 ... kNumTables), N for
  // TfLattice>LatticeProjectionSets (input 1 the unit offsets, then input
  // 2 + t * N + s table t of set s). The tables are unchecked.
  absl::Status Sets(OpKernelContext* context, std::vector<TableSet>* sets) const {
    const int64_t units = context->input(0).dim_size(0);
    const bool listed = num_sets_ > 0;
    const int64_t num_sets = listed ? num_sets_ : 1;
    const int64_t* offsets = nullptr;
    if (listed) {
      const Tensor& unit_offsets = context->input(1);
      if (unit_offsets.dims() != 1 || unit_offsets.dim_size(0) != num_sets + 1) {
        return ShapeError("unit_offsets", absl::StrCat("[", num_sets + 1, "] (N + 1)"),
                          unit_offsets);
      }
      offsets = unit_offsets.flat<int64_t>().data();
      for (int64_t s = 0; s <= num_sets; ++s) {
        const int64_t expected_min = s == 0 ? 0 : offsets[s - 1];
        if ((s == 0 && offsets[s] != 0) || offsets[s] < expected_min ||
            (s == num_sets && offsets[s] != units)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "unit_offsets must rise from 0 to ", units, " (the params rows) without "
              "decreasing, got [", absl::StrJoin(offsets, offsets + num_sets + 1, ", "), "]"));
        }
      }
    }
    sets->assign(num_sets, TableSet());
    int64_t first_name = 0;
    for (int64_t s = 0; s < num_sets; ++s) {
      TableSet& set = (*sets)[s];
      for (int t = 0; t < kNumTables; ++t) {
        set.tables[t] = &context->input(listed ? 2 + t * num_sets + s : 1 + t);
      }
      set.begin = listed ? offsets[s] : 0;
      set.end = listed ? offsets[s + 1] : units;
      set.first_name = first_name;
      set.num_names = family_counts_[s];
      first_name += set.num_names;
      if (num_sets > 1) set.index = s;
    }
    return absl::OkStatus();
  }

  // The program of a set (host pointers but for params, which the program
  // does not hold), unchecked.
  template <typename T>
  ProjectionProgram<T> Program(const Tensor& params, const TableSet& set) const {
    return MakeProgram<T>(params, set, num_iterations_, tolerance_);
  }

  int64_t sets_per_call() const { return std::max<int64_t>(num_sets_, 1); }

 private:
  int64_t num_iterations_ = 0;
  float tolerance_ = 0;
  int64_t num_sets_ = 0;  // 0: the single-set op
  std::vector<std::string> family_names_;
  std::vector<int64_t> family_counts_;
};

// The constraint sets of a call, each with its program and prepared tables.
template <typename T>
struct PreparedCall {
  std::vector<TableSet> sets;
  std::vector<ProjectionProgram<T>> programs;
  std::vector<std::shared_ptr<const PreparedTables<T>>> prepared;
};

// Checks the params' shape and each set's shapes, scalars and tables, and
// finds each set's prepared tables (both kernels; the params' values are
// checked after this, by each kernel on its device).
template <typename T>
absl::Status PrepareSets(OpKernelContext* context, const ProjectionAttrs& attrs,
                         PreparedTablesCache<T>* cache, bool order_rows, PreparedCall<T>* call) {
  const Tensor& params = context->input(0);
  TF_RETURN_IF_ERROR(CheckParamsShape(params));
  TF_RETURN_IF_ERROR(attrs.Sets(context, &call->sets));
  call->prepared.assign(call->sets.size(), nullptr);
  for (size_t s = 0; s < call->sets.size(); ++s) {
    const TableSet& set = call->sets[s];
    TF_RETURN_IF_ERROR(CheckSetShapesAndScalars<T>(set, params.dim_size(1)));
    call->programs.push_back(attrs.Program<T>(params, set));
    TF_RETURN_IF_ERROR(
        InSet(set, cache->Find(set, call->programs.back(), order_rows, &call->prepared[s])));
  }
  return absl::OkStatus();
}

// Units whose Dykstra cycles run together (vectorized across them): up to
// kMaxLanes, fewer when their scratch would pass kMaxLaneScratchBytes.
template <typename T>
int64_t LanesPerBatch(const DykstraPlan<T>& plan) {
  constexpr int64_t kMaxLanes = 16;
  constexpr int64_t kMaxLaneScratchBytes = int64_t{64} << 20;
  const int64_t bytes_per_lane = (CycleValuesPerLane(plan) + plan.num_vertices) * sizeof(T);
  return std::max<int64_t>(1, std::min(kMaxLanes, kMaxLaneScratchBytes / bytes_per_lane));
}

// Projects the units [set.begin, set.end) of in [units, v] into out on the
// CPU's worker threads; returns their masks (0 for a feasible unit).
template <typename T>
std::vector<uint64_t> ProjectSetOnCpu(OpKernelContext* context, const ProjectionProgram<T>& program,
                                      const PreparedTables<T>& prepared, const TableSet& set,
                                      const T* in, T* out) {
  const int64_t v = program.num_vertices;
  const int64_t units = set.end - set.begin;
  std::vector<uint64_t> masks(units, 0);
  if (units == 0) return masks;
  in += set.begin * v;
  out += set.begin * v;
  const DykstraPlan<T> plan = prepared.plan.HostView(program.chain_index);
  const OrderRowTable& order_rows = prepared.order_rows;
  const int64_t lanes_per_batch = LanesPerBatch(plan);
  // Each unit: a few passes over every projection's vertices per cycle.
  const int64_t cycles = std::max<int64_t>(1, std::min<int64_t>(DykstraCycleCount(program), 100));
  const int64_t cost = 20 * cycles * (NumProjections(program) + 2) * v;
  const auto project_range = [&](int64_t begin, int64_t end) {
    const int64_t lanes = std::min(lanes_per_batch, end - begin);
    BatchScratch<T> scratch(plan, lanes);
    // Units of one batch share the scale 2^0; a unit whose values need
    // scaling (DownscaleExponent > 0) is a batch of its own.
    int64_t first = begin;
    while (first < end) {
      const int shift = DownscaleExponent(in + first * v, v);
      int64_t batch = 1;
      while (shift == 0 && batch < lanes && first + batch < end &&
             DownscaleExponent(in + (first + batch) * v, v) == 0) {
        ++batch;
      }
      ProjectBatch(program, plan, order_rows, batch, shift, in + first * v, out + first * v,
                   &scratch, masks.data() + first);
      first += batch;
    }
  };
  auto* workers = context->device()->tensorflow_cpu_worker_threads()->workers;
  const int64_t num_threads = std::max(1, workers->NumThreads());
  // Units are independent and equally expensive: one contiguous block per
  // thread (inline unless WorthSharding), so that no thread waits on tiny
  // shards.
  const int64_t blocks = WorthSharding(units, cost) ? std::min(num_threads, units) : 1;
  if (blocks == 1) {
    project_range(0, units);
  } else {
    const int64_t block_size = (units + blocks - 1) / blocks;
    workers->TransformRangeConcurrently(block_size, units, project_range);
  }
  return masks;
}

template <typename T>
class LatticeProjectionCpuOp : public OpKernel {
 public:
  explicit LatticeProjectionCpuOp(OpKernelConstruction* context)
      : OpKernel(context), attrs_(context), prepared_(attrs_.sets_per_call()) {}

  void Compute(OpKernelContext* context) override {
    PreparedCall<T> call;
    OP_REQUIRES_OK(context,
                   PrepareSets<T>(context, attrs_, &prepared_, /*order_rows=*/true, &call));
    const Tensor& params = context->input(0);
    const T* in = params.flat<T>().data();
    ProjectionCheckFailure failure;
    if (::tf_lattice::FindFirstFailure(call.programs[0], in, params.NumElements(), &failure,
                                       ::tf_lattice::kCheckParams)) {
      OP_REQUIRES_OK(context, CheckFailureStatus(failure, call.programs[0]));
    }
    Tensor* projected = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, params.shape(), &projected));
    T* out = projected->flat<T>().data();
    for (size_t s = 0; s < call.sets.size(); ++s) {
      const std::vector<uint64_t> masks =
          ProjectSetOnCpu(context, call.programs[s], *call.prepared[s], call.sets[s], in, out);
      OP_REQUIRES_OK(context, InfeasibilityStatus(masks, attrs_.family_names(), call.programs[s],
                                                  call.sets[s]));
    }
  }

 private:
  ProjectionAttrs attrs_;
  PreparedTablesCache<T> prepared_;
};

#define TF_LATTICE_REGISTER_CPU(T)                                                   \
  REGISTER_KERNEL_BUILDER(                                                           \
      Name("TfLattice>LatticeProjection").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
      LatticeProjectionCpuOp<T>);                                                    \
  REGISTER_KERNEL_BUILDER(                                                           \
      Name("TfLattice>LatticeProjectionSets").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
      LatticeProjectionCpuOp<T>);
TF_LATTICE_REGISTER_CPU(float);
TF_LATTICE_REGISTER_CPU(double);
#undef TF_LATTICE_REGISTER_CPU

#if TF_LATTICE_WITH_CUDA

// The GPU kernel runs the CPU kernel's checks with the same messages:
// shapes, scalars and tables (all in host memory) by the same host code, the
// params on the device. Then the projection runs on the device, with the
// plan built on the host from the tables.
template <typename T>
class LatticeProjectionGpuOp : public OpKernel {
 public:
  explicit LatticeProjectionGpuOp(OpKernelConstruction* context)
      : OpKernel(context), attrs_(context), prepared_(attrs_.sets_per_call()) {}

  void Compute(OpKernelContext* context) override {
    // Host pointers for the tables; params stays on the device.
    PreparedCall<T> call;
    OP_REQUIRES_OK(context,
                   PrepareSets<T>(context, attrs_, &prepared_, /*order_rows=*/false, &call));
    const Tensor& params = context->input(0);
    const int64_t v = params.dim_size(1);
    ProjectionCheckFailure failure;
    Tensor check_scratch;
    OP_REQUIRES_OK(context,
                   context->allocate_temp(
                       DT_INT64, TensorShape({::tf_lattice::kProjectionCheckScratchWords}),
                       &check_scratch));
    bool failed = false;
    const std::string check_error = ::tf_lattice::LaunchProjectionChecks<T>(
        GpuStream(context), call.programs[0], params.flat<T>().data(), params.NumElements(),
        ::tf_lattice::kCheckParams, check_scratch.flat<int64_t>().data(), &failed, &failure);
    OP_REQUIRES(context, check_error.empty(),
                absl::InternalError(
                    absl::StrCat("lattice projection params check on the GPU: ", check_error)));
    if (failed) OP_REQUIRES_OK(context, CheckFailureStatus(failure, call.programs[0]));
    Tensor* projected = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, params.shape(), &projected));
    for (size_t s = 0; s < call.sets.size(); ++s) {
      const TableSet& set = call.sets[s];
      const ProjectionProgram<T>& program = call.programs[s];
      const int64_t units = set.end - set.begin;
      if (units == 0) continue;
      const DykstraPlanTables<T>& plan = call.prepared[s]->plan;
      const ::tf_lattice::GpuProjectionScratch size =
          ::tf_lattice::GpuProjectionScratchSize(program, plan, units);
      Tensor scratch_ints, scratch_reals, scratch_doubles, masks;
      OP_REQUIRES_OK(context, context->allocate_temp(DT_INT64, TensorShape({size.ints}),
                                                     &scratch_ints));
      OP_REQUIRES_OK(context, context->allocate_temp(DataTypeToEnum<T>::value,
                                                     TensorShape({size.reals}), &scratch_reals));
      OP_REQUIRES_OK(context, context->allocate_temp(DT_DOUBLE, TensorShape({size.doubles}),
                                                     &scratch_doubles));
      OP_REQUIRES_OK(context, context->allocate_temp(DT_INT64, TensorShape({units}), &masks));
      std::vector<uint64_t> host_masks(units, 0);
      const std::string error = ::tf_lattice::LaunchLatticeProjection<T>(
          GpuStream(context), program, plan, units, params.flat<T>().data() + set.begin * v,
          projected->flat<T>().data() + set.begin * v, scratch_ints.flat<int64_t>().data(),
          scratch_reals.flat<T>().data(), scratch_doubles.flat<double>().data(),
          reinterpret_cast<uint64_t*>(masks.flat<int64_t>().data()), host_masks.data());
      OP_REQUIRES(context, error.empty(),
                  absl::InternalError(absl::StrCat("lattice projection CUDA kernel: ", error)));
      OP_REQUIRES_OK(context,
                     InfeasibilityStatus(host_masks, attrs_.family_names(), program, set));
    }
  }

 private:
  ProjectionAttrs attrs_;
  PreparedTablesCache<T> prepared_;
};

// Every input but params in host memory: the tables (and unit offsets) are
// checked and planned on the host, and the launcher copies what the device
// reads.
#define TF_LATTICE_HOST_TABLES(builder)                                              \
  builder.HostMemory("chain_index")                                                  \
      .HostMemory("chain_families")                                                  \
      .HostMemory("halfspace_index")                                                 \
      .HostMemory("halfspace_coef")                                                  \
      .HostMemory("halfspace_groups")                                                \
      .HostMemory("row_index")                                                       \
      .HostMemory("row_coef")                                                        \
      .HostMemory("row_offsets")                                                     \
      .HostMemory("row_family")                                                      \
      .HostMemory("interior_direction")                                              \
      .HostMemory("interior_margin")                                                 \
      .HostMemory("bounds")
#define TF_LATTICE_REGISTER_GPU(T)                                                   \
  REGISTER_KERNEL_BUILDER(                                                           \
      TF_LATTICE_HOST_TABLES(Name("TfLattice>LatticeProjection")                     \
                                 .Device(DEVICE_GPU)                                 \
                                 .TypeConstraint<T>("T")),                           \
      LatticeProjectionGpuOp<T>);                                                    \
  REGISTER_KERNEL_BUILDER(                                                           \
      TF_LATTICE_HOST_TABLES(Name("TfLattice>LatticeProjectionSets")                 \
                                 .Device(DEVICE_GPU)                                 \
                                 .TypeConstraint<T>("T")                             \
                                 .HostMemory("unit_offsets")),                       \
      LatticeProjectionGpuOp<T>);
TF_LATTICE_REGISTER_GPU(float);
TF_LATTICE_REGISTER_GPU(double);
#undef TF_LATTICE_REGISTER_GPU
#undef TF_LATTICE_HOST_TABLES

#endif  // TF_LATTICE_WITH_CUDA

}  // namespace
}  // namespace tf_lattice
}  // namespace tensorflow
