// Reads and checks engine files as rapsam_deploy/runtime/engine_file.py does, with its messages.
#include "rapsam/engine_file.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "rapsam/error.h"
#include "sha256.h"

namespace rapsam {

namespace {

using nlohmann::json;

// PNG-style: a non-ASCII first byte and CR LF catch transfers in text mode, which mangle both.
constexpr char kMagic[] = "\x89RAPSAM-ENGINE\r\n";
constexpr std::size_t kMagicSize = sizeof(kMagic) - 1;
constexpr std::size_t kLengthSize = 4;
constexpr std::uint32_t kMaxHeaderBytes = 1u << 20;
constexpr const char* kFormat = "rapsam-deploy/engine";
constexpr int kFormatVersion = 1;
constexpr const char* kEllipsis = "\xe2\x80\xa6";
const char* const kRebuildFix =
    "rebuild it with rapsam-build (engines are written only by rapsam-build, with a header)";

const std::set<std::string> kFields = {"tensorrt",      "gpu_name",  "compute_capability", "precision",     "variant",
                                       "graph",         "onnx_file", "onnx_sha256",        "plugin_sha256", "profile",
                                       "rapsam_deploy", "created",   "engine_bytes",       "engine_sha256", "format",
                                       "version"};

[[noreturn]] void corrupt(const std::filesystem::path& path, const std::string& detail) {
    throw EngineFileError(path.string() + " has a corrupt header (" + detail + ")", kRebuildFix);
}

// A sorted list of names as Python prints it: ['a', 'b'].
std::string python_list(const std::set<std::string>& names) {
    std::string text;
    for (const std::string& name : names) text += (text.empty() ? "'" : ", '") + name + "'";
    return "[" + text + "]";
}

std::string text_field(const std::filesystem::path& path, const json& raw, const char* key) {
    const json& value = raw.at(key);
    if (!value.is_string()) corrupt(path, std::string(key) + " is not a string");
    return value.get<std::string>();
}

std::vector<std::int64_t> shape_field(const std::filesystem::path& path, const json& value) {
    std::vector<std::int64_t> shape;
    if (!value.is_array()) corrupt(path, "a profile shape is not a list");
    for (const json& dim : value) {
        if (!dim.is_number_integer()) corrupt(path, "a profile shape has a non-integer dimension");
        shape.push_back(dim.get<std::int64_t>());
    }
    return shape;
}

EngineHeader header_from(const std::filesystem::path& path, const json& raw) {
    EngineHeader h;
    h.tensorrt = text_field(path, raw, "tensorrt");
    h.gpu_name = text_field(path, raw, "gpu_name");
    h.compute_capability = text_field(path, raw, "compute_capability");
    h.precision = text_field(path, raw, "precision");
    h.variant = text_field(path, raw, "variant");
    h.graph = text_field(path, raw, "graph");
    h.onnx_file = text_field(path, raw, "onnx_file");
    h.onnx_sha256 = text_field(path, raw, "onnx_sha256");
    if (!raw.at("plugin_sha256").is_null()) h.plugin_sha256 = text_field(path, raw, "plugin_sha256");
    h.rapsam_deploy = text_field(path, raw, "rapsam_deploy");
    h.created = text_field(path, raw, "created");
    h.engine_sha256 = text_field(path, raw, "engine_sha256");
    if (!raw.at("engine_bytes").is_number_integer()) corrupt(path, "engine_bytes is not an integer");
    h.engine_bytes = raw.at("engine_bytes").get<std::int64_t>();
    if (!raw.at("profile").is_object()) corrupt(path, "profile is not a mapping");
    for (const auto& item : raw.at("profile").items()) {
        if (!item.value().is_object() || !item.value().contains("min") || !item.value().contains("opt") ||
            !item.value().contains("max")) {
            corrupt(path, "the profile of " + item.key() + " lacks min, opt or max");
        }
        h.profile[item.key()] = {shape_field(path, item.value().at("min")), shape_field(path, item.value().at("opt")),
                                 shape_field(path, item.value().at("max"))};
    }
    return h;
}

// `data` holds at least the magic, the length and the header; returns the header and the
// offset where the engine starts.
std::pair<EngineHeader, std::size_t> parse_header(const std::filesystem::path& path, const std::vector<char>& data) {
    if (data.size() < kMagicSize || std::memcmp(data.data(), kMagic, kMagicSize) != 0) {
        throw EngineFileError(path.string() +
                                  " is not a rapsam-deploy engine file (no engine header: a bare TensorRT plan, e.g. "
                                  "from trtexec, or another file)",
                              kRebuildFix);
    }
    const std::size_t start = kMagicSize + kLengthSize;
    if (data.size() < start) {
        throw EngineFileError(
            path.string() + " is truncated (" + std::to_string(data.size()) + " bytes, inside the header)",
            kRebuildFix);
    }
    std::uint32_t length = 0;
    for (std::size_t i = 0; i < kLengthSize; ++i) {
        length |= std::uint32_t{static_cast<unsigned char>(data[kMagicSize + i])} << (8 * i);
    }
    if (length > kMaxHeaderBytes || data.size() < start + length) {
        throw EngineFileError(
            path.string() + " is truncated or corrupt (its header length " + std::to_string(length) + " does not fit)",
            kRebuildFix);
    }
    json raw;
    try {
        raw = json::parse(data.begin() + static_cast<std::ptrdiff_t>(start),
                          data.begin() + static_cast<std::ptrdiff_t>(start + length));
    } catch (const json::parse_error& error) {
        corrupt(path, error.what());
    }
    if (!raw.is_object() || !raw.contains("format") || raw["format"] != kFormat) {
        corrupt(path, std::string("not a ") + kFormat + " header");
    }
    if (!raw.contains("version") || raw["version"] != kFormatVersion) {
        const json version = raw.value("version", json());
        const std::string shown = version.is_null()     ? "None"
                                  : version.is_string() ? version.get<std::string>()
                                                        : version.dump();
        throw EngineFileError(path.string() + " is an engine file of format version " + shown +
                                  "; this rapsam-deploy reads version " + std::to_string(kFormatVersion),
                              std::string(kRebuildFix) + " of this rapsam-deploy version");
    }
    std::set<std::string> missing = kFields;
    std::set<std::string> unknown;
    for (const auto& item : raw.items()) {
        if (!missing.erase(item.key())) unknown.insert(item.key());
    }
    if (!missing.empty() || !unknown.empty()) {
        corrupt(path, "fields missing: " + python_list(missing) + ", unknown: " + python_list(unknown));
    }
    return {header_from(path, raw), start + length};
}

std::vector<char> read_bytes(const std::filesystem::path& path, std::size_t limit) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw EngineFileError("cannot read " + path.string(), "check its permissions");
    std::vector<char> data;
    std::vector<char> chunk(1 << 20);
    while (data.size() < limit &&
           (file.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || file.gcount() > 0)) {
        data.insert(data.end(), chunk.begin(), chunk.begin() + file.gcount());
    }
    if (data.size() > limit) data.resize(limit);
    return data;
}

std::string rebuild_for(const EngineExpectation& expect) {
    return rebuild_command(expect.export_dir, expect.precision, expect.variant, {expect.graph});
}

[[noreturn]] void missing_engine(const std::filesystem::path& path, const EngineExpectation& expect) {
    throw EngineFileError("no TensorRT engine for " + expect.graph + " at " + path.string(),
                          "build it: " + rebuild_for(expect));
}

void check_built_for(const std::filesystem::path& path, const EngineHeader& header, const EngineExpectation& expect) {
    const std::vector<std::string> found = engine_mismatches(header, expect);
    if (found.empty()) return;
    std::string sentences;
    for (const std::string& sentence : found) sentences += (sentences.empty() ? "" : "; ") + sentence;
    throw EngineFileError(path.string() + " cannot run here: " + sentences, "rebuild it: " + rebuild_for(expect));
}

std::vector<int> version_numbers(const std::string& version) {
    std::vector<int> numbers;
    std::size_t start = 0;
    while (numbers.size() < 3 && start <= version.size()) {
        const std::size_t end = std::min(version.find('.', start), version.size());
        const std::string part = version.substr(start, end - start);
        if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos) return {};
        numbers.push_back(std::stoi(part));
        start = end + 1;
    }
    return numbers;
}

