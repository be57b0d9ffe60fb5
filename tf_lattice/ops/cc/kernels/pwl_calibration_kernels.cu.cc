// CUDA kernels of piecewise-linear calibration. The per-element math is the
// header shared with the CPU loop; parameter gradients are reduced with
// atomicAdd.
#if TF_LATTICE_WITH_CUDA

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "tf_lattice/ops/cc/kernels/pwl_calibration_gpu.h"
#include "tf_lattice/ops/cc/lib/cuda_launch.h"
#include "tf_lattice/ops/cc/lib/pwl_calibration.h"

namespace tf_lattice {
namespace pwl_calibration {
namespace {

constexpr int kThreadsPerBlock = 256;
constexpr int64_t kMaxBlocks = 4096;

int BlockCount(int64_t work) {
  return GridBlocks(work, kThreadsPerBlock, kMaxBlocks);
}

// Calls `fn(e, unit, row)` for every element e = b * units + unit of the
// [batch, units] inputs this thread covers (grid-stride); `row` is the
// keypoint row of `unit` (0 when the keypoints are shared).
template <typename Fn>
__device__ void ForEachElement(const CalibrationShape& shape, Fn fn) {
  const int64_t size = shape.batch * shape.units;
  const bool shared = shape.keypoint_rows == 1;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < size;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t unit = e % shape.units;
    fn(e, unit, shared ? int64_t{0} : unit);
  }
}

template <typename T>
__global__ void AnalyzeKeypointsKernel(const T* keypoints, CalibrationShape shape,
                                       T* inverse_steps,
                                       unsigned long long* first_invalid) {
  const int64_t k = shape.num_keypoints;
  for (int64_t row = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
       row < shape.keypoint_rows; row += int64_t(gridDim.x) * blockDim.x) {
    const T* row_keypoints = keypoints + row * k;
    const int64_t invalid = FirstInvalidKeypoint(row_keypoints, k);
    if (invalid >= 0) {
      atomicMin(first_invalid, static_cast<unsigned long long>(row * k + invalid));
    }
    inverse_steps[row] = EvenSpacingInverseStep(row_keypoints, k);
  }
}

template <typename T>
__global__ void CalibrateKernel(const T* inputs, const T* keypoints,
                                const T* outputs, const T* inverse_steps,
                                CalibrationShape shape, T* calibrated) {
  const int64_t k = shape.num_keypoints;
  ForEachElement(shape, [&](int64_t e, int64_t unit, int64_t row) {
    calibrated[e] = Calibrate(keypoints + row * k, outputs + unit * k, k,
                              inputs[e], inverse_steps[row]);
  });
}

template <typename T>
__global__ void CalibrateGradientKernel(const T* inputs, const T* keypoints,
                                        const T* outputs, const T* inverse_steps,
                                        const T* grad, CalibrationShape shape,
                                        T* grad_inputs, T* grad_keypoints,
                                        T* grad_outputs) {
  const int64_t k = shape.num_keypoints;
  ForEachElement(shape, [&](int64_t e, int64_t unit, int64_t row) {
    const ElementGradient<T> g =
        CalibrateGradient(keypoints + row * k, outputs + unit * k, k, inputs[e],
                          inverse_steps[row], grad[e]);
    grad_inputs[e] = g.input;
    T* unit_outputs = grad_outputs + unit * k + g.segment;
    atomicAdd(unit_outputs, g.output_low);
    atomicAdd(unit_outputs + 1, g.output_high);
    T* row_keypoints = grad_keypoints + row * k + g.segment;
    atomicAdd(row_keypoints, g.keypoint_low);
    atomicAdd(row_keypoints + 1, g.keypoint_high);
  });
}

}  // namespace

template <typename T>
std::string LaunchAnalyzeKeypoints(void* stream, const T* keypoints,
                                   CalibrationShape shape, T* inverse_steps,
                                   unsigned long long* scratch,
                                   int64_t* first_invalid, T invalid_values[2]) {
  cudaStream_t cuda_stream = static_cast<cudaStream_t>(stream);
  cudaMemsetAsync(scratch, 0xFF, sizeof(unsigned long long), cuda_stream);
  AnalyzeKeypointsKernel<T><<<BlockCount(shape.keypoint_rows), kThreadsPerBlock,
                              0, cuda_stream>>>(keypoints, shape, inverse_steps,
                                                scratch);
  unsigned long long found = 0;
  cudaMemcpyAsync(&found, scratch, sizeof(found), cudaMemcpyDeviceToHost,
                  cuda_stream);
  cudaStreamSynchronize(cuda_stream);
  std::string error = LastCudaError();
  if (!error.empty()) return error;
  *first_invalid = found == ~0ULL ? -1 : static_cast<int64_t>(found);
  if (*first_invalid >= 0) {
    const int64_t flat = *first_invalid;
    if (flat % shape.num_keypoints > 0) {
      cudaMemcpy(&invalid_values[0], keypoints + flat - 1, sizeof(T),
                 cudaMemcpyDeviceToHost);
    }
    cudaMemcpy(&invalid_values[1], keypoints + flat, sizeof(T),
               cudaMemcpyDeviceToHost);
  }
  return LastCudaError();
}

template <typename T>
std::string LaunchCalibrate(void* stream, const T* inputs, const T* keypoints,
                            const T* outputs, const T* inverse_steps,
                            CalibrationShape shape, T* calibrated) {
  const int64_t size = shape.batch * shape.units;
  if (size == 0) return std::string();
  CalibrateKernel<T><<<BlockCount(size), kThreadsPerBlock, 0,
                       static_cast<cudaStream_t>(stream)>>>(
      inputs, keypoints, outputs, inverse_steps, shape, calibrated);
  return LastCudaError();
}

template <typename T>
std::string LaunchCalibrateGradient(void* stream, const T* inputs,
                                    const T* keypoints, const T* outputs,
                                    const T* inverse_steps, const T* grad,
                                    CalibrationShape shape, T* grad_inputs,
                                    T* grad_keypoints, T* grad_outputs) {
  cudaStream_t cuda_stream = static_cast<cudaStream_t>(stream);
  const int64_t k = shape.num_keypoints;
  cudaMemsetAsync(grad_keypoints, 0, sizeof(T) * shape.keypoint_rows * k,
                  cuda_stream);
  cudaMemsetAsync(grad_outputs, 0, sizeof(T) * shape.units * k, cuda_stream);
  const int64_t size = shape.batch * shape.units;
  if (size > 0) {
    CalibrateGradientKernel<T><<<BlockCount(size), kThreadsPerBlock, 0,
                                 cuda_stream>>>(
        inputs, keypoints, outputs, inverse_steps, grad, shape, grad_inputs,
        grad_keypoints, grad_outputs);
  }
  return LastCudaError();
}

#define TF_LATTICE_INSTANTIATE(T)                                              \
  template std::string LaunchAnalyzeKeypoints<T>(                              \
      void*, const T*, CalibrationShape, T*, unsigned long long*, int64_t*,    \
      T[2]);                                                                   \
  template std::string LaunchCalibrate<T>(void*, const T*, const T*, const T*, \
                                          const T*, CalibrationShape, T*);     \
  template std::string LaunchCalibrateGradient<T>(                             \
      void*, const T*, const T*, const T*, const T*, const T*,                 \
      CalibrationShape, T*, T*, T*);
TF_LATTICE_INSTANTIATE(float)
TF_LATTICE_INSTANTIATE(double)
#undef TF_LATTICE_INSTANTIATE

}  // namespace pwl_calibration
}  // namespace tf_lattice

#endif  // TF_LATTICE_WITH_CUDA
