// Hard-mask sum pooling on tensor cores: partials[s, b*N+n, c] = sum over the pixels p of slice s
// of [mask_logits[b,n,p] > 0] * features[b,c,p]. See mask_pool_dynconv.cu for the design.
#ifndef RAPSAM_CUDA_POOL_KERNEL_CUH
#define RAPSAM_CUDA_POOL_KERNEL_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include <cstdint>
#include <cstring>

#include "device_math.cuh"

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "the pooling kernel needs sm_80 or newer (bf16 tensor cores)"
#endif

namespace rapsam::cuda {
namespace pool {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / kWarpSize;
constexpr int kQueryTile = 128;    // queries per block: all of RAP-SAM's 100 in one tile
constexpr int kChannelTile = 128;  // channels per block
constexpr int kVectorsPerRow = 8;  // 16-byte loads per staged row and stage
constexpr int kLoadsPerThread = kQueryTile * kVectorsPerRow / kThreads;
constexpr int kFrag = 16;                         // WMMA m = n = k = 16
constexpr int kWarpQueries = 64;                  // warp tile: 64 queries x 32 channels
constexpr int kWarpChannels = 32;
constexpr int kWarpQueryFrags = kWarpQueries / kFrag;
constexpr int kWarpChannelFrags = kWarpChannels / kFrag;
constexpr int kWarpsAlongChannels = kChannelTile / kWarpChannels;
constexpr int kSmemPad = 8;  // keeps rows 16-byte aligned and shifts banks between rows

static_assert(kChannelTile * kVectorsPerRow == kQueryTile * kVectorsPerRow, "same loads for masks and features");
static_assert((kQueryTile / kWarpQueries) * kWarpsAlongChannels == kWarps, "warp tiles cover the block tile");

}  // namespace pool

// fp16: masks and features are exact fp16 tensor-core operands. fp32: the 0/1 masks are exact in
// bf16 and each feature is split into three bf16 terms (hi + mid + lo, 24 significant bits), so
// three bf16 MMAs give fp32 accuracy at twice the TF32 rate.
template <typename T>
struct PoolTraits;

template <>
struct PoolTraits<__half> {
    using Operand = __half;
    static constexpr int kPlanes = 1;
    static constexpr int kVector = 8;  // elements per 16-byte load

    __device__ static Operand operand(float x) { return __float2half_rn(x); }
    __device__ static void split(__half x, Operand (&planes)[kPlanes]) { planes[0] = x; }
};

template <>
struct PoolTraits<float> {
    using Operand = __nv_bfloat16;
    static constexpr int kPlanes = 3;
    static constexpr int kVector = 4;

    __device__ static Operand operand(float x) { return __float2bfloat16_rn(x); }
    __device__ static void split(float x, Operand (&planes)[kPlanes]) {
        planes[0] = __float2bfloat16_rn(x);
        const float rest = x - __bfloat162float(planes[0]);  // exact: fits in the remaining bits
        planes[1] = __float2bfloat16_rn(rest);
        planes[2] = __float2bfloat16_rn(rest - __bfloat162float(planes[1]));
    }
};

template <typename T>
struct PoolLayout {
    using Operand = typename PoolTraits<T>::Operand;
    static constexpr int kStagePixels = PoolTraits<T>::kVector * pool::kVectorsPerRow;
    static constexpr int kLead = kStagePixels + pool::kSmemPad;
    static constexpr int kMaskElems = pool::kQueryTile * kLead;
    static constexpr int kPlaneElems = pool::kChannelTile * kLead;
    static constexpr int kSmemBytes =
        static_cast<int>((kMaskElems + PoolTraits<T>::kPlanes * kPlaneElems) * sizeof(Operand));

