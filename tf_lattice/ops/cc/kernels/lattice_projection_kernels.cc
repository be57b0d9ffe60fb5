// CPU (and, with CUDA, GPU) kernels of TfLattice>LatticeProjection. The
// per-unit algorithm lives in lib/lattice_projection.h, shared with the CUDA
// kernel; on the CPU the Dykstra cycles of a batch of units run together
// (lib/lattice_dykstra_lanes.h) before each unit's finalize.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/framework/tensor_shape.h"
#include "tensorflow/core/platform/threadpool.h"
#include "tf_lattice/ops/cc/kernels/gpu_stream.h"
#include "tf_lattice/ops/cc/kernels/lattice_projection_gpu.h"
#include "tf_lattice/ops/cc/lib/lattice_dykstra_lanes.h"
#include "tf_lattice/ops/cc/lib/lattice_projection.h"

namespace tensorflow {
namespace tf_lattice {
namespace {

using ::tf_lattice::kRowTerms;
using ::tf_lattice::LanePlan;
using ::tf_lattice::LaneScratchSize;
using ::tf_lattice::MakeLanePlan;
using ::tf_lattice::NumProjections;
using ::tf_lattice::ProjectLanes;
using ::tf_lattice::ProjectionProgram;
using ::tf_lattice::ProjectUnit;
using ::tf_lattice::ScratchPerUnit;

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
// what both the CPU and the GPU kernel require before they project.
template <typename T>
absl::Status CheckShapesAndScalars(OpKernelContext* context) {
  TF_RETURN_IF_ERROR(CheckShapes(context));
  return CheckScalars<T>(context->input(kInteriorMargin), context->input(kBounds));
}

// Checks the tables' contents (host memory): every index is a vertex, every
// offset table is non-decreasing and complete, every row's vertices are at
// most its target with the target present, and coefficients are small
// integers (so row products are exact).
template <typename T>
absl::Status CheckTables(OpKernelContext* context, int64_t v) {
  const auto chain_index = context->input(kChainIndex).flat<int64_t>();
  const auto families = context->input(kChainFamilies).matrix<int64_t>();
  const int64_t num_chain_values = chain_index.size();
  for (int64_t i = 0; i < num_chain_values; ++i) {
    if (chain_index(i) < 0 || chain_index(i) >= v) {
      return absl::InvalidArgumentError(absl::StrCat(
          "chain_index[", i, "] = ", chain_index(i), " is not a vertex in [0, ", v, ")"));
    }
  }
  for (int64_t f = 0; f < families.dimension(0); ++f) {
    const int64_t offset = families(f, 0), count = families(f, 1), length = families(f, 2);
    if (offset < 0 || count < 0 || length < 1 || length > v || offset > num_chain_values ||
        count > (num_chain_values - offset) / length) {
      return absl::InvalidArgumentError(absl::StrCat(
          "chain_families[", f, "] = (", offset, ", ", count, ", ", length,
          ") does not fit chain_index of size ", num_chain_values, " and ", v, " vertices"));
    }
  }
  const auto h_index = context->input(kHalfspaceIndex).matrix<int64_t>();
  const auto h_coef = context->input(kHalfspaceCoef).matrix<T>();
  const int64_t h = h_index.dimension(0);
  for (int64_t i = 0; i < h; ++i) {
    bool nonzero = false;
    for (int t = 0; t < kRowTerms; ++t) {
      if (h_index(i, t) < 0 || h_index(i, t) >= v) {
        return absl::InvalidArgumentError(absl::StrCat(
            "halfspace_index[", i, ", ", t, "] = ", h_index(i, t), " is not a vertex in [0, ",
            v, ")"));
      }
      if (!std::isfinite(static_cast<double>(h_coef(i, t)))) {
        return absl::InvalidArgumentError(
            absl::StrCat("halfspace_coef[", i, ", ", t, "] is not finite"));
      }
      nonzero = nonzero || h_coef(i, t) != T(0);
    }
    if (!nonzero) {
      return absl::InvalidArgumentError(
          absl::StrCat("halfspace_coef[", i, "] is all zeros"));
    }
  }
  const auto groups = context->input(kHalfspaceGroups).flat<int64_t>();
  for (int64_t g = 0; g < groups.size(); ++g) {
    const int64_t previous = g == 0 ? 0 : groups(g - 1);
    const bool last_ok = g + 1 < groups.size() || groups(g) == h;
    if (groups(g) < previous || groups(g) > h || (g == 0 && groups(g) != 0) || !last_ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "halfspace_groups must be non-decreasing offsets from 0 to ", h,
          " (the number of half-spaces); entry ", g, " is ", groups(g)));
    }
  }
  const auto offsets = context->input(kRowOffsets).flat<int64_t>();
  const auto row_index = context->input(kRowIndex).matrix<int64_t>();
  const auto row_coef = context->input(kRowCoef).matrix<T>();
  const int64_t r = row_index.dimension(0);
  if (offsets(0) != 0 || offsets(v) != r) {
    return absl::InvalidArgumentError(absl::StrCat(
        "row_offsets must run from 0 to ", r, " (the number of rows), got ", offsets(0),
        " ... ", offsets(v)));
  }
  for (int64_t target = 0; target < v; ++target) {
    if (offsets(target + 1) < offsets(target)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "row_offsets must be non-decreasing, got ", offsets(target), " then ",
          offsets(target + 1), " at vertex ", target));
    }
    for (int64_t i = offsets(target); i < offsets(target + 1); ++i) {
      bool has_target = false;
      for (int t = 0; t < kRowTerms; ++t) {
        const int64_t vertex = row_index(i, t);
        const T c = row_coef(i, t);
        if (vertex < 0 || vertex >= v || (c != T(0) && vertex > target)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "row_index[", i, ", ", t, "] = ", vertex, " must lie in [0, ", target,
              "] (rows are sorted by their largest vertex with a nonzero coefficient)"));
        }
        if (!(c == T(0) || c == T(1) || c == T(-1) || c == T(2) || c == T(-2))) {
          return absl::InvalidArgumentError(absl::StrCat(
              "row_coef[", i, ", ", t, "] must be one of 0, +-1, +-2, got ", c));
        }
        has_target = has_target || (vertex == target && c != T(0));
      }
      if (!has_target) {
        return absl::InvalidArgumentError(absl::StrCat(
            "row ", i, " is listed under vertex ", target, " by row_offsets but has no "
            "nonzero coefficient on it"));
      }
    }
  }
  return absl::OkStatus();
}

