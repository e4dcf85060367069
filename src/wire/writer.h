// SPDX-License-Identifier: Apache-2.0
// Big-endian writer appending to a byte buffer, with length back-patching.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/bytes.h"

namespace ipsec::wire {

class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}

  size_t size() const { return out_.size(); }
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) { uint_n(v, 2); }
  void u32(uint32_t v) { uint_n(v, 4); }
  void u64(uint64_t v) { uint_n(v, 8); }
  void zeros(size_t n) { out_.insert(out_.end(), n, 0); }
  void bytes(ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }

  // Overwrite a 16/32-bit field written earlier at `at`.
  void patch_u16(size_t at, uint16_t v) {
    out_[at] = static_cast<uint8_t>(v >> 8);
    out_[at + 1] = static_cast<uint8_t>(v);
  }
  void patch_u32(size_t at, uint32_t v) {
    for (size_t i = 0; i < 4; ++i) out_[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  }

 private:
  void uint_n(uint64_t v, size_t n) {
    for (size_t i = n; i-- > 0;) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }

  Bytes& out_;
};

}  // namespace ipsec::wire
