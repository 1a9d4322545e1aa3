// Reads and checks engine files as rapsam_deploy/engines/engine_file.py does, with its messages.
#include "rapsam/engine_file.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "json_fields.h"
#include "sha256.h"

namespace rapsam {

namespace {

using nlohmann::json;

constexpr const char* kFormat = "rapsam-deploy/engine-sidecar";
constexpr int kFormatVersion = 1;
// rapsam-deploy's old engine file, refused with the rebuild command: this magic, the header's
// length (uint32), a JSON header, then the plan, in ENGINE_DIR/<graph>.engine.
constexpr char kOldMagic[] = "\x89RAPSAM-ENGINE\r\n";
constexpr std::size_t kOldMagicSize = sizeof(kOldMagic) - 1;
constexpr const char* kEllipsis = "\xe2\x80\xa6";

const std::set<std::string> kFields = {"tensorrt",      "gpu_name",  "compute_capability", "precision",     "variant",
                                       "graph",         "onnx_file", "onnx_sha256",        "plugin_sha256", "profile",
                                       "rapsam_deploy", "created",   "plan_bytes",         "plan_sha256",   "format",
                                       "version"};

// A sidecar that cannot be read; `fix` names the rebuild command where the caller knows it.
[[noreturn]] void corrupt(const std::filesystem::path& path, const std::string& detail, const std::string& fix) {
    throw EngineFileError(path.string() + " is a corrupt engine sidecar (" + detail + ")", fix);
}

// A sorted list of names as Python prints it: ['a', 'b'].
std::string python_list(const std::set<std::string>& names) {
    std::string text;
    for (const std::string& name : names) text += (text.empty() ? "'" : ", '") + name + "'";
    return "[" + text + "]";
}

// The sidecar's fields, type-checked (as the Python runtime's _mistyped, with the same words).
class SidecarReader {
public:
    SidecarReader(const std::filesystem::path& path, const json& raw, std::string fix)
        : path_(path), raw_(raw), fix_(std::move(fix)) {}

    EngineSidecar read() const {
        EngineSidecar s;
        s.tensorrt = text("tensorrt");
        s.gpu_name = text("gpu_name");
        s.compute_capability = text("compute_capability");
        s.precision = text("precision");
        s.variant = text("variant");
        s.graph = text("graph");
        s.onnx_file = text("onnx_file");
        s.onnx_sha256 = text("onnx_sha256");
        if (!raw_.at("plugin_sha256").is_null()) s.plugin_sha256 = text("plugin_sha256");
        s.rapsam_deploy = text("rapsam_deploy");
        s.created = text("created");
        s.plan_sha256 = text("plan_sha256");
        if (!raw_.at("plan_bytes").is_number_integer()) corrupt(path_, "plan_bytes is not an integer", fix_);
        s.plan_bytes = raw_.at("plan_bytes").get<std::int64_t>();
        if (!raw_.at("profile").is_object()) corrupt(path_, "profile is not a mapping", fix_);
        for (const auto& item : raw_.at("profile").items()) {
            const json& points = item.value();
            if (!points.is_object() || !points.contains("min") || !points.contains("opt") || !points.contains("max")) {
                corrupt(path_, "the profile of " + item.key() + " lacks min, opt or max", fix_);
            }
            s.profile[item.key()] = {shape(points.at("min")), shape(points.at("opt")), shape(points.at("max"))};
        }
        return s;
    }

private:
    std::string text(const char* key) const {
        const json& value = raw_.at(key);
        if (!value.is_string()) corrupt(path_, std::string(key) + " is not a string", fix_);
        return value.get<std::string>();
    }

    std::vector<std::int64_t> shape(const json& value) const {
        std::vector<std::int64_t> dims;
        if (!value.is_array()) corrupt(path_, "a profile shape is not a list", fix_);
        for (const json& dim : value) {
            if (!dim.is_number_integer()) corrupt(path_, "a profile shape has a non-integer dimension", fix_);
            dims.push_back(dim.get<std::int64_t>());
        }
        return dims;
    }

