// Segmenter on TensorRT: the Python runtime's predictors (panoptic.py, prompt.py) over the
// engines of an export directory, with the engine checks of tensorrt_backend.py.
#include "rapsam/segmenter.h"

#include <NvInferRuntime.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "../npy.h"
#include "cuda_call.h"
#include "device_buffer.h"
#include "engine.h"
#include "rapsam/engine_file.h"
#include "rapsam/error.h"
#include "rapsam/prompt.h"
#include "tensorrt_env.h"

namespace rapsam {

using detail::cuda_call;
using detail::DeviceTensor;
using detail::Shape;

namespace {

std::size_t element_count(const Shape& shape) {
    std::size_t count = 1;
    for (const std::int64_t d : shape) count *= static_cast<std::size_t>(d);
    return count;
}

// A CUDA stream that is destroyed with its owner, also when a constructor throws.
class Stream {
public:
    Stream() { cuda_call(cudaStreamCreateWithFlags(&handle_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags"); }
    ~Stream() { cudaStreamDestroy(handle_); }
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    cudaStream_t get() const { return handle_; }

private:
    cudaStream_t handle_ = nullptr;
};

void check_option(const std::string& value, const std::string& a, const std::string& b, const char* what) {
    if (value != a && value != b)
        throw Error("unknown " + std::string(what) + " '" + value + "'", "use " + a + " or " + b);
}

}  // namespace

class Segmenter::Impl {
public:
    Impl(const std::filesystem::path& export_dir, const SegmenterOptions& options);
    ~Impl();
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    PanopticPrediction panoptic(const ImageView& image);
    void set_image(const ImageView& image);
    PromptPrediction prompt(const std::vector<Point>& points, const std::vector<Box>& boxes);

    Manifest manifest;

private:
    void check_engines();
    detail::Engine& engine(const std::string& graph);
    DeviceTensor upload(const std::string& key, const void* host, const Shape& shape, std::size_t element_size);
    std::vector<float> download(const DeviceTensor& tensor);
    // Run `graph`; its outputs go to buffers named "<prefix>.<output>".
    std::map<std::string, DeviceTensor> run(const std::string& graph, const std::map<std::string, DeviceTensor>& inputs,
                                            const std::string& prefix);
    DeviceTensor encode(const ImageView& image, const std::string& prefix, ImageMeta& meta);

    SegmenterOptions options_;
    std::filesystem::path export_dir_;
    std::filesystem::path engine_dir_;
    std::map<std::string, EngineExpectation> expect_;
    // Destroyed in reverse order: buffers, then engines, then the runtime that made them.
    std::unique_ptr<nvinfer1::IRuntime> runtime_;
    std::unique_ptr<Stream> stream_;
    std::map<std::string, std::unique_ptr<detail::Engine>> engines_;
    detail::DeviceBuffer scratch_;  // activation memory, shared by the engines (they run in turn)
    std::map<std::string, detail::DeviceBuffer> buffers_;
    DeviceTensor object_queries_;
    DeviceTensor object_attn_mask_;
    DeviceTensor prompt_features_;  // from set_image
    ImageMeta prompt_meta_;
};

Segmenter::Impl::Impl(const std::filesystem::path& export_dir, const SegmenterOptions& options)
    : manifest(read_manifest(export_dir)), options_(options), export_dir_(export_dir) {
    check_option(options_.precision, "fp16", "fp32", "precision");
    check_option(options_.variant, "standard", "plugin", "variant");
    detail::Logger& logger = detail::tensorrt_logger();
    const std::string version = detail::tensorrt_version();
    const detail::GpuIdentity gpu = detail::use_gpu(options_.device);
    std::optional<std::string> plugin_sha256;
    if (options_.variant == "plugin") {
        const std::filesystem::path plugin =
            options_.plugin_library.empty() ? detail::default_plugin_library() : options_.plugin_library;
        plugin_sha256 = detail::load_plugin_library(plugin);
    }
    for (const contract::GraphSpec& spec : contract::graphs()) {
        EngineExpectation& expect = expect_[spec.name];
        expect.tensorrt = version;
        expect.gpu_name = gpu.name;
        expect.compute_capability = gpu.compute_capability;
        expect.precision = options_.precision;
        expect.variant = options_.variant;
        expect.graph = spec.name;
        expect.onnx_sha256 = manifest.artifact(spec.name, options_.variant, options_.precision).sha256;
        expect.plugin_sha256 = plugin_sha256;
        expect.export_dir = export_dir.string();
    }
    engine_dir_ = options_.engine_dir.empty() ? default_engine_dir(export_dir, options_.precision, options_.variant)
                                              : options_.engine_dir;
    check_engines();
    runtime_.reset(nvinfer1::createInferRuntime(logger));
    if (!runtime_) throw Error("TensorRT could not create a runtime (TensorRT: " + logger.last_error() + ")");
    stream_ = std::make_unique<Stream>();

    // The panoptic path's constant inputs, uploaded once: the learned object queries, and an
    // attention mask that masks nothing (object queries attend to each other).
    const std::int64_t n = manifest.num_queries;
    const std::vector<float> queries =
        detail::read_npy_float32(export_dir / manifest.object_queries_file, manifest.object_queries_shape);
    object_queries_ = upload("object_queries", queries.data(), {1, n, contract::kChannels}, sizeof(float));
    const std::vector<std::uint8_t> no_mask(static_cast<std::size_t>(n * n), 0);
    object_attn_mask_ = upload("object_attn_mask", no_mask.data(), {n, n}, 1);
}

Segmenter::Impl::~Impl() {
    // Queued work ends before the memory it uses goes.
    cudaStreamSynchronize(stream_->get());
}

// Every engine's sidecar up front, so that a wrong engine fails here rather than mid-call; a plan
// without a sidecar (built elsewhere) is loaded with a warning on stderr, as Python warns.
void Segmenter::Impl::check_engines() {
    std::vector<EngineExpectation> expects;  // in the contract's order, as Python names them
    for (const contract::GraphSpec& spec : contract::graphs()) expects.push_back(expect_.at(spec.name));
    check_engine_dir(engine_dir_, expects);
    for (const auto& [graph, expect] : expect_) {
        const EngineProvenance provenance = check_engine_file(engine_path(engine_dir_, graph), expect);
        if (!provenance.warning.empty()) std::cerr << "rapsam: warning: " << provenance.warning << std::endl;
    }
}

detail::Engine& Segmenter::Impl::engine(const std::string& graph) {
    auto found = engines_.find(graph);
    if (found == engines_.end()) {
        const EngineExpectation& expect = expect_.at(graph);
        const EngineFile file = read_engine_file(engine_path(engine_dir_, graph), expect);
        auto loaded = std::make_unique<detail::Engine>(*runtime_, file, expect, contract::graph(graph));
        found = engines_.emplace(graph, std::move(loaded)).first;
    }
    return *found->second;
}

DeviceTensor Segmenter::Impl::upload(const std::string& key, const void* host, const Shape& shape,
                                     std::size_t element_size) {
    const std::size_t bytes = element_count(shape) * element_size;
    void* data = buffers_[key].reserve(bytes, stream_->get());
    cuda_call(cudaMemcpyAsync(data, host, bytes, cudaMemcpyHostToDevice, stream_->get()), "cudaMemcpyAsync");
    // Pageable host memory: the copy must finish before the caller's vector goes away.
    cuda_call(cudaStreamSynchronize(stream_->get()), "cudaStreamSynchronize");
    return {data, shape};
}

std::vector<float> Segmenter::Impl::download(const DeviceTensor& tensor) {
    std::vector<float> host(element_count(tensor.shape));
    cuda_call(
        cudaMemcpyAsync(host.data(), tensor.data, host.size() * sizeof(float), cudaMemcpyDeviceToHost, stream_->get()),
        "cudaMemcpyAsync");
    cuda_call(cudaStreamSynchronize(stream_->get()), "cudaStreamSynchronize");
    return host;
}

std::map<std::string, DeviceTensor> Segmenter::Impl::run(const std::string& graph,
                                                         const std::map<std::string, DeviceTensor>& inputs,
                                                         const std::string& prefix) {
    const contract::GraphSpec& spec = contract::graph(graph);
    detail::Engine& runner = engine(graph);
    std::map<std::string, Shape> shapes;
    for (const auto& [name, tensor] : inputs) shapes[name] = tensor.shape;
    std::map<std::string, DeviceTensor> outputs;
    // Every output of the contract is float32.
    for (const auto& [name, shape] : detail::output_shapes(spec, shapes, manifest.num_classes)) {
        void* data = buffers_[prefix + "." + name].reserve(element_count(shape) * sizeof(float), stream_->get());
        outputs[name] = {data, shape};
    }
    const auto scratch_bytes = static_cast<std::size_t>(runner.prepare(inputs, outputs));
    runner.run(inputs, outputs, stream_->get(), scratch_.reserve(scratch_bytes, stream_->get()));
    return outputs;
}

DeviceTensor Segmenter::Impl::encode(const ImageView& image, const std::string& prefix, ImageMeta& meta) {
    const EncoderInput input = preprocess(image, options_.resize);
    meta = input.meta;
    const Shape shape{1, 3, meta.padded.height, meta.padded.width};
    const DeviceTensor pixels = upload(prefix + ".image", input.image.data(), shape, sizeof(float));
    return run(std::string(contract::kEncoder), {{"image", pixels}}, prefix).at("features");
}

PanopticPrediction Segmenter::Impl::panoptic(const ImageView& image) {
    cuda_call(cudaSetDevice(options_.device), "cudaSetDevice");
    PanopticPrediction result;
    const DeviceTensor features = encode(image, "panoptic", result.meta);
    const int n = manifest.num_queries;
    const auto decoded =
        run(std::string(contract::kDecoder),
            {{"features", features}, {"queries", object_queries_}, {"attn_mask", object_attn_mask_}}, "panoptic");
    const auto adapted =
        run(std::string(contract::kAdapterObject),
            {{"features", features}, {"kernels", decoded.at("kernels")}, {"mask_logits", decoded.at("mask_logits")}},
            "panoptic.object");
    const DeviceTensor& mask_tensor = adapted.at("mask_logits_out");
    const std::vector<float> masks = download(mask_tensor);
    const std::vector<float> classes = download(adapted.at("class_logits"));
    const ClassLogitsView class_view{classes.data(), n, manifest.num_classes + 1};
    const LogitsView mask_view{masks.data(), n, static_cast<int>(mask_tensor.shape[2]),
                               static_cast<int>(mask_tensor.shape[3])};
    Segmentation both = rapsam::segment(class_view, mask_view, result.meta, manifest.num_things, options_.panoptic);
    result.panoptic = std::move(both.panoptic);
    result.instances = std::move(both.instances);
    return result;
}

void Segmenter::Impl::set_image(const ImageView& image) {
    cuda_call(cudaSetDevice(options_.device), "cudaSetDevice");
    prompt_features_ = {};
    prompt_features_ = encode(image, "prompt", prompt_meta_);
}

PromptPrediction Segmenter::Impl::prompt(const std::vector<Point>& points, const std::vector<Box>& boxes) {
    if (prompt_features_.data == nullptr) throw Error("no image set", "call set_image(image) first");
    cuda_call(cudaSetDevice(options_.device), "cudaSetDevice");
    const PromptBoxes normalised = prompt_boxes(points, boxes, prompt_meta_);
    const std::int64_t count = static_cast<std::int64_t>(normalised.boxes.size() / 4);
    const std::vector<std::int64_t> kinds(static_cast<std::size_t>(count), contract::kPromptKindDefault);
    // Prompts do not see each other, as the official inference: True everywhere but the diagonal.
    std::vector<std::uint8_t> attn(static_cast<std::size_t>(count * count), 1);
    for (std::int64_t i = 0; i < count; ++i) attn[static_cast<std::size_t>(i * count + i)] = 0;
    const auto encoded = run(std::string(contract::kPromptEncoder),
                             {{"prompt_boxes", upload("prompt_boxes", normalised.boxes.data(), {1, count, 4}, 4)},
                              {"prompt_kinds", upload("prompt_kinds", kinds.data(), {1, count}, 8)}},
                             "prompt");
    const auto decoded = run(std::string(contract::kDecoder),
                             {{"features", prompt_features_},
                              {"queries", encoded.at("queries")},
                              {"attn_mask", upload("prompt_attn_mask", attn.data(), {count, count}, 1)}},
                             "prompt");
    const auto adapted = run(std::string(contract::kAdapterPrompt),
                             {{"features", prompt_features_}, {"kernels", decoded.at("kernels")}}, "prompt.adapter");
    const DeviceTensor& mask_tensor = adapted.at("mask_logits");
    const std::vector<float> masks = download(mask_tensor);
    const std::vector<float> iou = download(adapted.at("iou"));
    const LogitsView view{masks.data(), static_cast<int>(count), static_cast<int>(mask_tensor.shape[2]),
                          static_cast<int>(mask_tensor.shape[3])};
    return {prompt_masks(iou.data(), view, prompt_meta_), normalised.warnings};
}

Segmenter::Segmenter(const std::filesystem::path& export_dir, const SegmenterOptions& options)
    : impl_(std::make_unique<Impl>(export_dir, options)) {}
Segmenter::~Segmenter() = default;
Segmenter::Segmenter(Segmenter&&) noexcept = default;
Segmenter& Segmenter::operator=(Segmenter&&) noexcept = default;
PanopticPrediction Segmenter::panoptic(const ImageView& image) { return impl_->panoptic(image); }
void Segmenter::set_image(const ImageView& image) { impl_->set_image(image); }
PromptPrediction Segmenter::prompt(const std::vector<Point>& points, const std::vector<Box>& boxes) {
    return impl_->prompt(points, boxes);
}
const Manifest& Segmenter::manifest() const { return impl_->manifest; }

bool tensorrt_available() { return true; }

}  // namespace rapsam
