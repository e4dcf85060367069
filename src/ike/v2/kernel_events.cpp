// SPDX-License-Identifier: Apache-2.0
// The engine and the kernel's own events: trap policies for on-demand children, ACQUIRE
// (a trap policy's traffic asks for a CHILD SA), EXPIRE (a CHILD SA's soft or hard
// lifetime).
#include <algorithm>

#include "common/log.h"
#include "ike/v2/engine.h"
#include "ike/v2/exchanges.h"

namespace ipsec::ike::v2 {
namespace {

std::vector<const ChildConfig*> trap_children(const ConnectionConfig& c) {
  std::vector<const ChildConfig*> out;
  for (const auto& cc : c.children)
    if (cc.start_action == StartAction::Trap || cc.dpd_action == PeerGoneAction::Trap ||
        cc.close_action == PeerGoneAction::Trap)
      out.push_back(&cc);
  if (out.empty())
    for (const auto& cc : c.children) out.push_back(&cc);
  return out;
}

bool being_set_up(const IkeSa& sa) {
  return sa.state == IkeState::SaInitSent || sa.state == IkeState::SaInitDone ||
         sa.state == IkeState::AuthSent;
}

}  // namespace

Result<void> Engine::install_trap(std::string_view name) {
  auto c = connection(name);
  if (c == nullptr) return fail("no connection named " + std::string(name));
  if (traps_.count(name)) return ok();
  if (c->remote.addr.is_unspec() || c->remote.addr.is_any())
    return fail("connection " + c->name + ": on-demand needs a remote address");
  std::vector<kernel::PolicyParams> all;
  for (const ChildConfig* cc : trap_children(*c)) {
    auto policies = trap_policies(*c, *cc);
    if (!policies)
      return fail("connection " + c->name + " child " + cc->name + ": " + policies.error().message);
    all.insert(all.end(), policies->begin(), policies->end());
  }
  if (auto r = policies_->acquire(ctx_.kernel, all); !r)
    return fail("connection " + c->name + ": trap policies: " + r.error().message);
  log::info("connection " + c->name + ": trap policies installed (" + std::to_string(all.size()) +
            "), waiting for traffic");
  traps_.emplace(std::string(name), std::move(all));
  return ok();
}

void Engine::remove_trap(std::string_view name) {
  auto it = traps_.find(name);
  if (it == traps_.end()) return;
  policies_->release(ctx_.kernel, it->second);
  log::info("connection " + std::string(name) + ": trap policies removed");
  traps_.erase(it);
}

bool Engine::trapped(std::string_view name) const { return traps_.count(name) != 0; }

bool Engine::on_acquire(const kernel::AcquireEvent& ev) {
  uint32_t reqid = ev.tmpl.reqid;
  if (reqid == 0 && !ev.policy.tmpls.empty()) reqid = ev.policy.tmpls.front().reqid;
  std::shared_ptr<const ConnectionConfig> conn;
  const ChildConfig* cc = nullptr;
  for (const auto& x : connections_.all())
    if (const ChildConfig* y = x->child_by_reqid(reqid)) conn = x, cc = y;
  if (cc == nullptr) return false;
  if (handler_) {  // no IKE SA to name yet
    EngineEvent e;
    e.kind = EventKind::Acquire;
    e.connection = conn->name;
    e.child = cc->name;
    e.detail = ev.sel.src.str() + " -> " + ev.sel.dst.str() +
               (ev.sel.proto ? " proto " + std::to_string(ev.sel.proto) : std::string());
    handler_(e);
  }
  acquire_child(conn, *cc, ev.sel);
  reap();
  return true;
}

// One negotiation for any number of ACQUIREs of a child.
void Engine::acquire_child(const std::shared_ptr<const ConnectionConfig>& conn,
                           const ChildConfig& cc, const kernel::Selector& packet) {
  for (auto& [spi, sa] : sas_) {
    if (sa->config->name != conn->name || sa->superseded()) continue;
    if (being_set_up(*sa)) {
      // It brings the child up after IKE_AUTH, unless it does already.
      auto& want = sa->want_children;
      const bool asked = std::any_of(sa->children.begin(), sa->children.end(),
                                     [&](const ChildSa& x) { return x.cfg == &cc; });
      if (sa->initiator && !asked && std::find(want.begin(), want.end(), &cc) == want.end())
        want.push_back(&cc);
      return;
    }
    if (sa->state != IkeState::Established) continue;
    const bool has_child =
        std::any_of(sa->children.begin(), sa->children.end(), [&](const ChildSa& x) {
          return x.cfg == &cc && (child_in_kernel(x) || x.state == ChildState::None);
        });
    if (!has_child) {
      enqueue(ctx_, *sa, {Request::CreateChild, 0, &cc});
      touch(spi);
    }
    return;
  }
  auto r = start(conn, packet, 0, {&cc});
  if (!r) log::error("ACQUIRE for " + conn->name + "/" + cc.name + ": " + r.error().message);
}

bool Engine::on_expire(const kernel::ExpireEvent& ev) {
  for (auto& [spi, sa] : sas_) {
    for (auto& c : sa->children) {
      const bool in = c.spi_in == ev.sa.spi && ev.sa.dst == sa->local.addr;
      const bool out = c.spi_out == ev.sa.spi && ev.sa.dst == sa->remote.addr;
      if ((!in && !out) || !child_in_kernel(c)) continue;
      touch(spi);
      if (!ev.hard) {
        if (c.state == ChildState::Installed && c.replaced_by == 0 &&
            sa->state == IkeState::Established) {
          log::info(label(*sa) + ": CHILD SA " + esp_spi_str(c.spi_in) +
                    " reached its soft lifetime: rekeying");
          enqueue(ctx_, *sa, {Request::RekeyChild, c.spi_in});
        }
        reap();
        return true;
      }
      const bool replaced = c.superseded();
      const uint32_t ours = c.spi_in;
      // Rekeyed but the initiator's Delete never came: its successor's outbound SA first.
      if (c.replaced_by != 0)
        if (ChildSa* next = sa->child(c.replaced_by))
          if (auto r = install_pending_outbound(ctx_, *sa, *next); !r)
            log::error(label(*sa) + ": installing the rekeyed outbound SA: " + r.error().message);
      remove_child(ctx_, *sa, c, "hard lifetime expired");
      if (!replaced && sa->state == IkeState::Established)
        start_informational(ctx_, *sa, {Request::DeleteChild, ours});
      forget_deleted_children(*sa);
      reap();
      return true;
    }
  }
  return false;
}

}  // namespace ipsec::ike::v2
