// libFuzzer target: an engine's JSON sidecar (<graph>.plan.json) beside a 4-byte plan, read and
// checked as the segmenter does before TensorRT sees a byte (read_engine_file), and on its own
// (read_engine_sidecar). An EngineFileError is the answer to bad input; anything else is a
// finding. The sidecar API takes paths, so each input is written to a scratch folder.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "rapsam/engine_file.h"
#include "rapsam/error.h"
#include "reference_sidecar.h"

namespace {

std::filesystem::path scratch;

void write(const std::filesystem::path& path, const char* data, std::size_t size) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(data, static_cast<std::streamsize>(size));
    if (!file.flush()) std::abort();
}

// In memory where there is a tmpfs: written to disk, each input cost ten times its parsing.
std::filesystem::path scratch_parent() {
    return std::filesystem::is_directory("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                     : std::filesystem::temp_directory_path();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    std::string folder = (scratch_parent() / "rapsam-fuzz-sidecar-XXXXXX").string();
    if (!mkdtemp(folder.data())) std::abort();
    scratch = folder;
    write(scratch / "decoder.plan", "ftrt", 4);
    std::atexit([] { std::filesystem::remove_all(scratch); });
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::filesystem::path plan = scratch / "decoder.plan";
    write(rapsam::sidecar_path(plan), reinterpret_cast<const char*>(data), size);
    static const rapsam::EngineExpectation expect = rapsam::test::reference_expectation();
    try {
        rapsam::read_engine_sidecar(plan);
    } catch (const rapsam::EngineFileError&) {
    }
    try {
        rapsam::read_engine_file(plan, expect);
    } catch (const rapsam::EngineFileError&) {
    }
    return 0;
}
