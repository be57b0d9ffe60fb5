// CUDA kernels of TfLattice>LatticeInterpolation and its gradient: one thread
// per (example, unit), the per-example math from lib/lattice_interpolation.h
// chosen exactly as the CPU kernels choose it (level by level for hypercubes
// of at most kMaxLevelDims dims, the corner walk otherwise), params
// gradients by atomicAdd.
#if TF_LATTICE_WITH_CUDA

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "tf_lattice/ops/cc/kernels/lattice_interpolation_gpu.h"
#include "tf_lattice/ops/cc/lib/lattice_interpolation.h"

namespace tf_lattice {
namespace {

constexpr int kThreadsPerBlock = 256;
constexpr int64_t kMaxBlocks = int64_t{1} << 20;

int NumBlocks(int64_t work) {
  return static_cast<int>(
      std::min<int64_t>(kMaxBlocks, (work + kThreadsPerBlock - 1) / kThreadsPerBlock));
}

// Adds grad_output * weight to the params gradient of one cell's corner.
template <typename T>
struct AtomicCornerGrad {
  T* cell_grad;
  T grad_output;
  __device__ void operator()(int64_t offset, T weight) const {
    atomicAdd(cell_grad + offset, grad_output * weight);
  }
};

template <typename T>
__device__ void LocatePoint(const LatticeShape& shape, const LatticeBatch& batch,
                            const T* inputs, int64_t b, int64_t u, LatticeCell<T>* cell) {
  const int64_t row = batch.per_unit_inputs ? b * batch.units + u : b;
  LocateCell(shape.dims, inputs + row * shape.dims, shape.sizes, shape.strides, cell);
}

// Writes grad_output * df/dr_k of point i = (b, u) into grad_inputs where
// the clip passes the gradient; shared inputs sum over units atomically.
template <typename T>
__device__ void StoreInputGradient(const LatticeBatch& batch, int d, int64_t i, int64_t b,
                                   const LatticeCell<T>& cell, const T* grad_residual,
                                   T grad_output, T* grad_inputs) {
  if (batch.per_unit_inputs) {
    T* grad_row = grad_inputs + i * d;
    for (int k = 0; k < d; ++k) {
      grad_row[k] = cell.passes_gradient[k] ? grad_output * grad_residual[k] : T(0);
    }
  } else {
    T* grad_row = grad_inputs + b * d;
    for (int k = 0; k < d; ++k) {
      if (cell.passes_gradient[k]) atomicAdd(grad_row + k, grad_output * grad_residual[k]);
    }
  }
}

// Fills the corner offset table of the lattice (one thread: the table is
// built once per launch by the function the CPU uses).
__global__ void CornerOffsetsKernel(const LatticeShape shape, int64_t* corner_offsets) {
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    HypercubeCornerOffsets(shape.dims, shape.strides, corner_offsets);
  }
}

// Per-thread corner buffer of kBuffersPerCorner * 2^d values: a local array
// when kDims > 0 (d fixed at compile time), else the thread's slice of the
// global scratch.
template <typename T, int kDims, int kBuffersPerCorner>
struct CornerBuffer {
  T local[kDims > 0 ? kBuffersPerCorner * (1 << kDims) : 1];

