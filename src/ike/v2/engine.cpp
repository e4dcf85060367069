// SPDX-License-Identifier: Apache-2.0
// Dispatch of datagrams to IKE SAs, duplicate requests, timers.
#include "ike/v2/engine.h"

#include <algorithm>

#include "common/log.h"
#include "ike/v2/exchanges.h"
#include "ike/v2/nat.h"
#include "wire/names.h"
#include "wire/rules.h"

namespace ipsec::ike::v2 {

Engine::Engine(Sender& sender, kernel::Kernel& kernel, const Clock& clock, RetransmitConfig rt,
               EngineLimits limits, std::shared_ptr<PolicyRefs> policies)
    : ctx_{sender, kernel, clock, counters_, rt, limits},
      cookies_(Millis(limits.cookie_secret_lifetime)) {
  policies_ = policies ? std::move(policies) : std::make_shared<PolicyRefs>();
  ctx_.connections = &connections_;
  ctx_.policies = policies_;
  ctx_.engine = &hooks_;
}

// The exchanges' view of the engine.
void Engine::Hooks::emit(const IkeSa& sa, EngineEvent e) { engine.emit(sa, std::move(e)); }
void Engine::Hooks::initial_contact(const IkeSa& fresh) { engine.on_initial_contact(fresh); }
void Engine::Hooks::adopt(std::unique_ptr<IkeSa> fresh) {
  engine.adopted_.push_back(std::move(fresh));
}
Result<uint64_t> Engine::Hooks::new_ike_spi() { return engine.fresh_spi(); }
void Engine::Hooks::peer_gone(const ConnectionConfig& c, bool dead) {
  engine.on_peer_gone(c, dead);
}
void Engine::Hooks::forget_peer(const IkeSa& dead) { engine.forget_peer(dead); }
void Engine::Hooks::reauth(IkeSa& sa) { engine.on_reauth(sa); }

void Engine::set_event_handler(EventHandler handler) { handler_ = std::move(handler); }

void Engine::emit(const IkeSa& sa, EngineEvent e) {
  e.connection = sa.config->name;  // child events name their child themselves
  e.ike_spi = sa.local_spi();
  // Make-before-break reauthentication: the old IKE SA goes once the new one carries
  // its CHILD SA.
  if (e.kind == EventKind::ChildUp && sa.reauth && sa.replaces != 0)
    deferred_.push_back({Deferred::Kind::DeleteReplaced, sa.config->name, sa.replaces});
  if (handler_) handler_(e);
}

Result<uint64_t> Engine::fresh_spi() const {
  for (int tries = 0; tries < 16; ++tries) {
    auto v = random_spi(*ctx_.random, ctx_.limits.shard);
    if (!v) return fail(v.error());
    bool used = sas_.count(*v) != 0;
    for (const auto& a : adopted_) used = used || a->local_spi() == *v;
    if (!used) return *v;
  }
  return fail("no free IKE SPI");
}

std::shared_ptr<const ConnectionConfig> Engine::connection(std::string_view name) const {
  return connections_.find(name);
}

void Engine::forget_peer(const IkeSa& dead) {
  for (auto& [spi, sa] : sas_) {
    if (sa.get() == &dead || sa->remote != dead.remote || sa->config->name != dead.config->name)
      continue;
    if (sa->state != IkeState::Deleting && !sa->superseded()) continue;
    remove_children(ctx_, *sa, "dead peer");
    sa->awaiting_response = false;
    if (!sa->superseded()) sa->succession = IkeSa::Succession::Abandoned;
    sa->close_reason = "dead peer (found on " + label(dead) + ")";
    sa->state = IkeState::Closed;
    touch(spi);
  }
}

// The children's dpd_action or close_action: restart if any child asks for it, else back
// to trap if any child asks for that.
void Engine::on_peer_gone(const ConnectionConfig& config, bool dead) {
  bool restart = false, trap = false;
  for (const auto& cc : config.children) {
    const PeerGoneAction a = dead ? cc.dpd_action : cc.close_action;
    restart = restart || a == PeerGoneAction::Restart;
    trap = trap || a == PeerGoneAction::Trap;
  }
  if (restart)
    deferred_.push_back({Deferred::Kind::Restart, config.name, 0});
  else if (trap)
    deferred_.push_back({Deferred::Kind::Trap, config.name, 0});
}

void Engine::on_reauth(IkeSa& sa) {
  auto c = connection(sa.config->name);
  if (c == nullptr) return;  // removed by a load: it will not be renewed
  // The new IKE SA brings up the children the old one carries (make-before-break).
  std::vector<const ChildConfig*> want;
  for (const auto& child : sa.children)
    if (child_in_kernel(child) && child.replaced_by == 0 && !child.redundant && child.cfg)
      if (const ChildConfig* cc = c->child(child.cfg->name);
          cc && std::find(want.begin(), want.end(), cc) == want.end())
        want.push_back(cc);
  auto spi = start(c, std::nullopt, sa.local_spi(), std::move(want));
  if (!spi) log::error(label(sa) + ": reauthentication: " + spi.error().message);
}

void Engine::run_deferred() {
  for (auto& a : adopted_) {
    const uint64_t spi = a->local_spi();
    sas_.add(spi, std::move(a));
  }
  adopted_.clear();
  auto todo = std::move(deferred_);
  deferred_.clear();
  for (const auto& d : todo) {
    switch (d.kind) {
      case Deferred::Kind::Restart:
        if (auto r = initiate(d.connection); !r)
          log::error("restarting " + d.connection + ": " + r.error().message);
        break;
      case Deferred::Kind::Trap:
        if (auto r = install_trap(d.connection); !r)
          log::error("back to trap for " + d.connection + ": " + r.error().message);
        break;
      case Deferred::Kind::DeleteReplaced:
        if (auto it = sas_.find(d.spi);
            it != sas_.end() && it->second->state == IkeState::Established) {
          touch(d.spi);
          IkeSa& old = *it->second;
          old.close_reason = "reauthenticated";
          for (auto& c : old.children) c.carried_on = true;
          start_informational(ctx_, old, {Request::DeleteIke, 0});
          old.succession = IkeSa::Succession::Reauthenticated;
        }
        break;
    }
  }
}

Engine::~Engine() = default;

void Engine::set_limits(EngineLimits limits) {
  ctx_.limits = limits;
  cookies_ = CookieJar(limits.cookie_secret_lifetime);
}

void Engine::add_connection(ConnectionConfig config) { connections_.add(std::move(config)); }

void Engine::remove_connection(std::string_view name) {
  remove_trap(name);
  connections_.remove(name);
  // An IKE SA of it still being set up would go on retransmitting (or waiting for IKE_AUTH)
  // for a connection that is gone: it ends here. Established ones are the caller's to
  // delete (a reload sends the peer a Delete first).
  for (auto& [spi, sa] : sas_) {
    if (sa->config->name != name || sa->state == IkeState::Established ||
        sa->state == IkeState::Deleting || sa->state == IkeState::Closed ||
        sa->state == IkeState::Failed)
      continue;
    sa->awaiting_response = false;
    fail_sa(*sa, "connection " + std::string(name) + " removed before the IKE SA was set up");
    sas_.touch(spi);
  }
  reap();
}

Result<void> Engine::create_child_sa(uint64_t local_spi, std::string_view child) {
  IkeSa* sa = established(local_spi);
  if (sa == nullptr) return fail("no established IKE SA " + spi_str(local_spi));
  const ChildConfig* cc = child.empty() ? &sa->config->children.front() : sa->config->child(child);
  if (cc == nullptr)
    return fail(label(*sa) + ": connection " + sa->config->name + " has no child " +
                std::string(child));
  enqueue(ctx_, *sa, {Request::CreateChild, 0, cc});
  reap();
  return ok();
}

Result<void> Engine::rekey_child_sa(uint64_t local_spi, uint32_t inbound_spi) {
  IkeSa* sa = established(local_spi);
  if (sa == nullptr) return fail("no established IKE SA " + spi_str(local_spi));
  const ChildSa* c = sa->child(inbound_spi);
  if (c == nullptr || c->state != ChildState::Installed)
    return fail(label(*sa) + ": no installed CHILD SA with inbound SPI " +
                esp_spi_str(inbound_spi));
  enqueue(ctx_, *sa, {Request::RekeyChild, inbound_spi});
  reap();
  return ok();
}

Result<void> Engine::rekey_ike_sa(uint64_t local_spi) {
  IkeSa* sa = established(local_spi);
  if (sa == nullptr || sa->superseded()) return fail("no established IKE SA " + spi_str(local_spi));
  if (sa->config->ike_lifetime.reauth_time.count() != 0)
    on_reauth(*sa);
  else
    enqueue(ctx_, *sa, {Request::RekeyIke, 0});
  reap();
  return ok();
}

Result<uint64_t> Engine::initiate(std::string_view name) {
  auto c = connection(name);
  if (c == nullptr) return fail("no connection named " + std::string(name));
  auto r = start(c, std::nullopt, 0, {});
  reap();
  return r;
}

// Every child but the on-demand ones (those wait for their traffic); all of them when
// every child is on-demand.
std::vector<const ChildConfig*> Engine::children_to_start(const ConnectionConfig& c) {
  std::vector<const ChildConfig*> out;
  for (const auto& cc : c.children)
    if (cc.start_action != StartAction::Trap) out.push_back(&cc);
  if (out.empty())
    for (const auto& cc : c.children) out.push_back(&cc);
  return out;
}

Result<uint64_t> Engine::start(std::shared_ptr<const ConnectionConfig> config,
                               std::optional<kernel::Selector> trigger, uint64_t replaces,
                               std::vector<const ChildConfig*> want) {
  const ConnectionConfig* it = config.get();
  if (it->children.empty()) return fail("connection " + it->name + " has no children");
  if (it->remote.addr.is_unspec() || it->remote.addr.is_any())
    return fail("connection " + it->name + " serves peers from any address: it only responds");
  if (it->proposals.empty() || it->proposals.front().dh.empty())
    return fail("connection " + it->name + ": no IKE proposal with a key exchange group");
  auto group = crypto::ke_group_from_id(static_cast<uint16_t>(it->proposals.front().dh.front()));
  if (!group) return fail("connection " + it->name + ": " + group.error().message);
  auto sa = std::make_unique<IkeSa>();
  sa->config = std::move(config);
  sa->want_children = want.empty() ? children_to_start(*it) : std::move(want);
  sa->initiator = true;
  sa->local = it->local;
  sa->remote = it->remote;
  sa->ke_group = *group;
  sa->created = ctx_.clock.now();
  sa->replaces = replaces;
  sa->reauth = replaces != 0;
  // The packet must be one the configured selectors cover, or it is not used.
  if (trigger) {
    bool fits_local = false, fits_remote = false;
    const ChildConfig& cc = *sa->want_children.front();
    for (const auto& p : cc.local_ts) fits_local = fits_local || p.contains(trigger->src.addr);
    for (const auto& p : cc.remote_ts) fits_remote = fits_remote || p.contains(trigger->dst.addr);
    if (fits_local && fits_remote) sa->trigger = trigger;
  }
  // §2.4: INITIAL_CONTACT only when we hold no other IKE SA with this peer.
  sa->initial_contact =
      replaces == 0 && std::none_of(sas_.begin(), sas_.end(), [&](const auto& e) {
        return e.second->config->name == it->name && e.second->remote == it->remote;
      });
  auto spi_i = fresh_spi();
  if (!spi_i) return fail(spi_i.error());
  sa->spi_i = *spi_i;
  if (auto r = start_sa_init(ctx_, *sa); !r) return fail(r.error());
  const uint64_t spi = sa->spi_i;
  log::info(label(*sa) + ": initiating, offering " + describe(to_wire(sa->config->proposals)));
  sas_.add(spi, std::move(sa));
  return spi;
}

IkeSa* Engine::established(uint64_t local_spi) {
  auto it = sas_.find(local_spi);
  if (it == sas_.end() || it->second->state != IkeState::Established) return nullptr;
  touch(local_spi);
  return it->second.get();
}

Result<void> Engine::delete_ike_sa(uint64_t local_spi) {
  IkeSa* sa = established(local_spi);
  if (sa == nullptr) return fail("no established IKE SA " + spi_str(local_spi));
  start_informational(ctx_, *sa, {Request::DeleteIke, 0});
  reap();
  return ok();
}

Result<void> Engine::delete_child_sa(uint64_t local_spi, uint32_t inbound_spi) {
  IkeSa* sa = established(local_spi);
  if (sa == nullptr) return fail("no established IKE SA " + spi_str(local_spi));
  const ChildSa* c = sa->child(inbound_spi);
  if (c == nullptr || !child_in_kernel(*c))
    return fail(label(*sa) + ": no installed CHILD SA with inbound SPI " +
                esp_spi_str(inbound_spi));
  start_informational(ctx_, *sa, {Request::DeleteChild, inbound_spi});
  reap();
  return ok();
}

Result<void> Engine::check_liveness(uint64_t local_spi) {
  IkeSa* sa = established(local_spi);
  if (sa == nullptr) return fail("no established IKE SA " + spi_str(local_spi));
  start_informational(ctx_, *sa, {Request::Liveness, 0});
  reap();
  return ok();
}

// §2.4: the peer restarted; its older IKE SAs (same authenticated identity)
// and their CHILD SAs are gone on its side, so they go here without a Delete.
void Engine::on_initial_contact(const IkeSa& fresh) {
  for (auto& [spi, sa] : sas_) {
    if (sa.get() == &fresh || !(sa->peer_id == fresh.peer_id)) continue;
    if (sa->state != IkeState::Established && sa->state != IkeState::Deleting) continue;
    remove_children(ctx_, *sa, "peer restarted (INITIAL_CONTACT)");
    sa->awaiting_response = false;
    sa->close_reason = "replaced by " + label(fresh) + " (INITIAL_CONTACT)";
    sa->state = IkeState::Closed;
    touch(spi);
    ++counters_.initial_contact_closed;
    log::info(label(*sa) + ": IKE SA closed: peer sent INITIAL_CONTACT");
  }
}

size_t Engine::half_open_count() const { return sas_.half_open().size(); }

void Engine::expire_half_open(IkeSa& sa, Millis now) {
  if (sa.initiator || sa.state != IkeState::SaInitDone) return;
  if (now < sa.created + ctx_.limits.half_open_timeout) return;
  // Counted, and logged at debug only: anyone may send IKE_SA_INIT, and the journal is not
  // theirs to flood.
  ++counters_.half_open_expired;
  sa.state = IkeState::Failed;
  sa.failure = "half-open IKE SA expired: no IKE_AUTH within " +
               std::to_string(ctx_.limits.half_open_timeout.count()) + " ms";
  sa.ke.reset();
  log::debug(label(sa) + ": " + sa.failure);
}

void Engine::on_timer(Millis now) {
  if (now >= next_sweep_) {
    next_sweep_ = now + kSweep;
    sas_.touch_all();
  }
  for (uint64_t spi : sas_.take_due(now)) {
    auto it = sas_.find(spi);
    if (it == sas_.end()) continue;
    IkeSa& sa = *it->second;
    on_retransmit_timer(ctx_, sa, now);
    on_keepalive_timer(ctx_, sa, now);
    expire_half_open(sa, now);
    on_lifecycle_timer(ctx_, sa, now);
    touch(spi);
  }
  reap();
}

std::optional<Millis> Engine::deadline_of(const IkeSa& sa) const {
  std::optional<Millis> next;
  auto consider = [&next](Millis t) {
    if (!next || t < *next) next = t;
  };
  if (sa.awaiting_response) consider(sa.deadline);
  if (auto k = keepalive_deadline(ctx_, sa)) consider(*k);
  if (!sa.initiator && sa.state == IkeState::SaInitDone)
    consider(sa.created + ctx_.limits.half_open_timeout);
  if (auto l = lifecycle_deadline(ctx_, sa)) consider(*l);
  return next;
}

void Engine::reschedule() {
  sas_.reschedule(
      [this](const IkeSa& sa) { return deadline_of(sa); },
      [](const IkeSa& sa) { return !sa.initiator && sa.state == IkeState::SaInitDone; });
}

// The sweep rides on other timers: it is not a reason to wake up.
std::optional<Millis> Engine::next_timer() const { return sas_.next_timer(); }

// Only SAs an entry point touched can have been closed (the sweep touches all).
void Engine::reap() {
  for (int round = 0; round < 4; ++round) {  // deferred work may close or add SAs again
    for (uint64_t spi : sas_.touched()) {
      auto it = sas_.find(spi);
      if (it == sas_.end()) continue;
      IkeSa& sa = *it->second;
      if (sa.state != IkeState::Failed && sa.state != IkeState::Closed) continue;
      const ChildSa* first = sa.children.empty() ? nullptr : &sa.children.front();
      ClosedSa c{it->first,
                 label(sa),
                 sa.state,
                 sa.failure.empty() ? sa.close_reason : sa.failure,
                 first ? first->state : ChildState::None,
                 first ? first->failure : std::string()};
      // whatever is left in the kernel: installed or larval
      remove_children(ctx_, sa, sa.failure.empty() ? sa.close_reason : sa.failure);
      if (!sa.superseded() &&
          (sa.state == IkeState::Closed || sa.established_at.count() != 0 || sa.initiator)) {
        EngineEvent e;
        e.kind = EventKind::IkeDown;
        e.reason = c.reason;
        emit(sa, std::move(e));
      }
      closed_.push_front(std::move(c));
      if (closed_.size() > kClosedKept) closed_.pop_back();
      sas_.erase(it);  // reschedule() forgets its timers
    }
    if (adopted_.empty() && deferred_.empty()) break;
    run_deferred();
  }
  reschedule();
}

const ClosedSa* Engine::closed(uint64_t local_spi) const {
  for (const auto& c : closed_)
    if (c.local_spi == local_spi) return &c;
  return nullptr;
}

const IkeSa* Engine::find(uint64_t local_spi) const {
  auto it = sas_.find(local_spi);
  return it == sas_.end() ? nullptr : it->second.get();
}

std::vector<const IkeSa*> Engine::sas() const {
  std::vector<const IkeSa*> out;
  for (const auto& [spi, sa] : sas_) out.push_back(sa.get());
  return out;
}

}  // namespace ipsec::ike::v2
