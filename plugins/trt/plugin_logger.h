// Messages from the plugin go to the logger of the TensorRT engine or builder that loaded it
// (found through the ILoggerFinder that TensorRT passes to setLoggerFinder), else to stderr.
#ifndef RAPSAM_TRT_PLUGIN_LOGGER_H
#define RAPSAM_TRT_PLUGIN_LOGGER_H

#include <NvInferRuntime.h>

#include <string>

namespace rapsam::trt {

void set_logger_finder(nvinfer1::ILoggerFinder* finder);

void log_error(const std::string& message);

}  // namespace rapsam::trt

#endif  // RAPSAM_TRT_PLUGIN_LOGGER_H
