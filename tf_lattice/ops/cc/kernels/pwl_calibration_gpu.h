// Launchers of the CUDA piecewise-linear calibration kernels. TF-free: the
// definitions are compiled by nvcc, the callers by g++. Each launcher runs on
// the given cudaStream_t (as void*) and returns an error message, empty on
// success.
#ifndef TF_LATTICE_OPS_CC_KERNELS_PWL_CALIBRATION_GPU_H_
#define TF_LATTICE_OPS_CC_KERNELS_PWL_CALIBRATION_GPU_H_

#include <cstdint>
#include <string>

namespace tf_lattice {
namespace pwl_calibration {

// Shapes of one call: inputs [batch, units], keypoints [keypoint_rows, K]
// with keypoint_rows 1 (shared) or units, outputs [units, K].
struct CalibrationShape {
  int64_t batch;
  int64_t units;
  int64_t num_keypoints;
  int64_t keypoint_rows;
};

// Checks every keypoint row and computes its even-spacing inverse step into
// `inverse_steps` (device, [keypoint_rows]). `scratch` is one device word.
// Waits for the stream; on return `*first_invalid` is the flat index
// (row * K + index) of the first invalid keypoint, or -1, and when it is not
// -1, `invalid_values` holds {keypoints[flat - 1], keypoints[flat]} (the
// first entry is unset when index is 0).
template <typename T>
std::string LaunchAnalyzeKeypoints(void* stream, const T* keypoints,
                                   CalibrationShape shape, T* inverse_steps,
                                   unsigned long long* scratch,
                                   int64_t* first_invalid, T invalid_values[2]);

// calibrated [batch, units] from inputs, keypoints, outputs.
template <typename T>
std::string LaunchCalibrate(void* stream, const T* inputs, const T* keypoints,
                            const T* outputs, const T* inverse_steps,
                            CalibrationShape shape, T* calibrated);

// Gradients of the calibration given the upstream gradient `grad`.
template <typename T>
std::string LaunchCalibrateGradient(void* stream, const T* inputs,
                                    const T* keypoints, const T* outputs,
                                    const T* inverse_steps, const T* grad,
                                    CalibrationShape shape, T* grad_inputs,
                                    T* grad_keypoints, T* grad_outputs);

}  // namespace pwl_calibration
}  // namespace tf_lattice

#endif  // TF_LATTICE_OPS_CC_KERNELS_PWL_CALIBRATION_GPU_H_
