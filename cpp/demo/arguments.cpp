#include "arguments.h"

#include <cmath>
#include <sstream>

#include "rapsam/error.h"

namespace rapsam::demo {

namespace {

// "x1,y1,..." with exactly `count` finite numbers.
std::vector<double> numbers(const std::string& text, std::size_t count, const std::string& what) {
    std::vector<double> values;
    bool valid = true;
    std::stringstream stream(text);
    std::string item;
    while (std::getline(stream, item, ',')) {
        std::size_t used = 0;
        double value = 0.0;
        try {
            value = std::stod(item, &used);
        } catch (const std::exception&) {
            valid = false;
        }
        valid = valid && used == item.size() && std::isfinite(value);
        values.push_back(value);
    }
    if (!valid || values.size() != count) {
        throw Error("bad " + what + " '" + text + "'",
                    "write each as " + std::to_string(count) + " comma-separated numbers");
    }
    return values;
}

ResizePolicy resize_policy(const std::string& text) {
    if (text == "coco") return ResizePolicy::coco();
    if (text == "ytvis") return ResizePolicy::youtube_vis();
    if (text.rfind("long:", 0) == 0 && text.size() > 5 &&
        text.find_first_not_of("0123456789", 5) == std::string::npos) {
        const int side = std::stoi(text.substr(5));
        if (side >= 32) return ResizePolicy::long_edge(side);
    }
    throw Error("bad --resize '" + text + "'", "use coco, ytvis or long:N (e.g. long:1024)");
}

}  // namespace

std::string usage() {
    return "usage: rapsam_demo IMAGE [--export-dir DIR] [--precision fp32|fp16] [--variant standard|plugin]\n"
           "                   [--points X,Y ...] [--boxes X1,Y1,X2,Y2 ...] [--resize coco|ytvis|long:N]\n"
           "                   [--score-thr T] [--output DIR] [--engine-dir DIR] [--plugin FILE] [--device N]\n"
           "\n"
           "Segments IMAGE with the TensorRT engines of an export directory (rapsam-export, then rapsam-build)\n"
           "and writes OUTPUT/<name>.png (overlay), OUTPUT/<name>.json and, for panoptic segmentation,\n"
           "OUTPUT/<name>_panoptic.png. With --points or --boxes (image pixels) it segments those prompts.\n"
           "Defaults: --export-dir exports/r18, --precision fp32, --variant standard, --resize coco,\n"
           "--score-thr 0.3 (instances written above it), --output runs/demo.\n";
}

Arguments parse_arguments(const std::vector<std::string>& args) {
    Arguments parsed;
    std::vector<std::string> positional;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "-h" || arg == "--help") {
            parsed.help = true;
            return parsed;
        }
        if (arg.rfind("--", 0) != 0) {
            positional.push_back(arg);
            continue;
        }
        // Options with a list take values up to the next option.
        std::vector<std::string> values;
        while (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) values.push_back(args[++i]);
        const bool list = arg == "--points" || arg == "--boxes";
        if (!list && values.size() != 1) {
            if (values.empty()) throw Error("option " + arg + " needs a value", usage());
            positional.insert(positional.end(), values.begin() + 1, values.end());
        }
        if (arg == "--points") {
            for (const std::string& v : values) {
                const std::vector<double> p = numbers(v, 2, "point");
                parsed.points.push_back({p[0], p[1]});
            }
        } else if (arg == "--boxes") {
            for (const std::string& v : values) {
                const std::vector<double> b = numbers(v, 4, "box");
                parsed.boxes.push_back({b[0], b[1], b[2], b[3]});
            }
        } else if (arg == "--export-dir") {
            parsed.export_dir = values[0];
        } else if (arg == "--precision") {
            parsed.options.precision = values[0];
        } else if (arg == "--variant") {
            parsed.options.variant = values[0];
        } else if (arg == "--resize") {
            parsed.options.resize = resize_policy(values[0]);
        } else if (arg == "--score-thr") {
            parsed.score_thr = static_cast<float>(numbers(values[0], 1, "--score-thr")[0]);
        } else if (arg == "--output") {
            parsed.output = values[0];
        } else if (arg == "--engine-dir") {
            parsed.options.engine_dir = values[0];
        } else if (arg == "--plugin") {
            parsed.options.plugin_library = values[0];
        } else if (arg == "--device") {
            parsed.options.device = static_cast<int>(numbers(values[0], 1, "--device")[0]);
        } else {
            throw Error("unknown option " + arg, usage());
        }
    }
    if (positional.size() != 1) throw Error("give one image (got " + std::to_string(positional.size()) + ")", usage());
    parsed.image = positional[0];
    if (parsed.options.precision != "fp16" && parsed.options.precision != "fp32") {
        throw Error("bad --precision '" + parsed.options.precision + "'", "use fp16 or fp32");
    }
    if (parsed.options.variant != "standard" && parsed.options.variant != "plugin") {
        throw Error("bad --variant '" + parsed.options.variant + "'", "use standard or plugin");
    }
    return parsed;
}

}  // namespace rapsam::demo