  __device__ T* Get(T* scratch, int64_t thread, int64_t per_thread) {
    return kDims > 0 ? local : scratch + thread * per_thread;
  }
};

// Forward pass of a level-by-level hypercube: gathers the 2^d corner values
// (vertex base + corner_offsets[j]) and contracts them. Threads
// [0, num_threads) stride over the points.
template <typename T, int kDims>
__global__ void HypercubeLevelKernel(const LatticeShape shape, const LatticeBatch batch,
                                     const int64_t* __restrict__ corner_offsets,
                                     T* scratch, int64_t scratch_per_thread,
                                     int64_t num_threads, const T* inputs, const T* params,
                                     T* outputs) {
  const int64_t thread = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (thread >= num_threads) return;
  const int d = kDims > 0 ? kDims : shape.dims;
  const int64_t corners = int64_t{1} << d;
  CornerBuffer<T, kDims, 1> buffer;
  T* corner_values = buffer.Get(scratch, thread, scratch_per_thread);
  const int64_t total = batch.batch * batch.units;
  for (int64_t i = thread; i < total; i += num_threads) {
    const int64_t b = i / batch.units;
    const int64_t u = i % batch.units;
    LatticeCell<T> cell;
    LocatePoint(shape, batch, inputs, b, u, &cell);
    const T* theta = params + u * shape.num_vertices + cell.base;
    for (int64_t j = 0; j < corners; ++j) corner_values[j] = theta[corner_offsets[j]];
    outputs[i] = HypercubeContract(d, cell.residual, corner_values);
  }
}

// Gradient of a level-by-level hypercube: the level weights give the params
// gradient at each corner and, with the gathered corner values, df/dr.
template <typename T, int kDims>
__global__ void HypercubeLevelGradKernel(const LatticeShape shape, const LatticeBatch batch,
                                         const int64_t* __restrict__ corner_offsets,
                                         T* scratch, int64_t scratch_per_thread,
                                         int64_t num_threads, const T* inputs,
                                         const T* params, const T* grad_outputs,
                                         T* grad_inputs, T* grad_params) {
  const int64_t thread = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (thread >= num_threads) return;
  const int d = kDims > 0 ? kDims : shape.dims;
  const int64_t corners = int64_t{1} << d;
  CornerBuffer<T, kDims, 3> buffer;
  T* level_weights = buffer.Get(scratch, thread, scratch_per_thread);
  const T* corner_weights = level_weights + corners;
  T* corner_values = level_weights + 2 * corners;
  const int64_t total = batch.batch * batch.units;
  for (int64_t i = thread; i < total; i += num_threads) {
    const int64_t b = i / batch.units;
    const int64_t u = i % batch.units;
    LatticeCell<T> cell;
    LocatePoint(shape, batch, inputs, b, u, &cell);
    HypercubeLevelWeights(d, cell.residual, level_weights);
    const T grad_output = grad_outputs[i];
    const T* theta = params + u * shape.num_vertices + cell.base;
    T* grad_theta = grad_params + u * shape.num_vertices + cell.base;
    for (int64_t j = 0; j < corners; ++j) {
      const int64_t offset = corner_offsets[j];
      corner_values[j] = theta[offset];
      atomicAdd(grad_theta + offset, grad_output * corner_weights[j]);
    }
    T grad_residual[kMaxLatticeDims];
    HypercubeContractWithGradient(d, cell.residual, level_weights, corner_values,
                                  grad_residual);
    StoreInputGradient(batch, d, i, b, cell, grad_residual, grad_output, grad_inputs);
  }
}

// Forward pass by the corner walk (simplex, and hypercubes of more than
// kMaxLevelDims dims).
template <typename T>
__global__ void LatticeWalkKernel(const LatticeShape shape, const LatticeBatch batch,
                                  const T* inputs, const T* params, T* outputs) {
  const int64_t total = batch.batch * batch.units;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{blockDim.x} * gridDim.x) {
    const int64_t b = i / batch.units;
    const int64_t u = i % batch.units;
    LatticeCell<T> cell;
    LocatePoint(shape, batch, inputs, b, u, &cell);
    const ParamsRow<T> theta{params + u * shape.num_vertices};
    outputs[i] = Interpolate(batch.interpolation, shape.dims, cell, shape.strides, theta,
                             IgnoreCorners(), static_cast<T*>(nullptr));
  }
}

// Gradient by the corner walk.
template <typename T>
__global__ void LatticeWalkGradKernel(const LatticeShape shape, const LatticeBatch batch,
                                      const T* inputs, const T* params,
                                      const T* grad_outputs, T* grad_inputs,
                                      T* grad_params) {
  const int64_t total = batch.batch * batch.units;
  const int d = shape.dims;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{blockDim.x} * gridDim.x) {
    const int64_t b = i / batch.units;
    const int64_t u = i % batch.units;
    LatticeCell<T> cell;
    LocatePoint(shape, batch, inputs, b, u, &cell);
    const T grad_output = grad_outputs[i];
    const ParamsRow<T> theta{params + u * shape.num_vertices};
    const AtomicCornerGrad<T> on_corner{grad_params + u * shape.num_vertices + cell.base,
                                        grad_output};
    T grad_residual[kMaxLatticeDims];
    Interpolate(batch.interpolation, d, cell, shape.strides, theta, on_corner, grad_residual);
    StoreInputGradient(batch, d, i, b, cell, grad_residual, grad_output, grad_inputs);
  }
}

// Calls Launch<T, kDims>::Run(args...) with kDims = d for d <=
// kMaxLocalLevelDims (local buffers), else kDims = 0 (global scratch), the
// d-to-kDims mapping of the CPU kernels' static dims.
template <template <typename, int> class Launch, typename T, typename... Args>
void LaunchLevelByLevel(int d, Args... args) {
  static_assert(kMaxLocalLevelDims == 6, "update the cases below");
  switch (d) {
    case 1: return Launch<T, 1>::Run(args...);
    case 2: return Launch<T, 2>::Run(args...);
    case 3: return Launch<T, 3>::Run(args...);
    case 4: return Launch<T, 4>::Run(args...);
    case 5: return Launch<T, 5>::Run(args...);
    case 6: return Launch<T, 6>::Run(args...);
    default: return Launch<T, 0>::Run(args...);
  }
}

// Grid of `threads` threads for the level-by-level kernels: one thread per
// point with local buffers, else one per scratch slice.
int64_t LevelThreads(const LatticeGpuWorkspace& workspace, int64_t total) {
  if (workspace.scratch_threads > 0) return workspace.scratch_threads;
  return std::min(total, kMaxBlocks * kThreadsPerBlock);
}

