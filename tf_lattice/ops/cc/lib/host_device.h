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

// For the small per-element routines that a caller's vectorized loop must
// inline (TF_LATTICE_HOST_DEVICE on the device).
#if defined(__CUDACC__)
#define TF_LATTICE_INLINE_ALWAYS __host__ __device__ __forceinline__
#elif defined(__GNUC__)
#define TF_LATTICE_INLINE_ALWAYS inline __attribute__((always_inline))
#else
#define TF_LATTICE_INLINE_ALWAYS inline
#endif

// Full unrolling of a loop with fixed bounds (the compiler's own pragma).
#if defined(__CUDACC__)
#define TF_LATTICE_UNROLL _Pragma("unroll")
#elif defined(__clang__)
#define TF_LATTICE_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define TF_LATTICE_UNROLL _Pragma("GCC unroll 16")
#else
#define TF_LATTICE_UNROLL
#endif

#endif  // TF_LATTICE_OPS_CC_LIB_HOST_DEVICE_H_
