// CPU (and, with CUDA, GPU) kernels of TfLattice>LatticeProjection. Both run
// the Dykstra cycles of lib/lattice_dykstra.h (the CPU on batches of units,
// vectorized across them; the GPU one unit per thread) and the finalize of
// lib/lattice_finalize.h. Both keep the tables in host memory and check them
// with the host loop of lib/lattice_projection_checks.h, then the params
// (the CPU in the same loop, the GPU on the device), and report the first
// failure with the same message; both fail for a unit that ends infeasible.
// Both check and plan a set of table tensors once (PreparedTablesCache).
#include <algorithm>
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
#include "tf_lattice/ops/cc/kernels/gpu_stream.h"
#include "tf_lattice/ops/cc/kernels/lattice_projection_gpu.h"
#include "tf_lattice/ops/cc/lib/lattice_dykstra.h"
#include "tf_lattice/ops/cc/lib/lattice_finalize.h"
#include "tf_lattice/ops/cc/lib/lattice_projection.h"
#include "tf_lattice/ops/cc/lib/lattice_projection_checks.h"

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

enum Input {
  kParams = 0,
  kChainIndex,
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
};

absl::Status ShapeError(const char* name, const std::string& expected, const Tensor& tensor) {
  return absl::InvalidArgumentError(absl::StrCat(name, " must have shape ", expected, ", got ",
                                                 tensor.shape().DebugString()));
}

