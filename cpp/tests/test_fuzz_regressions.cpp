// Every input with which cpp/fuzz (benchmarks/fuzz.sh) crashed a parser, or that reviewing its
// fix turned up, as bytes: each must now give the library's own error. Needs no reference data.
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "check.h"
#include "image_io.h"
#include "npy.h"
#include "rapsam/engine_file.h"
#include "rapsam/error.h"
#include "rapsam/manifest.h"
#include "reference_sidecar.h"

namespace {

using nlohmann::json;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The message of the exception of type E that `call` throws; a failure if it throws none.
template <typename E, typename Call>
std::string error_of(Call call) {
    try {
        call();
    } catch (const E& error) {
        return error.what();
    }
    throw rapsam::test::Failure("expected an exception, none was thrown");
}

std::vector<char> chars(const std::string& text) { return {text.begin(), text.end()}; }

// A version-1 .npy file: magic, version, header length, `header`, then `data`.
std::vector<char> npy_file(const std::string& header, const std::string& data = "") {
    std::string file = std::string("\x93NUMPY\x01\x00", 8);
    file += static_cast<char>(header.size() & 0xff);
    file += static_cast<char>(header.size() >> 8);
    return chars(file + header + data);
}

std::string npy_error(const std::vector<char>& data) {
    return error_of<rapsam::Error>([&] { rapsam::detail::parse_npy(data, "queries.npy"); });
}

// A folder for engine files, removed with it.
class ScratchDir {
public:
    ScratchDir() {
        std::string name = (std::filesystem::temp_directory_path() / "rapsam-test-XXXXXX").string();
        if (!mkdtemp(name.data())) throw rapsam::test::Failure("cannot make a scratch folder");
        path_ = name;
    }
    ~ScratchDir() { std::filesystem::remove_all(path_); }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

void write(const std::filesystem::path& path, const std::string& data) {
    std::ofstream file(path, std::ios::binary);
    file << data;
}

// A sidecar as write_engine writes it for the 4-byte plan "ftrt", built for `reference_expectation()`.
json good_sidecar() {
    return {{"tensorrt", "10.13.0"},
            {"gpu_name", "NVIDIA H100"},
            {"compute_capability", "sm_90"},
            {"precision", "fp16"},
            {"variant", "plugin"},
            {"graph", "decoder"},
            {"onnx_file", "decoder.plugin.fp16.onnx"},
            {"onnx_sha256", rapsam::test::digest("ab")},
            {"plugin_sha256", rapsam::test::digest("cd")},
            {"profile", {{"queries", {{"min", {1, 1, 256}}, {"opt", {1, 100, 256}}, {"max", {2, 256, 256}}}}}},
            {"rapsam_deploy", "0.1.0"},
            {"created", "2026-01-01T00:00:00+00:00"},
            {"plan_bytes", 4},
            {"plan_sha256", "8896a90fbcafd2194f702c1233a779afe4e7351573d7c225a2a3c78816a45b4f"},
            {"format", "rapsam-deploy/engine-sidecar"},
            {"version", 1}};
}

// What check_engine_file makes of the plan "ftrt" beside `sidecar`: "" if it passes.
std::string sidecar_error(const std::string& sidecar) {
    const ScratchDir dir;
    const std::filesystem::path plan = dir.path() / "decoder.plan";
    write(plan, "ftrt");
    write(rapsam::sidecar_path(plan), sidecar);
    try {
        rapsam::read_engine_file(plan, rapsam::test::reference_expectation());
    } catch (const rapsam::EngineFileError& error) {
        return error.what();
    }
    return "";
}

std::string image_error(const std::string& data) {
    const std::vector<std::uint8_t> bytes(data.begin(), data.end());
    return error_of<rapsam::Error>([&] { rapsam::demo::decode_image(bytes, "image.bmp"); });
}

}  // namespace

// UBSan: memcpy from the null data() of an empty array (numpy writes (0, 256) arrays so).
TEST(fuzz_regressions, npy_empty_array_has_no_values) {
    const auto array =
        rapsam::detail::parse_npy(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 256), }\n"), "q");
    CHECK((array.shape == std::vector<std::int64_t>{0, 256}) && array.values<float>().empty());
}

// std::invalid_argument from std::stoll escaped: a shape of other than digits.
TEST(fuzz_regressions, npy_shape_of_other_than_sizes) {
    for (const char* shape : {"(2, x)", "(-1,)", "(1e3,)", "(99999999999999999999,)"}) {
        const std::string header = std::string("{'descr': '<f4', 'fortran_order': False, 'shape': ") + shape + ", }";
        const std::string error = npy_error(npy_file(header));
        CHECK_MSG(contains(error, "queries.npy has a shape that is not a tuple of sizes"), error);
    }
}

