// SPDX-License-Identifier: Apache-2.0
// Steering IKE messages to the worker that owns their IKE SA: a classic BPF program for
// the kernel's SO_REUSEPORT group, its C++ twin, and the worker of a connection's `up`.
#pragma once

#include <linux/filter.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/bytes.h"

namespace ipsec::daemon {

// Where the IKE header starts in the UDP payload: 0 on port 500, 4 after the non-ESP
// marker on port 4500 (RFC 3948 §2.2).
inline constexpr size_t kIkeOffsetPort500 = 0;
inline constexpr size_t kIkeOffsetNatT = 4;

// The worker (0..count-1) that owns the IKE SA of this UDP payload, from its IKE header
// (RFC 7296 §3.1: SPIi 0..7, SPIr 8..15, flags 19 with I = 0x08). Messages from the
// original initiator (I set) name our SPI as SPIr, except IKE_SA_INIT requests (SPIr
// zero): those by SPIi, which is also where the answer's SPIr stays (the engine of
// worker k generates SPIs whose last byte % count == k). Without I set our SPI is SPIi.
// Payloads too short for an IKE header: worker 0.
uint32_t shard_of(ByteView udp_payload, size_t ike_offset, uint32_t count);

// The same selection as a classic BPF program for SO_ATTACH_REUSEPORT_CBPF: the kernel
// runs it on the UDP payload and takes its return value as the index of the socket in
// the group (bind order). count: 1..256.
std::vector<sock_filter> shard_program(size_t ike_offset, uint32_t count);

// The worker that initiates a connection (FNV-1a of its name), so `up` twice meets the
// same engine.
uint32_t worker_for_connection(std::string_view name, uint32_t count);

}  // namespace ipsec::daemon