std::string gpu_label(const std::string& capability, const std::string& name) { return capability + " (" + name + ")"; }

}  // namespace

std::filesystem::path default_engine_dir(const std::filesystem::path& export_dir, const std::string& precision,
                                         const std::string& variant) {
    return export_dir / "engines" / (precision + "-" + variant);
}

std::filesystem::path engine_path(const std::filesystem::path& engine_dir, const std::string& graph) {
    return engine_dir / (graph + ".engine");
}

std::string rebuild_command(const std::string& export_dir, const std::string& precision, const std::string& variant,
                            const std::vector<std::string>& graphs) {
    std::string command = "rapsam-build " + export_dir + " --precision " + precision + " --variant " + variant;
    if (!graphs.empty()) {
        command += " --graphs";
        for (const std::string& graph : graphs) command += " " + graph;
    }
    return command + " --force";
}

bool same_tensorrt_version(const std::string& a, const std::string& b) {
    const std::vector<int> left = version_numbers(a);
    return left.size() == 3 ? left == version_numbers(b) : a == b;
}

std::vector<std::string> engine_mismatches(const EngineHeader& header, const EngineExpectation& expect) {
    std::vector<std::string> found;
    if (!same_tensorrt_version(header.tensorrt, expect.tensorrt)) {
        found.push_back("built with TensorRT " + header.tensorrt + " but this is TensorRT " + expect.tensorrt);
    }
    if (header.compute_capability != expect.compute_capability) {
        found.push_back("built for " + gpu_label(header.compute_capability, header.gpu_name) + " but this GPU is " +
                        gpu_label(expect.compute_capability, expect.gpu_name));
    }
    if (header.graph != expect.graph || header.precision != expect.precision || header.variant != expect.variant) {
        found.push_back("it is the " + header.precision + " " + header.variant + "-variant " + header.graph +
                        " engine, not the " + expect.precision + " " + expect.variant + "-variant " + expect.graph +
                        " one");
    }
    if (header.onnx_sha256 != expect.onnx_sha256) {
        found.push_back("the ONNX graph changed since: the engine was built from " + header.onnx_file +
                        " with sha256 " + header.onnx_sha256.substr(0, 12) + kEllipsis +
                        ", the export's manifest now says " + expect.onnx_sha256.substr(0, 12) + kEllipsis);
    }
    if (header.plugin_sha256 != expect.plugin_sha256 && header.variant == expect.variant) {
        found.push_back("plugin library changed: the engine was built with librapsam_trt_plugin sha256 " +
                        header.plugin_sha256.value_or("none").substr(0, 12) + kEllipsis + ", the loaded one has " +
                        expect.plugin_sha256.value_or("none").substr(0, 12) + kEllipsis);
    }
    return found;
}

