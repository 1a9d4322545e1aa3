// rapsam_demo's command line, as rapsam-infer's for one image.
#ifndef RAPSAM_DEMO_ARGUMENTS_H
#define RAPSAM_DEMO_ARGUMENTS_H

#include <filesystem>
#include <string>
#include <vector>

#include "rapsam/segmenter.h"
#include "rapsam/types.h"

namespace rapsam::demo {

struct Arguments {
    std::filesystem::path image;
    std::filesystem::path export_dir = "exports/r18";
    SegmenterOptions options;
    std::vector<Point> points;
    std::vector<Box> boxes;
    float score_thr = 0.3f;
    std::filesystem::path output = "runs/demo";
    bool help = false;
};

std::string usage();

// rapsam::Error naming the bad argument.
Arguments parse_arguments(const std::vector<std::string>& args);

}  // namespace rapsam::demo

#endif  // RAPSAM_DEMO_ARGUMENTS_H
