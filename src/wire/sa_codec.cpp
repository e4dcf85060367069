// SPDX-License-Identifier: Apache-2.0
// SA payload codec: proposals, transforms and transform attributes (RFC 7296 §3.3).
#include <string>

#include "wire/message.h"
#include "wire/payload_codec.h"

namespace ipsec::wire {

Transform Transform::make(TransformType type, uint16_t id, std::optional<uint16_t> key_bits) {
  Transform t{type, id, {}};
  if (key_bits)
    t.attributes.push_back({static_cast<uint16_t>(AttributeType::KeyLength), true, *key_bits, {}});
  return t;
}

std::optional<uint16_t> Transform::key_length() const {
  for (const auto& a : attributes)
    if (a.type == static_cast<uint16_t>(AttributeType::KeyLength) && a.tv) return a.value;
  return std::nullopt;
}

}  // namespace ipsec::wire

namespace ipsec::wire::detail {
namespace {

constexpr size_t kProposalHeader = 8;   // §3.3.1
constexpr size_t kTransformHeader = 8;  // §3.3.2
constexpr uint8_t kMoreProposals = 2;
constexpr uint8_t kMoreTransforms = 3;
constexpr uint16_t kAttrTv = 0x8000;  // §3.3.5 AF bit

// A substructure inside a payload: "SA payload at offset 28: proposal 1 at offset 32".
std::string sub(const std::string& outer, const char* what, size_t index, size_t offset) {
  return outer + ": " + what + " " + std::to_string(index) + " at offset " + std::to_string(offset);
}

// Reads the Last Substruc / length prefix common to proposals and transforms and returns
// a reader over the substructure; checks the last marker against what follows (§3.3).
Result<Reader> take_substruct(Reader& r, const std::string& at, size_t min, uint8_t more) {
  if (r.remaining() < min)
    return syntax_error(at + ": truncated, " + std::to_string(r.remaining()) +
                        " bytes left for a " + std::to_string(min) + "-byte header");
  const size_t start = r.offset();
  const uint8_t last = r.u8();
  r.skip(1);  // RESERVED: ignored on receipt (§3.3.1, §3.3.2)
  const uint16_t length = r.u16();
  if (length < min) return syntax_error(at + ": " + below_minimum(length, min));
  if (size_t{length} - 4 > r.remaining())
    return syntax_error(at + ": length " + std::to_string(length) + " exceeds the " +
                        std::to_string(r.remaining() + 4) + " bytes left");
  Reader inner(r.view(length - 4), start + 4);
  const uint8_t expected = r.empty() ? 0 : more;
  if (last != expected)
    return syntax_error(at + ": Last Substruc is " + std::to_string(last) + ", expected " +
                        std::to_string(expected));
  return inner;
}

Result<Attribute> parse_attribute(Reader& r, const std::string& at) {
  if (r.remaining() < 4) return syntax_error(at + ": truncated attribute");
  Attribute a;
  const uint16_t head = r.u16();
  a.type = head & ~kAttrTv;
  a.tv = (head & kAttrTv) != 0;
  if (a.tv) {
    a.value = r.u16();
    return a;
  }
  const uint16_t length = r.u16();
  if (length > r.remaining())
    return syntax_error(at + ": attribute " + std::to_string(a.type) + " length " +
                        std::to_string(length) + " exceeds the " + std::to_string(r.remaining()) +
                        " bytes left");
  a.data = r.bytes(length);
  return a;
}

Result<Transform> parse_transform(Reader& r, const std::string& outer, size_t index) {
  const std::string at = sub(outer, "transform", index, r.offset());
  auto body = take_substruct(r, at, kTransformHeader, kMoreTransforms);
  if (!body) return fail(body.error());
  Transform t;
  t.type = static_cast<TransformType>(body->u8());
  body->skip(1);  // RESERVED
  t.id = body->u16();
  while (!body->empty()) {
    if (t.attributes.size() == kMaxAttributes)
      return syntax_error(at + ": more than " + std::to_string(kMaxAttributes) + " attributes");
    auto a = parse_attribute(*body, at);
    if (!a) return fail(a.error());
    t.attributes.push_back(std::move(*a));
  }
  return t;
}

Result<Proposal> parse_proposal(Reader& r, const std::string& outer, size_t index) {
  const std::string at = sub(outer, "proposal", index, r.offset());
  auto body = take_substruct(r, at, kProposalHeader, kMoreProposals);
  if (!body) return fail(body.error());
  Proposal p;
  p.number = body->u8();
  p.protocol = static_cast<ProtocolId>(body->u8());
  const uint8_t spi_size = body->u8();
  const uint8_t count = body->u8();
  if (spi_size > body->remaining())
    return syntax_error(at + ": SPI size " + std::to_string(spi_size) + " exceeds the " +
                        std::to_string(body->remaining()) + " bytes left");
  if (count > kMaxTransforms)
    return syntax_error(at + ": " + std::to_string(count) + " transforms, at most " +
                        std::to_string(kMaxTransforms));
  p.spi = body->bytes(spi_size);
  while (!body->empty()) {
    if (p.transforms.size() == count)
      return syntax_error(at + ": more transforms than the " + std::to_string(count) + " declared");
    auto t = parse_transform(*body, at, p.transforms.size() + 1);
    if (!t) return fail(t.error());
    p.transforms.push_back(std::move(*t));
  }
  if (p.transforms.size() != count)
    return syntax_error(at + ": " + std::to_string(count) + " transforms declared, " +
                        std::to_string(p.transforms.size()) + " present");
  return p;
}

void encode_transform(const Transform& t, bool last, Writer& w) {
  const size_t start = w.size();
  w.u8(last ? 0 : kMoreTransforms);
  w.u8(0);
  w.u16(0);  // length, patched below
  w.u8(static_cast<uint8_t>(t.type));
  w.u8(0);
  w.u16(t.id);
  for (const auto& a : t.attributes) {
    if (a.tv) {
      w.u16(static_cast<uint16_t>(a.type | kAttrTv));
      w.u16(a.value);
    } else {
      w.u16(static_cast<uint16_t>(a.type & ~kAttrTv));
      w.u16(static_cast<uint16_t>(a.data.size()));
      w.bytes(a.data);
    }
  }
  w.patch_u16(start + 2, static_cast<uint16_t>(w.size() - start));
}

void encode_proposal(const Proposal& p, bool last, Writer& w) {
  const size_t start = w.size();
  w.u8(last ? 0 : kMoreProposals);
  w.u8(0);
  w.u16(0);  // length, patched below
  w.u8(p.number);
  w.u8(static_cast<uint8_t>(p.protocol));
  w.u8(static_cast<uint8_t>(p.spi.size()));
  w.u8(static_cast<uint8_t>(p.transforms.size()));
  w.bytes(p.spi);
  for (size_t i = 0; i < p.transforms.size(); ++i)
    encode_transform(p.transforms[i], i + 1 == p.transforms.size(), w);
  w.patch_u16(start + 2, static_cast<uint16_t>(w.size() - start));
}

}  // namespace

Result<SaPayload> parse_sa(const Where& w, Reader body) {
  const std::string at = w.str();
  SaPayload sa;
  while (!body.empty()) {
    if (sa.proposals.size() == kMaxProposals)
      return syntax_error(at + ": more than " + std::to_string(kMaxProposals) + " proposals");
    auto p = parse_proposal(body, at, sa.proposals.size() + 1);
    if (!p) return fail(p.error());
    sa.proposals.push_back(std::move(*p));
  }
  if (sa.proposals.empty()) return syntax_error(at + ": no proposals");
  return sa;
}

void encode_sa(const SaPayload& sa, Writer& w) {
  for (size_t i = 0; i < sa.proposals.size(); ++i)
    encode_proposal(sa.proposals[i], i + 1 == sa.proposals.size(), w);
}

}  // namespace ipsec::wire::detail
