// CUDA kernels of TfLattice>LatticeInterpolation and its gradient: one thread
// per (example, unit), the per-example math from lib/lattice_interpolation.h
// (the code the CPU kernels run), params gradients by atomicAdd.
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

template <typename T>
__global__ void LatticeInterpolationKernel(const LatticeShape shape, const LatticeBatch batch,
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

template <typename T>
__global__ void LatticeInterpolationGradKernel(const LatticeShape shape,
                                               const LatticeBatch batch, const T* inputs,
                                               const T* params, const T* grad_outputs,
                                               T* grad_inputs, T* grad_params) {
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
    if (batch.per_unit_inputs) {
      T* grad_row = grad_inputs + i * d;
      for (int k = 0; k < d; ++k) {
        grad_row[k] = cell.passes_gradient[k] ? grad_output * grad_residual[k] : T(0);
      }
    } else {
      // Every unit reads the same point: sum over units.
      T* grad_row = grad_inputs + b * d;
      for (int k = 0; k < d; ++k) {
        if (cell.passes_gradient[k]) atomicAdd(grad_row + k, grad_output * grad_residual[k]);
      }
    }
  }
}

std::string LastError() {
  const cudaError_t error = cudaGetLastError();
  return error == cudaSuccess ? std::string() : std::string(cudaGetErrorString(error));
}

}  // namespace

template <typename T>
std::string LaunchLatticeInterpolation(void* stream, const LatticeShape& shape,
                                       const LatticeBatch& batch, const T* inputs,
                                       const T* params, T* outputs) {
  const int64_t total = batch.batch * batch.units;
  if (total == 0) return std::string();
  LatticeInterpolationKernel<T>
      <<<NumBlocks(total), kThreadsPerBlock, 0, static_cast<cudaStream_t>(stream)>>>(
          shape, batch, inputs, params, outputs);
  return LastError();
}

template <typename T>
std::string LaunchLatticeInterpolationGrad(void* stream, const LatticeShape& shape,
                                           const LatticeBatch& batch, const T* inputs,
                                           const T* params, const T* grad_outputs,
                                           T* grad_inputs, T* grad_params) {
  const cudaStream_t cuda_stream = static_cast<cudaStream_t>(stream);
  const int64_t input_rows = batch.per_unit_inputs ? batch.batch * batch.units : batch.batch;
  cudaMemsetAsync(grad_inputs, 0, sizeof(T) * input_rows * shape.dims, cuda_stream);
  cudaMemsetAsync(grad_params, 0, sizeof(T) * batch.units * shape.num_vertices, cuda_stream);
  const int64_t total = batch.batch * batch.units;
  if (total > 0) {
    LatticeInterpolationGradKernel<T><<<NumBlocks(total), kThreadsPerBlock, 0, cuda_stream>>>(
        shape, batch, inputs, params, grad_outputs, grad_inputs, grad_params);
  }
  return LastError();
}

template std::string LaunchLatticeInterpolation<float>(void*, const LatticeShape&,
                                                       const LatticeBatch&, const float*,
                                                       const float*, float*);
template std::string LaunchLatticeInterpolation<double>(void*, const LatticeShape&,
                                                        const LatticeBatch&, const double*,
                                                        const double*, double*);
template std::string LaunchLatticeInterpolationGrad<float>(void*, const LatticeShape&,
                                                           const LatticeBatch&, const float*,
                                                           const float*, const float*, float*,
                                                           float*);
template std::string LaunchLatticeInterpolationGrad<double>(void*, const LatticeShape&,
                                                            const LatticeBatch&, const double*,
                                                            const double*, const double*,
                                                            double*, double*);

}  // namespace tf_lattice

#endif  // TF_LATTICE_WITH_CUDA