// Checks every input's shape.
absl::Status CheckShapes(OpKernelContext* context) {
  const Tensor& params = context->input(kParams);
  if (params.dims() != 2 || params.dim_size(1) < 1) {
    return ShapeError("params", "[units, num_vertices >= 1]", params);
  }
  const int64_t v = params.dim_size(1);
  const auto rank_and_last = [&](int index, const char* name, int rank, int64_t last,
                                 const std::string& expected) -> absl::Status {
    const Tensor& t = context->input(index);
    if (t.dims() != rank || (last >= 0 && t.dim_size(rank - 1) != last)) {
      return ShapeError(name, expected, t);
    }
    return absl::OkStatus();
  };
  TF_RETURN_IF_ERROR(rank_and_last(kChainIndex, "chain_index", 1, -1, "[num_chain_values]"));
  TF_RETURN_IF_ERROR(rank_and_last(kChainFamilies, "chain_families", 2, 3, "[F, 3]"));
  TF_RETURN_IF_ERROR(rank_and_last(kHalfspaceIndex, "halfspace_index", 2, 4, "[H, 4]"));
  const int64_t h = context->input(kHalfspaceIndex).dim_size(0);
  TF_RETURN_IF_ERROR(rank_and_last(kHalfspaceCoef, "halfspace_coef", 2, 4,
                                   absl::StrCat("[", h, ", 4] (like halfspace_index)")));
  if (context->input(kHalfspaceCoef).dim_size(0) != h) {
    return ShapeError("halfspace_coef", absl::StrCat("[", h, ", 4] (like halfspace_index)"),
                      context->input(kHalfspaceCoef));
  }
  const Tensor& groups = context->input(kHalfspaceGroups);
  if (groups.dims() != 1 || groups.dim_size(0) < 1) {
    return ShapeError("halfspace_groups", "[G + 1] (group offsets)", groups);
  }
  TF_RETURN_IF_ERROR(rank_and_last(kRowIndex, "row_index", 2, 4, "[R, 4]"));
  const int64_t r = context->input(kRowIndex).dim_size(0);
  const std::string row_shape = absl::StrCat("[", r, ", 4] (like row_index)");
  TF_RETURN_IF_ERROR(rank_and_last(kRowCoef, "row_coef", 2, 4, row_shape));
  if (context->input(kRowCoef).dim_size(0) != r) {
    return ShapeError("row_coef", row_shape, context->input(kRowCoef));
  }
  TF_RETURN_IF_ERROR(rank_and_last(kRowOffsets, "row_offsets", 1, v + 1,
                                   absl::StrCat("[", v + 1, "] (num_vertices + 1)")));
  TF_RETURN_IF_ERROR(rank_and_last(kRowFamily, "row_family", 1, r,
                                   absl::StrCat("[", r, "] (one family per row)")));
  TF_RETURN_IF_ERROR(rank_and_last(kInteriorDirection, "interior_direction", 1, v,
                                   absl::StrCat("[", v, "] (num_vertices)")));
  TF_RETURN_IF_ERROR(rank_and_last(kInteriorMargin, "interior_margin", 0, -1, "[] (a scalar)"));
  TF_RETURN_IF_ERROR(rank_and_last(kBounds, "bounds", 1, 2, "[2] (output_min, output_max)"));
  return absl::OkStatus();
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

// Checks every input's shape, then the scalar inputs' values (host memory):
// what both the CPU and the GPU kernel require before the table checks.
template <typename T>
absl::Status CheckShapesAndScalars(OpKernelContext* context) {
  TF_RETURN_IF_ERROR(CheckShapes(context));
  return CheckScalars<T>(context->input(kInteriorMargin), context->input(kBounds));
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

// The error for the first unit whose projection is not exactly feasible
// (masks from ProjectBatch), or OK.
template <typename T>
absl::Status InfeasibilityStatus(const std::vector<uint64_t>& masks,
                                 const std::vector<std::string>& family_names,
                                 const ProjectionProgram<T>& program) {
  for (size_t unit = 0; unit < masks.size(); ++unit) {
    const uint64_t mask = masks[unit];
    if (mask == 0) continue;
    std::vector<std::string> failing;
    const int num_names = static_cast<int>(family_names.size());
    for (int bit = 0; bit <= kLastFamilyBit; ++bit) {
      if (!((mask >> bit) & 1)) continue;
      if (bit == kLastFamilyBit && num_names > kLastFamilyBit + 1) {
        failing.push_back(absl::StrCat("constraint families ", kLastFamilyBit, " and above"));
      } else {
        failing.push_back(bit < num_names ? family_names[bit]
                                          : absl::StrCat("constraint family ", bit));
      }
    }
    if ((mask >> kBoundsBit) & 1) {
      failing.push_back(absl::StrCat("output bounds [", static_cast<double>(program.low), ", ",
                                     static_cast<double>(program.high), "]"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "lattice projection found no point that satisfies every constraint exactly for unit ",
        unit, ": even the constant lattice violates ", absl::StrJoin(failing, ", "),
        " (these constraints contradict one another)"));
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
  // attrs are the same); each entry keeps its tables' memory.
  static constexpr size_t kCapacity = 4;

  // Sets *prepared to the prepared tables of the context's table inputs,
  // checking and planning them (for `program`, their view) when they are new;
  // returns the check's error for tables that fail it. `order_rows`: also
  // build the finalize's order-row table (the CPU kernel's).
  absl::Status Find(OpKernelContext* context, const ProjectionProgram<T>& program,
                    bool order_rows, std::shared_ptr<const PreparedTables<T>>* prepared) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto entry = entries_.begin(); entry != entries_.end(); ++entry) {
        if (Matches(**entry, context)) {
          *prepared = *entry;
          entries_.splice(entries_.begin(), entries_, entry);
          return absl::OkStatus();
        }
      }
    }
    TF_RETURN_IF_ERROR(CheckTables(program));
    auto entry = std::make_shared<PreparedTables<T>>();
    for (int i = kChainIndex; i <= kBounds; ++i) entry->tables.push_back(context->input(i));
    entry->plan = MakeDykstraPlan(program);
    if (order_rows) entry->order_rows = MakeOrderRowTable(program);
    *prepared = entry;
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.push_front(std::move(entry));
    if (entries_.size() > kCapacity) entries_.pop_back();
    return absl::OkStatus();
  }

 private:
  static bool Matches(const PreparedTables<T>& entry, OpKernelContext* context) {
    for (int i = kChainIndex; i <= kBounds; ++i) {
      if (!SameTensor(entry.tables[i - kChainIndex], context->input(i))) return false;
    }
    return true;
  }

  std::mutex mutex_;
  std::list<std::shared_ptr<const PreparedTables<T>>> entries_;
};

template <typename T>
ProjectionProgram<T> MakeProgram(OpKernelContext* context, int64_t num_iterations,
                                 float tolerance, int64_t num_families) {
  ProjectionProgram<T> program;
  program.num_vertices = context->input(kParams).dim_size(1);
  program.num_chain_families = context->input(kChainFamilies).dim_size(0);
  program.chain_index = context->input(kChainIndex).flat<int64_t>().data();
  program.chain_families = context->input(kChainFamilies).flat<int64_t>().data();
  program.num_halfspace_groups = context->input(kHalfspaceGroups).dim_size(0) - 1;
  program.halfspace_index = context->input(kHalfspaceIndex).flat<int64_t>().data();
  program.halfspace_coef = context->input(kHalfspaceCoef).flat<T>().data();
  program.halfspace_groups = context->input(kHalfspaceGroups).flat<int64_t>().data();
  program.row_index = context->input(kRowIndex).flat<int64_t>().data();
  program.row_coef = context->input(kRowCoef).flat<T>().data();
  program.row_offsets = context->input(kRowOffsets).flat<int64_t>().data();
  program.interior_direction = context->input(kInteriorDirection).flat<double>().data();
  program.interior_margin = context->input(kInteriorMargin).scalar<double>()();
  program.low = context->input(kBounds).flat<T>()(0);
  program.high = context->input(kBounds).flat<T>()(1);
  program.num_iterations = num_iterations;
  program.tolerance = static_cast<T>(tolerance);
  program.num_chain_values = context->input(kChainIndex).dim_size(0);
  program.num_halfspaces = context->input(kHalfspaceIndex).dim_size(0);
  program.num_rows = context->input(kRowIndex).dim_size(0);
  program.row_family = context->input(kRowFamily).flat<int64_t>().data();
  program.num_families = num_families;
  return program;
}

// Reads and checks the attrs.
class ProjectionAttrs {
 public:
  explicit ProjectionAttrs(OpKernelConstruction* context) {
    OP_REQUIRES_OK(context, context->GetAttr("num_iterations", &num_iterations_));
    OP_REQUIRES_OK(context, context->GetAttr("tolerance", &tolerance_));
    OP_REQUIRES(context, num_iterations_ >= 0,
                absl::InvalidArgumentError(
                    absl::StrCat("num_iterations must be >= 0, got ", num_iterations_)));
    OP_REQUIRES(context, tolerance_ >= 0,
                absl::InvalidArgumentError(
                    absl::StrCat("tolerance must be >= 0, got ", tolerance_)));
    OP_REQUIRES_OK(context, context->GetAttr("family_names", &family_names_));
  }

  int64_t num_iterations() const { return num_iterations_; }
  float tolerance() const { return tolerance_; }
  const std::vector<std::string>& family_names() const { return family_names_; }

  // The program of the op's inputs (host pointers but for params, which the
  // program does not hold), unchecked.
  template <typename T>
  ProjectionProgram<T> Program(OpKernelContext* context) const {
    return MakeProgram<T>(context, num_iterations_, tolerance_,
                          static_cast<int64_t>(family_names_.size()));
  }

 private:
  int64_t num_iterations_ = 0;
  float tolerance_ = 0;
  std::vector<std::string> family_names_;
};

// Units whose Dykstra cycles run together (vectorized across them): up to
// kMaxLanes, fewer when their scratch would pass kMaxLaneScratchBytes.
template <typename T>
int64_t LanesPerBatch(const DykstraPlan<T>& plan) {
  constexpr int64_t kMaxLanes = 16;
  constexpr int64_t kMaxLaneScratchBytes = int64_t{64} << 20;
  const int64_t bytes_per_lane = (CycleValuesPerLane(plan) + plan.num_vertices) * sizeof(T);
  return std::max<int64_t>(1, std::min(kMaxLanes, kMaxLaneScratchBytes / bytes_per_lane));
}

template <typename T>
class LatticeProjectionCpuOp : public OpKernel {
 public:
  explicit LatticeProjectionCpuOp(OpKernelConstruction* context)
      : OpKernel(context), attrs_(context) {}

  void Compute(OpKernelContext* context) override {
    OP_REQUIRES_OK(context, CheckShapesAndScalars<T>(context));
    const Tensor& params = context->input(kParams);
    const int64_t units = params.dim_size(0);
    const int64_t v = params.dim_size(1);
    const ProjectionProgram<T> program = attrs_.Program<T>(context);
    const T* in = params.flat<T>().data();
    std::shared_ptr<const PreparedTables<T>> prepared;
    OP_REQUIRES_OK(context, prepared_.Find(context, program, /*order_rows=*/true, &prepared));
    ProjectionCheckFailure failure;
    if (::tf_lattice::FindFirstFailure(program, in, params.NumElements(), &failure,
                                       ::tf_lattice::kCheckParams)) {
      OP_REQUIRES_OK(context, CheckFailureStatus(failure, program));
    }
    Tensor* projected = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, params.shape(), &projected));
    if (units == 0) return;
    T* out = projected->flat<T>().data();
    std::vector<uint64_t> masks(units, 0);
    const DykstraPlan<T> plan = prepared->plan.HostView(program.chain_index);
    const OrderRowTable& order_rows = prepared->order_rows;
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
    // thread (small batches inline), so that no thread waits on tiny shards.
    constexpr int64_t kMinCostPerBlock = 100000;
    const int64_t blocks =
        std::max<int64_t>(1, std::min<int64_t>(num_threads, units * cost / kMinCostPerBlock));
    if (blocks == 1) {
      project_range(0, units);
    } else {
      const int64_t block_size = (units + blocks - 1) / blocks;
      workers->TransformRangeConcurrently(block_size, units, project_range);
    }
    OP_REQUIRES_OK(context, InfeasibilityStatus(masks, attrs_.family_names(), program));
  }

 private:
  ProjectionAttrs attrs_;
  PreparedTablesCache<T> prepared_;
};

