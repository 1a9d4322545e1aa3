// Post-processing upsamples every query's mask to the full image size, which takes milliseconds
// per query: queries are independent, so they are spread over the CPU's cores.
#ifndef RAPSAM_SRC_PARALLEL_H
#define RAPSAM_SRC_PARALLEL_H

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace rapsam::detail {

// Calls fn(i) for every i in [0, count), on up to one thread per core; the first exception
// thrown is rethrown here after every thread has stopped.
template <typename Function>
void parallel_for(std::size_t count, const Function& fn) {
    const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
    const std::size_t workers = std::min(count, cores);
    if (workers <= 1) {
        for (std::size_t i = 0; i < count; ++i) fn(i);
        return;
    }
    std::atomic<std::size_t> next{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    const auto work = [&] {
        for (std::size_t i = next++; i < count; i = next++) {
            try {
                fn(i);
            } catch (...) {
                const std::lock_guard<std::mutex> lock(error_mutex);
                if (!error) error = std::current_exception();
            }
        }
    };
    std::vector<std::thread> threads;
    for (std::size_t w = 1; w < workers; ++w) threads.emplace_back(work);
    work();
    for (std::thread& thread : threads) thread.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace rapsam::detail

#endif  // RAPSAM_SRC_PARALLEL_H
