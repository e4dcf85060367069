// The first CHILD SA in the kernel: inbound SPI, KEYMAT (RFC 7296 §2.17), both
// ESP SAs and the policies (out, in, and fwd in tunnel mode) for every
// negotiated selector pair.
#include <cstdio>

#include "common/log.h"
#include "ike/v2/exchanges.h"
#include "ike/v2/nat.h"
#include "ike/v2/traffic_selectors.h"
#include "kernel/algorithms.h"

namespace ipsec::ike::v2 {
namespace {

std::string esp_spi_str(uint32_t spi) {
  char buf[12];
  std::snprintf(buf, sizeof buf, "0x%08x", spi);
  return buf;
}

struct Direction {
  const SecretBytes &encr;
  const SecretBytes &integ;
};

kernel::SaParams esp_sa(const IkeSa &sa, const EspAlgorithms &esp, bool inbound, Direction keys) {
  const auto &cc = sa.config.child;
  kernel::SaParams p;
  p.src = inbound ? sa.remote.addr : sa.local.addr;
  p.dst = inbound ? sa.local.addr : sa.remote.addr;
  p.spi = inbound ? sa.child.spi_in : sa.child.spi_out;
  p.proto = kernel::Proto::Esp;
  p.mode = sa.child.transport ? kernel::Mode::Transport : kernel::Mode::Tunnel;
  // A tunnel may carry selectors of both families (and of the other family
  // than the outer addresses): the kernel then must not pin the SA's selector
  // to the outer family, or it finds no SA for the other one (XfrmOutNoStates).
  if (!sa.child.transport) p.flags = kernel::kSaFlagAfUnspec;
  p.reqid = cc.reqid;
  p.replay_window = cc.replay_window;
  p.esn = esp.esn;
  p.encap = esp_encap(sa, inbound);  // RFC 3948 over the NAT-T ports
  const auto *encr = kernel::find_algorithm(esp.encr_keyword);
  if (encr->kind == kernel::AlgKind::Aead) {
    p.aead = kernel::Algorithm{std::string(encr->kernel_name), keys.encr, encr->bits};
  } else {
    const auto *integ = kernel::find_algorithm(esp.integ_keyword);
    p.enc = kernel::Algorithm{std::string(encr->kernel_name), keys.encr, 0};
    p.auth = kernel::Algorithm{std::string(integ->kernel_name), keys.integ, integ->bits};
  }
  return p;
}

void set_ports(const wire::TrafficSelector &ts, uint16_t &port, uint16_t &mask) {
  if (ts.start_port == ts.end_port) {
    port = ts.start_port;
    mask = 0xffff;
  }
}

Result<kernel::Selector> selector(const wire::TrafficSelector &src,
                                  const wire::TrafficSelector &dst) {
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

kernel::PolicyParams policy(const IkeSa &sa, kernel::Selector sel, kernel::Dir dir) {
  const bool out = dir == kernel::Dir::Out;
  kernel::PolicyParams p;
  p.sel = sel;
  p.dir = dir;
  kernel::Template t;
  if (!sa.child.transport) {
    t.src = out ? sa.local.addr : sa.remote.addr;
    t.dst = out ? sa.remote.addr : sa.local.addr;
  }
  t.proto = kernel::Proto::Esp;
  t.mode = sa.child.transport ? kernel::Mode::Transport : kernel::Mode::Tunnel;
  t.reqid = sa.config.child.reqid;
  p.tmpls.push_back(t);
  return p;
}

Result<std::vector<kernel::Op>> policy_ops(const IkeSa &sa) {
  std::vector<kernel::Op> ops;
  for (const auto &l : sa.child.local_ts)
    for (const auto &r : sa.child.remote_ts) {
      if (l.start.family != r.start.family) continue;
      auto out = selector(l, r);
      auto in = selector(r, l);
      if (!out) return fail(out.error());
      if (!in) return fail(in.error());
      ops.push_back(kernel::AddPolicy{policy(sa, *out, kernel::Dir::Out)});
      ops.push_back(kernel::AddPolicy{policy(sa, *in, kernel::Dir::In)});
      if (!sa.child.transport) ops.push_back(kernel::AddPolicy{policy(sa, *in, kernel::Dir::Fwd)});
    }
  return ops;
}

// All or nothing: on any failure the ops that succeeded are undone.
Result<void> apply_all(Context &ctx, const std::vector<kernel::Op> &ops) {
  auto results = ctx.kernel.apply_batch(ops);
  std::string error;
  for (size_t i = 0; i < results.size(); ++i)
    if (!results[i] && error.empty()) error = results[i].error().message;
  if (error.empty()) return ok();
  ++ctx.counters.kernel_errors;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i]) continue;
    if (const auto *a = std::get_if<kernel::AddSa>(&ops[i])) (void)ctx.kernel.delete_sa(a->sa.id());
    if (const auto *p = std::get_if<kernel::AddPolicy>(&ops[i]))
      (void)ctx.kernel.delete_policy(p->policy.id());
  }
  return fail(error);
}

}  // namespace