#define TF_LATTICE_REGISTER_CPU(T)                                                   \
  REGISTER_KERNEL_BUILDER(                                                           \
      Name("TfLattice>LatticeProjection").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
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
      : OpKernel(context), attrs_(context) {}

  void Compute(OpKernelContext* context) override {
    OP_REQUIRES_OK(context, CheckShapesAndScalars<T>(context));
    const Tensor& params = context->input(kParams);
    const int64_t units = params.dim_size(0);
    // Host pointers for the tables; params stays on the device.
    const ProjectionProgram<T> program = attrs_.Program<T>(context);
    std::shared_ptr<const PreparedTables<T>> prepared;
    OP_REQUIRES_OK(context, prepared_.Find(context, program, /*order_rows=*/false, &prepared));
    ProjectionCheckFailure failure;
    Tensor check_scratch;
    OP_REQUIRES_OK(context,
                   context->allocate_temp(
                       DT_INT64, TensorShape({::tf_lattice::kProjectionCheckScratchWords}),
                       &check_scratch));
    bool failed = false;
    const std::string check_error = ::tf_lattice::LaunchProjectionChecks<T>(
        GpuStream(context), program, params.flat<T>().data(), params.NumElements(),
        ::tf_lattice::kCheckParams, check_scratch.flat<int64_t>().data(), &failed, &failure);
    OP_REQUIRES(context, check_error.empty(),
                absl::InternalError(
                    absl::StrCat("lattice projection params check on the GPU: ", check_error)));
    if (failed) OP_REQUIRES_OK(context, CheckFailureStatus(failure, program));
    Tensor* projected = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, params.shape(), &projected));
    if (units == 0) return;
    const DykstraPlanTables<T>& plan = prepared->plan;
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
        GpuStream(context), program, plan, units, params.flat<T>().data(),
        projected->flat<T>().data(), scratch_ints.flat<int64_t>().data(),
        scratch_reals.flat<T>().data(), scratch_doubles.flat<double>().data(),
        reinterpret_cast<uint64_t*>(masks.flat<int64_t>().data()), host_masks.data());
    OP_REQUIRES(context, error.empty(),
                absl::InternalError(absl::StrCat("lattice projection CUDA kernel: ", error)));
    OP_REQUIRES_OK(context, InfeasibilityStatus(host_masks, attrs_.family_names(), program));
  }

 private:
  ProjectionAttrs attrs_;
  PreparedTablesCache<T> prepared_;
};

