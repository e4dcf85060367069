// SPDX-License-Identifier: Apache-2.0
// CHILD SAs in the kernel, whichever IKE version negotiated them: the two ESP SAs of a
// CHILD SA with their algorithms, keys, lifetimes and UDP encapsulation, and its policies
// (out, in, and fwd in tunnel mode) for every negotiated selector pair, counted in
// PolicyRefs so that an old and a new CHILD SA, or a trap and the CHILD SA it brought up,
// share them. All or nothing: a CHILD SA that cannot be installed whole leaves nothing.
// The engines (v2/child_sa.cpp) describe their CHILD SAs in these terms.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/secret.h"
#include "crypto/random_source.h"
#include "ike/config.h"
#include "ike/io.h"
#include "ike/policy_refs.h"
#include "kernel/kernel.h"
#include "wire/payloads.h"

namespace ipsec::ike {

// A negotiated ESP proposal in kernel terms, with the KEYMAT lengths.
struct EspAlgorithms {
  std::string encr_keyword;   // kernel/algorithms.h keyword: "aes-gcm-16", "aes-cbc"
  std::string integ_keyword;  // empty for AEAD
  size_t encr_key_bytes = 0;  // with the salt of AEAD/CTR
  size_t integ_key_bytes = 0;
  bool esn = false;
};

// One CHILD SA as the kernel holds it.
struct ChildKernelSa {
  const ChildConfig* cfg = nullptr;  // reqid, replay window
  IpAddress local, remote;           // the outer addresses (IKE SA's)
  uint32_t spi_in = 0, spi_out = 0;
  bool transport = false;
  // The negotiated selectors, viewed (the engine's CHILD SA owns them).
  std::span<const wire::TrafficSelector> local_ts, remote_ts;
  kernel::Lifetime lifetime;
  std::optional<kernel::Encap> encap_in, encap_out;  // RFC 3948, as each direction sends
};

// The keys of each direction (inbound: what the peer sends us).
struct EspKeys {
  const SecretBytes &encr_in, &integ_in, &encr_out, &integ_out;
};

kernel::SaParams esp_sa_params(const ChildKernelSa& c, const EspAlgorithms& esp,
                               const EspKeys& keys, bool inbound);
Result<std::vector<kernel::PolicyParams>> child_policies(const ChildKernelSa& c);
// The policies of a child's configured selectors (on-demand traps), between the
// connection's addresses.
Result<std::vector<kernel::PolicyParams>> trap_policies(const ConnectionConfig& conn,
                                                        const ChildConfig& cc);

// Inbound SA, outbound SA (returned instead of added when `outbound_later`: a rekey's new
// outbound SA waits for the old one's deletion), one use of each policy. Kernel failures
// count in `kernel_errors`; on any failure nothing stays.
Result<std::optional<kernel::SaParams>> install_child_sas(
    kernel::Kernel& kernel, PolicyRefs* policies, const ChildKernelSa& c, const EspAlgorithms& esp,
    const EspKeys& keys, bool outbound_later, uint64_t& kernel_errors);
// Both SAs (the outbound one only if it went in) and one use of each policy. Errors other
// than "already gone" (a hard expiry) are returned, and counted in `kernel_errors`.
std::vector<std::string> remove_child_sas(kernel::Kernel& kernel, PolicyRefs* policies,
                                          const ChildKernelSa& c, bool outbound_in_kernel,
                                          uint64_t& kernel_errors);

// The inbound SPI of a CHILD SA being negotiated (a larval SA from the kernel), and its
// release when the CHILD SA will not be installed.
Result<uint32_t> alloc_child_spi(kernel::Kernel& kernel, const IpAddress& local,
                                 const IpAddress& remote, uint32_t reqid);
void release_child_spi(kernel::Kernel& kernel, const IpAddress& local, uint32_t spi);

// The kernel lifetimes of a child: soft limits cut by a random amount (rand_time for
// seconds, a tenth of the soft-to-hard gap for bytes and packets) so that the two peers
// and many CHILD SAs do not rekey at once.
kernel::Lifetime child_lifetime(crypto::RandomSource& random, const ChildLifetime& l);
// from + period minus a random amount below `spread`; 0 when period is 0.
Millis jittered_deadline(crypto::RandomSource& random, Millis from, std::chrono::seconds period,
                         std::chrono::seconds spread);

// The kernel's identity of a CHILD SA's ESP SA towards `dst` with `spi`.
kernel::SaId esp_sa_id(const IpAddress& dst, uint32_t spi);

Bytes esp_spi_bytes(uint32_t spi);
uint32_t esp_spi_value(ByteView spi);
std::string esp_spi_str(uint32_t spi);  // "0xc0000001"

}  // namespace ipsec::ike
