// SPDX-License-Identifier: Apache-2.0
// CHILD SAs in the kernel: inbound SPI, KEYMAT (RFC 7296 §2.17), both ESP SAs with their
// lifetimes, and the policies (out, in, and fwd in tunnel mode) for every negotiated
// selector pair, counted in PolicyRefs so that an old and a new CHILD SA (or a trap and
// the CHILD SA it brought up) share them.
#include <cstdio>

#include "common/log.h"
#include "ike/traffic_selectors.h"
#include "ike/v2/exchanges.h"
#include "ike/v2/nat.h"
#include "kernel/algorithms.h"

namespace ipsec::ike::v2 {
namespace {

struct Direction {
  const SecretBytes& encr;
  const SecretBytes& integ;
};

kernel::SaParams esp_sa(const IkeSa& sa, const ChildSa& c, const EspAlgorithms& esp, bool inbound,
                        Direction keys) {
  const ChildConfig& cc = *c.cfg;
  kernel::SaParams p;
  p.src = inbound ? sa.remote.addr : sa.local.addr;
  p.dst = inbound ? sa.local.addr : sa.remote.addr;
  p.spi = inbound ? c.spi_in : c.spi_out;
  p.proto = kernel::Proto::Esp;
  p.mode = c.transport ? kernel::Mode::Transport : kernel::Mode::Tunnel;
  // A tunnel may carry selectors of both families (and of the other family
  // than the outer addresses): the kernel then must not pin the SA's selector
  // to the outer family, or it finds no SA for the other one (XfrmOutNoStates).
  if (!c.transport) p.flags = kernel::kSaFlagAfUnspec;
  p.reqid = cc.reqid;
  p.replay_window = cc.replay_window;
  p.esn = esp.esn;
  p.encap = esp_encap(sa, inbound);  // RFC 3948 over the NAT-T ports
  p.lifetime = c.lifetime;
  const auto* encr = kernel::find_algorithm(esp.encr_keyword);
  if (encr->kind == kernel::AlgKind::Aead) {
    p.aead = kernel::Algorithm{std::string(encr->kernel_name), keys.encr, encr->bits};
  } else {
    const auto* integ = kernel::find_algorithm(esp.integ_keyword);
    p.enc = kernel::Algorithm{std::string(encr->kernel_name), keys.encr, 0};
    p.auth = kernel::Algorithm{std::string(integ->kernel_name), keys.integ, integ->bits};
  }
  return p;
}

void set_ports(const wire::TrafficSelector& ts, uint16_t& port, uint16_t& mask) {
  if (ts.start_port == ts.end_port) {
    port = ts.start_port;
    mask = 0xffff;
  }
}

Result<kernel::Selector> selector(const wire::TrafficSelector& src,
                                  const wire::TrafficSelector& dst) {
  auto s = ts_prefix(src);
  auto d = ts_prefix(dst);
  if (!s) return fail(s.error());
  if (!d) return fail(d.error());
  kernel::Selector sel;
  sel.src = *s;
  sel.dst = *d;
  sel.proto = src.ip_protocol != 0 ? src.ip_protocol : dst.ip_protocol;
  set_ports(src, sel.sport, sel.sport_mask);
  set_ports(dst, sel.dport, sel.dport_mask);
  return sel;
}

// `local`, `remote`: the outer addresses (tunnel mode templates).
struct PolicyShape {
  const IpAddress &local, &remote;
  bool transport;
  uint32_t reqid;
};

kernel::PolicyParams policy(const PolicyShape& shape, kernel::Selector sel, kernel::Dir dir) {
  const bool transport = shape.transport;
  const bool out = dir == kernel::Dir::Out;
  kernel::PolicyParams p;
  p.sel = sel;
  p.dir = dir;
  kernel::Template t;
  if (!transport) {
    t.src = out ? shape.local : shape.remote;
    t.dst = out ? shape.remote : shape.local;
  }
  t.proto = kernel::Proto::Esp;
  t.mode = transport ? kernel::Mode::Transport : kernel::Mode::Tunnel;
  t.reqid = shape.reqid;
  p.tmpls.push_back(t);
  return p;
}

Result<std::vector<kernel::PolicyParams>> policies_for(
    const PolicyShape& shape, const std::vector<wire::TrafficSelector>& local,
    const std::vector<wire::TrafficSelector>& remote) {
  const bool transport = shape.transport;
  std::vector<kernel::PolicyParams> out;
  for (const auto& l : local)
    for (const auto& r : remote) {
      if (l.start.family != r.start.family) continue;
      auto o = selector(l, r);
      auto i = selector(r, l);
      if (!o) return fail(o.error());
      if (!i) return fail(i.error());
      out.push_back(policy(shape, *o, kernel::Dir::Out));
      out.push_back(policy(shape, *i, kernel::Dir::In));
      if (!transport) out.push_back(policy(shape, *i, kernel::Dir::Fwd));
    }
  return out;
}

uint64_t random_below(crypto::RandomSource& random, uint64_t n) {
  auto v = random.below(n, crypto::RandomUse::Jitter);
  return v ? *v : 0;  // no jitter rather than no SA
}

// A soft limit reduced by a random amount below `spread` (never below 1).
uint64_t jittered(crypto::RandomSource& random, uint64_t soft, uint64_t spread) {
  if (soft == 0) return 0;
  const uint64_t cut = random_below(random, std::min(spread, soft - 1) + 1);
  return soft - cut;
}

uint64_t count_spread(uint64_t soft, uint64_t hard) {
  return hard > soft ? (hard - soft) / 10 : soft / 10;
}

}  // namespace

std::string esp_spi_str(uint32_t spi) {
  char buf[12];
  std::snprintf(buf, sizeof buf, "0x%08x", spi);
  return buf;
}

Bytes esp_spi_bytes(uint32_t spi) {
  return Bytes{static_cast<uint8_t>(spi >> 24), static_cast<uint8_t>(spi >> 16),
               static_cast<uint8_t>(spi >> 8), static_cast<uint8_t>(spi)};
}

uint32_t esp_spi_value(ByteView spi) {
  uint32_t v = 0;
  for (auto b : spi) v = v << 8 | b;
  return v;
}

kernel::Lifetime child_lifetime(crypto::RandomSource& random, const ChildLifetime& l) {
  kernel::Lifetime k;
  const uint64_t rekey = static_cast<uint64_t>(l.rekey_time.count());
  k.soft_add_seconds = jittered(random, rekey, static_cast<uint64_t>(l.rand_time.count()));
  k.hard_add_seconds = static_cast<uint64_t>(l.life_time.count());
  k.soft_bytes = jittered(random, l.rekey_bytes, count_spread(l.rekey_bytes, l.life_bytes));
  k.hard_bytes = l.life_bytes;
  k.soft_packets = jittered(random, l.rekey_packets, count_spread(l.rekey_packets, l.life_packets));
  k.hard_packets = l.life_packets;
  return k;
}

Millis jittered_deadline(crypto::RandomSource& random, Millis from, std::chrono::seconds period,
                         std::chrono::seconds spread) {
  if (period.count() == 0) return Millis{0};
  const uint64_t ms = static_cast<uint64_t>(Millis(period).count());
  const uint64_t cut = random_below(random, std::min<uint64_t>(Millis(spread).count(), ms - 1) + 1);
  return from + Millis(static_cast<int64_t>(ms - cut));
}

Result<std::vector<kernel::PolicyParams>> child_policies(const IkeSa& sa, const ChildSa& c) {
  return policies_for({sa.local.addr, sa.remote.addr, c.transport, c.cfg->reqid}, c.local_ts,
                      c.remote_ts);
}

Result<std::vector<kernel::PolicyParams>> trap_policies(const ConnectionConfig& conn,
                                                        const ChildConfig& cc) {
  return policies_for(
      {conn.local.addr, conn.remote.addr, cc.mode == kernel::Mode::Transport, cc.reqid},
      to_ts(cc.local_ts), to_ts(cc.remote_ts));
}

std::string_view child_name(const ChildSa& c) {
  return c.cfg ? std::string_view(c.cfg->name) : std::string_view("?");
}

Result<uint32_t> alloc_inbound_spi(Context& ctx, const IkeSa& sa, const ChildConfig& cc) {
  kernel::SpiRequest req;
  req.src = sa.remote.addr;
  req.dst = sa.local.addr;
  req.proto = kernel::Proto::Esp;
  req.reqid = cc.reqid;
  auto spi = ctx.kernel.alloc_spi(req);
  if (!spi) ++ctx.counters.kernel_errors;
  return spi;
}

void release_child_spi(Context& ctx, IkeSa& sa, ChildSa& c) {
  if (c.spi_in == 0 || c.state != ChildState::None) return;
  (void)ctx.kernel.delete_sa(kernel::SaId{sa.local.addr, c.spi_in, kernel::Proto::Esp, {}, {}});
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
  std::vector<kernel::Op> ops;
  if (!c.outbound_pending)
    ops.push_back(
        kernel::DeleteSa{kernel::SaId{sa.remote.addr, c.spi_out, kernel::Proto::Esp, {}, {}}});
  ops.push_back(
      kernel::DeleteSa{kernel::SaId{sa.local.addr, c.spi_in, kernel::Proto::Esp, {}, {}}});
  for (const auto& r : ctx.kernel.apply_batch(ops))
    if (!r && r.error().code != ENOENT) {  // a hard expiry may have removed one already
      ++ctx.counters.kernel_errors;
      log::warn(label(sa) + ": removing CHILD SA: " + r.error().message);
    }
  if (auto policies = child_policies(sa, c)) {
    if (ctx.policies) ctx.counters.kernel_errors += ctx.policies->release(ctx.kernel, *policies);
  }
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
  const Direction i_to_r{keys->encr_i, keys->integ_i}, r_to_i{keys->encr_r, keys->integ_r};
  kernel::SaParams out = esp_sa(sa, c, *esp, false, in.we_initiated ? i_to_r : r_to_i);
  std::vector<kernel::Op> ops{
      kernel::AddSa{esp_sa(sa, c, *esp, true, in.we_initiated ? r_to_i : i_to_r)}};
  if (!outbound_later) ops.push_back(kernel::AddSa{out});
  auto results = ctx.kernel.apply_batch(ops);
  std::string error;
  for (const auto& r : results)
    if (!r && error.empty()) error = r.error().message;
  auto policies = child_policies(sa, c);
  if (error.empty() && !policies) error = policies.error().message;
  if (error.empty() && ctx.policies)
    if (auto r = ctx.policies->acquire(ctx.kernel, *policies); !r) error = r.error().message;
  if (!error.empty()) {
    ++ctx.counters.kernel_errors;
    for (size_t i = 0; i < results.size(); ++i)
      if (results[i]) (void)ctx.kernel.delete_sa(std::get<kernel::AddSa>(ops[i]).sa.id());
    return fail(error);
  }
  if (outbound_later) c.pending_out = std::move(out);
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
