// SPDX-License-Identifier: Apache-2.0
// IKE fragmentation (RFC 7383): our encrypted messages split into SKF payloads when they
// would not fit a path's MTU, and the peer's fragments put back together. Pure: the engine
// verifies each fragment before it is kept (receive.cpp, Engine::open) and sends what
// seal_fragments makes (ike_sa.cpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "crypto/sk_cipher.h"
#include "ike/io.h"
#include "wire/message.h"

namespace ipsec::ike::v2 {

// Limits on one message, ours or the peer's: the count of fragments, the bytes of
// plaintext put together, and how long a partial message is kept.
inline constexpr size_t kMaxFragments = 64;
inline constexpr size_t kMaxReassembled = 64 * 1024;
inline constexpr Millis kReassemblyTimeout{30'000};

// The largest IKE message (header to ICV, without the IP and UDP headers or the non-ESP
// marker) that fits a datagram of `fragment_size` bytes on the wire (RFC 7383 §2.5.1).
size_t ike_message_budget(size_t fragment_size, bool ipv6, bool non_esp_marker);

// An encrypted message as one SK datagram if it fits `budget` bytes, otherwise as SKF
// fragments (RFC 7383 §2.5) of at most `budget` bytes each, numbered from 1; the first
// carries the first inner payload's type. Each fragment is sealed on its own, its IKE
// header and SKF header (with Fragment Number and Total Fragments) as associated data.
// budget 0: never fragment.
Result<std::vector<Bytes>> seal_fragments(const wire::Header& header,
                                          const std::vector<wire::Payload>& inner,
                                          crypto::SkCipher& cipher, size_t budget);

// One SK or SKF payload (`envelope`, its data replaced) sealed around `plain`, with the
// final lengths in the associated data: the datagram as it goes out.
Result<Bytes> seal_envelope(const wire::Header& header, wire::Payload envelope, ByteView plain,
                            crypto::SkCipher& cipher);

// The peer's fragments of one message at a time (RFC 7383 §2.6). The engine hands it only
// fragments of the message it expects that verified; a fragment of another message, or
// one arriving after kReassemblyTimeout, starts anew.
class Reassembly {
 public:
  enum class Verdict {
    Kept,      // stored; more to come
    Complete,  // every fragment is here: take() the message
    Dropped,   // not kept: why() says so
  };
  Verdict add(uint32_t message_id, bool response, const wire::SkfPayload& fragment, Bytes plain,
              Millis now);
  const std::string& why() const { return why_; }
  // After Complete: the first inner payload's type and the whole plaintext; then empty.
  std::pair<wire::PayloadType, Bytes> take();
  bool empty() const { return total_ == 0; }
  size_t bytes() const { return bytes_; }

 private:
  void reset();
  Verdict drop(std::string why);

  uint32_t message_id_ = 0;
  bool response_ = false;
  uint16_t total_ = 0;  // 0: nothing held
  wire::PayloadType first_ = wire::PayloadType::None;
  std::vector<std::optional<Bytes>> parts_;
  size_t have_ = 0, bytes_ = 0;
  Millis started_{0};
  std::string why_;
};

}  // namespace ipsec::ike::v2
