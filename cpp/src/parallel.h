// Post-processing upsamples every query's mask to the full image size, which takes milliseconds
// per query: the work is spread over the CPU's cores.
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

// Cores to use when the caller says `threads` (0 or less: every core).
inline std::size_t worker_count(int threads) {
    return threads > 0 ? static_cast<std::size_t>(threads) : std::max(1u, std::thread::hardware_concurrency());
}

// Calls fn(i, worker) for every i in [0, count) on up to `workers` threads, `worker` in
// [0, workers) naming the thread (for per-thread state); the first exception thrown is rethrown
// here after every thread has stopped.
template <typename Function>
void parallel_for(std::size_t count, std::size_t workers, const Function& fn) {
    workers = std::max<std::size_t>(1, std::min(count, workers));
    if (workers == 1) {
        for (std::size_t i = 0; i < count; ++i) fn(i, std::size_t{0});
        return;
    }
    std::atomic<std::size_t> next{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    const auto work = [&](std::size_t worker) {
        for (std::size_t i = next++; i < count; i = next++) {
            try {
                fn(i, worker);
            } catch (...) {
                const std::lock_guard<std::mutex> lock(error_mutex);
                if (!error) error = std::current_exception();
            }
        }
    };
    std::vector<std::thread> threads;
    for (std::size_t w = 1; w < workers; ++w) threads.emplace_back(work, w);
    work(0);
    for (std::thread& thread : threads) thread.join();
    if (error) std::rethrow_exception(error);
}

// fn(i) for every i in [0, count), on one thread per core.
template <typename Function>
void parallel_for(std::size_t count, const Function& fn) {
    parallel_for(count, worker_count(0), [&](std::size_t i, std::size_t) { fn(i); });
}

}  // namespace rapsam::detail

#endif  // RAPSAM_SRC_PARALLEL_H
