// SPDX-License-Identifier: Apache-2.0
// IKE fragmentation (RFC 7383 §2.5, §2.6).
#include "ike/v2/fragments.h"

#include <algorithm>

#include "wire/names.h"

namespace ipsec::ike::v2 {
namespace {

constexpr size_t kIpv4Header = 20, kIpv6Header = 40, kUdpHeader = 8, kNonEspMarker = 4;
// The IKE header, and the SKF payload's generic header with its two numbers.
constexpr size_t kIkeHeader = 28, kSkfHeader = 8;

}  // namespace

// The lengths are final before sealing (encoded with a placeholder body), so the
// associated data is exactly what goes out.
Result<Bytes> seal_envelope(const wire::Header& header, wire::Payload envelope, ByteView plain,
                            crypto::SkCipher& cipher) {
  const size_t sealed_size = cipher.sealed_size(plain.size());
  std::visit(
      [&](auto& p) {
        if constexpr (requires { p.data; }) p.data = Bytes(sealed_size);
      },
      envelope);
  Bytes out = wire::encode(wire::Message{header, {std::move(envelope)}});
  const size_t aad_size = out.size() - sealed_size;
  auto sealed = cipher.seal(ByteView(out).first(aad_size), plain);
  if (!sealed) return fail(sealed.error());
  if (sealed->size() != sealed_size) return fail("SK payload: sealed size mismatch");
  std::copy(sealed->begin(), sealed->end(), out.begin() + static_cast<long>(aad_size));
  return out;
}

namespace {

// The most plaintext one fragment can carry within `budget` bytes (0 if none).
size_t fragment_capacity(const crypto::SkCipher& cipher, size_t budget) {
  if (budget <= kIkeHeader + kSkfHeader) return 0;
  size_t n = budget - kIkeHeader - kSkfHeader;
  // sealed_size grows with n (IV, padding to the block, ICV): step down until it fits.
  while (n > 0 && kIkeHeader + kSkfHeader + cipher.sealed_size(n) > budget) --n;
  return n;
}

}  // namespace

size_t ike_message_budget(size_t fragment_size, bool ipv6, bool non_esp_marker) {
  const size_t below = (ipv6 ? kIpv6Header : kIpv4Header) + kUdpHeader +
                       (non_esp_marker ? kNonEspMarker : 0);
  return fragment_size > below ? fragment_size - below : 0;
}

Result<std::vector<Bytes>> seal_fragments(const wire::Header& header,
                                          const std::vector<wire::Payload>& inner,
                                          crypto::SkCipher& cipher, size_t budget) {
  const Bytes plain = wire::encode_payloads(inner);
  const auto first = inner.empty() ? wire::PayloadType::None : wire::payload_type(inner.front());
  const size_t whole = kIkeHeader + 4 + cipher.sealed_size(plain.size());
  if (budget == 0 || whole <= budget) {
    auto one = seal_envelope(header, wire::SkPayload{first, {}}, plain, cipher);
    if (!one) return fail(one.error());
    return std::vector<Bytes>{std::move(*one)};
  }
  const size_t capacity = fragment_capacity(cipher, budget);
  if (capacity == 0)
    return fail("IKE fragmentation: a fragment of " + std::to_string(budget) +
                " bytes has no room for data");
  const size_t total = (plain.size() + capacity - 1) / capacity;
  if (total > kMaxFragments)
    return fail("IKE fragmentation: a message of " + std::to_string(plain.size()) +
                " bytes would need " + std::to_string(total) + " fragments, at most " +
                std::to_string(kMaxFragments));
  std::vector<Bytes> out;
  out.reserve(total);
  const ByteView all(plain);
  for (size_t i = 0; i < total; ++i) {
    const size_t at = i * capacity;
    const ByteView chunk = all.subspan(at, std::min(capacity, all.size() - at));
    wire::SkfPayload f{i == 0 ? first : wire::PayloadType::None, static_cast<uint16_t>(i + 1),
                       static_cast<uint16_t>(total), {}};
    auto sealed = seal_envelope(header, std::move(f), chunk, cipher);
    if (!sealed) return fail(sealed.error());
    out.push_back(std::move(*sealed));
  }
  return out;
}

void Reassembly::reset() {
  total_ = 0;
  parts_.clear();
  have_ = bytes_ = 0;
  first_ = wire::PayloadType::None;
}

Reassembly::Verdict Reassembly::drop(std::string why) {
  why_ = std::move(why);
  return Verdict::Dropped;
}

Reassembly::Verdict Reassembly::add(uint32_t message_id, bool response,
                                    const wire::SkfPayload& f, Bytes plain, Millis now) {
  const uint16_t n = f.fragment_number, total = f.total_fragments;
  if (n == 0 || n > total) return drop("fragment " + std::to_string(n) + " of " + std::to_string(total));
  if (total > kMaxFragments)
    return drop(std::to_string(total) + " fragments, at most " + std::to_string(kMaxFragments));
  // §2.5: the first fragment names the first inner payload, the others none.
  if ((n == 1) != (f.inner_first != wire::PayloadType::None))
    return drop("fragment " + std::to_string(n) + " has Next Payload " +
                wire::payload_name(f.inner_first));
  if (total_ != 0 && (message_id != message_id_ || response != response_ ||
                      now - started_ > kReassemblyTimeout))
    reset();  // a newer message, or one given up on
  if (total_ != 0 && total != total_) {
    // §2.6: a sender that re-fragments (smaller, for the path MTU) sends more fragments;
    // the message made of more fragments is the one to keep.
    if (total < total_)
      return drop("fragment " + std::to_string(n) + " of " + std::to_string(total) +
                  " while " + std::to_string(total_) + " are expected");
    reset();
  }
  if (total_ == 0) {
    message_id_ = message_id;
    response_ = response;
    total_ = total;
    parts_.assign(total, std::nullopt);
    started_ = now;
  }
  auto& slot = parts_[n - 1];
  if (slot) return drop("fragment " + std::to_string(n) + " already received");
  if (bytes_ + plain.size() > kMaxReassembled) {
    reset();
    return drop("message larger than " + std::to_string(kMaxReassembled) + " bytes");
  }
  if (n == 1) first_ = f.inner_first;
  bytes_ += plain.size();
  slot = std::move(plain);
  return ++have_ == total_ ? Verdict::Complete : Verdict::Kept;
}

std::pair<wire::PayloadType, Bytes> Reassembly::take() {
  Bytes whole;
  whole.reserve(bytes_);
  for (auto& p : parts_)
    if (p) whole.insert(whole.end(), p->begin(), p->end());
  const auto first = first_;
  reset();
  return {first, std::move(whole)};
}

}  // namespace ipsec::ike::v2
