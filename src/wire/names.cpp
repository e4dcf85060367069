// SPDX-License-Identifier: Apache-2.0
// Names of IKEv2 protocol numbers: constexpr tables, one per registry.
#include "wire/names.h"

#include <array>
#include <string_view>
#include <utility>

namespace ipsec::wire {
namespace {

using Entry = std::pair<uint16_t, std::string_view>;

template <size_t N>
std::string lookup(const std::array<Entry, N>& table, uint16_t value, std::string_view kind) {
  for (const auto& [v, name] : table)
    if (v == value) return std::string(name);
  return std::string(kind) + " " + std::to_string(value);
}

constexpr std::array<Entry, 4> kExchanges{
    {{34, "IKE_SA_INIT"}, {35, "IKE_AUTH"}, {36, "CREATE_CHILD_SA"}, {37, "INFORMATIONAL"}}};

constexpr std::array<Entry, 18> kPayloads{{{0, "NONE"},
                                           {33, "SA"},
                                           {34, "KE"},
                                           {35, "IDi"},
                                           {36, "IDr"},
                                           {37, "CERT"},
                                           {38, "CERTREQ"},
                                           {39, "AUTH"},
                                           {40, "Nonce"},
                                           {41, "Notify"},
                                           {42, "Delete"},
                                           {43, "Vendor ID"},
                                           {44, "TSi"},
                                           {45, "TSr"},
                                           {46, "SK"},
                                           {47, "CP"},
                                           {48, "EAP"},
                                           {53, "SKF"}}};

constexpr std::array<Entry, 32> kNotifies{{{1, "UNSUPPORTED_CRITICAL_PAYLOAD"},
                                           {4, "INVALID_IKE_SPI"},
                                           {5, "INVALID_MAJOR_VERSION"},
                                           {7, "INVALID_SYNTAX"},
                                           {9, "INVALID_MESSAGE_ID"},
                                           {11, "INVALID_SPI"},
                                           {14, "NO_PROPOSAL_CHOSEN"},
                                           {17, "INVALID_KE_PAYLOAD"},
                                           {24, "AUTHENTICATION_FAILED"},
                                           {34, "SINGLE_PAIR_REQUIRED"},
                                           {35, "NO_ADDITIONAL_SAS"},
                                           {36, "INTERNAL_ADDRESS_FAILURE"},
                                           {37, "FAILED_CP_REQUIRED"},
                                           {38, "TS_UNACCEPTABLE"},
                                           {39, "INVALID_SELECTORS"},
                                           {43, "TEMPORARY_FAILURE"},
                                           {44, "CHILD_SA_NOT_FOUND"},
                                           {16384, "INITIAL_CONTACT"},
                                           {16385, "SET_WINDOW_SIZE"},
                                           {16386, "ADDITIONAL_TS_POSSIBLE"},
                                           {16387, "IPCOMP_SUPPORTED"},
                                           {16388, "NAT_DETECTION_SOURCE_IP"},
                                           {16389, "NAT_DETECTION_DESTINATION_IP"},
                                           {16390, "COOKIE"},
                                           {16391, "USE_TRANSPORT_MODE"},
                                           {16392, "HTTP_CERT_LOOKUP_SUPPORTED"},
                                           {16393, "REKEY_SA"},
                                           {16394, "ESP_TFC_PADDING_NOT_SUPPORTED"},
                                           {16395, "NON_FIRST_FRAGMENTS_ALSO"},
                                           {16396, "MOBIKE_SUPPORTED"},
                                           {16430, "IKEV2_FRAGMENTATION_SUPPORTED"},
                                           {16431, "SIGNATURE_HASH_ALGORITHMS"}}};

constexpr std::array<Entry, 4> kProtocols{{{0, "NONE"}, {1, "IKE"}, {2, "AH"}, {3, "ESP"}}};

constexpr std::array<Entry, 5> kTransformTypes{
    {{1, "ENCR"}, {2, "PRF"}, {3, "INTEG"}, {4, "DH"}, {5, "ESN"}}};

constexpr std::array<Entry, 8> kEncr{{{3, "ENCR_3DES"},
                                      {11, "ENCR_NULL"},
                                      {12, "ENCR_AES_CBC"},
                                      {13, "ENCR_AES_CTR"},
                                      {18, "ENCR_AES_GCM_8"},
                                      {19, "ENCR_AES_GCM_12"},
                                      {20, "ENCR_AES_GCM_16"},
                                      {28, "ENCR_CHACHA20_POLY1305"}}};

constexpr std::array<Entry, 4> kPrf{{{2, "PRF_HMAC_SHA1"},
                                     {5, "PRF_HMAC_SHA2_256"},
                                     {6, "PRF_HMAC_SHA2_384"},
                                     {7, "PRF_HMAC_SHA2_512"}}};

constexpr std::array<Entry, 5> kInteg{{{0, "NONE"},
                                       {2, "AUTH_HMAC_SHA1_96"},
                                       {12, "AUTH_HMAC_SHA2_256_128"},
                                       {13, "AUTH_HMAC_SHA2_384_192"},
                                       {14, "AUTH_HMAC_SHA2_512_256"}}};

constexpr std::array<Entry, 11> kDh{{{0, "NONE"},
                                     {2, "MODP_1024"},
                                     {5, "MODP_1536"},
                                     {14, "MODP_2048"},
                                     {15, "MODP_3072"},
                                     {16, "MODP_4096"},
                                     {19, "ECP_256"},
                                     {20, "ECP_384"},
                                     {21, "ECP_521"},
                                     {31, "CURVE25519"},
                                     {32, "CURVE448"}}};

constexpr std::array<Entry, 2> kEsn{{{0, "NO_ESN"}, {1, "ESN"}}};

constexpr std::array<Entry, 7> kIdTypes{{{1, "ID_IPV4_ADDR"},
                                         {2, "ID_FQDN"},
                                         {3, "ID_RFC822_ADDR"},
                                         {5, "ID_IPV6_ADDR"},
                                         {9, "ID_DER_ASN1_DN"},
                                         {10, "ID_DER_ASN1_GN"},
                                         {11, "ID_KEY_ID"}}};

}  // namespace

std::string exchange_name(ExchangeType t) {
  return lookup(kExchanges, static_cast<uint16_t>(t), "exchange type");
}
std::string payload_name(PayloadType t) {
  return lookup(kPayloads, static_cast<uint16_t>(t), "payload type");
}
std::string notify_name(NotifyType t) {
  return lookup(kNotifies, static_cast<uint16_t>(t), "notify type");
}
std::string protocol_name(ProtocolId p) {
  return lookup(kProtocols, static_cast<uint16_t>(p), "protocol");
}
std::string transform_type_name(TransformType t) {
  return lookup(kTransformTypes, static_cast<uint16_t>(t), "transform type");
}
std::string id_type_name(IdType t) { return lookup(kIdTypes, static_cast<uint16_t>(t), "ID type"); }

std::string transform_name(TransformType t, uint16_t id) {
  switch (t) {
    case TransformType::Encr:
      return lookup(kEncr, id, "ENCR");
    case TransformType::Prf:
      return lookup(kPrf, id, "PRF");
    case TransformType::Integ:
      return lookup(kInteg, id, "INTEG");
    case TransformType::Dh:
      return lookup(kDh, id, "DH");
    case TransformType::Esn:
      return lookup(kEsn, id, "ESN");
  }
  return transform_type_name(t) + " " + std::to_string(id);
}

}  // namespace ipsec::wire