    static_assert(kSmemBytes <= 48 * 1024, "static shared memory limit");
    static_assert(kMaskElems * sizeof(Operand) >= pool::kWarps * pool::kFrag * pool::kFrag * sizeof(float),
                  "the mask buffer doubles as the epilogue scratch");
};

template <typename T>
struct PoolParams {
    const T* mask_logits;  // [B,N,P]
    const T* features;     // [B,C,P]
    float* partials;       // [splits, B*N, C]
    int64_t batch;
    int64_t queries;
    int64_t channels;
    int64_t pixels;
    int64_t pixels_per_split;
    int query_tiles;
    bool vectorised;  // 16-byte loads allowed: aligned bases and pixels a multiple of kVector
};

template <typename T>
struct alignas(16) Pack {
    T v[PoolTraits<T>::kVector];
};

template <typename T>
struct Stage {
    Pack<T> mask[pool::kLoadsPerThread];
    Pack<T> features[pool::kLoadsPerThread];
};

// The rows one block reads: `rows` valid rows of `pixels` stride, read in [.., end).
template <typename T>
struct RowBlock {
    const T* base;
    int rows;
    int64_t stride;
    int64_t end;
};

template <typename T>
__device__ __forceinline__ Pack<T> zero_pack() {
    Pack<T> pack;
#pragma unroll
    for (int e = 0; e < PoolTraits<T>::kVector; ++e) {
        pack.v[e] = from_float<T>(0.0f);
    }
    return pack;
}

// One 16-byte load where aligned and whole, else element loads that stop at `end` (zeros after:
// a zero logit is outside the mask, a zero feature adds nothing).
template <typename T>
__device__ __forceinline__ Pack<T> load_pack(const T* row, int64_t p, int64_t end, bool vectorised) {
    constexpr int kVector = PoolTraits<T>::kVector;
    if (vectorised && p + kVector <= end) {
        const uint4 raw = __ldg(reinterpret_cast<const uint4*>(row + p));
        Pack<T> pack;
        memcpy(&pack, &raw, sizeof pack);
        return pack;
    }
    Pack<T> pack = zero_pack<T>();
#pragma unroll
    for (int e = 0; e < kVector; ++e) {
        if (p + e < end) {
            pack.v[e] = row[p + e];
        }
    }
    return pack;
}

// Thread t loads vectors t, t + kThreads, ... of the [rows, kStagePixels] stage: a warp reads
// four whole 128-byte row segments, fully coalesced.
template <typename T>
__device__ __forceinline__ void load_rows(const RowBlock<T>& block, int64_t start, bool vectorised,
                                          Pack<T> (&packs)[pool::kLoadsPerThread]) {
#pragma unroll
    for (int i = 0; i < pool::kLoadsPerThread; ++i) {
        const int v = threadIdx.x + i * pool::kThreads;
        const int row = v / pool::kVectorsPerRow;
        const int col = (v % pool::kVectorsPerRow) * PoolTraits<T>::kVector;
        packs[i] = row < block.rows ? load_pack(block.base + row * block.stride, start + col, block.end, vectorised)
                                    : zero_pack<T>();
    }
}

template <typename T>
struct alignas(sizeof(typename PoolTraits<T>::Operand) * PoolTraits<T>::kVector) OperandPack {
    typename PoolTraits<T>::Operand v[PoolTraits<T>::kVector];
};

// Registers -> shared memory: logits become exact 0/1 operands (the hard mask exists only here),
// features become their operand planes.
template <typename T>
__device__ __forceinline__ void store_stage(const Stage<T>& stage, typename PoolTraits<T>::Operand* mask_smem,
                                            typename PoolTraits<T>::Operand* feature_smem) {
    using Traits = PoolTraits<T>;
    using Layout = PoolLayout<T>;
    using Operand = typename Traits::Operand;
    const Operand one = Traits::operand(1.0f);
    const Operand zero = Traits::operand(0.0f);
#pragma unroll
    for (int i = 0; i < pool::kLoadsPerThread; ++i) {
        const int v = threadIdx.x + i * pool::kThreads;
        const int offset = (v / pool::kVectorsPerRow) * Layout::kLead + (v % pool::kVectorsPerRow) * Traits::kVector;
        OperandPack<T> mask;
        OperandPack<T> planes[Traits::kPlanes];
#pragma unroll
        for (int e = 0; e < Traits::kVector; ++e) {
            mask.v[e] = to_float(stage.mask[i].v[e]) > 0.0f ? one : zero;
            Operand split[Traits::kPlanes];
            Traits::split(stage.features[i].v[e], split);
#pragma unroll
            for (int plane = 0; plane < Traits::kPlanes; ++plane) {
                planes[plane].v[e] = split[plane];
            }
        }
        *reinterpret_cast<OperandPack<T>*>(mask_smem + offset) = mask;
#pragma unroll
        for (int plane = 0; plane < Traits::kPlanes; ++plane) {
            *reinterpret_cast<OperandPack<T>*>(feature_smem + plane * Layout::kPlaneElems + offset) = planes[plane];
        }
    }
}

using Accumulators = nvcuda::wmma::fragment<nvcuda::wmma::accumulator, pool::kFrag, pool::kFrag, pool::kFrag,
                                            float>[pool::kWarpQueryFrags][pool::kWarpChannelFrags];

// One stage of MMAs for this warp's 64 x 32 tile: masks [64 x K] (row-major) times features
// [K x 32] (stored [channel][pixel], i.e. column-major); query fragments past N are skipped.
template <typename T>
__device__ __forceinline__ void mma_stage(const typename PoolTraits<T>::Operand* mask_smem,
                                          const typename PoolTraits<T>::Operand* feature_smem, int warp_query,
                                          int warp_channel, int valid_queries, Accumulators& acc) {
    namespace wmma = nvcuda::wmma;
    using Traits = PoolTraits<T>;
    using Layout = PoolLayout<T>;
    using Operand = typename Traits::Operand;
#pragma unroll
    for (int k = 0; k < Layout::kStagePixels; k += pool::kFrag) {
        wmma::fragment<wmma::matrix_b, pool::kFrag, pool::kFrag, pool::kFrag, Operand, wmma::col_major>
            features[Traits::kPlanes][pool::kWarpChannelFrags];
#pragma unroll
        for (int plane = 0; plane < Traits::kPlanes; ++plane) {
#pragma unroll
            for (int j = 0; j < pool::kWarpChannelFrags; ++j) {
                const int channel = warp_channel * pool::kWarpChannels + j * pool::kFrag;
                wmma::load_matrix_sync(features[plane][j],
                                       feature_smem + plane * Layout::kPlaneElems + channel * Layout::kLead + k,
                                       Layout::kLead);
            }
        }
#pragma unroll
        for (int i = 0; i < pool::kWarpQueryFrags; ++i) {
            const int query = warp_query * pool::kWarpQueries + i * pool::kFrag;
            if (query >= valid_queries) {
                continue;  // warp-uniform
            }
            wmma::fragment<wmma::matrix_a, pool::kFrag, pool::kFrag, pool::kFrag, Operand, wmma::row_major> mask;
            wmma::load_matrix_sync(mask, mask_smem + query * Layout::kLead + k, Layout::kLead);
#pragma unroll
            for (int plane = 0; plane < Traits::kPlanes; ++plane) {
#pragma unroll
                for (int j = 0; j < pool::kWarpChannelFrags; ++j) {
                    wmma::mma_sync(acc[i][j], mask, features[plane][j], acc[i][j]);
                }
            }
        }
    }
}

// Accumulators -> partials through a per-warp 16 x 16 scratch, so that ragged N and C edges are
// written element by element (WMMA stores whole fragments only).
template <typename T>
__device__ __forceinline__ void store_partials(Accumulators& acc, float* scratch, float* partials,
                                               int64_t channels, int warp_query, int warp_channel, int valid_queries,
                                               int valid_channels) {
    namespace wmma = nvcuda::wmma;
    const int lane = threadIdx.x % kWarpSize;
    const int row = lane / 2;
    const int col = (lane % 2) * (pool::kFrag / 2);
#pragma unroll
    for (int i = 0; i < pool::kWarpQueryFrags; ++i) {
        const int query = warp_query * pool::kWarpQueries + i * pool::kFrag;
        if (query >= valid_queries) {
            continue;
        }
#pragma unroll
        for (int j = 0; j < pool::kWarpChannelFrags; ++j) {
            wmma::store_matrix_sync(scratch, acc[i][j], pool::kFrag, wmma::mem_row_major);
            __syncwarp();
            const int channel = warp_channel * pool::kWarpChannels + j * pool::kFrag + col;
            if (query + row < valid_queries) {
                float* dst = partials + (query + row) * channels + channel;
#pragma unroll
                for (int e = 0; e < pool::kFrag / 2; ++e) {
                    if (channel + e < valid_channels) {
                        dst[e] = scratch[row * pool::kFrag + col + e];
                    }
                }
            }
            __syncwarp();
        }
    }
}

// Grid: x = channel tiles, y = pixel slices (splits), z = batch * query tiles. Each block streams
// its slice of masks and features once, through registers (prefetch of the next stage while the
// tensor cores work on the current one) and shared memory.
template <typename T>
__global__ void __launch_bounds__(pool::kThreads) mask_pool_kernel(PoolParams<T> p) {
    using Layout = PoolLayout<T>;
    using Operand = typename PoolTraits<T>::Operand;
    __shared__ __align__(128) unsigned char smem[Layout::kSmemBytes];
    Operand* mask_smem = reinterpret_cast<Operand*>(smem);
    Operand* feature_smem = mask_smem + Layout::kMaskElems;

    const int64_t channel0 = static_cast<int64_t>(blockIdx.x) * pool::kChannelTile;
    const int64_t split = blockIdx.y;
    const int64_t batch = blockIdx.z / p.query_tiles;
    const int64_t query0 = static_cast<int64_t>(blockIdx.z % p.query_tiles) * pool::kQueryTile;
    const int64_t begin = split * p.pixels_per_split;
    const int64_t end = min_i64(p.pixels, begin + p.pixels_per_split);
    const int valid_queries = static_cast<int>(min_i64(pool::kQueryTile, p.queries - query0));
    const int valid_channels = static_cast<int>(min_i64(pool::kChannelTile, p.channels - channel0));
    const RowBlock<T> masks{p.mask_logits + (batch * p.queries + query0) * p.pixels, valid_queries, p.pixels, end};
    const RowBlock<T> features{p.features + (batch * p.channels + channel0) * p.pixels, valid_channels, p.pixels, end};

    const int warp = threadIdx.x / kWarpSize;
    const int warp_query = warp / pool::kWarpsAlongChannels;
    const int warp_channel = warp % pool::kWarpsAlongChannels;
    Accumulators acc;
#pragma unroll
    for (int i = 0; i < pool::kWarpQueryFrags; ++i) {
#pragma unroll
        for (int j = 0; j < pool::kWarpChannelFrags; ++j) {
            nvcuda::wmma::fill_fragment(acc[i][j], 0.0f);
        }
    }

    const int64_t stages = begin < end ? (end - begin + Layout::kStagePixels - 1) / Layout::kStagePixels : 0;
    Stage<T> stage;
    if (stages > 0) {
        load_rows(masks, begin, p.vectorised, stage.mask);
        load_rows(features, begin, p.vectorised, stage.features);
    }
    for (int64_t s = 0; s < stages; ++s) {
        store_stage(stage, mask_smem, feature_smem);
        __syncthreads();
        if (s + 1 < stages) {
            const int64_t next = begin + (s + 1) * Layout::kStagePixels;
            load_rows(masks, next, p.vectorised, stage.mask);
            load_rows(features, next, p.vectorised, stage.features);
        }
        mma_stage<T>(mask_smem, feature_smem, warp_query, warp_channel, valid_queries, acc);
        __syncthreads();
    }

    float* scratch = reinterpret_cast<float*>(smem) + warp * pool::kFrag * pool::kFrag;
    float* partials = p.partials + ((split * p.batch + batch) * p.queries + query0) * p.channels + channel0;
    store_partials<T>(acc, scratch, partials, p.channels, warp_query, warp_channel, valid_queries, valid_channels);
}

}  // namespace rapsam::cuda

#endif  // RAPSAM_CUDA_POOL_KERNEL_CUH
