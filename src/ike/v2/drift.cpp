// SPDX-License-Identifier: Apache-2.0
// Drift repair (the engine's part): CHILD SAs whose ESP SAs vanished from the kernel behind
// our back are rekeyed. The daemon dumps the kernel when its SA and policy events say
// something changed, and periodically; policies are PolicyRefs::reconcile's.
#include "common/log.h"
#include "ike/child_kernel.h"
#include "ike/v2/engine.h"
#include "ike/v2/exchanges.h"

namespace ipsec::ike::v2 {
namespace {

// Which of the child's ESP SAs the kernel lacks: "inbound", "outbound", "both"; empty: none.
std::string missing_sas(const IkeSa& sa, const ChildSa& c,
                        const std::unordered_set<std::string>& kernel_sas) {
  auto held = [&](const IpAddress& dst, uint32_t spi) {
    return kernel_sas.count(kernel::identity_key(esp_sa_id(dst, spi))) != 0;
  };
  const bool in = !held(sa.local.addr, c.spi_in);
  const bool out = !c.outbound_pending && !held(sa.remote.addr, c.spi_out);
  return in && out ? "inbound and outbound" : in ? "inbound" : out ? "outbound" : "";
}

}  // namespace

size_t Engine::reconcile(const std::unordered_set<std::string>& kernel_sas, Millis taken_at) {
  size_t found = 0;
  for (auto& [spi, sa] : sas_) {
    if (sa->state != IkeState::Established) continue;
    for (ChildSa& c : sa->children) {
      const bool live = c.state == ChildState::Installed || c.state == ChildState::Rekeying;
      if (!live || c.kernel_gone || !child_in_kernel(c) || c.installed >= taken_at) continue;
      const std::string missing = missing_sas(*sa, c, kernel_sas);
      if (missing.empty()) continue;
      ++found;
      c.kernel_gone = true;
      ++counters_.kernel_sas_missing;
      const std::string what = "CHILD SA " + std::string(child_name(c)) + " " +
                               esp_spi_str(c.spi_in) + ": its " + missing +
                               " ESP SA vanished from the kernel";
      const bool rekey = c.state == ChildState::Installed && c.replaced_by == 0;
      log::warn(label(*sa) + ": " + what + (rekey ? ": rekeying" : ": its rekey is under way"));
      EngineEvent e;
      e.kind = EventKind::Repair;
      e.child = std::string(child_name(c));
      e.spi_in = c.spi_in;
      e.spi_out = c.spi_out;
      e.detail = what + ", rekeyed";
      emit(*sa, std::move(e));
      if (rekey) enqueue(ctx_, *sa, {Request::RekeyChild, c.spi_in});
      touch(spi);
    }
  }
  reap();
  return found;
}

}  // namespace ipsec::ike::v2
