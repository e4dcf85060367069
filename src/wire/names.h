// SPDX-License-Identifier: Apache-2.0
// Names of IKEv2 protocol numbers for logs and error messages (IANA spelling).
#pragma once

#include <cstdint>
#include <string>

#include "wire/types.h"

namespace ipsec::wire {

// Each returns the IANA name, or "<kind> <number>" for a value it does not know.
std::string exchange_name(ExchangeType t);                 // "IKE_SA_INIT"
std::string payload_name(PayloadType t);                   // "SA", "Nonce", "TSi", "SKF"
std::string notify_name(NotifyType t);                     // "NAT_DETECTION_SOURCE_IP"
std::string protocol_name(ProtocolId p);                   // "IKE", "ESP"
std::string transform_type_name(TransformType t);          // "ENCR", "PRF", "INTEG", "DH", "ESN"
std::string transform_name(TransformType t, uint16_t id);  // "ENCR_AES_GCM_16", "CURVE25519"
std::string id_type_name(IdType t);                        // "ID_FQDN"

}  // namespace ipsec::wire
