// SPDX-License-Identifier: Apache-2.0
// Parsers of selectors, marks, templates and policies of a policy file.
#include <cstdint>

#include "policy/parser.h"

namespace ipsec::policy::detail {

using kernel::Action;
using kernel::Dir;
using kernel::Mode;
using kernel::Proto;

namespace {

const char* family_name(Family f) { return f == Family::V4 ? "IPv4" : "IPv6"; }

std::string proto_list() {
  std::string out;
  for (const auto& p : kProtoNames) out += std::string(p.name) + ", ";
  return out + "or a number 1..255";
}

std::optional<uint8_t> parse_proto(Reader& r, const Json& j, const std::string& path) {
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    for (const auto& p : kProtoNames)
      if (p.name == s) return p.number;
    r.error(path, "unknown protocol " + quote(s) + "; use " + proto_list());
    return std::nullopt;
  }
  if (!j.is_number_integer()) {
    r.error(path, "expected a protocol name or number, got " + type_name(j));
    return std::nullopt;
  }
  auto v = r.integer(j, path, 1, 255);
  if (!v) return std::nullopt;
  return static_cast<uint8_t>(*v);
}

bool proto_has_ports(uint8_t proto) { return proto == 6 || proto == 17 || proto == 132; }

// Reads "sport" or "dport"; reports a port given with a protocol without ports.
void parse_port(Reader& r, const Json& obj, const std::string& path, std::string_view name,
                std::optional<uint8_t> proto, uint16_t& port, uint16_t& mask) {
  auto v = r.opt_integer(obj, path, name, 0, 65535);
  if (!v) return;
  port = static_cast<uint16_t>(*v);
  mask = 0xffff;
  if (proto && !proto_has_ports(*proto))
    r.error(join(path, name), "ports need proto tcp, udp or sctp");
}

void check_same_family(Reader& r, const std::string& dst_path, const std::string& dst_text,
                       Family src, Family dst) {
  if (src != dst)
    r.error(dst_path,
            quote(dst_text) + " is " + family_name(dst) + " but src is " + family_name(src));
}

std::optional<Mode> parse_mode(Reader& r, const Json& obj, const std::string& path) {
  const Json* m = Reader::field(obj, "mode");
  if (m == nullptr) return Mode::Transport;
  return r.keyword<Mode>(*m, join(path, "mode"),
                         {{"transport", Mode::Transport}, {"tunnel", Mode::Tunnel}});
}

std::optional<Proto> parse_ipsec_proto(Reader& r, const Json& obj, const std::string& path) {
  const Json* p = r.required(obj, path, "protocol");
  if (p == nullptr) return std::nullopt;
  return r.keyword<Proto>(*p, join(path, "protocol"), {{"esp", Proto::Esp}, {"ah", Proto::Ah}});
}

void parse_tunnel_ends(Reader& r, const Json& j, const std::string& path, kernel::Template& t) {
  const Json* src = r.required(j, path, "src");
  const Json* dst = r.required(j, path, "dst");
  auto s = src ? r.address(*src, join(path, "src")) : std::nullopt;
  auto d = dst ? r.address(*dst, join(path, "dst")) : std::nullopt;
  if (s) t.src = *s;
  if (d) t.dst = *d;
  if (s && d) check_same_family(r, join(path, "dst"), d->str(), s->family, d->family);
}

std::optional<kernel::Template> parse_template(Reader& r, const Json& j, const std::string& path) {
  if (!r.object(j, path, {"protocol", "mode", "src", "dst", "reqid", "spi", "optional"}))
    return std::nullopt;
  kernel::Template t;
  auto proto = parse_ipsec_proto(r, j, path);
  auto mode = parse_mode(r, j, path);
  if (proto) t.proto = *proto;
  if (mode) t.mode = *mode;
  if (mode == Mode::Tunnel) {
    parse_tunnel_ends(r, j, path, t);
  } else if (mode == Mode::Transport) {
    for (std::string_view end : {"src", "dst"})
      if (Reader::field(j, end) != nullptr)
        r.error(join(path, end), "not allowed in transport mode");
  }
  t.reqid = r.opt_u32(j, path, "reqid").value_or(0);
  if (auto spi = r.opt_u32(j, path, "spi")) {
    if (*spi != 0 && *spi < 256)
      r.error(
          join(path, "spi"),
          std::to_string(*spi) + " is reserved; use 0 (any) or 256..0xffffffff (RFC 4303 §2.1)");
    t.spi = *spi;
  }
  t.optional = r.opt_boolean(j, path, "optional").value_or(false);
  return t;
}

std::vector<kernel::Template> parse_templates(Reader& r, const Json& j, const std::string& path) {
  std::vector<kernel::Template> out;
  if (!r.array(j, path)) return out;
  if (j.empty()) r.error(path, "empty; action \"protect\" needs at least one template");
  for (size_t i = 0; i < j.size(); ++i)
    if (auto t = parse_template(r, j[i], join(path, i))) out.push_back(*t);
  return out;
}

// action and templates together: protect needs templates, allow/block forbid them.
void parse_action(Reader& r, const Json& j, const std::string& path, kernel::PolicyParams& p) {
  enum class Act { Protect, Allow, Block };
  std::optional<Act> act = Act::Protect;
  if (const Json* a = Reader::field(j, "action"))
    act = r.keyword<Act>(*a, join(path, "action"),
                         {{"protect", Act::Protect}, {"allow", Act::Allow}, {"block", Act::Block}});
  if (act) p.action = *act == Act::Block ? Action::Block : Action::Allow;
  const Json* t = Reader::field(j, "templates");
  if (act == Act::Protect && t == nullptr)
    r.error(path, "action \"protect\" needs at least one template in \"templates\"");
  if (act == Act::Protect && t != nullptr)
    p.tmpls = parse_templates(r, *t, join(path, "templates"));
  if (act && *act != Act::Protect && t != nullptr)
    r.error(join(path, "templates"), std::string("not allowed with action ") +
                                         (*act == Act::Allow ? "\"allow\"" : "\"block\""));
}

}  // namespace