template <typename T, int kDims>
struct LevelForward {
  static void Run(cudaStream_t stream, const LatticeShape& shape, const LatticeBatch& batch,
                  const LatticeGpuWorkspace& workspace, const int64_t* corner_offsets,
                  T* scratch, const T* inputs, const T* params, T* outputs) {
    const int64_t threads = LevelThreads(workspace, batch.batch * batch.units);
    HypercubeLevelKernel<T, kDims><<<NumBlocks(threads), kThreadsPerBlock, 0, stream>>>(
        shape, batch, corner_offsets, scratch, workspace.scratch_per_thread, threads, inputs,
        params, outputs);
  }
};

template <typename T, int kDims>
struct LevelGrad {
  static void Run(cudaStream_t stream, const LatticeShape& shape, const LatticeBatch& batch,
                  const LatticeGpuWorkspace& workspace, const int64_t* corner_offsets,
                  T* scratch, const T* inputs, const T* params, const T* grad_outputs,
                  T* grad_inputs, T* grad_params) {
    const int64_t threads = LevelThreads(workspace, batch.batch * batch.units);
    HypercubeLevelGradKernel<T, kDims><<<NumBlocks(threads), kThreadsPerBlock, 0, stream>>>(
        shape, batch, corner_offsets, scratch, workspace.scratch_per_thread, threads, inputs,
        params, grad_outputs, grad_inputs, grad_params);
  }
};

std::string LastError() {
  const cudaError_t error = cudaGetLastError();
  return error == cudaSuccess ? std::string() : std::string(cudaGetErrorString(error));
}

}  // namespace

template <typename T>
std::string LaunchLatticeInterpolation(void* stream, const LatticeShape& shape,
                                       const LatticeBatch& batch,
                                       const LatticeGpuWorkspace& workspace,
                                       int64_t* corner_offsets, T* scratch, const T* inputs,
                                       const T* params, T* outputs) {
  const cudaStream_t cuda_stream = static_cast<cudaStream_t>(stream);
  const int64_t total = batch.batch * batch.units;
  if (total == 0) return std::string();
  if (workspace.corner_offsets > 0) {
    CornerOffsetsKernel<<<1, 1, 0, cuda_stream>>>(shape, corner_offsets);
    LaunchLevelByLevel<LevelForward, T>(shape.dims, cuda_stream, shape, batch, workspace,
                                        static_cast<const int64_t*>(corner_offsets),
                                        scratch, inputs, params, outputs);
  } else {
    LatticeWalkKernel<T><<<NumBlocks(total), kThreadsPerBlock, 0, cuda_stream>>>(
        shape, batch, inputs, params, outputs);
  }
  return LastError();
}

template <typename T>
std::string LaunchLatticeInterpolationGrad(void* stream, const LatticeShape& shape,
                                           const LatticeBatch& batch,
                                           const LatticeGpuWorkspace& workspace,
                                           int64_t* corner_offsets, T* scratch,
                                           const T* inputs, const T* params,
                                           const T* grad_outputs, T* grad_inputs,
                                           T* grad_params) {
  const cudaStream_t cuda_stream = static_cast<cudaStream_t>(stream);
  const int64_t input_rows = batch.per_unit_inputs ? batch.batch * batch.units : batch.batch;
  cudaMemsetAsync(grad_inputs, 0, sizeof(T) * input_rows * shape.dims, cuda_stream);
  cudaMemsetAsync(grad_params, 0, sizeof(T) * batch.units * shape.num_vertices, cuda_stream);
  const int64_t total = batch.batch * batch.units;
  if (total == 0) return LastError();
  if (workspace.corner_offsets > 0) {
    CornerOffsetsKernel<<<1, 1, 0, cuda_stream>>>(shape, corner_offsets);
    LaunchLevelByLevel<LevelGrad, T>(shape.dims, cuda_stream, shape, batch, workspace,
                                     static_cast<const int64_t*>(corner_offsets), scratch,
                                     inputs, params, grad_outputs, grad_inputs, grad_params);
  } else {
    LatticeWalkGradKernel<T><<<NumBlocks(total), kThreadsPerBlock, 0, cuda_stream>>>(
        shape, batch, inputs, params, grad_outputs, grad_inputs, grad_params);
  }
  return LastError();
}

template std::string LaunchLatticeInterpolation<float>(void*, const LatticeShape&,
                                                       const LatticeBatch&,
                                                       const LatticeGpuWorkspace&, int64_t*,
                                                       float*, const float*, const float*,
                                                       float*);
template std::string LaunchLatticeInterpolation<double>(void*, const LatticeShape&,
                                                        const LatticeBatch&,
                                                        const LatticeGpuWorkspace&, int64_t*,
                                                        double*, const double*, const double*,
                                                        double*);
template std::string LaunchLatticeInterpolationGrad<float>(
    void*, const LatticeShape&, const LatticeBatch&, const LatticeGpuWorkspace&, int64_t*,
    float*, const float*, const float*, const float*, float*, float*);
template std::string LaunchLatticeInterpolationGrad<double>(
    void*, const LatticeShape&, const LatticeBatch&, const LatticeGpuWorkspace&, int64_t*,
    double*, const double*, const double*, const double*, double*, double*);

}  // namespace tf_lattice

#endif  // TF_LATTICE_WITH_CUDA
