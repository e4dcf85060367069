// SPDX-License-Identifier: Apache-2.0
// IKEv2 protocol numbers (RFC 7296 §3, IANA "IKEv2 Parameters") as enums.
#pragma once

#include <cstdint>

namespace ipsec::wire {

// RFC 7296 §3.1 Exchange Types.
enum class ExchangeType : uint8_t {
  IkeSaInit = 34,
  IkeAuth = 35,
  CreateChildSa = 36,
  Informational = 37,
};

// RFC 7296 §3.2 payload types; SKF is RFC 7383 §2.5.
enum class PayloadType : uint8_t {
  None = 0,
  Sa = 33,
  Ke = 34,
  IdI = 35,
  IdR = 36,
  Cert = 37,
  CertReq = 38,
  Auth = 39,
  Nonce = 40,
  Notify = 41,
  Delete = 42,
  VendorId = 43,
  TsI = 44,
  TsR = 45,
  Sk = 46,
  Cp = 47,
  Eap = 48,
  Skf = 53,
};

// RFC 7296 §3.10.1 Notify Message Types (errors below 16384, status above).
enum class NotifyType : uint16_t {
  UnsupportedCriticalPayload = 1,
  InvalidIkeSpi = 4,
  InvalidMajorVersion = 5,
  InvalidSyntax = 7,
  InvalidMessageId = 9,
  InvalidSpi = 11,
  NoProposalChosen = 14,
  InvalidKePayload = 17,
  AuthenticationFailed = 24,
  SinglePairRequired = 34,
  NoAdditionalSas = 35,
  InternalAddressFailure = 36,
  FailedCpRequired = 37,
  TsUnacceptable = 38,
  InvalidSelectors = 39,
  TemporaryFailure = 43,
  ChildSaNotFound = 44,
  InitialContact = 16384,
  SetWindowSize = 16385,
  AdditionalTsPossible = 16386,
  IpcompSupported = 16387,
  NatDetectionSourceIp = 16388,
  NatDetectionDestinationIp = 16389,
  Cookie = 16390,
  UseTransportMode = 16391,
  HttpCertLookupSupported = 16392,
  RekeySa = 16393,
  EspTfcPaddingNotSupported = 16394,
  NonFirstFragmentsAlso = 16395,
  MobikeSupported = 16396,              // RFC 4555
  Ikev2FragmentationSupported = 16430,  // RFC 7383
  SignatureHashAlgorithms = 16431,      // RFC 7427
};

// Notify types below this value are errors (RFC 7296 §3.10.1).
inline constexpr uint16_t kFirstStatusNotify = 16384;

// RFC 7296 §3.3.1 Protocol ID.
enum class ProtocolId : uint8_t { None = 0, Ike = 1, Ah = 2, Esp = 3 };

// RFC 7296 §3.3.2 Transform Types.
enum class TransformType : uint8_t { Encr = 1, Prf = 2, Integ = 3, Dh = 4, Esn = 5 };

enum class EncrId : uint16_t {
  Des3 = 3,
  Null = 11,
  AesCbc = 12,
  AesCtr = 13,
  AesGcm8 = 18,
  AesGcm12 = 19,
  AesGcm16 = 20,
  ChaCha20Poly1305 = 28,  // RFC 7634
};

enum class PrfId : uint16_t { HmacSha1 = 2, HmacSha2_256 = 5, HmacSha2_384 = 6, HmacSha2_512 = 7 };

enum class IntegId : uint16_t {
  None = 0,
  HmacSha1_96 = 2,
  HmacSha2_256_128 = 12,
  HmacSha2_384_192 = 13,
  HmacSha2_512_256 = 14,
};

enum class DhGroup : uint16_t {
  None = 0,
  Modp1024 = 2,
  Modp1536 = 5,
  Modp2048 = 14,
  Modp3072 = 15,
  Modp4096 = 16,
  Ecp256 = 19,
  Ecp384 = 20,
  Ecp521 = 21,
  Curve25519 = 31,  // RFC 8031
  Curve448 = 32,
};

enum class EsnId : uint16_t { NoEsn = 0, Esn = 1 };

// RFC 7296 §3.3.5 Transform Attribute Types.
enum class AttributeType : uint16_t { KeyLength = 14 };

// RFC 7296 §3.5 ID Type.
enum class IdType : uint8_t {
  Ipv4Addr = 1,
  Fqdn = 2,
  Rfc822Addr = 3,
  Ipv6Addr = 5,
  DerAsn1Dn = 9,
  DerAsn1Gn = 10,
  KeyId = 11,
};

// RFC 7296 §3.6 Certificate Encoding (the ones in use today).
enum class CertEncoding : uint8_t {
  X509Signature = 4,
  Crl = 7,
  HashUrlX509 = 12,
  HashUrlX509Bundle = 13,
};

// RFC 7296 §3.8 Auth Method; 9-11 RFC 4754, 14 RFC 7427.
enum class AuthMethod : uint8_t {
  RsaSig = 1,
  SharedKeyMic = 2,
  DssSig = 3,
  EcdsaSha256P256 = 9,
  EcdsaSha384P384 = 10,
  EcdsaSha512P521 = 11,
  DigitalSignature = 14,
};

// RFC 7296 §3.13.1 TS Type.
enum class TsType : uint8_t { Ipv4AddrRange = 7, Ipv6AddrRange = 8 };

// RFC 7296 §3.15 CFG Type and §3.15.1 attribute types.
enum class CfgType : uint8_t { Request = 1, Reply = 2, Set = 3, Ack = 4 };

enum class CfgAttribute : uint16_t {
  InternalIp4Address = 1,
  InternalIp4Netmask = 2,
  InternalIp4Dns = 3,
  InternalIp4Nbns = 4,
  InternalIp4Dhcp = 6,
  ApplicationVersion = 7,
  InternalIp6Address = 8,
  InternalIp6Dns = 10,
  InternalIp6Dhcp = 12,
  InternalIp4Subnet = 13,
  SupportedAttributes = 14,
  InternalIp6Subnet = 15,
};

}  // namespace ipsec::wire