// Every input but params in host memory: the tables are checked and planned
// on the host, and the launcher copies what the device reads.
#define TF_LATTICE_REGISTER_GPU(T)                                                   \
  REGISTER_KERNEL_BUILDER(Name("TfLattice>LatticeProjection")                        \
                              .Device(DEVICE_GPU)                                    \
                              .TypeConstraint<T>("T")                                \
                              .HostMemory("chain_index")                             \
                              .HostMemory("chain_families")                          \
                              .HostMemory("halfspace_index")                         \
                              .HostMemory("halfspace_coef")                          \
                              .HostMemory("halfspace_groups")                        \
                              .HostMemory("row_index")                               \
                              .HostMemory("row_coef")                                \
                              .HostMemory("row_offsets")                             \
                              .HostMemory("row_family")                              \
                              .HostMemory("interior_direction")                      \
                              .HostMemory("interior_margin")                         \
                              .HostMemory("bounds"),                                 \
                          LatticeProjectionGpuOp<T>);
TF_LATTICE_REGISTER_GPU(float);
TF_LATTICE_REGISTER_GPU(double);
#undef TF_LATTICE_REGISTER_GPU

#endif  // TF_LATTICE_WITH_CUDA

}  // namespace
}  // namespace tf_lattice
}  // namespace tensorflow
