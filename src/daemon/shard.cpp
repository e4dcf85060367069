// SPDX-License-Identifier: Apache-2.0
// IKE SA to worker steering: the classic BPF program and its C++ twin.
#include "daemon/shard.h"

namespace ipsec::daemon {

namespace {

constexpr size_t kIkeHeaderLen = 28;  // RFC 7296 §3.1
constexpr uint8_t kFlagInitiator = 0x08;

sock_filter stmt(uint16_t code, uint32_t k) { return sock_filter{code, 0, 0, k}; }
sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return sock_filter{code, jt, jf, k};
}

}  // namespace

uint32_t shard_of(ByteView p, size_t off, uint32_t count) {
  if (count <= 1 || p.size() < off + kIkeHeaderLen) return 0;
  bool spi_r_zero = true;
  for (size_t i = 8; i < 16; ++i) spi_r_zero = spi_r_zero && p[off + i] == 0;
  const bool from_initiator = (p[off + 19] & kFlagInitiator) != 0;
  const size_t last = from_initiator && !spi_r_zero ? 15 : 7;
  return p[off + last] % count;
}

// Jump offsets count from the next instruction. A load beyond the packet would end the
// program with 0 as well; the explicit length check makes "too short" visible.
std::vector<sock_filter> shard_program(size_t off, uint32_t count) {
  const auto k = [off](size_t at) { return static_cast<uint32_t>(off + at); };
  return {
      /* 0 */ stmt(BPF_LD | BPF_W | BPF_LEN, 0),
      /* 1 */ jump(BPF_JMP | BPF_JGE | BPF_K, k(kIkeHeaderLen), 1, 0),
      /* 2 */ stmt(BPF_RET | BPF_K, 0),
      /* 3 */ stmt(BPF_LD | BPF_B | BPF_ABS, k(19)),                   // flags
      /* 4 */ jump(BPF_JMP | BPF_JSET | BPF_K, kFlagInitiator, 0, 6),  // I clear: SPIi
      /* 5 */ stmt(BPF_LD | BPF_W | BPF_ABS, k(8)),                    // SPIr[0..3]
      /* 6 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2),                // nonzero: SPIr
      /* 7 */ stmt(BPF_LD | BPF_W | BPF_ABS, k(12)),                   // SPIr[4..7]
      /* 8 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0),                // zero: SPIi
      /* 9 */ stmt(BPF_LD | BPF_B | BPF_ABS, k(15)),                   // SPIr's last byte
      /* 10 */ jump(BPF_JMP | BPF_JA, 1, 0, 0),
      /* 11 */ stmt(BPF_LD | BPF_B | BPF_ABS, k(7)),  // SPIi's last byte
      /* 12 */ stmt(BPF_ALU | BPF_MOD | BPF_K, count == 0 ? 1 : count),
      /* 13 */ stmt(BPF_RET | BPF_A, 0),
  };
}

uint32_t worker_for_connection(std::string_view name, uint32_t count) {
  uint32_t h = 2166136261u;
  for (char c : name) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return count <= 1 ? 0 : h % count;
}

}  // namespace ipsec::daemon
