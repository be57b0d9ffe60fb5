// The CUDA stream of an op's GPU device, for kernels whose launchers live in
// nvcc-compiled .cu.cc files that include no TensorFlow header. Only compiled
// by g++ and only when the library is built with CUDA.
#ifndef TF_LATTICE_OPS_CC_KERNELS_GPU_STREAM_H_
#define TF_LATTICE_OPS_CC_KERNELS_GPU_STREAM_H_

#if TF_LATTICE_WITH_CUDA
#include "tensorflow/core/framework/op_kernel.h"
#include "xla/stream_executor/stream.h"

namespace tensorflow {
namespace tf_lattice {

// Returns the raw cudaStream_t (as void*) that TensorFlow runs this op on.
inline void* GpuStream(OpKernelContext* context) {
  return context->op_device_context()->stream()->platform_specific_handle().stream;
}

}  // namespace tf_lattice
}  // namespace tensorflow
#endif  // TF_LATTICE_WITH_CUDA

#endif  // TF_LATTICE_OPS_CC_KERNELS_GPU_STREAM_H_
