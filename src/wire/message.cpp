// SPDX-License-Identifier: Apache-2.0
// The IKEv2 envelope: header (RFC 7296 §3.1) and the generic payload chain (§3.2).
#include "wire/message.h"

#include <string>

#include "wire/names.h"
#include "wire/payload_codec.h"

namespace ipsec::wire {
namespace detail {

std::string Where::str() const {
  const std::string name = is_known(type)
                               ? payload_name(type) + " payload"
                               : "payload of type " + std::to_string(static_cast<unsigned>(type));
  return name + " at offset " + std::to_string(offset);
}

Unexpected<Error> fault(NotifyType notify, PayloadType payload, std::string message) {
  const int code = (static_cast<int>(notify) << 8) | static_cast<int>(payload);
  return fail(std::move(message), code);
}
Unexpected<Error> syntax_error(std::string message) {
  return fault(NotifyType::InvalidSyntax, PayloadType::None, std::move(message));
}
Unexpected<Error> syntax_error(const Where& w, const std::string& what) {
  return syntax_error(w.str() + ": " + what);
}
std::string below_minimum(size_t length, size_t minimum) {
  return "length " + std::to_string(length) + " is below the minimum " + std::to_string(minimum);
}

bool is_known(PayloadType t) {
  switch (t) {
    case PayloadType::Sa:
    case PayloadType::Ke:
    case PayloadType::IdI:
    case PayloadType::IdR:
    case PayloadType::Cert:
    case PayloadType::CertReq:
    case PayloadType::Auth:
    case PayloadType::Nonce:
    case PayloadType::Notify:
    case PayloadType::Delete:
    case PayloadType::VendorId:
    case PayloadType::TsI:
    case PayloadType::TsR:
    case PayloadType::Sk:
    case PayloadType::Cp:
    case PayloadType::Eap:
    case PayloadType::Skf:
      return true;
    case PayloadType::None:
      return false;
  }
  return false;
}

}  // namespace detail

namespace {

using detail::syntax_error;
using detail::Where;

constexpr uint8_t kFlagInitiator = 0x08;  // §3.1
constexpr uint8_t kFlagVersion = 0x10;
constexpr uint8_t kFlagResponse = 0x20;
constexpr uint8_t kCritical = 0x80;  // §3.2

bool is_encrypted(PayloadType t) { return t == PayloadType::Sk || t == PayloadType::Skf; }

// One generic payload (§3.2) at the reader's position; `next` receives its Next Payload.
Result<Payload> parse_one(PayloadType type, Reader& r, bool allow_sk, PayloadType& next) {
  const Where w{type, r.offset()};
  if (r.remaining() < kGenericHeaderSize)
    return syntax_error(
        w, "truncated, " + std::to_string(r.remaining()) + " bytes left for a 4-byte header");
  next = static_cast<PayloadType>(r.u8());
  const bool critical = (r.u8() & kCritical) != 0;  // the other 7 bits are RESERVED
  const uint16_t length = r.u16();
  if (length < kGenericHeaderSize)
    return syntax_error(w, detail::below_minimum(length, kGenericHeaderSize));
  if (length - kGenericHeaderSize > r.remaining())
    return syntax_error(w, "length " + std::to_string(length) + " exceeds the " +
                               std::to_string(r.remaining() + kGenericHeaderSize) + " bytes left");
  Reader body(r.view(length - kGenericHeaderSize), w.offset + kGenericHeaderSize);
  if (!detail::is_known(type)) {
    // §2.5: skip an unknown payload unless the sender marked it critical.
    if (critical)
      return detail::fault(NotifyType::UnsupportedCriticalPayload, type,
                           w.str() + ": unsupported critical payload");
    return Payload{UnknownPayload{type, false, body.rest()}};
  }
  if (is_encrypted(type)) {
    if (!allow_sk) return syntax_error(w, "not allowed inside an encrypted payload");
    // §3.14: the Encrypted payload is the last one; its Next Payload names the inner first.
    if (!r.empty())
      return syntax_error(
          w, "must be the last payload, " + std::to_string(r.remaining()) + " bytes follow");
  }
  return detail::parse_body(w, next, body);
}

Result<std::vector<Payload>> parse_chain(PayloadType first, Reader r, bool allow_sk) {
  std::vector<Payload> out;
  PayloadType next = first;
  while (next != PayloadType::None) {
    if (out.size() == kMaxPayloads)
      return syntax_error(Where{next, r.offset()}.str() + ": more than " +
                          std::to_string(kMaxPayloads) + " payloads");
    const PayloadType type = next;
    auto p = parse_one(type, r, allow_sk, next);
    if (!p) return fail(std::move(p.error()));
    out.push_back(std::move(*p));
    if (is_encrypted(type)) break;
  }
  if (!r.empty())
    return syntax_error("offset " + std::to_string(r.offset()) + ": " +
                        std::to_string(r.remaining()) + " bytes after the last payload");
  return out;
}

Result<Header> parse_header(Reader& r, size_t datagram_size, PayloadType& first) {
  if (datagram_size < kHeaderSize)
    return syntax_error("IKE header: message of " + std::to_string(datagram_size) +
                        " bytes is shorter than the 28-byte header");
  Header h;
  h.spi_i = r.u64();
  h.spi_r = r.u64();
  first = static_cast<PayloadType>(r.u8());
  const uint8_t version = r.u8();
  h.major_version = version >> 4;
  h.minor_version = version & 0x0f;  // §2.5: ignored on receipt, kept for logs
  h.exchange = static_cast<ExchangeType>(r.u8());
  const uint8_t flags = r.u8();  // §3.1: bits other than I, V, R are ignored on receipt
  h.initiator = (flags & kFlagInitiator) != 0;
  h.higher_version = (flags & kFlagVersion) != 0;
  h.response = (flags & kFlagResponse) != 0;
  h.message_id = r.u32();
  const uint32_t length = r.u32();
  if (h.major_version != 2)
    return detail::fault(NotifyType::InvalidMajorVersion, PayloadType::None,
                         "IKE header: major version " + std::to_string(h.major_version) +
                             " is not supported (only 2)");
  if (length != datagram_size)
    return syntax_error("IKE header: length " + std::to_string(length) + " does not match the " +
                        std::to_string(datagram_size) + "-byte datagram");
  return h;
}

void encode_chain(const std::vector<Payload>& payloads, Writer& w) {
  for (size_t i = 0; i < payloads.size(); ++i) {
    const Payload& p = payloads[i];
    PayloadType next = i + 1 < payloads.size() ? payload_type(payloads[i + 1]) : PayloadType::None;
    if (const auto* sk = std::get_if<SkPayload>(&p)) next = sk->inner_first;
    if (const auto* skf = std::get_if<SkfPayload>(&p)) next = skf->inner_first;
    const auto* unknown = std::get_if<UnknownPayload>(&p);
    const size_t start = w.size();
    w.u8(static_cast<uint8_t>(next));
    w.u8(unknown && unknown->critical ? kCritical : 0);
    w.u16(0);  // length, patched below
    detail::encode_body(p, w);
    w.patch_u16(start + 2, static_cast<uint16_t>(w.size() - start));
  }
}

}  // namespace

PayloadType payload_type(const Payload& p) {
  if (const auto* u = std::get_if<UnknownPayload>(&p)) return u->type;
  return std::visit(
      [](const auto& q) {
        using P = std::decay_t<decltype(q)>;
        if constexpr (std::is_same_v<P, UnknownPayload>)
          return PayloadType::None;
        else
          return P::kType;
      },
      p);
}

Result<Message> parse(ByteView datagram) {
  Reader r(datagram);
  PayloadType first = PayloadType::None;
  auto header = parse_header(r, datagram.size(), first);
  if (!header) return fail(std::move(header.error()));
  auto payloads = parse_chain(first, r, true);
  if (!payloads) return fail(std::move(payloads.error()));
  return Message{*header, std::move(*payloads)};
}

Result<std::vector<Payload>> parse_payloads(PayloadType first, ByteView data, size_t base_offset) {
  return parse_chain(first, Reader(data, base_offset), false);
}

Bytes encode_payloads(const std::vector<Payload>& payloads) {
  Bytes out;
  Writer w(out);
  encode_chain(payloads, w);
  return out;
}

Bytes encode(const Message& m) {
  Bytes out;
  Writer w(out);
  const Header& h = m.header;
  w.u64(h.spi_i);
  w.u64(h.spi_r);
  w.u8(static_cast<uint8_t>(m.payloads.empty() ? PayloadType::None
                                               : payload_type(m.payloads.front())));
  w.u8(static_cast<uint8_t>((h.major_version << 4) | (h.minor_version & 0x0f)));
  w.u8(static_cast<uint8_t>(h.exchange));
  w.u8(static_cast<uint8_t>((h.initiator ? kFlagInitiator : 0) |
                            (h.higher_version ? kFlagVersion : 0) |
                            (h.response ? kFlagResponse : 0)));
  w.u32(h.message_id);
  w.u32(0);  // length, patched below
  encode_chain(m.payloads, w);
  w.patch_u32(24, static_cast<uint32_t>(out.size()));
  return out;
}

WireFault wire_fault(const Error& e) {
  return WireFault{static_cast<NotifyType>(e.code >> 8), static_cast<PayloadType>(e.code & 0xff)};
}

}  // namespace ipsec::wire
