// SPDX-License-Identifier: Apache-2.0
// IKEv2 payloads (RFC 7296 §3.3-§3.16, RFC 7383 §2.5) as plain structs, and the Payload variant.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/ip.h"
#include "wire/types.h"

namespace ipsec::wire {

// RFC 7296 §3.3.5: AF=1 is TV (a 2-byte value in the header), AF=0 is TLV.
struct Attribute {
  uint16_t type = 0;  // without the AF bit
  bool tv = true;
  uint16_t value = 0;  // TV only
  Bytes data;          // TLV only
  bool operator==(const Attribute&) const = default;
};

// RFC 7296 §3.3.2. `id` stays numeric: it is one of EncrId, PrfId, IntegId, DhGroup, EsnId.
struct Transform {
  TransformType type = TransformType::Encr;
  uint16_t id = 0;
  std::vector<Attribute> attributes;

  static Transform make(TransformType type, uint16_t id, std::optional<uint16_t> key_bits = {});
  std::optional<uint16_t> key_length() const;  // the Key Length attribute (§3.3.5), if any
  bool operator==(const Transform&) const = default;
};

// RFC 7296 §3.3.1.
struct Proposal {
  uint8_t number = 1;
  ProtocolId protocol = ProtocolId::Ike;
  Bytes spi;  // empty for an initial IKE SA, 8 bytes for IKE rekey, 4 for AH/ESP
  std::vector<Transform> transforms;
  bool operator==(const Proposal&) const = default;
};

struct SaPayload {
  static constexpr PayloadType kType = PayloadType::Sa;
  std::vector<Proposal> proposals;
  bool operator==(const SaPayload&) const = default;
};

// RFC 7296 §3.4.
struct KePayload {
  static constexpr PayloadType kType = PayloadType::Ke;
  uint16_t group = 0;  // a DhGroup
  Bytes data;
  bool operator==(const KePayload&) const = default;
};

// RFC 7296 §3.5; the data is raw (an address, a name, a DER DN ...).
template <PayloadType T>
struct IdPayload {
  static constexpr PayloadType kType = T;
  IdType id_type = IdType::Fqdn;
  Bytes data;
  bool operator==(const IdPayload&) const = default;
};
using IdIPayload = IdPayload<PayloadType::IdI>;
using IdRPayload = IdPayload<PayloadType::IdR>;

// RFC 7296 §3.6 (CERT) and §3.7 (CERTREQ: data is a list of SHA-1 key hashes for X.509).
template <PayloadType T>
struct CertPayloadT {
  static constexpr PayloadType kType = T;
  uint8_t encoding = static_cast<uint8_t>(CertEncoding::X509Signature);
  Bytes data;
  bool operator==(const CertPayloadT&) const = default;
};
using CertPayload = CertPayloadT<PayloadType::Cert>;
using CertReqPayload = CertPayloadT<PayloadType::CertReq>;

// RFC 7296 §3.8.
struct AuthPayload {
  static constexpr PayloadType kType = PayloadType::Auth;
  uint8_t method = static_cast<uint8_t>(AuthMethod::SharedKeyMic);
  Bytes data;
  bool operator==(const AuthPayload&) const = default;
};

// RFC 7296 §3.9: 16 to 256 octets.
struct NoncePayload {
  static constexpr PayloadType kType = PayloadType::Nonce;
  Bytes data;
  bool operator==(const NoncePayload&) const = default;
};

// RFC 7296 §3.10.
struct NotifyPayload {
  static constexpr PayloadType kType = PayloadType::Notify;
  ProtocolId protocol = ProtocolId::None;
  NotifyType type = NotifyType::InitialContact;
  Bytes spi;
  Bytes data;
  bool is_error() const { return static_cast<uint16_t>(type) < kFirstStatusNotify; }
  bool operator==(const NotifyPayload&) const = default;
};

// RFC 7296 §3.11: every SPI has spi_size bytes (0 for IKE, 4 for AH/ESP).
struct DeletePayload {
  static constexpr PayloadType kType = PayloadType::Delete;
  ProtocolId protocol = ProtocolId::Esp;
  uint8_t spi_size = 4;
  std::vector<Bytes> spis;
  bool operator==(const DeletePayload&) const = default;
};

// RFC 7296 §3.12.
struct VendorIdPayload {
  static constexpr PayloadType kType = PayloadType::VendorId;
  Bytes data;
  bool operator==(const VendorIdPayload&) const = default;
};

// RFC 7296 §3.13.1: the TS type follows the address family of start (and end).
struct TrafficSelector {
  uint8_t ip_protocol = 0;  // 0: any
  uint16_t start_port = 0;
  uint16_t end_port = 65535;
  IpAddress start;
  IpAddress end;
  bool operator==(const TrafficSelector&) const = default;
};

template <PayloadType T>
struct TsPayload {
  static constexpr PayloadType kType = T;
  std::vector<TrafficSelector> selectors;
  bool operator==(const TsPayload&) const = default;
};
using TsIPayload = TsPayload<PayloadType::TsI>;
using TsRPayload = TsPayload<PayloadType::TsR>;

// RFC 7296 §3.14: IV, ciphertext, padding and ICV, opaque here. `inner_first` is the
// Next Payload field of the SK header: the type of the first encrypted payload.
struct SkPayload {
  static constexpr PayloadType kType = PayloadType::Sk;
  PayloadType inner_first = PayloadType::None;
  Bytes data;
  bool operator==(const SkPayload&) const = default;
};

// RFC 7296 §3.15.1: the R bit of the attribute type is reserved and dropped.
struct CfgAttr {
  uint16_t type = 0;
  Bytes value;
  bool operator==(const CfgAttr&) const = default;
};

struct CpPayload {
  static constexpr PayloadType kType = PayloadType::Cp;
  CfgType cfg_type = CfgType::Request;
  std::vector<CfgAttr> attributes;
  bool operator==(const CpPayload&) const = default;
};

// RFC 7296 §3.16: the EAP message, opaque.
struct EapPayload {
  static constexpr PayloadType kType = PayloadType::Eap;
  Bytes data;
  bool operator==(const EapPayload&) const = default;
};

// RFC 7383 §2.5: one fragment of an SK payload; inner_first is set in fragment 1 only.
struct SkfPayload {
  static constexpr PayloadType kType = PayloadType::Skf;
  PayloadType inner_first = PayloadType::None;
  uint16_t fragment_number = 1;
  uint16_t total_fragments = 1;
  Bytes data;
  bool operator==(const SkfPayload&) const = default;
};

// A payload type this codec does not know, received without the critical bit (§2.5).
struct UnknownPayload {
  PayloadType type = PayloadType::None;
  bool critical = false;
  Bytes body;
  bool operator==(const UnknownPayload&) const = default;
};

using Payload = std::variant<SaPayload, KePayload, IdIPayload, IdRPayload, CertPayload,
                             CertReqPayload, AuthPayload, NoncePayload, NotifyPayload,
                             DeletePayload, VendorIdPayload, TsIPayload, TsRPayload, SkPayload,
                             CpPayload, EapPayload, SkfPayload, UnknownPayload>;

PayloadType payload_type(const Payload& p);

}  // namespace ipsec::wire
