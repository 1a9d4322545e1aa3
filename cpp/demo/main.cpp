// rapsam_demo: one image through rapsam::Segmenter, written as rapsam-infer writes its results.
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "arguments.h"
#include "image_io.h"
#include "overlay.h"
#include "rapsam/error.h"
#include "rapsam/segmenter.h"
#include "results_json.h"

namespace {

using namespace rapsam;

struct Results {
    std::string json;
    demo::RgbImage overlay;
};

Results panoptic(Segmenter& segmenter, const demo::RgbImage& image, const demo::Arguments& args) {
    const PanopticPrediction found = segmenter.panoptic(image.view());
    const std::vector<std::string>& names = segmenter.manifest().classes;
    std::vector<Mask> masks;
    std::vector<std::string> labels;
    std::vector<int> keys;
    for (const Segment& segment : found.panoptic.segments) {
        Mask mask{found.panoptic.size.height, found.panoptic.size.width, {}};
        for (const std::int32_t id : found.panoptic.id_map) mask.pixels.push_back(id == segment.id ? 1 : 0);
        masks.push_back(std::move(mask));
        labels.push_back(names.at(segment.label));
        keys.push_back(segment.label);
    }
    std::vector<const Mask*> views;
    for (const Mask& mask : masks) views.push_back(&mask);
    const std::string stem = args.image.stem().string();
    demo::write_png(args.output / (stem + "_panoptic.png"), demo::panoptic_png(found.panoptic));
    nlohmann::json out = {{"image", args.image.string()}};
    out.update(demo::panoptic_json(found, names, args.score_thr));
    std::cout << stem << ": " << found.panoptic.segments.size() << " segments\n";
    return {out.dump(1), demo::overlay(image, views, labels, keys)};
}

Results prompts(Segmenter& segmenter, const demo::RgbImage& image, const demo::Arguments& args) {
    segmenter.set_image(image.view());
    const PromptPrediction found = segmenter.prompt(args.points, args.boxes);
    for (const std::string& warning : found.warnings) std::cerr << "warning: " << warning << "\n";
    std::vector<const Mask*> views;
    std::vector<std::string> labels;
    std::vector<int> keys;
    for (const PromptMask& m : found.masks) {
        views.push_back(&m.mask);
        std::ostringstream iou;
        iou << std::fixed << std::setprecision(2) << m.iou;
        labels.push_back(iou.str());
        keys.push_back(m.prompt);
    }
    nlohmann::json out = {{"image", args.image.string()}};
    out.update(demo::prompt_json(found));
    std::cout << args.image.stem().string() << ": " << found.masks.size() << " prompt masks\n";
    return {out.dump(1), demo::overlay(image, views, labels, keys)};
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const demo::Arguments args = demo::parse_arguments(std::vector<std::string>(argv + 1, argv + argc));
        if (args.help) {
            std::cout << demo::usage();
            return 0;
        }
        const demo::RgbImage image = demo::load_image(args.image);
        Segmenter segmenter(args.export_dir, args.options);
        const bool prompted = !args.points.empty() || !args.boxes.empty();
        const Results results = prompted ? prompts(segmenter, image, args) : panoptic(segmenter, image, args);
        const std::string stem = args.image.stem().string();
        demo::write_atomic(args.output / (stem + ".json"), results.json + "\n");
        demo::write_png(args.output / (stem + ".png"), results.overlay);
        std::cout << "wrote " << (args.output / (stem + ".png")).string() << " and " << stem << ".json\n";
        return 0;
    } catch (const rapsam::Error& error) {
        std::cerr << "rapsam_demo: " << error.what() << "\n";
        return 1;
    }
}
