# OpenCV's core, imgproc and imgcodecs as the imported targets rapsam::opencv_<module>.
# Debian's per-module packages (libopencv-core-dev, ...) ship headers and libraries but not
# OpenCVConfig.cmake (only the libopencv-dev metapackage, which pulls all of OpenCV, does), so
# OpenCV's own package config is used where present and the files are looked up otherwise.
# Sets RAPSAM_OPENCV_FOUND.
set(RAPSAM_OPENCV_FOUND OFF)
find_package(OpenCV QUIET COMPONENTS core imgproc imgcodecs)
if(OpenCV_FOUND)
  foreach(module core imgproc imgcodecs)
    add_library(rapsam::opencv_${module} INTERFACE IMPORTED)
    target_link_libraries(rapsam::opencv_${module} INTERFACE opencv_${module})
  endforeach()
  set(RAPSAM_OPENCV_FOUND ON)
  return()
endif()

find_path(RAPSAM_OPENCV_INCLUDE_DIR opencv2/core.hpp PATH_SUFFIXES opencv4)
# cvconfig.h and friends live in the multiarch include directory on Debian.
find_path(RAPSAM_OPENCV_ARCH_INCLUDE_DIR opencv2/cvconfig.h PATH_SUFFIXES opencv4
  HINTS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
if(NOT RAPSAM_OPENCV_INCLUDE_DIR)
  return()
endif()
foreach(module core imgproc imgcodecs)
  find_library(RAPSAM_OPENCV_${module}_LIBRARY opencv_${module})
  if(NOT RAPSAM_OPENCV_${module}_LIBRARY)
    return()
  endif()
endforeach()
foreach(module core imgproc imgcodecs)
  add_library(rapsam::opencv_${module} UNKNOWN IMPORTED)
  set_target_properties(rapsam::opencv_${module} PROPERTIES IMPORTED_LOCATION "${RAPSAM_OPENCV_${module}_LIBRARY}")
  target_include_directories(rapsam::opencv_${module} SYSTEM INTERFACE ${RAPSAM_OPENCV_INCLUDE_DIR})
  if(RAPSAM_OPENCV_ARCH_INCLUDE_DIR)
    target_include_directories(rapsam::opencv_${module} SYSTEM INTERFACE ${RAPSAM_OPENCV_ARCH_INCLUDE_DIR})
  endif()
endforeach()
target_link_libraries(rapsam::opencv_imgproc INTERFACE rapsam::opencv_core)
target_link_libraries(rapsam::opencv_imgcodecs INTERFACE rapsam::opencv_imgproc)
set(RAPSAM_OPENCV_FOUND ON)