// ASan: a version-2 header length read 2 bytes past the end of a 10-byte file.
TEST(fuzz_regressions, npy_cut_in_its_header_length) {
    const std::string error = npy_error(chars(std::string("\x93NUMPY\x02\x00\x05\x00", 10)));
    CHECK_MSG(contains(error, "queries.npy is truncated"), error);
    CHECK(contains(npy_error(chars(std::string("\x93NUMPY\x04\x00\x05\x00\x00\x00", 10))), "format version 4"));
}

// Accepted with no data: the size in bytes wrapped around to 0 (2^58 * 16 * 4 bytes).
TEST(fuzz_regressions, npy_shape_too_large) {
    for (const char* shape : {"(288230376151711744, 16)", "(999999999999999999, 999999999999999999)"}) {
        const std::string header = std::string("{'descr': '<f4', 'fortran_order': False, 'shape': ") + shape + ", }";
        const std::string error = npy_error(npy_file(header));
        CHECK_MSG(contains(error, "queries.npy has a shape too large"), error);
    }
}

// nlohmann::json's out_of_range (not its parse_error) escaped: a number beyond double.
TEST(fuzz_regressions, json_number_beyond_double) {
    const std::string manifest = error_of<rapsam::ManifestError>(
        [] { rapsam::parse_manifest(R"({"format": "rapsam-deploy/manifest", "version": 1e400})", "export", "m.json"); });
    CHECK_MSG(contains(manifest, "m.json is not valid JSON") && contains(manifest, "number overflow"), manifest);
    const std::string sidecar = sidecar_error(R"({"compute_capability": -1e400, "version": 1})");
    CHECK_MSG(contains(sidecar, "decoder.plan.json is a corrupt engine sidecar") && contains(sidecar, "overflow"),
              sidecar);
}

// ASan stack-overflow: a sidecar's version nested 50000 lists deep (100 KB), copied and printed
// for the message that refuses it (found reviewing the fuzz targets, run through them by hand).
TEST(fuzz_regressions, json_nested_too_deep) {
    const std::string deep = std::string(50000, '[') + std::string(50000, ']');
    const std::string sidecar = sidecar_error(R"({"format": "rapsam-deploy/engine-sidecar", "version": )" + deep + "}");
    CHECK_MSG(contains(sidecar, "is a corrupt engine sidecar (nested deeper than 100 levels)"), sidecar);
    const std::string text = R"({"format": "rapsam-deploy/manifest", "version": 1, "model": )" + deep + "}";
    const std::string manifest =
        error_of<rapsam::ManifestError>([&] { rapsam::parse_manifest(text, "export", "m.json"); });
    CHECK_MSG(contains(manifest, "m.json is not valid JSON (nested deeper than 100 levels)"), manifest);
}

// std::out_of_range from std::stoi escaped: a TensorRT version part beyond int.
TEST(fuzz_regressions, sidecar_tensorrt_version_beyond_int) {
    CHECK(sidecar_error(good_sidecar().dump()).empty());
    json sidecar = good_sidecar();
    sidecar["tensorrt"] = "10.99999999999.0";
    const std::string error = sidecar_error(sidecar.dump());
    CHECK_MSG(contains(error, "built with TensorRT 10.99999999999.0 but this is TensorRT 10.13.0"), error);
}

// cv::Exception escaped: a BMP header of 100000 x 100000 pixels, over OpenCV's 2^30.
TEST(fuzz_regressions, image_header_over_opencv_pixel_limit) {
    std::string bmp("BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00", 18);
    bmp += std::string("\xa0\x86\x01\x00\xa0\x86\x01\x00\x01\x00\x18\x00", 12);  // width, height, planes, bits
    bmp += std::string(24, '\0');
    const std::string error = image_error(bmp);
    CHECK_MSG(contains(error, "image.bmp cannot be decoded: its header says more pixels than OpenCV decodes"), error);
}

// abort() in GDCM, Debian's OpenCV's DICOM decoder: "DICM" at offset 128 of a 134-byte file.
TEST(fuzz_regressions, image_of_a_format_the_demo_does_not_read) {
    std::string dicom(134, '\0');
    dicom.replace(0, 2, "\x89P");
    dicom[13] = '\x76';
    dicom[41] = '\xf7';
    dicom.replace(114, 20, std::string("NG\r\n\x1a\n\0\0IEN\0\x08IDICM`\x82", 20));
    const std::string error = image_error(dicom);
    CHECK_MSG(contains(error, "image.bmp cannot be decoded as an image (corrupt, truncated or not an image)"), error);
}
