// SPDX-License-Identifier: Apache-2.0
// Proposal construction, selection (RFC 7296 §2.7, §3.3.6) and algorithm
// mapping.
#include "ike/v2/proposals.h"

#include <algorithm>

#include "kernel/algorithms.h"
#include "wire/names.h"

namespace ipsec::ike::v2 {
namespace {

using wire::Transform;
using wire::TransformType;

constexpr TransformType kTypes[] = {TransformType::Encr, TransformType::Prf, TransformType::Integ,
                                    TransformType::Dh, TransformType::Esn};

template <class Id>
uint16_t id_of(Id id) {
  return static_cast<uint16_t>(id);
}

void add_encr(wire::Proposal& p, const std::vector<EncrSpec>& encr) {
  for (const auto& e : encr) {
    std::optional<uint16_t> bits;
    if (e.key_bits != 0) bits = e.key_bits;
    p.transforms.push_back(Transform::make(TransformType::Encr, id_of(e.id), bits));
  }
}

template <class Id>
void add(wire::Proposal& p, TransformType t, const std::vector<Id>& ids) {
  for (auto id : ids)
    if (!(t == TransformType::Integ && id_of(id) == 0))  // INTEG none: omitted (§3.3.3)
      p.transforms.push_back(Transform::make(t, id_of(id)));
}

bool same(const Transform& a, const Transform& b) {
  return a.type == b.type && a.id == b.id && a.key_length() == b.key_length();
}

bool has_type(const wire::Proposal& p, TransformType t) {
  return std::any_of(p.transforms.begin(), p.transforms.end(), [&](const Transform& x) {
    return x.type == t && !(t == TransformType::Integ && x.id == 0);
  });
}

// Our transforms of type t that the peer also offers, in our order.
std::vector<Transform> common(const wire::Proposal& mine, const wire::Proposal& theirs,
                              TransformType t) {
  std::vector<Transform> out;
  for (const auto& m : mine.transforms) {
    if (m.type != t) continue;
    for (const auto& o : theirs.transforms)
      if (same(m, o)) {
        out.push_back(m);
        break;
      }
  }
  return out;
}

std::optional<wire::Proposal> match(const wire::Proposal& mine, const wire::Proposal& theirs,
                                    std::optional<uint16_t> ke_group) {
  if (mine.protocol != theirs.protocol) return std::nullopt;
  wire::Proposal out{theirs.number, theirs.protocol, theirs.spi, {}};
  for (auto t : kTypes) {
    if (has_type(mine, t) != has_type(theirs, t)) return std::nullopt;
    if (!has_type(mine, t)) continue;
    auto c = common(mine, theirs, t);
    if (c.empty()) return std::nullopt;
    auto pick = c.front();
    if (t == TransformType::Dh && ke_group)
      for (const auto& x : c)
        if (x.id == *ke_group) pick = x;
    out.transforms.push_back(pick);
  }
  return out;
}

std::string esp_encr_keyword(uint16_t id) {
  switch (static_cast<wire::EncrId>(id)) {
    case wire::EncrId::AesCbc:
      return "aes-cbc";
    case wire::EncrId::AesCtr:
      return "aes-ctr";
    case wire::EncrId::AesGcm8:
      return "aes-gcm-8";
    case wire::EncrId::AesGcm12:
      return "aes-gcm-12";
    case wire::EncrId::AesGcm16:
      return "aes-gcm-16";
    case wire::EncrId::ChaCha20Poly1305:
      return "chacha20-poly1305";
    default:
      return "";
  }
}

std::string esp_integ_keyword(uint16_t id) {
  switch (static_cast<wire::IntegId>(id)) {
    case wire::IntegId::HmacSha1_96:
      return "hmac-sha1";
    case wire::IntegId::HmacSha2_256_128:
      return "hmac-sha256";
    case wire::IntegId::HmacSha2_384_192:
      return "hmac-sha384";
    case wire::IntegId::HmacSha2_512_256:
      return "hmac-sha512";
    default:
      return "";
  }
}

}  // namespace

std::vector<wire::Proposal> to_wire(const std::vector<IkeProposalConfig>& proposals) {
  std::vector<wire::Proposal> out;
  for (const auto& c : proposals) {
    wire::Proposal p{static_cast<uint8_t>(out.size() + 1), wire::ProtocolId::Ike, {}, {}};
    add_encr(p, c.encr);
    add(p, TransformType::Prf, c.prf);
    add(p, TransformType::Integ, c.integ);
    add(p, TransformType::Dh, c.dh);
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<wire::Proposal> to_wire(const std::vector<EspProposalConfig>& proposals, ByteView spi,
                                    bool with_dh) {
  std::vector<wire::Proposal> out;
  for (const auto& c : proposals) {
    wire::Proposal p{static_cast<uint8_t>(out.size() + 1),
                     wire::ProtocolId::Esp,
                     Bytes(spi.begin(), spi.end()),
                     {}};
    add_encr(p, c.encr);
    add(p, TransformType::Integ, c.integ);
    if (with_dh) add(p, TransformType::Dh, c.dh);
    add(p, TransformType::Esn, c.esn);
    out.push_back(std::move(p));
  }
  return out;
}

std::optional<wire::Proposal> select_proposal(std::span<const wire::Proposal> mine,
                                              std::span<const wire::Proposal> theirs,
                                              std::optional<uint16_t> ke_group) {
  for (const auto& m : mine)
    for (const auto& t : theirs)
      if (auto chosen = match(m, t, ke_group)) return chosen;
  return std::nullopt;
}

bool same_transforms(const wire::Proposal& a, const wire::Proposal& b) {
  auto in = [](const wire::Proposal& p, const Transform& t) {
    return std::find(p.transforms.begin(), p.transforms.end(), t) != p.transforms.end();
  };
  if (a.transforms.size() != b.transforms.size()) return false;
  for (const auto& t : a.transforms)
    if (!in(b, t)) return false;
  for (const auto& t : b.transforms)
    if (!in(a, t)) return false;
  return true;
}

std::optional<wire::Transform> transform_of(const wire::Proposal& p, wire::TransformType t) {
  for (const auto& x : p.transforms)
    if (x.type == t) return x;
  return std::nullopt;
}

std::string describe(const wire::Proposal& p) {
  std::string out;
  for (const auto& t : p.transforms) {
    if (!out.empty()) out += ' ';
    out += wire::transform_name(t.type, t.id);
    if (auto bits = t.key_length()) out += "/" + std::to_string(*bits);
  }
  return out;
}

std::string describe(std::span<const wire::Proposal> proposals) {
  std::string out;
  for (const auto& p : proposals) out += (out.empty() ? "" : ", ") + describe(p);
  return out.empty() ? "(none)" : out;
}

Result<IkeAlgorithms> ike_algorithms(const wire::Proposal& p) {
  auto encr = transform_of(p, TransformType::Encr);
  auto prf = transform_of(p, TransformType::Prf);
  auto dh = transform_of(p, TransformType::Dh);
  if (!encr || !prf || !dh) return fail("IKE proposal lacks ENCR, PRF or DH: " + describe(p));
  IkeAlgorithms a;
  a.sk.encr = static_cast<crypto::EncrAlgorithm>(encr->id);
  a.sk.key_bits = encr->key_length().value_or(256);
  auto integ = transform_of(p, TransformType::Integ);
  a.sk.integ = static_cast<crypto::IntegAlgorithm>(integ ? integ->id : 0);
  if (auto v = crypto::validate(a.sk); !v)
    return fail("IKE proposal " + describe(p) + ": " + v.error().message);
  a.prf = static_cast<crypto::PrfAlgorithm>(prf->id);
  auto group = crypto::ke_group_from_id(dh->id);
  if (!group) return fail(group.error());
  a.group = *group;
  return a;
}

Result<EspAlgorithms> esp_algorithms(const wire::Proposal& p) {
  auto encr = transform_of(p, TransformType::Encr);
  if (!encr) return fail("ESP proposal lacks ENCR: " + describe(p));
  EspAlgorithms a;
  a.encr_keyword = esp_encr_keyword(encr->id);
  const auto* info = kernel::find_algorithm(a.encr_keyword);
  if (info == nullptr) return fail("unsupported ESP encryption " + describe(p));
  const size_t salt = info->kind == kernel::AlgKind::Aead || encr->id == 13 ? 4 : 0;
  a.encr_key_bytes = encr->key_length().value_or(256) / 8 + salt;
  if (auto integ = transform_of(p, TransformType::Integ); integ && integ->id != 0) {
    a.integ_keyword = esp_integ_keyword(integ->id);
    const auto* i = kernel::find_algorithm(a.integ_keyword);
    if (i == nullptr) return fail("unsupported ESP integrity " + describe(p));
    a.integ_key_bytes = *i->key_bytes.begin();
  }
  if (info->kind != kernel::AlgKind::Aead && a.integ_keyword.empty())
    return fail("ESP proposal without integrity: " + describe(p));
  auto esn = transform_of(p, TransformType::Esn);
  a.esn = esn && esn->id == static_cast<uint16_t>(wire::EsnId::Esn);
  return a;
}

}  // namespace ipsec::ike::v2
