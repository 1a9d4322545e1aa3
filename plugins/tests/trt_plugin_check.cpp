// Loads librapsam_trt_plugin.so the way TensorRT does (dlopen + getCreators) and checks what
// needs no GPU: registration (name, namespace, version), fields and their serialisation, formats,
// output dtype, configuration checks and workspace sizing. Usage: trt_plugin_check <plugin.so>
#include <NvInferRuntime.h>
#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "rapsam/mask_pool_dynconv.h"

namespace {

using nvinfer1::DataType;
using nvinfer1::DynamicPluginTensorDesc;

int g_failures = 0;

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "FAILED: %s\n", what);
        ++g_failures;
    }
}

struct PluginDeleter {
    void operator()(nvinfer1::IPluginV3* plugin) const { delete plugin; }
};
using PluginPtr = std::unique_ptr<nvinfer1::IPluginV3, PluginDeleter>;

DynamicPluginTensorDesc tensor(std::vector<int64_t> dims, DataType type) {
    DynamicPluginTensorDesc desc{};
    desc.desc.dims.nbDims = static_cast<int32_t>(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) {
        desc.desc.dims.d[i] = dims[i];
    }
    desc.desc.type = type;
    desc.desc.format = nvinfer1::TensorFormat::kLINEAR;
    desc.min = desc.desc.dims;
    desc.opt = desc.desc.dims;
    desc.max = desc.desc.dims;
    return desc;
}

// mask [B,N,H,W], features [B,C,H,W], kernels [B,N,C], the 20 KernelUpdator tensors, output.
std::vector<DynamicPluginTensorDesc> io(int64_t b, int64_t n, int64_t c, int64_t h, int64_t w, DataType type) {
    std::vector<DynamicPluginTensorDesc> descs = {tensor({b, n, h, w}, type), tensor({b, c, h, w}, type),
                                                  tensor({b, n, c}, type)};
    const int64_t rows[RAPSAM_FUSED_OP_NUM_WEIGHTS] = {2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    const bool matrix[RAPSAM_FUSED_OP_NUM_WEIGHTS] = {true, false, true, false, true, false, true,
                                                      false, false, false, false, false, false, false,
                                                      false, false, true, false, false, false};
    for (int i = 0; i < RAPSAM_FUSED_OP_NUM_WEIGHTS; ++i) {
        descs.push_back(matrix[i] ? tensor({rows[i] * c, c}, DataType::kFLOAT) : tensor({rows[i] * c}, DataType::kFLOAT));
    }
    descs.push_back(tensor({b, n, c}, type));
    return descs;
}

void check_build(nvinfer1::IPluginV3OneBuild& build) {
    check(build.getNbOutputs() == 1, "one output");
    for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
        auto descs = io(1, 100, 256, 200, 336, type);
        for (int32_t pos = 0; pos < 24; ++pos) {
            check(build.supportsFormatCombination(pos, descs.data(), 23, 1), "fp32/fp16 linear formats supported");
        }
        std::vector<DataType> in_types(23, DataType::kFLOAT);
        in_types[0] = in_types[1] = in_types[2] = type;
        DataType out_type = DataType::kINT32;
        check(build.getOutputDataTypes(&out_type, 1, in_types.data(), 23) == 0 && out_type == type,
              "output dtype follows the activations");
        check(build.configurePlugin(descs.data(), 23, descs.data() + 23, 1) == 0, "configures [1,100,256,200,336]");
        check(build.getWorkspaceSize(descs.data(), 23, descs.data() + 23, 1) > 0, "asks for a workspace");
    }
    auto mixed = io(1, 100, 256, 64, 64, DataType::kHALF);
    mixed[3].desc.type = DataType::kHALF;
    check(!build.supportsFormatCombination(3, mixed.data(), 23, 1), "KernelUpdator tensors stay fp32");
    mixed[3].desc.type = DataType::kFLOAT;
    mixed[0].desc.format = nvinfer1::TensorFormat::kHWC8;
    check(!build.supportsFormatCombination(0, mixed.data(), 23, 1), "only linear formats");
    auto wrong = io(2, 100, 256, 64, 64, DataType::kFLOAT);
    wrong[3].desc.dims.d[0] = 256;  // dynamic_layer.weight must be [2C, C]
    check(build.configurePlugin(wrong.data(), 23, wrong.data() + 23, 1) != 0, "rejects a wrong weight shape");
    auto dynamic = io(-1, -1, 256, -1, -1, DataType::kHALF);
    dynamic[0].max.d[0] = 4;
    dynamic[0].max.d[1] = 300;
    dynamic[0].max.d[2] = 512;
    dynamic[0].max.d[3] = 512;
    check(build.configurePlugin(dynamic.data(), 23, dynamic.data() + 23, 1) == 0, "accepts dynamic B, N, H, W");
}

