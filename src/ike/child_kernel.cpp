// SPDX-License-Identifier: Apache-2.0
// CHILD SAs in the kernel (child_kernel.h).
#include "ike/child_kernel.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "ike/traffic_selectors.h"
#include "kernel/algorithms.h"

namespace ipsec::ike {
namespace {

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
    const PolicyShape& shape, std::span<const wire::TrafficSelector> local,
    std::span<const wire::TrafficSelector> remote) {
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

kernel::SaParams esp_sa_params(const ChildKernelSa& c, const EspAlgorithms& esp,
                               const EspKeys& keys, bool inbound) {
  kernel::SaParams p;
  p.src = inbound ? c.remote : c.local;
  p.dst = inbound ? c.local : c.remote;
  p.spi = inbound ? c.spi_in : c.spi_out;
  p.proto = kernel::Proto::Esp;
  p.mode = c.transport ? kernel::Mode::Transport : kernel::Mode::Tunnel;
  // A tunnel may carry selectors of both families (and of the other family than the outer
  // addresses): the kernel then must not pin the SA's selector to the outer family, or it
  // finds no SA for the other one (XfrmOutNoStates).
  if (!c.transport) p.flags = kernel::kSaFlagAfUnspec;
  p.reqid = c.cfg->reqid;
  p.replay_window = c.cfg->replay_window;
  p.esn = esp.esn;
  p.encap = inbound ? c.encap_in : c.encap_out;
  p.lifetime = c.lifetime;
  const SecretBytes& encr_key = inbound ? keys.encr_in : keys.encr_out;
  const SecretBytes& integ_key = inbound ? keys.integ_in : keys.integ_out;
  const auto* encr = kernel::find_algorithm(esp.encr_keyword);
  if (encr->kind == kernel::AlgKind::Aead) {
    p.aead = kernel::Algorithm{std::string(encr->kernel_name), encr_key, encr->bits};
  } else {
    const auto* integ = kernel::find_algorithm(esp.integ_keyword);
    p.enc = kernel::Algorithm{std::string(encr->kernel_name), encr_key, 0};
    p.auth = kernel::Algorithm{std::string(integ->kernel_name), integ_key, integ->bits};
  }
  return p;
}

Result<std::vector<kernel::PolicyParams>> child_policies(const ChildKernelSa& c) {
  return policies_for({c.local, c.remote, c.transport, c.cfg->reqid}, c.local_ts, c.remote_ts);
}

Result<std::vector<kernel::PolicyParams>> trap_policies(const ConnectionConfig& conn,
                                                        const ChildConfig& cc) {
  return policies_for(
      {conn.local.addr, conn.remote.addr, cc.mode == kernel::Mode::Transport, cc.reqid},
      to_ts(cc.local_ts), to_ts(cc.remote_ts));
}

Result<std::optional<kernel::SaParams>> install_child_sas(
    kernel::Kernel& kernel, PolicyRefs* policies, const ChildKernelSa& c, const EspAlgorithms& esp,
    const EspKeys& keys, bool outbound_later, uint64_t& kernel_errors) {
  kernel::SaParams out = esp_sa_params(c, esp, keys, false);
  std::vector<kernel::Op> ops{kernel::AddSa{esp_sa_params(c, esp, keys, true)}};
  if (!outbound_later) ops.push_back(kernel::AddSa{out});
  auto results = kernel.apply_batch(ops);
  std::string error;
  for (const auto& r : results)
    if (!r && error.empty()) error = r.error().message;
  auto wanted = child_policies(c);
  if (error.empty() && !wanted) error = wanted.error().message;
  if (error.empty() && policies)
    if (auto r = policies->acquire(kernel, *wanted); !r) error = r.error().message;
  if (!error.empty()) {
    ++kernel_errors;
    for (size_t i = 0; i < results.size(); ++i)
      if (results[i]) (void)kernel.delete_sa(std::get<kernel::AddSa>(ops[i]).sa.id());
    return fail(error);
  }
  if (outbound_later) return std::optional<kernel::SaParams>(std::move(out));
  return std::optional<kernel::SaParams>();
}

std::vector<std::string> remove_child_sas(kernel::Kernel& kernel, PolicyRefs* policies,
                                          const ChildKernelSa& c, bool outbound_in_kernel,
                                          uint64_t& kernel_errors) {
  std::vector<kernel::Op> ops;
  if (outbound_in_kernel) ops.push_back(kernel::DeleteSa{esp_sa_id(c.remote, c.spi_out)});
  ops.push_back(kernel::DeleteSa{esp_sa_id(c.local, c.spi_in)});
  std::vector<std::string> errors;
  for (const auto& r : kernel.apply_batch(ops))
    // A hard expiry may have removed one already: XFRM says ESRCH for a missing state.
    if (!r && r.error().code != ESRCH && r.error().code != ENOENT) {
      ++kernel_errors;
      errors.push_back(r.error().message);
    }
  if (auto wanted = child_policies(c); wanted && policies)
    kernel_errors += policies->release(kernel, *wanted);
  return errors;
}

kernel::SaId esp_sa_id(const IpAddress& dst, uint32_t spi) {
  return kernel::SaId{dst, spi, kernel::Proto::Esp, {}, {}};
}

Result<uint32_t> alloc_child_spi(kernel::Kernel& kernel, const IpAddress& local,
                                 const IpAddress& remote, uint32_t reqid) {
  kernel::SpiRequest req;
  req.src = remote;
  req.dst = local;
  req.proto = kernel::Proto::Esp;
  req.reqid = reqid;
  return kernel.alloc_spi(req);
}

void release_child_spi(kernel::Kernel& kernel, const IpAddress& local, uint32_t spi) {
  (void)kernel.delete_sa(esp_sa_id(local, spi));
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

}  // namespace ipsec::ike
