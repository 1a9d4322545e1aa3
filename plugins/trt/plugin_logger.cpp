#include "plugin_logger.h"

#include <atomic>
#include <cstdio>

namespace rapsam::trt {
namespace {

std::atomic<nvinfer1::ILoggerFinder*> g_logger_finder{nullptr};

}  // namespace

void set_logger_finder(nvinfer1::ILoggerFinder* finder) { g_logger_finder.store(finder); }

void log_error(const std::string& message) {
    const std::string text = "[RapSamMaskPoolDynConv] " + message;
    nvinfer1::ILoggerFinder* finder = g_logger_finder.load();
    nvinfer1::ILogger* logger = finder != nullptr ? finder->findLogger() : nullptr;
    if (logger != nullptr) {
        logger->log(nvinfer1::ILogger::Severity::kERROR, text.c_str());
    } else {
        std::fprintf(stderr, "%s\n", text.c_str());
    }
}

}  // namespace rapsam::trt
