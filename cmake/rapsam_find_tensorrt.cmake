# TensorRT's headers and libraries, looked for once for plugins/ and cpp/. Sets the cache
# variables TENSORRT_INCLUDE_DIR (NvInferRuntime.h), TENSORRT_LIBRARY (libnvinfer) and
# TENSORRT_PLUGIN_LIBRARY (libnvinfer_plugin), each NOTFOUND where absent, and says what it found.
#
# Where: TENSORRT_ROOT (a TensorRT tarball, or NVIDIA/TensorRT's include/ for headers alone), the
# system, and the tensorrt_libs folder of a pip install (`pip install tensorrt-cu12`) of the
# Python3_EXECUTABLE that .ci/build_plugins.sh passes. The pip wheels carry the libraries under
# their versioned names only (libnvinfer.so.10, no libnvinfer.so) and no headers: give the
# include/ of the same TensorRT release with -DTENSORRT_INCLUDE_DIR (or TENSORRT_ROOT).
set(TENSORRT_ROOT "$ENV{TENSORRT_ROOT}" CACHE PATH "TensorRT installation: include/ with NvInferRuntime.h, lib/ with libnvinfer")

set(rapsam_trt_hints ${TENSORRT_ROOT})
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  execute_process(
    COMMAND ${Python3_EXECUTABLE} -c "import os, tensorrt_libs; print(os.path.dirname(tensorrt_libs.__file__))"
    OUTPUT_VARIABLE rapsam_trt_wheel OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rapsam_trt_wheel_rc)
  if(rapsam_trt_wheel_rc EQUAL 0 AND IS_DIRECTORY "${rapsam_trt_wheel}")
    list(APPEND rapsam_trt_hints ${rapsam_trt_wheel})
    message(STATUS "rapsam: TensorRT's pip libraries at ${rapsam_trt_wheel}")
  endif()
endif()

set(rapsam_trt_lib_suffixes lib lib64 lib/x86_64-linux-gnu lib/aarch64-linux-gnu)
find_path(TENSORRT_INCLUDE_DIR NvInferRuntime.h
  HINTS ${rapsam_trt_hints} PATH_SUFFIXES include include/x86_64-linux-gnu include/aarch64-linux-gnu)
find_library(TENSORRT_LIBRARY
  NAMES nvinfer nvinfer_11 nvinfer_10 libnvinfer.so.11 libnvinfer.so.10
  HINTS ${rapsam_trt_hints} PATH_SUFFIXES ${rapsam_trt_lib_suffixes})
find_library(TENSORRT_PLUGIN_LIBRARY
  NAMES nvinfer_plugin nvinfer_plugin_11 nvinfer_plugin_10 libnvinfer_plugin.so.11 libnvinfer_plugin.so.10
  HINTS ${rapsam_trt_hints} PATH_SUFFIXES ${rapsam_trt_lib_suffixes})

if(TENSORRT_LIBRARY AND NOT TENSORRT_INCLUDE_DIR)
  message(STATUS "rapsam: found ${TENSORRT_LIBRARY} but no TensorRT headers (NvInferRuntime.h; the pip wheels "
                 "ship none): nothing that uses TensorRT is built; pass -DTENSORRT_INCLUDE_DIR=DIR with the include/ "
                 "of the same TensorRT release (its tarball, or github.com/NVIDIA/TensorRT at that release)")
elseif(NOT TENSORRT_INCLUDE_DIR)
  message(STATUS "rapsam: TensorRT not found (no NvInferRuntime.h): the TensorRT plugin and the C++ engine runner "
                 "are not built; set -DTENSORRT_ROOT=/path/to/TensorRT to build them")
endif()