    const std::filesystem::path& path_;
    const json& raw_;
    std::string fix_;
};

// Up to `limit` bytes of `path`.
std::vector<char> read_bytes(const std::filesystem::path& path, std::size_t limit) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw EngineFileError("cannot read " + path.string(), "check its permissions");
    std::vector<char> data;
    // 64 KiB at a time: a sidecar is under 1 KiB (a 1 MiB buffer made checking it 10x slower).
    std::vector<char> chunk(1 << 16);
    while (data.size() < limit &&
           (file.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || file.gcount() > 0)) {
        data.insert(data.end(), chunk.begin(), chunk.begin() + file.gcount());
    }
    if (data.size() > limit) data.resize(limit);
    return data;
}

// Python's str() of the sidecar's version field, for the message that refuses it.
std::string python_text(const json& value) {
    if (value.is_null()) return "None";
    return value.is_string() ? value.get<std::string>() : value.dump();
}

// The sidecar at `path`; `fix` is what its errors suggest.
EngineSidecar parse_sidecar(const std::filesystem::path& path, const std::string& fix) {
    const std::vector<char> data = read_bytes(path, static_cast<std::size_t>(-1));
    std::string error;
    std::optional<json> parsed = detail::parse_json({data.data(), data.size()}, error);
    if (!parsed) corrupt(path, error, fix);
    json& raw = *parsed;
    if (!raw.is_object() || !raw.contains("format") || raw["format"] != kFormat) {
        corrupt(path, std::string("not a ") + kFormat + " file", fix);
    }
    if (!raw.contains("version") || raw["version"] != kFormatVersion) {
        throw EngineFileError(path.string() + " is an engine sidecar of format version " +
                                  python_text(raw.value("version", json())) + "; this rapsam-deploy reads version " +
                                  std::to_string(kFormatVersion),
                              "use the rapsam-deploy that built it, or " + fix);
    }
    std::set<std::string> missing = kFields;
    std::set<std::string> unknown;
    for (const auto& item : raw.items()) {
        if (!missing.erase(item.key())) unknown.insert(item.key());
    }
    if (!missing.empty() || !unknown.empty()) {
        corrupt(path, "fields missing: " + python_list(missing) + ", unknown: " + python_list(unknown), fix);
    }
    return SidecarReader(path, raw, fix).read();
}

std::optional<EngineSidecar> load_sidecar(const std::filesystem::path& plan, const std::string& fix) {
    const std::filesystem::path path = sidecar_path(plan);
    if (!std::filesystem::is_regular_file(path)) return std::nullopt;
    return parse_sidecar(path, fix);
}

std::filesystem::path old_engine_path(const std::filesystem::path& plan) {
    return std::filesystem::path(plan).replace_extension(".engine");
}

std::string rebuild_for(const EngineExpectation& expect) {
    return rebuild_command(expect.export_dir, expect.precision, expect.variant, {expect.graph});
}

[[noreturn]] void old_format(const std::filesystem::path& path, const EngineExpectation& expect) {
    throw EngineFileError(path.string() +
                              " is an engine in rapsam-deploy's old format (a header in front of the TensorRT plan), "
                              "which this rapsam-deploy no longer reads",
                          "rebuild it with rapsam-build: " + rebuild_for(expect));
}

std::string unchecked(const std::filesystem::path& plan) {
    return plan.string() + " has no sidecar " + sidecar_path(plan).filename().string() +
           ": nothing says which TensorRT, GPU, plugin library and graph it was built for (a plan built elsewhere, "
           "e.g. by trtexec), so it is loaded unchecked and TensorRT's own compatibility check is all there is";
}

std::string joined(const std::vector<std::string>& parts, const char* separator) {
    std::string text;
    for (const std::string& part : parts) text += (text.empty() ? "" : separator) + part;
    return text;
}

std::vector<int> version_numbers(const std::string& version) {
    std::vector<int> numbers;
    std::size_t start = 0;
    while (numbers.size() < 3 && start <= version.size()) {
        const std::size_t end = std::min(version.find('.', start), version.size());
        const std::string part = version.substr(start, end - start);
        // Up to 9 digits: a part std::stoi cannot hold makes it no version number.
        if (part.empty() || part.size() > 9 || part.find_first_not_of("0123456789") != std::string::npos) return {};
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
    return engine_dir / (graph + ".plan");
}

std::filesystem::path sidecar_path(const std::filesystem::path& plan) {
    std::filesystem::path path = plan;
    return path += ".json";
}

std::string rebuild_command(const std::string& export_dir, const std::string& precision, const std::string& variant,
                            const std::vector<std::string>& graphs) {
    std::string command = "rapsam-build " + export_dir + " --precision " + precision + " --variant " + variant;
    if (!graphs.empty()) command += " --graphs " + joined(graphs, " ");
    return command + " --force";
}

bool same_tensorrt_version(const std::string& a, const std::string& b) {
    const std::vector<int> left = version_numbers(a);
    return left.size() == 3 ? left == version_numbers(b) : a == b;
}

std::vector<std::string> engine_mismatches(const EngineSidecar& sidecar, const EngineExpectation& expect) {
    std::vector<std::string> found;
    if (!same_tensorrt_version(sidecar.tensorrt, expect.tensorrt)) {
        found.push_back("built with TensorRT " + sidecar.tensorrt + " but this is TensorRT " + expect.tensorrt);
    }
    if (sidecar.compute_capability != expect.compute_capability) {
        found.push_back("built for " + gpu_label(sidecar.compute_capability, sidecar.gpu_name) + " but this GPU is " +
                        gpu_label(expect.compute_capability, expect.gpu_name));
    }
    if (sidecar.graph != expect.graph || sidecar.precision != expect.precision || sidecar.variant != expect.variant) {
        found.push_back("it is the " + sidecar.precision + " " + sidecar.variant + "-variant " + sidecar.graph +
                        " engine, not the " + expect.precision + " " + expect.variant + "-variant " + expect.graph +
                        " one");
    }
    if (sidecar.onnx_sha256 != expect.onnx_sha256) {
        found.push_back("the ONNX graph changed since: the engine was built from " + sidecar.onnx_file +
                        " with sha256 " + sidecar.onnx_sha256.substr(0, 12) + kEllipsis +
                        ", the export's manifest now says " + expect.onnx_sha256.substr(0, 12) + kEllipsis);
    }
    if (sidecar.plugin_sha256 != expect.plugin_sha256 && sidecar.variant == expect.variant) {
        found.push_back("plugin library changed: the engine was built with librapsam_trt_plugin sha256 " +
                        sidecar.plugin_sha256.value_or("none").substr(0, 12) + kEllipsis + ", the loaded one has " +
                        expect.plugin_sha256.value_or("none").substr(0, 12) + kEllipsis);
    }
    return found;
}

std::optional<EngineSidecar> read_engine_sidecar(const std::filesystem::path& plan) {
    return load_sidecar(plan, "rebuild it with rapsam-build");
}

void check_engine_dir(const std::filesystem::path& engine_dir, const std::vector<EngineExpectation>& expects) {
    std::vector<std::string> missing;
    std::vector<std::string> old;
    for (const EngineExpectation& expect : expects) {
        const std::filesystem::path plan = engine_path(engine_dir, expect.graph);
        if (std::filesystem::is_regular_file(plan)) continue;
        missing.push_back(expect.graph);
        if (std::filesystem::is_regular_file(old_engine_path(plan))) {
            old.push_back(old_engine_path(plan).filename().string());
        }
    }
    if (missing.empty()) return;
    const std::string note =
        old.empty() ? "" : " (" + joined(old, ", ") + ": rapsam-deploy's old engine format, no longer read)";
    const EngineExpectation& first = expects.front();
    throw EngineFileError("no TensorRT engines for " + joined(missing, ", ") + " in " + engine_dir.string() + note,
                          "build them: " + rebuild_command(first.export_dir, first.precision, first.variant, missing));
}

EngineProvenance check_engine_file(const std::filesystem::path& path, const EngineExpectation& expect) {
    if (!std::filesystem::is_regular_file(path)) {
        if (std::filesystem::is_regular_file(old_engine_path(path))) old_format(old_engine_path(path), expect);
        throw EngineFileError("no TensorRT engine for " + expect.graph + " at " + path.string(),
                              "build it: " + rebuild_for(expect));
    }
    EngineProvenance provenance;
    provenance.sidecar = load_sidecar(path, "rebuild it: " + rebuild_for(expect));
    if (!provenance.sidecar) {
        const std::vector<char> head = read_bytes(path, kOldMagicSize);
        if (head.size() == kOldMagicSize && std::equal(head.begin(), head.end(), kOldMagic)) old_format(path, expect);
        provenance.warning = unchecked(path);
        return provenance;
    }
    const std::vector<std::string> found = engine_mismatches(*provenance.sidecar, expect);
    if (!found.empty()) {
        throw EngineFileError(path.string() + " cannot run here: " + joined(found, "; "),
                              "rebuild it: " + rebuild_for(expect));
    }
    return provenance;
}

EngineFile read_engine_file(const std::filesystem::path& path, const EngineExpectation& expect) {
    EngineFile file{path, check_engine_file(path, expect), read_bytes(path, static_cast<std::size_t>(-1))};
    if (!file.provenance.sidecar) return file;
    const EngineSidecar& sidecar = *file.provenance.sidecar;
    const std::string name = sidecar_path(path).filename().string();
    if (static_cast<std::int64_t>(file.plan.size()) != sidecar.plan_bytes) {
        throw EngineFileError(path.string() + " is truncated or was replaced: its sidecar " + name + " says " +
                                  std::to_string(sidecar.plan_bytes) + " bytes, the file has " +
                                  std::to_string(file.plan.size()),
                              "rebuild it: " + rebuild_for(expect));
    }
    if (detail::sha256(file.plan.data(), file.plan.size()) != sidecar.plan_sha256) {
        throw EngineFileError(path.string() +
                                  " is corrupt or was replaced: its sha256 differs from the one its sidecar " + name +
                                  " recorded",
                              "rebuild it: " + rebuild_for(expect));
    }
    return file;
}

EngineFileError refused_by_tensorrt(const EngineFile& file, const EngineExpectation& expect, const std::string& why) {
    const std::string what =
        file.provenance.sidecar
            ? "TensorRT could not deserialise the " + expect.graph + " engine " + file.path.string() + " (" + why + ")"
            : "TensorRT refused " + file.path.string() +
                  ", a plan without a sidecar: it was probably built by another TensorRT version or for another GPU (" +
                  why + ")";
    return EngineFileError(what, "rebuild it: " + rebuild_for(expect));
}

}  // namespace rapsam
