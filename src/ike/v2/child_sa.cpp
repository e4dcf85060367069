// SPDX-License-Identifier: Apache-2.0
// IKEv2's CHILD SAs in the kernel: the inbound SPI, KEYMAT (RFC 7296 §2.17), and the
// version-neutral kernel programming of ike/child_kernel.h (both ESP SAs, lifetimes,
// counted policies) for the SA's addresses, selectors and NAT state.
#include "common/log.h"
#include "ike/child_kernel.h"
#include "ike/traffic_selectors.h"
#include "ike/v2/exchanges.h"
#include "ike/v2/nat.h"

namespace ipsec::ike::v2 {
namespace {

// The CHILD SA as the kernel holds it.
ChildKernelSa kernel_view(const IkeSa& sa, const ChildSa& c) {
  ChildKernelSa k;
  k.cfg = c.cfg;
  k.local = sa.local.addr;
  k.remote = sa.remote.addr;
  k.spi_in = c.spi_in;
  k.spi_out = c.spi_out;
  k.transport = c.transport;
  k.local_ts = c.local_ts;
  k.remote_ts = c.remote_ts;
  k.lifetime = c.lifetime;
  k.encap_in = esp_encap(sa, true);  // RFC 3948 over the NAT-T ports
  k.encap_out = esp_encap(sa, false);
  return k;
}

}  // namespace

Result<std::vector<kernel::PolicyParams>> child_policies(const IkeSa& sa, const ChildSa& c) {
  return ike::child_policies(kernel_view(sa, c));
}

std::string_view child_name(const ChildSa& c) {
  return c.cfg ? std::string_view(c.cfg->name) : std::string_view("?");
}

Result<uint32_t> alloc_inbound_spi(Context& ctx, const IkeSa& sa, const ChildConfig& cc) {
  auto spi = alloc_child_spi(ctx.kernel, sa.local.addr, sa.remote.addr, cc.reqid);
  if (!spi) ++ctx.counters.kernel_errors;
  return spi;
}

void release_child_spi(Context& ctx, IkeSa& sa, ChildSa& c) {
  if (c.spi_in == 0 || c.state != ChildState::None) return;
  ike::release_child_spi(ctx.kernel, sa.local.addr, c.spi_in);
}

bool child_in_kernel(const ChildSa& c) {
  return c.state == ChildState::Installed || c.state == ChildState::Rekeying ||
         c.state == ChildState::Rekeyed;
}

void remove_child(Context& ctx, IkeSa& sa, ChildSa& c, std::string_view reason) {
  if (!child_in_kernel(c)) {
    release_child_spi(ctx, sa, c);
    if (c.state == ChildState::None) c.state = ChildState::Deleted;
    return;
  }
  for (const auto& e : remove_child_sas(ctx.kernel, ctx.policies.get(), kernel_view(sa, c),
                                        !c.outbound_pending, ctx.counters.kernel_errors))
    log::warn(label(sa) + ": removing CHILD SA: " + e);
  c.pending_out.reset();
  const bool replaced = c.superseded();
  c.state = ChildState::Deleted;
  log::info(label(sa) + ": CHILD SA " + std::string(child_name(c)) + " removed, ESP SPIs in " +
            esp_spi_str(c.spi_in) + " out " + esp_spi_str(c.spi_out) + " (" + std::string(reason) +
            ")");
  if (!replaced && ctx.engine) {
    EngineEvent e;
    e.kind = EventKind::ChildDown;
    e.child = std::string(child_name(c));
    e.spi_in = c.spi_in;
    e.spi_out = c.spi_out;
    e.reason = std::string(reason);
    ctx.engine->emit(sa, std::move(e));
  }
}

void remove_children(Context& ctx, IkeSa& sa, std::string_view reason) {
  for (auto& c : sa.children) remove_child(ctx, sa, c, reason);
}

void forget_deleted_children(IkeSa& sa) {
  // Failed ones stay: the operator reads why (only IKE_AUTH's first CHILD SA is kept so).
  std::erase_if(sa.children, [](const ChildSa& c) { return c.state == ChildState::Deleted; });
}

Result<void> install_child(Context& ctx, IkeSa& sa, ChildSa& c, const KeymatInput& in,
                           bool outbound_later) {
  auto esp = esp_algorithms(c.proposal);
  if (!esp) return fail(esp.error());
  auto keys = crypto::derive_child_sa_keys(sa.algs.prf, sa.keys.sk_d, in.g_ir, in.ni, in.nr,
                                           {esp->encr_key_bytes, esp->integ_key_bytes});
  if (!keys) return fail(keys.error());
  c.lifetime = child_lifetime(*ctx.random, c.cfg->lifetime);
  // §2.17: the keys of the exchange's initiator-to-responder direction come first.
  const bool we = in.we_initiated;
  const EspKeys k{we ? keys->encr_r : keys->encr_i, we ? keys->integ_r : keys->integ_i,
                  we ? keys->encr_i : keys->encr_r, we ? keys->integ_i : keys->integ_r};
  auto out = install_child_sas(ctx.kernel, ctx.policies.get(), kernel_view(sa, c), *esp, k,
                               outbound_later, ctx.counters.kernel_errors);
  if (!out) return fail(out.error());
  if (outbound_later) c.pending_out = std::move(**out);
  c.outbound_pending = outbound_later;
  c.state = ChildState::Installed;
  c.installed = ctx.clock.now();
  c.last_active = c.installed;
  c.soft_at = c.lifetime.soft_add_seconds
                  ? c.installed + std::chrono::seconds(c.lifetime.soft_add_seconds)
                  : Millis{0};
  c.hard_at = c.lifetime.hard_add_seconds
                  ? c.installed + std::chrono::seconds(c.lifetime.hard_add_seconds)
                  : Millis{0};
  ++ctx.counters.child_installed;
  log::info(label(sa) + ": CHILD SA " + std::string(child_name(c)) + " installed, ESP SPIs in " +
            esp_spi_str(c.spi_in) + " out " + esp_spi_str(c.spi_out) + ", " + describe(c.proposal) +
            ", " + describe(c.local_ts) + " === " + describe(c.remote_ts) +
            (c.transport ? " transport" : " tunnel") + (in.g_ir ? ", PFS" : "") +
            (c.replaces ? ", rekeying " + esp_spi_str(c.replaces) : std::string()) +
            (outbound_later ? " (outbound SA once the old one is deleted)" : ""));
  if (!c.redundant && !c.announce_later) announce_child(ctx, sa, c);
  return ok();
}

void announce_child(Context& ctx, const IkeSa& sa, ChildSa& c) {
  c.announce_later = false;
  if (!ctx.engine) return;
  EngineEvent e;
  e.kind = c.replaces ? EventKind::ChildRekeyed : EventKind::ChildUp;
  e.child = std::string(child_name(c));
  e.spi_in = c.spi_in;
  e.spi_out = c.spi_out;
  e.old_spi_in = c.replaces;
  ctx.engine->emit(sa, std::move(e));
}

Result<void> install_pending_outbound(Context& ctx, IkeSa& sa, ChildSa& c) {
  if (!c.outbound_pending || !c.pending_out) return ok();
  auto r = ctx.kernel.add_sa(*c.pending_out);
  c.pending_out.reset();
  c.outbound_pending = false;
  if (!r) {
    ++ctx.counters.kernel_errors;
    return fail(r.error());
  }
  log::debug(label(sa) + ": outbound SA " + esp_spi_str(c.spi_out) + " installed");
  return ok();
}

}  // namespace ipsec::ike::v2