kernel::Selector parse_selector_fields(Reader& r, const Json& obj, const std::string& path) {
  kernel::Selector s;
  const Json* src = r.required(obj, path, "src");
  const Json* dst = r.required(obj, path, "dst");
  auto sp = src ? r.prefix(*src, join(path, "src")) : std::nullopt;
  auto dp = dst ? r.prefix(*dst, join(path, "dst")) : std::nullopt;
  if (sp) s.src = *sp;
  if (dp) s.dst = *dp;
  if (sp && dp)
    check_same_family(r, join(path, "dst"), dst->get<std::string>(), sp->family(), dp->family());
  std::optional<uint8_t> proto = uint8_t{0};
  if (const Json* p = Reader::field(obj, "proto")) proto = parse_proto(r, *p, join(path, "proto"));
  s.proto = proto.value_or(0);
  parse_port(r, obj, path, "sport", proto, s.sport, s.sport_mask);
  parse_port(r, obj, path, "dport", proto, s.dport, s.dport_mask);
  return s;
}

std::optional<kernel::Mark> parse_mark(Reader& r, const Json& j, const std::string& path) {
  if (!r.object(j, path, {"value", "mask"})) return std::nullopt;
  kernel::Mark m;
  const Json* value = r.required(j, path, "value");
  if (value != nullptr) m.value = r.u32(*value, join(path, "value")).value_or(0);
  m.mask = r.opt_u32(j, path, "mask").value_or(kDefaultMarkMask);
  return m;
}

std::optional<kernel::PolicyParams> parse_policy(Reader& r, const Json& j,
                                                 const std::string& path) {
  size_t errors_before = r.error_count();
  if (!r.object(j, path,
                {"src", "dst", "proto", "sport", "dport", "dir", "action", "templates", "priority",
                 "mark", "if_id"}))
    return std::nullopt;
  kernel::PolicyParams p;
  p.sel = parse_selector_fields(r, j, path);
  if (const Json* d = r.required(j, path, "dir")) {
    auto dir = r.keyword<Dir>(*d, join(path, "dir"),
                              {{"in", Dir::In}, {"out", Dir::Out}, {"fwd", Dir::Fwd}});
    p.dir = dir.value_or(Dir::Out);
  }
  parse_action(r, j, path, p);
  p.priority = r.opt_u32(j, path, "priority").value_or(0);
  if (const Json* m = Reader::field(j, "mark"))
    p.mark = parse_mark(r, *m, join(path, "mark")).value_or(kernel::Mark{});
  p.if_id = r.opt_u32(j, path, "if_id").value_or(0);
  if (r.error_count() != errors_before) return std::nullopt;
  return p;
}

}  // namespace ipsec::policy::detail
