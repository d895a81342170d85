// DeviceArray: the CUDA backend's array -- a view (offset, shape, strides) of a block of
// device memory shared by all views of it (std::shared_ptr, so the block returns to the
// caching allocator when the last view dies).
//
// It mirrors what ember's Python side expects of a backend array: `.shape` (tuple),
// `.ndim`, `.dtype` (a NumPy dtype) -- exposed by the bindings -- and strides counted in
// *elements* (not bytes), which may be 0 (broadcast). Kernels take the raw pointer
// `data()` (already offset) plus shape/strides, so any view works without a copy.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/common.cuh"

namespace ember::cuda {

// A block of device memory from the caching allocator (allocator.h). Freed on destruction.
struct Storage {
  void* ptr = nullptr;
  size_t bytes = 0;
  int device = 0;
  Storage(size_t bytes, int device);  // allocator.cu
  ~Storage();                          // allocator.cu: returns the block to the cache
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

class DeviceArray {
 public:
  DeviceArray() = default;
  // A new contiguous (C-order) array, uninitialised.
  DeviceArray(std::vector<int64_t> shape, DType dtype, int device = 0)
      : shape_(std::move(shape)), dtype_(dtype) {
    const size_t bytes = checked_bytes(shape_, dtype);
    strides_ = contiguous_strides(shape_);
    storage_ = std::make_shared<Storage>(std::max<size_t>(bytes, 1), device);
  }
  // A view sharing `base`'s storage.
  DeviceArray(const DeviceArray& base, int64_t offset, std::vector<int64_t> shape,
              std::vector<int64_t> strides)
      : storage_(base.storage_), offset_(offset), shape_(std::move(shape)),
        strides_(std::move(strides)), dtype_(base.dtype_) {}

  const std::vector<int64_t>& shape() const { return shape_; }
  const std::vector<int64_t>& strides() const { return strides_; }  // in elements
  int64_t offset() const { return offset_; }                         // in elements
  int ndim() const { return static_cast<int>(shape_.size()); }
  DType dtype() const { return dtype_; }
  int device() const { return storage_ ? storage_->device : 0; }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t s : shape_) n *= s;
    return n;
  }
  bool is_contiguous() const { return strides_ == contiguous_strides(shape_); }
  // The address of element [0, 0, ...] of this view.
  void* data() const {
    return static_cast<char*>(storage_->ptr) + offset_ * static_cast<int64_t>(itemsize(dtype_));
  }
  template <typename T>
  T* data_as() const { return static_cast<T*>(data()); }
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  // The bytes of a C-order array of `shape`. Throws std::invalid_argument (ValueError) for a
  // negative dimension, or a size beyond 63 bits: the product would wrap around and a huge
  // shape would get a small block. The product of the nonzero dimensions is bounded too, as
  // the strides (contiguous_strides) are built from it even when a dimension is 0.
  static size_t checked_bytes(const std::vector<int64_t>& shape, DType dtype) {
    const int64_t limit =
        std::numeric_limits<int64_t>::max() / static_cast<int64_t>(itemsize(dtype));
    int64_t span = 1;  // product of max(dimension, 1)
    bool empty = false;
    for (int64_t s : shape) {
      if (s < 0) throw std::invalid_argument("negative dimension in shape " + shape_str(shape));
      empty = empty || s == 0;
      const int64_t f = std::max<int64_t>(s, 1);
      if (span > limit / f)
        throw std::invalid_argument("an array of shape " + shape_str(shape) + " and dtype " +
                                    dtype_name(dtype) + " is too large (its size in bytes "
                                    "does not fit in 64 bits)");
      span *= f;
    }
    return empty ? 0 : static_cast<size_t>(span) * itemsize(dtype);
  }

  static std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
    std::vector<int64_t> s(shape.size(), 1);
    for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i)
      s[i] = s[i + 1] * std::max<int64_t>(shape[i + 1], 1);
    return s;
  }

 private:
  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;
  std::vector<int64_t> shape_, strides_;
  DType dtype_ = DType::Float32;
};

}  // namespace ember::cuda

namespace ember::checks {

// How the shared boundary checks (csrc/checks.h) read a DeviceArray.
template <>
struct ArrayTraits<ember::cuda::DeviceArray> {
  using A = ember::cuda::DeviceArray;
  static Shape shape(const A& a) { return a.shape(); }
  static Kind kind(const A& a) {
    switch (a.dtype()) {
      case ember::cuda::DType::Bool: return Kind::Bool;
      case ember::cuda::DType::Int64: return Kind::Int64;
      case ember::cuda::DType::Float32: return Kind::Float32;
      case ember::cuda::DType::Float64: return Kind::Float64;
    }
    return Kind::Other;
  }
  static std::string dtype_name(const A& a) { return ember::cuda::dtype_name(a.dtype()); }
  static bool contiguous(const A& a) { return a.is_contiguous(); }
};

}  // namespace ember::checks
