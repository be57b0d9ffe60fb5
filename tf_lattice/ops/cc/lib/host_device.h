// Portability macros for the per-element math shared by the CPU loops (g++)
// and the CUDA kernels (nvcc). Headers under ops/cc/lib include no TensorFlow
// header, so nvcc compiles them whatever CUDA version TensorFlow was built with.
#ifndef TF_LATTICE_OPS_CC_LIB_HOST_DEVICE_H_
#define TF_LATTICE_OPS_CC_LIB_HOST_DEVICE_H_

#if defined(__CUDACC__)
#define TF_LATTICE_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define TF_LATTICE_HOST_DEVICE inline
#endif

#endif  // TF_LATTICE_OPS_CC_LIB_HOST_DEVICE_H_
