# TensorRT for the engine runner: what cmake/rapsam_find_tensorrt.cmake found (TENSORRT_INCLUDE_DIR,
# TENSORRT_LIBRARY, TENSORRT_PLUGIN_LIBRARY), and the CUDA runtime.
# Sets RAPSAM_TRT_MODE: FULL (headers, libraries and the CUDA toolkit: the runner is built),
# HEADERS (headers and CUDA headers but no libnvinfer: the runner's sources are compiled as a
# check, e.g. against headers from NVIDIA's TensorRT repository) or OFF.
set(RAPSAM_TRT_MODE OFF)
if(NOT RAPSAM_WITH_TENSORRT)
  message(STATUS "rapsam: C++ engine runner off (RAPSAM_WITH_TENSORRT=OFF): Segmenter reports that it cannot run")
  return()
endif()
if(NOT TENSORRT_INCLUDE_DIR)
  return()
endif()
find_package(CUDAToolkit QUIET)
if(NOT CUDAToolkit_FOUND)
  message(STATUS "rapsam: TensorRT headers at ${TENSORRT_INCLUDE_DIR} but no CUDA toolkit (cuda_runtime_api.h, "
                 "libcudart): the C++ engine runner is not built")
  return()
endif()
if(TENSORRT_LIBRARY AND TENSORRT_PLUGIN_LIBRARY)
  set(RAPSAM_TRT_MODE FULL)
  message(STATUS "rapsam: C++ engine runner and rapsam_demo against ${TENSORRT_INCLUDE_DIR} and ${TENSORRT_LIBRARY}")
else()
  set(RAPSAM_TRT_MODE HEADERS)
  message(STATUS "rapsam: TensorRT headers at ${TENSORRT_INCLUDE_DIR} but no libnvinfer/libnvinfer_plugin: compiling "
                 "the C++ engine runner's sources as a check only (Segmenter reports that it cannot run)")
endif()
