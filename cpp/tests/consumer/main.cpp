// Uses librapsam through its installed headers: pre-processing, post-processing, the contract,
// and an error from the Segmenter (no export here). Prints "rapsam consumer ok" on success.
#include <rapsam/rapsam.h>

#include <iostream>
#include <vector>

int main() {
    const std::vector<std::uint8_t> pixels(3 * 40 * 30, 200);
    const rapsam::EncoderInput input =
        rapsam::preprocess({pixels.data(), 40, 30, 0}, rapsam::ResizePolicy::long_edge(64));
    const std::vector<float> logits(16 * 16, 1.0f);
    const rapsam::Mask mask =
        rapsam::threshold(rapsam::upsample_mask(logits.data(), 16, 16, input.meta), input.meta.original);
    if (input.meta.padded.width != 64 || mask.width != 40 || rapsam::contract::graphs().size() != 5) {
        std::cerr << "unexpected results\n";
        return 1;
    }
    try {
        rapsam::Segmenter segmenter("no-such-export");
        std::cerr << "the Segmenter should have refused a missing export\n";
        return 1;
    } catch (const rapsam::Error& error) {  // thrown in librapsam, caught here: the type is shared
        std::cout << "Segmenter: " << error.problem() << "\n";
    }
    std::cout << "rapsam consumer ok (TensorRT: " << (rapsam::tensorrt_available() ? "yes" : "no") << ")\n";
    return 0;
}