template <typename T>
ProjectionProgram<T> MakeProgram(OpKernelContext* context, int64_t num_iterations,
                                 float tolerance) {
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
  }

  int64_t num_iterations() const { return num_iterations_; }
  float tolerance() const { return tolerance_; }

 private:
  int64_t num_iterations_ = 0;
  float tolerance_ = 0;
};

// Units whose Dykstra cycles run together (vectorized across them): up to
// kMaxLanes, fewer when their scratch would pass kMaxLaneScratchBytes.
template <typename T>
int64_t LanesPerBatch(const LanePlan<T>& plan, int64_t num_vertices) {
  constexpr int64_t kMaxLanes = 16;
  constexpr int64_t kMaxLaneScratchBytes = int64_t{64} << 20;
  const int64_t bytes_per_lane = LaneScratchSize(plan, num_vertices, 1) * sizeof(T);
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
    OP_REQUIRES_OK(context, CheckTables<T>(context, v));
    Tensor* projected = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, params.shape(), &projected));
    if (units == 0) return;
    const ProjectionProgram<T> program =
        MakeProgram<T>(context, attrs_.num_iterations(), attrs_.tolerance());
    const T* in = params.flat<T>().data();
    T* out = projected->flat<T>().data();
    const bool runs_dykstra = NumProjections(program) > 1 && program.num_iterations > 0;
    // The lane plan serves the Dykstra cycles only.
    const LanePlan<T> plan = runs_dykstra ? MakeLanePlan(program) : LanePlan<T>();
    const int64_t lanes_per_batch = runs_dykstra ? LanesPerBatch(plan, v) : 1;
    // Each unit: a few passes over every projection's vertices per cycle.
    const int64_t cycles = std::max<int64_t>(1, std::min<int64_t>(program.num_iterations, 100));
    const int64_t cost = 20 * cycles * (NumProjections(program) + 2) * v;
    const auto project_range = [&](int64_t begin, int64_t end) {
      if (!runs_dykstra) {
        std::vector<T> scratch(ScratchPerUnit(program));
        for (int64_t u = begin; u < end; ++u) {
          ProjectUnit(program, in + u * v, out + u * v, scratch.data());
        }
        return;
      }
      const int64_t lanes = std::min(lanes_per_batch, end - begin);
      std::vector<T> scratch(LaneScratchSize(plan, v, lanes));
      std::vector<T> saved(v);
      for (int64_t first = begin; first < end; first += lanes) {
        const int64_t batch = std::min(lanes, end - first);
        ProjectLanes(program, plan, batch, in + first * v, out + first * v, scratch.data(),
                     saved.data());
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
      return;
    }
    const int64_t block_size = (units + blocks - 1) / blocks;
    workers->TransformRangeConcurrently(block_size, units, project_range);
  }

 private:
  ProjectionAttrs attrs_;
};

#define TF_LATTICE_REGISTER_CPU(T)                                                   \
  REGISTER_KERNEL_BUILDER(                                                           \
      Name("TfLattice>LatticeProjection").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
      LatticeProjectionCpuOp<T>);
TF_LATTICE_REGISTER_CPU(float);
TF_LATTICE_REGISTER_CPU(double);
#undef TF_LATTICE_REGISTER_CPU

#if TF_LATTICE_WITH_CUDA

// The GPU kernel checks shapes and scalars; the table contents are built by
// lattice_projection.kernel_tables and checked by the CPU kernel.
template <typename T>
class LatticeProjectionGpuOp : public OpKernel {
 public:
  explicit LatticeProjectionGpuOp(OpKernelConstruction* context)
      : OpKernel(context), attrs_(context) {}

  void Compute(OpKernelContext* context) override {
    OP_REQUIRES_OK(context, CheckShapesAndScalars<T>(context));
    const Tensor& params = context->input(kParams);
    const int64_t units = params.dim_size(0);
    Tensor* projected = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, params.shape(), &projected));
    if (units == 0) return;
    const ProjectionProgram<T> program =
        MakeProgram<T>(context, attrs_.num_iterations(), attrs_.tolerance());
    Tensor scratch;
    OP_REQUIRES_OK(context, context->allocate_temp(DataTypeToEnum<T>::value,
                                                   TensorShape({units * ScratchPerUnit(program)}),
                                                   &scratch));
    const std::string error = ::tf_lattice::LaunchLatticeProjection<T>(
        GpuStream(context), program, units, params.flat<T>().data(),
        projected->flat<T>().data(), scratch.flat<T>().data());
    OP_REQUIRES(context, error.empty(),
                absl::InternalError(absl::StrCat("lattice projection CUDA kernel: ", error)));
  }

 private:
  ProjectionAttrs attrs_;
};

#define TF_LATTICE_REGISTER_GPU(T)                                                   \
  REGISTER_KERNEL_BUILDER(Name("TfLattice>LatticeProjection")                        \
                              .Device(DEVICE_GPU)                                    \
                              .TypeConstraint<T>("T")                                \
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
