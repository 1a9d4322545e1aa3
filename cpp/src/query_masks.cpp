// See query_masks.h. Within a band every loop is a straight pass that the compiler vectorises
// (one copy per ISA, picked at load time); sigmoid uses a polynomial exp within 2 ulp of
// PyTorch's, so results differ from Python's only at near-ties, as with std::exp before.
#include "query_masks.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

#include "parallel.h"
#include "resize.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RAPSAM_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RAPSAM_SIMD_CLONES
#endif

namespace rapsam::detail {

namespace {

constexpr int kBandRows = 16;

// exp(x) as Cephes' expf: 2^n * P(r), r = x - n ln 2 in two parts, n = round(x / ln 2); no
// branches, so that loops over it vectorise.
inline float exp_polynomial(float x) {
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.7f ? 88.7f : x;
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer.
    const float nf = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - nf * 0.693359375f;
    r = r - nf * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    const std::int32_t bits = (static_cast<std::int32_t>(nf) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

RAPSAM_SIMD_CLONES void sigmoid(const float* logits, std::size_t n, float* probs) {
    for (std::size_t i = 0; i < n; ++i) probs[i] = 1.0f / (1.0f + exp_polynomial(-logits[i]));
}

// One kept query's turn in the contest over n pixels; returns its pixels with probability >= 0.5.
RAPSAM_SIMD_CLONES std::int64_t contest(const float* probs, std::size_t n, float score, std::int64_t k, float* best,
                                         std::int64_t* owner, float* owner_prob) {
    std::int64_t area = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const float p = probs[i];
        const float value = p * score;
        const bool better = value > best[i];
        area += p >= 0.5f;
        best[i] = better ? value : best[i];
        owner[i] = better ? k : owner[i];
        owner_prob[i] = better ? p : owner_prob[i];
    }
    return area;
}

struct Inside {
    double sum = 0.0;
    std::int64_t count = 0;
};

// One row of an instance mask: writes binary and ORs cols; the probabilities inside it summed
// in 16 float lanes (a vectorisable order) and the row's total added in double.
RAPSAM_SIMD_CLONES Inside inside(const float* logits, const float* probs, std::size_t n, std::uint8_t* binary,
                                 std::uint8_t* cols) {
    float lanes[16] = {};
    std::int64_t count = 0;
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (std::size_t j = 0; j < 16; ++j) {
            const bool in = logits[i + j] > 0.0f;
            binary[i + j] = in;
            cols[i + j] |= in;
            lanes[j] += in ? probs[i + j] : 0.0f;
            count += in;
        }
    }
    Inside out;
    for (; i < n; ++i) {
        const bool in = logits[i] > 0.0f;
        binary[i] = in;
        cols[i] |= in;
        out.sum += in ? probs[i] : 0.0f;
        count += in;
    }
    for (const float lane : lanes) out.sum += lane;
    out.count = count;
    return out;
}

// What one thread accumulates over the bands it takes.
struct Worker {
    MaskUpsampler upsampler;
    std::vector<float> logits;
    std::vector<float> probs;
    std::vector<std::int64_t> original_area;  // [K]
    std::vector<double> sums;                 // [U]
    std::vector<std::int64_t> counts;         // [U]
    std::vector<std::uint8_t> cols;           // [U,W]
};

}  // namespace

void query_masks(LogitsView masks, const ImageMeta& meta, const QueryMaskJobs& jobs, const QueryMaskOutputs& out,
                 int threads) {
    const int height = meta.original.height;
    const std::size_t width = meta.original.width;
    const std::size_t pixels = static_cast<std::size_t>(height) * width;
    const std::size_t kept = jobs.panoptic_queries.size();
    const std::size_t unique = jobs.instance_queries.size();
    if (jobs.panoptic_scores.size() != kept) throw std::invalid_argument("one score per panoptic query");
    // query -> (panoptic slot, instance slot), each -1 if that result does not need it.
    std::map<int, std::pair<long, long>> slots;
    for (std::size_t k = 0; k < kept; ++k) slots[jobs.panoptic_queries[k]] = {static_cast<long>(k), -1};
    for (std::size_t j = 0; j < unique; ++j) {
        slots.emplace(jobs.instance_queries[j], std::pair<long, long>{-1, -1}).first->second.second =
            static_cast<long>(j);
    }
    for (const auto& [query, slot] : slots) {
        if (query < 0 || query >= masks.count) throw std::out_of_range("query index outside the mask logits");
    }
    const std::set<int> distinct(jobs.instance_queries.begin(), jobs.instance_queries.end());
    if (!std::is_sorted(jobs.panoptic_queries.begin(), jobs.panoptic_queries.end()) ||
        std::adjacent_find(jobs.panoptic_queries.begin(), jobs.panoptic_queries.end()) !=
            jobs.panoptic_queries.end() ||
        distinct.size() != unique) {
        throw std::invalid_argument("panoptic queries must be ascending and distinct, instance queries distinct");
    }
    if (meta.resized.height > meta.padded.height || meta.resized.width > meta.padded.width) {
        throw std::invalid_argument("the resized image must fit in the padded input");
    }

    std::vector<float> best;
    if (kept > 0) {
        best.assign(pixels, -1.0f);  // below any score x probability
        std::fill(out.owner, out.owner + pixels, 0);
        std::fill(out.owner_prob, out.owner_prob + pixels, 0.0f);
    }
    const std::size_t bands = (static_cast<std::size_t>(height) + kBandRows - 1) / kBandRows;
    const std::size_t workers = std::min(worker_count(threads), std::max<std::size_t>(bands, 1));
    std::vector<Worker> state;
    for (std::size_t w = 0; w < workers; ++w) {
        state.push_back({MaskUpsampler({masks.height, masks.width}, meta), std::vector<float>(kBandRows * width),
                         std::vector<float>(kBandRows * width), std::vector<std::int64_t>(kept, 0),
                         std::vector<double>(unique, 0.0), std::vector<std::int64_t>(unique, 0),
                         std::vector<std::uint8_t>(unique * width, 0)});
    }
    const std::size_t plane = static_cast<std::size_t>(masks.height) * masks.width;
    parallel_for(bands, workers, [&](std::size_t band, std::size_t w) {
        Worker& s = state[w];
        const int begin = static_cast<int>(band) * kBandRows;
        const int end = std::min(height, begin + kBandRows);
        const std::size_t offset = static_cast<std::size_t>(begin) * width;
        const std::size_t n = static_cast<std::size_t>(end - begin) * width;
        for (const auto& [query, slot] : slots) {
            const auto [k, j] = slot;
            s.upsampler.rows(masks.data + static_cast<std::size_t>(query) * plane, begin, end, s.logits.data());
            sigmoid(s.logits.data(), n, s.probs.data());
            if (k >= 0) {
                s.original_area[k] += contest(s.probs.data(), n, jobs.panoptic_scores[k], k, best.data() + offset,
                                              out.owner + offset, out.owner_prob + offset);
            }
            if (j < 0) continue;
            std::uint8_t* binary = out.binary[j] + offset;
            for (int y = begin; y < end; ++y) {
                const std::size_t row = static_cast<std::size_t>(y - begin) * width;
                const Inside in = inside(s.logits.data() + row, s.probs.data() + row, width, binary + row,
                                         s.cols.data() + static_cast<std::size_t>(j) * width);
                s.sums[j] += in.sum;
                s.counts[j] += in.count;
                out.rows[static_cast<std::size_t>(j) * height + y] = in.count > 0;
            }
        }
    });
    for (std::size_t k = 0; k < kept; ++k) {
        out.original_area[k] = 0;
        for (const Worker& s : state) out.original_area[k] += s.original_area[k];
    }
    for (std::size_t j = 0; j < unique; ++j) {
        double sum = 0.0;
        std::int64_t count = 0;
        for (const Worker& s : state) {
            sum += s.sums[j];
            count += s.counts[j];
        }
        // (sigmoid * binary).sum() / (area + 1e-6), in float32 as in Python.
        out.scores[j] = static_cast<float>(sum) / (static_cast<float>(count) + 1e-6f);
        std::uint8_t* cols = out.cols + j * width;
        std::fill(cols, cols + width, 0);
        for (const Worker& s : state) {
            for (std::size_t x = 0; x < width; ++x) cols[x] |= s.cols[j * width + x];
        }
    }
}

}  // namespace rapsam::detail