EngineHeader read_engine_header(const std::filesystem::path& path) {
    return parse_header(path, read_bytes(path, kMagicSize + kLengthSize + kMaxHeaderBytes)).first;
}

EngineHeader check_engine_file(const std::filesystem::path& path, const EngineExpectation& expect) {
    if (!std::filesystem::is_regular_file(path)) missing_engine(path, expect);
    EngineHeader header = read_engine_header(path);
    check_built_for(path, header, expect);
    return header;
}

EngineFile read_engine_file(const std::filesystem::path& path, const EngineExpectation& expect) {
    if (!std::filesystem::is_regular_file(path)) missing_engine(path, expect);
    std::vector<char> data = read_bytes(path, static_cast<std::size_t>(-1));
    auto [header, offset] = parse_header(path, data);
    const std::size_t engine_bytes = data.size() - offset;
    if (static_cast<std::int64_t>(engine_bytes) != header.engine_bytes) {
        throw EngineFileError(path.string() + " is truncated: its header says " + std::to_string(header.engine_bytes) +
                                  " engine bytes, the file has " + std::to_string(engine_bytes),
                              "rebuild it: " + rebuild_for(expect));
    }
    if (detail::sha256(data.data() + offset, engine_bytes) != header.engine_sha256) {
        throw EngineFileError(
            path.string() + " is corrupt: the engine's sha256 differs from the one its header recorded",
            "rebuild it: " + rebuild_for(expect));
    }
    check_built_for(path, header, expect);
    data.erase(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(offset));
    return {std::move(header), std::move(data)};
}

}  // namespace rapsam
