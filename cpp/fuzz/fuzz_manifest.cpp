// libFuzzer target: manifest.json text, as rapsam::read_manifest gets it from an export directory.
// A ManifestError is the answer to bad input; any other exception, a crash or a sanitizer report
// is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "rapsam/error.h"
#include "rapsam/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const rapsam::Manifest manifest = rapsam::parse_manifest(text, "export", "manifest.json");
        // What the segmenter looks up next, on what was accepted.
        for (const rapsam::Artifact& item : manifest.artifacts) manifest.artifact(item.graph, item.variant, item.precision);
    } catch (const rapsam::ManifestError&) {
    }
    return 0;
}
