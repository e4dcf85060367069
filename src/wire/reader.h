// SPDX-License-Identifier: Apache-2.0
// Bounds-checked big-endian reader over a byte view; never casts onto the packet.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/bytes.h"

namespace ipsec::wire {

// Reads fail softly: past the end they yield zero/empty and clear ok(), so a caller reads
// a fixed layout and checks once. offset() is absolute (base + position) for errors.
class Reader {
 public:
  explicit Reader(ByteView data, size_t base = 0) : data_(data), base_(base) {}

  bool ok() const { return ok_; }
  size_t remaining() const { return data_.size() - pos_; }
  size_t offset() const { return base_ + pos_; }
  bool empty() const { return remaining() == 0; }

  uint8_t u8() { return static_cast<uint8_t>(uint_n(1)); }
  uint16_t u16() { return static_cast<uint16_t>(uint_n(2)); }
  uint32_t u32() { return static_cast<uint32_t>(uint_n(4)); }
  uint64_t u64() { return uint_n(8); }

  ByteView view(size_t n) {
    if (!take(n)) return {};
    return data_.subspan(pos_ - n, n);
  }
  Bytes bytes(size_t n) {
    ByteView v = view(n);
    return Bytes(v.begin(), v.end());
  }
  Bytes rest() { return bytes(remaining()); }
  void skip(size_t n) { take(n); }

 private:
  bool take(size_t n) {
    if (!ok_ || n > remaining()) {
      ok_ = false;
      return false;
    }
    pos_ += n;
    return true;
  }
  uint64_t uint_n(size_t n) {
    if (!take(n)) return 0;
    uint64_t v = 0;
    for (size_t i = pos_ - n; i < pos_; ++i) v = (v << 8) | data_[i];
    return v;
  }

  ByteView data_;
  size_t base_ = 0;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace ipsec::wire
