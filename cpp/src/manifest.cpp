#include "rapsam/manifest.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "json_fields.h"
#include "rapsam/error.h"

namespace rapsam {

namespace {

using detail::JsonFields;
using nlohmann::json;

std::string list_text(const std::vector<double>& values) {
    std::ostringstream text;
    text << "[";
    for (std::size_t i = 0; i < values.size(); ++i) text << (i ? ", " : "") << values[i];
    text << "]";
    return text.str();
}

// The image section must describe the normalisation and padding this library applies.
void check_image(const JsonFields& image) {
    const std::vector<double> mean(contract::kImageMean.begin(), contract::kImageMean.end());
    const std::vector<double> std_dev(contract::kImageStd.begin(), contract::kImageStd.end());
    const auto expect_numbers = [&](const char* key, const std::vector<double>& wanted) {
        const std::vector<double> found = image.numbers(key);
        if (found != wanted) image.fail(key, "is " + list_text(found) + ", the contract's is " + list_text(wanted));
    };
    if (image.string("color") != "RGB") image.fail("color", "is not RGB");
    expect_numbers("mean", mean);
    expect_numbers("std", std_dev);
    expect_numbers("pad_value", mean);
    if (image.integer("size_divisor") != contract::kSizeDivisor) image.fail("size_divisor", "is not 32");
    if (image.integer("feature_stride") != contract::kFeatureStride) image.fail("feature_stride", "is not 4");
}

void check_prompts(const JsonFields& prompts) {
    if (prompts.integer("default_kind") != contract::kPromptKindDefault) prompts.fail("default_kind", "is not 1");
    if (prompts.integer("point_box_half_size") != contract::kPointBoxHalfSize) {
        prompts.fail("point_box_half_size", "is not 3");
    }
}

std::map<std::string, AxisRange> read_profiles(const JsonFields& profiles) {
    std::map<std::string, AxisRange> ranges;
    for (const char* axis : {"B", "H", "W", "N", "T"}) {
        const JsonFields item = profiles.object(axis);
        const AxisRange range{item.integer("min"), item.integer("opt"), item.integer("max")};
        if (!(1 <= range.min && range.min <= range.opt && range.opt <= range.max)) {
            profiles.fail(axis, "needs 1 <= min <= opt <= max");
        }
        ranges[axis] = range;
    }
    return ranges;
}

std::vector<contract::TensorSpec> read_tensors(const JsonFields& artifact, const char* key) {
    std::vector<contract::TensorSpec> tensors;
    const json& items = artifact.array(key);
    for (std::size_t i = 0; i < items.size(); ++i) {
        const JsonFields item(items[i], artifact.source(),
                              artifact.where() + "." + key + "[" + std::to_string(i) + "]");
        contract::TensorSpec tensor{item.string("name"), item.string("dtype"), {}};
        for (const json& dim : item.array("shape")) {
            if (dim.is_string()) {
                tensor.shape.push_back({dim.get<std::string>(), 0});
            } else if (dim.is_number_integer()) {
                tensor.shape.push_back({"", dim.get<std::int64_t>()});
            } else {
                item.fail("shape", "has a dimension that is neither a symbol nor an integer");
            }
        }
        tensors.push_back(std::move(tensor));
    }
    return tensors;
}

// The artefact's tensors are the contract's: names in order, dtypes, ranks and fixed sizes
// (symbolic dimensions may be named differently by ONNX tools; K1 is classes + 1 where fixed).
void check_tensors(const JsonFields& artifact, const char* key, const std::vector<contract::TensorSpec>& found,
                   const std::vector<contract::TensorSpec>& wanted, int num_classes) {
    std::string found_names;
    std::string wanted_names;
    for (const auto& t : found) found_names += (found_names.empty() ? "" : ", ") + t.name;
    for (const auto& t : wanted) wanted_names += (wanted_names.empty() ? "" : ", ") + t.name;
    if (found_names != wanted_names) {
        artifact.fail(key, "are [" + found_names + "], the contract's are [" + wanted_names + "]");
    }
    for (std::size_t i = 0; i < found.size(); ++i) {
        const contract::TensorSpec& have = found[i];
        const contract::TensorSpec& want = wanted[i];
        const std::string name = std::string(key) + " " + have.name;
        if (have.dtype != want.dtype) {
            artifact.fail(key, "has " + have.name + " of dtype " + have.dtype + ", the contract's is " + want.dtype);
        }
        if (have.shape.size() != want.shape.size()) {
            artifact.fail(key, "has " + have.name + " of rank " + std::to_string(have.shape.size()) +
                                   ", the contract's is " + std::to_string(want.shape.size()));
        }
        for (std::size_t d = 0; d < want.shape.size(); ++d) {
            const std::int64_t size = want.shape[d].symbol == "K1" ? num_classes + 1 : want.shape[d].size;
            const bool fixed_here = have.shape[d].symbol.empty();
            const bool must_be_fixed = want.shape[d].symbol.empty();
            if ((must_be_fixed && (!fixed_here || have.shape[d].size != size)) ||
                (!must_be_fixed && fixed_here && (want.shape[d].symbol != "K1" || have.shape[d].size != size))) {
                artifact.fail(key, "has " + have.name + " with dimension " + std::to_string(d) +
                                       " unlike the contract's (classes + 1 = " + std::to_string(num_classes + 1) +
                                       ")");
            }
        }
    }
}

Artifact read_artifact(const JsonFields& item, int num_classes) {
    item.expect_keys({"graph", "file", "variant", "precision", "sha256", "bytes", "opset", "inputs", "outputs"},
                     {"simplifier", "custom_ops", "tensorrt_unsupported", "parity", "notes"});
    Artifact artifact;
    artifact.graph = item.string("graph");
    artifact.file = item.string("file");
    artifact.variant = item.string("variant");
    artifact.precision = item.string("precision");
    artifact.sha256 = item.string("sha256");
    artifact.bytes = item.integer("bytes");
    artifact.opset = static_cast<int>(item.integer("opset"));
    artifact.inputs = read_tensors(item, "inputs");
    artifact.outputs = read_tensors(item, "outputs");
    if (item.get("custom_ops").is_array()) artifact.custom_ops = item.strings("custom_ops");
    if (artifact.variant != "standard" && artifact.variant != "plugin")
        item.fail("variant", "is not standard or plugin");
    if (artifact.precision != "fp32" && artifact.precision != "fp16") item.fail("precision", "is not fp32 or fp16");
    for (const contract::GraphSpec& spec : contract::graphs()) {
        if (spec.name != artifact.graph) continue;
        check_tensors(item, "inputs", artifact.inputs, spec.inputs, num_classes);
        check_tensors(item, "outputs", artifact.outputs, spec.outputs, num_classes);
    }
    return artifact;
}

Manifest read_fields(const json& data, const std::filesystem::path& export_dir, const std::string& source) {
    const JsonFields top(data, source, "");
    const auto format = data.find("format");
    const auto version = data.find("version");
    if (format == data.end() || *format != contract::kManifestFormat || version == data.end() ||
        *version != contract::kManifestVersion) {
        throw ManifestError(
            source + " is not a rapsam-deploy manifest of version " + std::to_string(contract::kManifestVersion),
            "re-export with this version of rapsam-deploy");
    }
    top.expect_keys({"model", "image", "prompts", "vocabulary", "profiles", "object_queries", "artifacts", "validation",
                     "tools", "created"},
                    {"format", "version", "precision_policy"});

    Manifest manifest;
    manifest.directory = export_dir;
    const JsonFields model = top.object("model");
    manifest.label = model.string("label");
    manifest.num_classes = static_cast<int>(model.integer("num_classes"));
    manifest.num_queries = static_cast<int>(model.integer("num_queries"));
    if (manifest.num_classes < 1) model.fail("num_classes", "is not positive");
    if (manifest.num_queries < 1) model.fail("num_queries", "is not positive");
    if (model.integer("channels") != contract::kChannels) model.fail("channels", "is not 256");
    check_image(top.object("image"));
    check_prompts(top.object("prompts"));

    const JsonFields vocabulary = top.object("vocabulary");
    manifest.vocabulary = vocabulary.string("name");
    manifest.classes = vocabulary.strings("classes");
    manifest.num_things = static_cast<int>(vocabulary.integer("num_things"));
    if (static_cast<int>(manifest.classes.size()) != manifest.num_classes) {
        vocabulary.fail("classes", "has " + std::to_string(manifest.classes.size()) + " names for " +
                                       std::to_string(manifest.num_classes) + " classes (model.num_classes)");
    }
    if (manifest.num_things < 0 || manifest.num_things > manifest.num_classes) {
        vocabulary.fail("num_things", "is outside 0.." + std::to_string(manifest.num_classes));
    }
    manifest.profiles = read_profiles(top.object("profiles"));

    const JsonFields queries = top.object("object_queries");
    manifest.object_queries_file = queries.string("file");
    for (const json& size : queries.array("shape")) {
        if (!size.is_number_integer()) queries.fail("shape", "is not a list of integers");
        manifest.object_queries_shape.push_back(size.get<std::int64_t>());
    }
    const std::vector<std::int64_t> wanted_shape{manifest.num_queries, contract::kChannels};
    if (manifest.object_queries_shape != wanted_shape) {
        queries.fail("shape", "is not [model.num_queries, 256]");
    }

    const json& artifacts = top.array("artifacts");
    for (std::size_t i = 0; i < artifacts.size(); ++i) {
        const JsonFields item(artifacts[i], source, "artifacts[" + std::to_string(i) + "]");
        manifest.artifacts.push_back(read_artifact(item, manifest.num_classes));
    }
    return manifest;
}

}  // namespace

const Artifact& Manifest::artifact(const std::string& graph, const std::string& variant,
                                   const std::string& precision) const {
    std::string have;
    for (const Artifact& item : artifacts) {
        if (item.graph != graph) continue;
        if (item.variant == variant && item.precision == precision) return item;
        have += (have.empty() ? "" : ", ") + item.variant + "/" + item.precision;
    }
    throw ManifestError(
        "the export has no " + variant + "/" + precision + " " + graph + " graph (it has: [" + have + "])",
        "re-export with --variant " + variant + " --precision " + precision);
}

Manifest parse_manifest(const std::string& text, const std::filesystem::path& export_dir, const std::string& source) {
    std::string error;
    const std::optional<json> data = detail::parse_json(text, error);
    if (!data) throw ManifestError(source + " is not valid JSON (" + error + ")", "re-export the directory");
    return read_fields(*data, export_dir, source);
}

Manifest read_manifest(const std::filesystem::path& export_dir) {
    const std::filesystem::path path = export_dir / contract::kManifestFile;
    if (!std::filesystem::is_regular_file(path)) {
        throw ManifestError(export_dir.string() + " has no " + std::string(contract::kManifestFile),
                            "export first: rapsam-export --output DIR");
    }
    std::ifstream file(path, std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    if (!file) throw ManifestError("cannot read " + path.string(), "check its permissions");
    return parse_manifest(text.str(), export_dir, path.string());
}

}  // namespace rapsam
