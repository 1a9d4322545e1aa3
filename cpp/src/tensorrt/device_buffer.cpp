#include "device_buffer.h"

#include <utility>

#include "cuda_call.h"

namespace rapsam::detail {

DeviceBuffer::~DeviceBuffer() {
    if (data_ != nullptr) cudaFree(data_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), capacity_(std::exchange(other.capacity_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
        if (data_ != nullptr) cudaFree(data_);
        data_ = std::exchange(other.data_, nullptr);
        capacity_ = std::exchange(other.capacity_, 0);
    }
    return *this;
}

void* DeviceBuffer::reserve(std::size_t bytes, cudaStream_t stream) {
    if (bytes <= capacity_ && data_ != nullptr) return data_;
    cuda_call(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    if (data_ != nullptr) cuda_call(cudaFree(data_), "cudaFree");
    data_ = nullptr;
    capacity_ = 0;
    // Never zero bytes: TensorRT wants a valid address even for empty tensors.
    cuda_call(cudaMalloc(&data_, bytes > 0 ? bytes : 1), "cudaMalloc");
    capacity_ = bytes;
    return data_;
}

}  // namespace rapsam::detail
