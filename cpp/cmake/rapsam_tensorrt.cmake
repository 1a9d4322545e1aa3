# TensorRT for the engine runner, with the cache variables plugins/ uses (TENSORRT_ROOT,
# TENSORRT_INCLUDE_DIR, TENSORRT_LIBRARY), plus libnvinfer_plugin and the CUDA runtime.
# Sets RAPSAM_TRT_MODE: FULL (headers, libraries and the CUDA toolkit: the runner is built),
# HEADERS (headers and CUDA headers but no libnvinfer: the runner's sources are compiled as a
# check, e.g. against headers from NVIDIA's TensorRT repository) or OFF.
set(RAPSAM_TRT_MODE OFF)
if(NOT RAPSAM_WITH_TENSORRT)
  message(STATUS "rapsam: C++ engine runner off (RAPSAM_WITH_TENSORRT=OFF): Segmenter reports that it cannot run")
  return()
endif()
set(TENSORRT_ROOT "$ENV{TENSORRT_ROOT}" CACHE PATH "TensorRT installation: include/ with NvInferRuntime.h, lib/ with libnvinfer")
find_path(TENSORRT_INCLUDE_DIR NvInferRuntime.h
  HINTS ${TENSORRT_ROOT} PATH_SUFFIXES include include/x86_64-linux-gnu include/aarch64-linux-gnu)
find_library(TENSORRT_LIBRARY NAMES nvinfer nvinfer_11 nvinfer_10
  HINTS ${TENSORRT_ROOT} PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu lib/aarch64-linux-gnu)
find_library(TENSORRT_PLUGIN_LIBRARY NAMES nvinfer_plugin nvinfer_plugin_11 nvinfer_plugin_10
  HINTS ${TENSORRT_ROOT} PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu lib/aarch64-linux-gnu)
if(NOT TENSORRT_INCLUDE_DIR)
  message(STATUS "rapsam: TensorRT not found (no NvInferRuntime.h): the C++ engine runner and rapsam_demo are not "
                 "built, Segmenter reports that it cannot run; set -DTENSORRT_ROOT=/path/to/TensorRT to build them")
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
