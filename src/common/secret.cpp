// SPDX-License-Identifier: Apache-2.0
// SecretBytes: key material that wipes itself on every exit path.
#include "common/secret.h"

#include <string.h>

namespace ipsec {

void secure_wipe(void* p, size_t n) {
  if (p != nullptr && n > 0) explicit_bzero(p, n);
}

SecretBytes::SecretBytes(std::vector<uint8_t>&& data) : data_(data.begin(), data.end()) {
  secure_wipe(data.data(), data.size());
  data.clear();
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept : data_(std::move(other.data_)) {
  other.data_.clear();
}

SecretBytes& SecretBytes::operator=(const SecretBytes& other) {
  if (this != &other) {
    wipe();
    data_ = other.data_;
  }
  return *this;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    wipe();
    data_ = std::move(other.data_);
    other.data_.clear();
  }
  return *this;
}

void SecretBytes::wipe() {
  secure_wipe(data_.data(), data_.capacity() ? data_.size() : 0);
  data_.clear();
}

bool SecretBytes::constant_time_equal(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = diff | static_cast<uint8_t>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace ipsec
