// Device memory that only grows: the Segmenter keeps one per tensor and reuses it across calls,
// so steady-state calls allocate nothing.
#ifndef RAPSAM_SRC_TENSORRT_DEVICE_BUFFER_H
#define RAPSAM_SRC_TENSORRT_DEVICE_BUFFER_H

#include <cuda_runtime_api.h>

#include <cstddef>

namespace rapsam::detail {

class DeviceBuffer {
public:
    DeviceBuffer() = default;
    ~DeviceBuffer();
    DeviceBuffer(DeviceBuffer&& other) noexcept;
    DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;

    // At least `bytes` of device memory; a larger buffer replaces the old one only after
    // `stream` has finished with it.
    void* reserve(std::size_t bytes, cudaStream_t stream);
    void* data() const { return data_; }

private:
    void* data_ = nullptr;
    std::size_t capacity_ = 0;
};

}  // namespace rapsam::detail

#endif  // RAPSAM_SRC_TENSORRT_DEVICE_BUFFER_H
