#include "json_fields.h"

#include <algorithm>

#include "rapsam/error.h"

namespace rapsam::detail {

namespace {
const char* const kFix = "re-export the directory with rapsam-export";

std::string join(const std::vector<std::string>& names) {
    std::string text;
    for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
    return "[" + text + "]";
}

// Thrown from the parser's callback to stop at the first level too deep.
struct TooDeep {};

}  // namespace

std::optional<nlohmann::json> parse_json(std::string_view text, std::string& error) {
    const auto limit_depth = [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
        if (depth > kMaxJsonDepth) throw TooDeep{};
        return true;
    };
    try {
        return nlohmann::json::parse(text.begin(), text.end(), limit_depth);
    } catch (const nlohmann::json::exception& failure) {  // parse_error, or out_of_range for 1e400
        error = failure.what();
    } catch (const TooDeep&) {
        error = "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    }
    return std::nullopt;
}

JsonFields::JsonFields(const nlohmann::json& object, std::string source, std::string where)
    : object_(object), source_(std::move(source)), where_(std::move(where)) {
    if (!object_.is_object()) {
        throw ManifestError(source_ + ": " + (where_.empty() ? "the manifest" : where_) + " is not a JSON object",
                            kFix);
    }
}

std::string JsonFields::path(const char* key) const { return where_.empty() ? key : where_ + "." + key; }

void JsonFields::fail(const char* key, const std::string& problem) const {
    throw ManifestError(source_ + ": " + path(key) + " " + problem, kFix);
}

const nlohmann::json& JsonFields::get(const char* key) const {
    const auto found = object_.find(key);
    if (found == object_.end()) fail(key, "is missing");
    return *found;
}

std::string JsonFields::string(const char* key) const {
    const nlohmann::json& value = get(key);
    if (!value.is_string()) fail(key, "is not a string");
    return value.get<std::string>();
}

std::int64_t JsonFields::integer(const char* key) const {
    const nlohmann::json& value = get(key);
    if (!value.is_number_integer()) fail(key, "is not an integer");
    return value.get<std::int64_t>();
}

JsonFields JsonFields::object(const char* key) const { return JsonFields(get(key), source_, path(key)); }

const nlohmann::json& JsonFields::array(const char* key) const {
    const nlohmann::json& value = get(key);
    if (!value.is_array()) fail(key, "is not a list");
    return value;
}

std::vector<std::string> JsonFields::strings(const char* key) const {
    std::vector<std::string> values;
    for (const nlohmann::json& item : array(key)) {
        if (!item.is_string()) fail(key, "is not a list of strings");
        values.push_back(item.get<std::string>());
    }
    return values;
}

std::vector<double> JsonFields::numbers(const char* key) const {
    std::vector<double> values;
    for (const nlohmann::json& item : array(key)) {
        if (!item.is_number()) fail(key, "is not a list of numbers");
        values.push_back(item.get<double>());
    }
    return values;
}

void JsonFields::expect_keys(std::initializer_list<const char*> required,
                             std::initializer_list<const char*> optional) const {
    std::vector<std::string> missing;
    for (const char* key : required) {
        if (!object_.contains(key)) missing.emplace_back(key);
    }
    std::vector<std::string> unknown;
    for (const auto& item : object_.items()) {
        const auto is_key = [&](const char* key) { return item.key() == key; };
        if (std::none_of(required.begin(), required.end(), is_key) &&
            std::none_of(optional.begin(), optional.end(), is_key)) {
            unknown.push_back(item.key());
        }
    }
    if (missing.empty() && unknown.empty()) return;
    const std::string what = where_.empty() ? "the manifest" : where_;
    throw ManifestError(source_ + ": " + what + " is missing or has unknown fields (missing: " + join(missing) +
                            ", unknown: " + join(unknown) + ")",
                        kFix);
}

}  // namespace rapsam::detail
