// SPDX-License-Identifier: Apache-2.0
// Names and one-line descriptions of kernel objects, and config comparison.
#include <cstdio>

#include "kernel/kernel.h"
#include "kernel/types.h"

namespace ipsec::kernel {

const char* to_string(Proto p) {
  switch (p) {
    case Proto::Esp:
      return "esp";
    case Proto::Ah:
      return "ah";
    case Proto::Comp:
      return "comp";
  }
  return "?";
}

const char* to_string(Mode m) {
  switch (m) {
    case Mode::Transport:
      return "transport";
    case Mode::Tunnel:
      return "tunnel";
    case Mode::Beet:
      return "beet";
  }
  return "?";
}

const char* to_string(Dir d) {
  switch (d) {
    case Dir::In:
      return "in";
    case Dir::Out:
      return "out";
    case Dir::Fwd:
      return "fwd";
  }
  return "?";
}

const char* to_string(Action a) { return a == Action::Allow ? "allow" : "block"; }

namespace {
std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

std::string selector_text(const Selector& s) {
  std::string out = (s.src.addr.is_unspec() ? std::string("any") : s.src.str()) + "->" +
                    (s.dst.addr.is_unspec() ? std::string("any") : s.dst.str());
  if (s.proto != 0) out += " proto " + std::to_string(s.proto);
  if (s.sport_mask != 0) out += " sport " + std::to_string(s.sport);
  if (s.dport_mask != 0) out += " dport " + std::to_string(s.dport);
  return out;
}
}  // namespace

std::string describe(const SaId& id) {
  std::string out = "SA spi " + hex32(id.spi) + " ";
  if (!id.src.is_unspec()) out += id.src.str();
  out += "->" + id.dst.str() + " " + to_string(id.proto);
  if (id.mark.mask != 0) out += " mark " + hex32(id.mark.value) + "/" + hex32(id.mark.mask);
  return out;
}

std::string describe(const SaParams& sa) { return describe(sa.id()); }

std::string describe(const PolicyId& id) {
  std::string out = "policy " + selector_text(id.sel) + " " + to_string(id.dir);
  if (id.mark.mask != 0) out += " mark " + hex32(id.mark.value) + "/" + hex32(id.mark.mask);
  if (id.if_id != 0) out += " if_id " + std::to_string(id.if_id);
  return out;
}

std::string describe(const PolicyParams& p) { return describe(p.id()); }

std::string describe(const Op& op) {
  struct V {
    std::string operator()(const AddSa& o) const { return "adding " + describe(o.sa); }
    std::string operator()(const UpdateSa& o) const { return "updating " + describe(o.sa); }
    std::string operator()(const DeleteSa& o) const { return "deleting " + describe(o.id); }
    std::string operator()(const AddPolicy& o) const { return "adding " + describe(o.policy); }
    std::string operator()(const UpdatePolicy& o) const { return "updating " + describe(o.policy); }
    std::string operator()(const DeletePolicy& o) const { return "deleting " + describe(o.id); }
  };
  return std::visit(V{}, op);
}

namespace {
void put(std::string& key, const void* p, size_t n) { key.append(static_cast<const char*>(p), n); }

void put_address(std::string& key, const IpAddress& a) {
  put(key, &a.family, 1);
  put(key, a.bytes.data(), a.bytes.size());
}
}  // namespace

std::string identity_key(const SaId& id) {
  std::string key;
  put_address(key, id.dst);
  put(key, &id.spi, sizeof id.spi);
  put(key, &id.proto, 1);
  put(key, &id.mark, sizeof id.mark);
  return key;
}

std::string identity_key(const PolicyId& id) {
  std::string key;
  for (const Prefix* p : {&id.sel.src, &id.sel.dst}) {
    put_address(key, p->addr);
    put(key, &p->len, 1);
  }
  const Selector& s = id.sel;
  for (uint16_t v : {s.sport, s.sport_mask, s.dport, s.dport_mask}) put(key, &v, 2);
  put(key, &s.proto, 1);
  put(key, &s.ifindex, sizeof s.ifindex);
  put(key, &s.user, sizeof s.user);
  put(key, &id.dir, 1);
  put(key, &id.mark, sizeof id.mark);
  put(key, &id.if_id, sizeof id.if_id);
  return key;
}

bool SaParams::same_config(const SaParams& o) const {
  return src == o.src && dst == o.dst && spi == o.spi && proto == o.proto && mode == o.mode &&
         reqid == o.reqid && enc == o.enc && auth == o.auth && aead == o.aead && comp == o.comp &&
         replay_window == o.replay_window && esn == o.esn && lifetime == o.lifetime &&
         encap == o.encap && mark == o.mark && if_id == o.if_id && sel == o.sel &&
         flags == o.flags && extra_flags == o.extra_flags && tfcpad == o.tfcpad;
}

bool PolicyParams::same_config(const PolicyParams& o) const {
  return sel == o.sel && dir == o.dir && action == o.action && priority == o.priority &&
         tmpls == o.tmpls && mark == o.mark && if_id == o.if_id && lifetime == o.lifetime &&
         flags == o.flags;
}

}  // namespace ipsec::kernel
