// SPDX-License-Identifier: Apache-2.0
// The model back to the policy file format: what `ipsecctl show --json` prints and `apply` reads.
#include <cstdio>

#include "kernel/algorithms.h"
#include "policy/parser.h"
#include "policy/static_config.h"

namespace ipsec::policy {

namespace {

using Json = nlohmann::json;  // output: sorted keys, stable text
using kernel::AlgKind;

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

std::string marker(std::string_view what) {
  return std::string(detail::kKernelMarker) + std::string(what);
}

// "0x" + hex, built in place so the only copy is the one the JSON owns.
std::string key_hex(const SecretBytes& key) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 + key.size() * 2);
  out += "0x";
  for (uint8_t b : key.view()) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

// A key spec. `insecure` is set when the algorithm needs allow_insecure.
Json algorithm_json(const kernel::Algorithm& a, AlgKind kind, KeyOutput keys, bool& insecure) {
  const kernel::AlgorithmInfo* info = kernel::find_algorithm_by_kernel(a.name, kind, a.bits);
  Json j = Json::object();
  if (info != nullptr && (kind == AlgKind::Encryption || info->bits == a.bits)) {
    j["algorithm"] = std::string(info->keyword);
    insecure = insecure || info->insecure;
  } else {
    j["algorithm"] = marker(a.name + (a.bits != 0 ? "/" + std::to_string(a.bits) : ""));
  }
  if (!a.key.empty())
    j["key"] = keys == KeyOutput::Include ? key_hex(a.key) : std::string(detail::kHiddenKey);
  return j;
}

void put_proto(Json& j, uint8_t proto) {
  if (proto == 0) return;
  for (const auto& p : detail::kProtoNames)
    if (p.number == proto) {
      j["proto"] = std::string(p.name);
      return;
    }
  j["proto"] = proto;
}

void put_selector(Json& j, const kernel::Selector& s) {
  j["src"] = s.src.str();
  j["dst"] = s.dst.str();
  put_proto(j, s.proto);
  if (s.sport_mask != 0) j["sport"] = s.sport;
  if (s.dport_mask != 0) j["dport"] = s.dport;
}

void put_mark(Json& j, const kernel::Mark& m) {
  if (m.value == 0 && m.mask == 0) return;
  Json mark = {{"value", hex32(m.value)}};
  if (m.mask != detail::kDefaultMarkMask) mark["mask"] = hex32(m.mask);
  j["mark"] = mark;
}

Json limits_json(uint64_t add_seconds, uint64_t use_seconds, uint64_t bytes, uint64_t packets) {
  Json j = Json::object();
  if (add_seconds != 0) j["seconds"] = add_seconds;
  if (use_seconds != 0) j["use_seconds"] = use_seconds;
  if (bytes != 0) j["bytes"] = bytes;
  if (packets != 0) j["packets"] = packets;
  return j;
}

void put_lifetime(Json& j, const kernel::Lifetime& l) {
  Json soft = limits_json(l.soft_add_seconds, l.soft_use_seconds, l.soft_bytes, l.soft_packets);
  Json hard = limits_json(l.hard_add_seconds, l.hard_use_seconds, l.hard_bytes, l.hard_packets);
  if (soft.empty() && hard.empty()) return;
  Json out = Json::object();
  if (!soft.empty()) out["soft"] = soft;
  if (!hard.empty()) out["hard"] = hard;
  j["lifetime"] = out;
}

void put_encap(Json& j, const kernel::Encap& e) {
  Json out = {{"type", e.type == detail::kEncapEspInUdp
                           ? std::string("espinudp")
                           : marker("encap-type-" + std::to_string(e.type))}};
  if (e.sport != detail::kDefaultEncapPort) out["sport"] = e.sport;
  if (e.dport != detail::kDefaultEncapPort) out["dport"] = e.dport;
  j["encap"] = out;
}

std::string proto_text(kernel::Proto p) {
  return p == kernel::Proto::Comp ? marker("comp") : kernel::to_string(p);
}

std::string mode_text(kernel::Mode m) {
  return m == kernel::Mode::Beet ? marker("beet") : kernel::to_string(m);
}

void put_algorithms(Json& j, const kernel::SaParams& sa, KeyOutput keys) {
  bool insecure = sa.enc && !sa.auth && !sa.aead;
  if (sa.enc) j["encryption"] = algorithm_json(*sa.enc, AlgKind::Encryption, keys, insecure);
  if (sa.auth) j["integrity"] = algorithm_json(*sa.auth, AlgKind::Integrity, keys, insecure);
  if (sa.aead) j["aead"] = algorithm_json(*sa.aead, AlgKind::Aead, keys, insecure);
  if (sa.comp) j["compression"] = marker(sa.comp->name);  // not in the format: refused on load
  if (insecure) j["allow_insecure"] = true;
}

Json sa_json(const kernel::SaParams& sa, KeyOutput keys) {
  Json j = {{"protocol", proto_text(sa.proto)},
            {"spi", hex32(sa.spi)},
            {"src", sa.src.str()},
            {"dst", sa.dst.str()}};
  if (sa.mode != kernel::Mode::Transport) j["mode"] = mode_text(sa.mode);
  if (sa.reqid != 0) j["reqid"] = sa.reqid;
  put_algorithms(j, sa, keys);
  if (sa.replay_window != detail::kDefaultReplayWindow) j["replay_window"] = sa.replay_window;
  if (sa.esn) j["esn"] = true;
  put_lifetime(j, sa.lifetime);
  if (sa.encap) put_encap(j, *sa.encap);
  put_mark(j, sa.mark);
  if (sa.if_id != 0) j["if_id"] = sa.if_id;
  if (!sa.sel.empty()) {
    Json sel = Json::object();
    put_selector(sel, sa.sel);
    j["selector"] = sel;
  }
  return j;
}

Json template_json(const kernel::Template& t) {
  Json j = {{"protocol", proto_text(t.proto)}};
  if (t.mode != kernel::Mode::Transport) j["mode"] = mode_text(t.mode);
  // A transport template's addresses are unspecified (or zero as the kernel reports them).
  if (!t.src.is_unspec() && (t.mode != kernel::Mode::Transport || !t.src.is_any()))
    j["src"] = t.src.str();
  if (!t.dst.is_unspec() && (t.mode != kernel::Mode::Transport || !t.dst.is_any()))
    j["dst"] = t.dst.str();
  if (t.reqid != 0) j["reqid"] = t.reqid;
  if (t.spi != 0) j["spi"] = hex32(t.spi);
  if (t.optional) j["optional"] = true;
  return j;
}

Json policy_json(const kernel::PolicyParams& p) {
  Json j = Json::object();
  put_selector(j, p.sel);
  j["dir"] = kernel::to_string(p.dir);
  if (p.action == kernel::Action::Block)
    j["action"] = "block";
  else if (p.tmpls.empty())
    j["action"] = "allow";  // Allow with templates is "protect", the default
  if (!p.tmpls.empty()) {
    Json tmpls = Json::array();
    for (const auto& t : p.tmpls) tmpls.push_back(template_json(t));
    j["templates"] = tmpls;
  }
  if (p.priority != 0) j["priority"] = p.priority;
  put_mark(j, p.mark);
  if (p.if_id != 0) j["if_id"] = p.if_id;
  return j;
}

}  // namespace

Json to_json(const StaticConfig& config, KeyOutput keys) {
  Json out = Json::object();
  if (!config.sas.empty()) {
    Json sas = Json::array();
    for (const auto& sa : config.sas) sas.push_back(sa_json(sa, keys));
    out["sas"] = std::move(sas);
  }
  if (!config.policies.empty()) {
    Json policies = Json::array();
    for (const auto& p : config.policies) policies.push_back(policy_json(p));
    out["policies"] = std::move(policies);
  }
  return out;
}

}  // namespace ipsec::policy