Bytes esp_spi_bytes(uint32_t spi) {
  return Bytes{static_cast<uint8_t>(spi >> 24), static_cast<uint8_t>(spi >> 16),
               static_cast<uint8_t>(spi >> 8), static_cast<uint8_t>(spi)};
}

uint32_t esp_spi_value(ByteView spi) {
  uint32_t v = 0;
  for (auto b : spi) v = v << 8 | b;
  return v;
}

Result<uint32_t> alloc_inbound_spi(Context &ctx, const IkeSa &sa) {
  kernel::SpiRequest req;
  req.src = sa.remote.addr;
  req.dst = sa.local.addr;
  req.proto = kernel::Proto::Esp;
  req.reqid = sa.config.child.reqid;
  auto spi = ctx.kernel.alloc_spi(req);
  if (!spi) ++ctx.counters.kernel_errors;
  return spi;
}

void release_child_spi(Context &ctx, IkeSa &sa) {
  if (sa.child.spi_in == 0 || sa.child.state == ChildState::Installed ||
      sa.child.state == ChildState::Deleted)
    return;
  (void)ctx.kernel.delete_sa(
      kernel::SaId{sa.local.addr, sa.child.spi_in, kernel::Proto::Esp, {}, {}});
  sa.child.spi_in = 0;
}

void remove_child(Context &ctx, IkeSa &sa) {
  if (sa.child.state != ChildState::Installed) return release_child_spi(ctx, sa);
  const auto &c = sa.child;
  std::vector<kernel::Op> ops{
      kernel::DeleteSa{kernel::SaId{sa.remote.addr, c.spi_out, kernel::Proto::Esp, {}, {}}},
      kernel::DeleteSa{kernel::SaId{sa.local.addr, c.spi_in, kernel::Proto::Esp, {}, {}}}};
  if (auto policies = policy_ops(sa))
    for (const auto &op : *policies)
      ops.push_back(kernel::DeletePolicy{std::get<kernel::AddPolicy>(op).policy.id()});
  for (const auto &r : ctx.kernel.apply_batch(ops))
    if (!r) {
      ++ctx.counters.kernel_errors;
      log::warn(label(sa) + ": removing CHILD SA: " + r.error().message);
    }
  sa.child.state = ChildState::Deleted;
  log::info(label(sa) + ": CHILD SA " + sa.config.child.name + " removed, ESP SPIs in " +
            esp_spi_str(c.spi_in) + " out " + esp_spi_str(c.spi_out));
}

Result<void> install_child(Context &ctx, IkeSa &sa) {
  auto esp = esp_algorithms(sa.child.proposal);
  if (!esp) return fail(esp.error());
  auto keys = crypto::derive_child_sa_keys(sa.algs.prf, sa.keys.sk_d, nullptr, sa.ni, sa.nr,
                                           {esp->encr_key_bytes, esp->integ_key_bytes});
  if (!keys) return fail(keys.error());
  // §2.17: the initiator-to-responder keys come first.
  const Direction i_to_r{keys->encr_i, keys->integ_i}, r_to_i{keys->encr_r, keys->integ_r};
  std::vector<kernel::Op> ops{
      kernel::AddSa{esp_sa(sa, *esp, false, sa.initiator ? i_to_r : r_to_i)},
      kernel::AddSa{esp_sa(sa, *esp, true, sa.initiator ? r_to_i : i_to_r)}};
  auto policies = policy_ops(sa);
  if (!policies) return fail(policies.error());
  ops.insert(ops.end(), policies->begin(), policies->end());
  if (auto r = apply_all(ctx, ops); !r) return r;
  sa.child.state = ChildState::Installed;
  ++ctx.counters.child_installed;
  log::info(label(sa) + ": CHILD SA " + sa.config.child.name + " installed, ESP SPIs in " +
            esp_spi_str(sa.child.spi_in) + " out " + esp_spi_str(sa.child.spi_out) + ", " +
            describe(sa.child.proposal) + ", " + describe(sa.child.local_ts) + " === " +
            describe(sa.child.remote_ts) + (sa.child.transport ? " transport" : " tunnel"));
  return ok();
}

}  // namespace ipsec::ike::v2