void check_serialisation(nvinfer1::IPluginCreatorV3One& creator, nvinfer1::IPluginV3& plugin) {
    auto* runtime = static_cast<nvinfer1::IPluginV3OneRuntime*>(
        plugin.getCapabilityInterface(nvinfer1::PluginCapabilityType::kRUNTIME));
    const nvinfer1::PluginFieldCollection* fields = runtime->getFieldsToSerialize();
    check(fields != nullptr && fields->nbFields == 1 && std::strcmp(fields->fields[0].name, "eps") == 0 &&
              *static_cast<const float*>(fields->fields[0].data) == 2e-5f,
          "serialises eps");
    PluginPtr restored(creator.createPlugin("restored", fields, nvinfer1::TensorRTPhase::kRUNTIME));
    check(restored != nullptr, "recreated from its serialised fields");
    PluginPtr attached(runtime->attachToContext(nullptr));
    check(attached != nullptr, "attaches to a context");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s librapsam_trt_plugin.so\n", argv[0]);
        return 2;
    }
    void* library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
        std::fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    using GetCreators = nvinfer1::IPluginCreatorInterface* const* (*)(int32_t&);
    auto get_creators = reinterpret_cast<GetCreators>(dlsym(library, "getCreators"));
    check(get_creators != nullptr && dlsym(library, "setLoggerFinder") != nullptr, "exports the entry points");
    if (get_creators == nullptr) {
        return 1;
    }
    int32_t count = 0;
    nvinfer1::IPluginCreatorInterface* const* creators = get_creators(count);
    check(count == 1 && std::strcmp(creators[0]->getInterfaceInfo().kind, "PLUGIN CREATOR_V3ONE") == 0,
          "one IPluginCreatorV3One");
    auto& creator = *static_cast<nvinfer1::IPluginCreatorV3One*>(creators[0]);
    check(std::strcmp(creator.getPluginName(), "RapSamMaskPoolDynConv") == 0 &&
              std::strcmp(creator.getPluginNamespace(), "rapsam") == 0 &&
              std::strcmp(creator.getPluginVersion(), "1") == 0,
          "RapSamMaskPoolDynConv / rapsam / 1");

    const float eps = 2e-5f;
    const nvinfer1::PluginField field("eps", &eps, nvinfer1::PluginFieldType::kFLOAT32, 1);
    const nvinfer1::PluginFieldCollection fields{1, &field};
    PluginPtr plugin(creator.createPlugin("node", &fields, nvinfer1::TensorRTPhase::kBUILD));
    check(plugin != nullptr, "creates the plugin");
    if (plugin == nullptr) {
        return 1;
    }
    auto* core =
        static_cast<nvinfer1::IPluginV3OneCore*>(plugin->getCapabilityInterface(nvinfer1::PluginCapabilityType::kCORE));
    check(std::strcmp(core->getPluginName(), "RapSamMaskPoolDynConv") == 0 &&
              std::strcmp(core->getPluginNamespace(), "rapsam") == 0,
          "the plugin names itself as its creator");
    check_build(*static_cast<nvinfer1::IPluginV3OneBuild*>(
        plugin->getCapabilityInterface(nvinfer1::PluginCapabilityType::kBUILD)));
    check_serialisation(creator, *plugin);

    std::printf(g_failures == 0 ? "trt_plugin_check: all checks passed\n" : "trt_plugin_check: %d failed\n",
                g_failures);
    return g_failures == 0 ? 0 : 1;
}
