// Typed access to the fields of a JSON object, with a ManifestError that names the file and the
// field (e.g. "manifest.json: model.num_classes is not an integer") for anything missing or
// mistyped, so that every check of a manifest reads as one line.
#ifndef RAPSAM_SRC_JSON_FIELDS_H
#define RAPSAM_SRC_JSON_FIELDS_H

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rapsam::detail {

// Manifests and sidecars nest a few levels; nlohmann::json copies, compares and prints values
// with a stack frame a level, so a file nested 50000 deep (100 KB) overflowed the stack.
constexpr int kMaxJsonDepth = 100;

// `text` parsed as JSON, or none with `error` saying why: malformed, a number beyond double
// (1e400), or nested deeper than kMaxJsonDepth.
std::optional<nlohmann::json> parse_json(std::string_view text, std::string& error);

class JsonFields {
public:
    // `where` is the object's path inside the file ("" for the top level, "model", "artifacts[2]").
    JsonFields(const nlohmann::json& object, std::string source, std::string where);

    const nlohmann::json& get(const char* key) const;
    std::string string(const char* key) const;
    std::int64_t integer(const char* key) const;
    JsonFields object(const char* key) const;
    const nlohmann::json& array(const char* key) const;
    std::vector<std::string> strings(const char* key) const;
    std::vector<double> numbers(const char* key) const;

    // Every key of `required` is present and no key outside `required` and `optional` is.
    void expect_keys(std::initializer_list<const char*> required, std::initializer_list<const char*> optional) const;

    // A ManifestError about field `key` ("<source>: <where>.<key> <problem>").
    [[noreturn]] void fail(const char* key, const std::string& problem) const;

    const std::string& where() const { return where_; }
    const std::string& source() const { return source_; }

private:
    std::string path(const char* key) const;

    const nlohmann::json& object_;
    std::string source_;
    std::string where_;
};

}  // namespace rapsam::detail

#endif  // RAPSAM_SRC_JSON_FIELDS_H
