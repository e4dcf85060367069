// SPDX-License-Identifier: Apache-2.0
// SecretBytes: key material that wipes itself on every exit path.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ipsec {

// Owns secret bytes. The storage is wiped (explicit_bzero) when destroyed,
// assigned over or moved from. Never printed by logging helpers.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::span<const uint8_t> data) : data_(data.begin(), data.end()) {}
  // Takes the vector's contents and wipes the source.
  explicit SecretBytes(std::vector<uint8_t>&& data);
  SecretBytes(const SecretBytes& other) : data_(other.data_) {}
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(const SecretBytes& other);
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  ~SecretBytes() { wipe(); }

  const uint8_t* data() const { return data_.data(); }
  uint8_t* data() { return data_.data(); }
  size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  std::span<const uint8_t> view() const { return data_; }
  void wipe();

  // Constant time in the length of the shorter buffer; sizes are not secret.
  friend bool operator==(const SecretBytes& a, const SecretBytes& b) {
    return constant_time_equal(a.view(), b.view());
  }
  static bool constant_time_equal(std::span<const uint8_t> a, std::span<const uint8_t> b);

 private:
  std::vector<uint8_t> data_;
};

// Wipes any buffer; use for temporaries that held key material.
void secure_wipe(void* p, size_t n);

}  // namespace ipsec
