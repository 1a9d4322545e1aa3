// rapsam_postprocess_bench DIR [ITERS] [THREADS]: times rapsam::segment (the panoptic merge and
// the instances of one image) on model outputs that benchmarks/postprocess_speed.py writes to
// DIR: classes.npy [N,K+1] float32, masks.npy [N,h,w] float32, and meta.npy int32 [7] (original
// height, width, resized height, width, padded height, width, number of thing classes).
// Prints one JSON object: each iteration's milliseconds and what the results hold.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "npy.h"
#include "rapsam/postprocess.h"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s DIR [ITERS] [THREADS]\n", argv[0]);
        return 2;
    }
    try {
        const std::string dir = argv[1];
        const int iters = argc > 2 ? std::atoi(argv[2]) : 5;
        const int threads = argc > 3 ? std::atoi(argv[3]) : 0;
        const rapsam::detail::NpyArray classes = rapsam::detail::read_npy(dir + "/classes.npy");
        const rapsam::detail::NpyArray masks = rapsam::detail::read_npy(dir + "/masks.npy");
        const std::vector<std::int32_t> m = rapsam::detail::read_npy(dir + "/meta.npy").values<std::int32_t>();
        const std::vector<float> class_values = classes.values<float>();
        const std::vector<float> mask_values = masks.values<float>();
        const rapsam::ClassLogitsView class_view{class_values.data(), static_cast<int>(classes.shape.at(0)),
                                                 static_cast<int>(classes.shape.at(1))};
        const rapsam::LogitsView mask_view{mask_values.data(), static_cast<int>(masks.shape.at(0)),
                                           static_cast<int>(masks.shape.at(1)), static_cast<int>(masks.shape.at(2))};
        const rapsam::ImageMeta meta{{m.at(0), m.at(1)}, {m.at(2), m.at(3)}, {m.at(4), m.at(5)}};
        std::string times;
        rapsam::Segmentation result;
        for (int i = 0; i <= iters; ++i) {  // the first is a warm-up
            const auto start = std::chrono::steady_clock::now();
            result = rapsam::segment(class_view, mask_view, meta, m.at(6), {}, {true, true, threads});
            const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
            if (i > 0) times += (times.empty() ? "" : ", ") + std::to_string(ms);
        }
        std::printf("{\"ms\": [%s], \"segments\": %zu, \"instances\": %zu}\n", times.c_str(),
                    result.panoptic.segments.size(), result.instances.size());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rapsam_postprocess_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
