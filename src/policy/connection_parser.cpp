// SPDX-License-Identifier: Apache-2.0
// Parser of the IKEv2 connections of a policy file: peers, identities, PSK, proposals, children.
#include <algorithm>
#include <string_view>

#include "policy/connection.h"
#include "policy/ike_algorithms.h"
#include "policy/keys.h"
#include "policy/parser.h"
#include "policy/pubkey.h"

namespace ipsec::policy::detail {

namespace {

constexpr size_t kMaxNameLength = 64;

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

void check_name(Reader& r, const std::string& path, const std::string& name, const char* what) {
  if (!valid_name(name))
    r.error(path, std::string(what) + " name " + quote(name) + " is not 1.." +
                      std::to_string(kMaxNameLength) + " letters, digits, '-', '_' or '.'");
}

Identity text_identity(IdKind kind, std::string_view text) {
  return Identity{kind, Bytes(text.begin(), text.end())};
}

Identity address_identity(const IpAddress& a) {
  Identity id{a.family == Family::V6 ? IdKind::Ipv6 : IdKind::Ipv4, {}};
  id.data.assign(a.bytes.begin(), a.bytes.begin() + static_cast<long>(a.size()));
  return id;
}

// "ipv4:", "ipv6:", "fqdn:", "email:" (or "rfc822:"), "keyid:0x..." with their value.
Result<Identity> typed_identity(std::string_view type, std::string_view value) {
  if (value.empty()) return fail("identity " + quote(type) + " has no value");
  if (type == "ipv4" || type == "ipv6") {
    auto a = IpAddress::parse(value);
    if (!a || (a->family == Family::V6) != (type == "ipv6"))
      return fail(quote(value) + " is not an " + (type == "ipv4" ? "IPv4" : "IPv6") + " address");
    return address_identity(*a);
  }
  if (type == "fqdn") return text_identity(IdKind::Fqdn, value);
  if (type == "dn") return parse_dn_identity(value, false);
  if (type == "email" || type == "rfc822") return text_identity(IdKind::Email, value);
  if (type == "keyid") {
    if (!value.starts_with("0x") && !value.starts_with("0X"))
      return fail("a keyid is written \"keyid:0x...\" (hex), got " + quote(value));
    auto bytes = decode_hex_key(value);
    if (!bytes || bytes->empty())
      return fail(quote(value) + " is not hex" + (bytes ? "" : ": " + bytes.error().message));
    return Identity{IdKind::KeyId, Bytes(bytes->view().begin(), bytes->view().end())};
  }
  return fail("unknown identity type " + quote(type) +
              "; expected \"ipv4:\", \"ipv6:\", \"fqdn:\", \"email:\", \"dn:\" or \"keyid:\"");
}

// strongSwan's inference for untyped ids: an address, "@name" (FQDN), "user@domain" (RFC 822),
// a name with a dot (FQDN).
Result<Identity> parse_identity(std::string_view s) {
  for (std::string_view type : {"ipv4", "ipv6", "fqdn", "email", "rfc822", "keyid", "dn"})
    if (s.size() > type.size() && s.substr(0, type.size()) == type && s[type.size()] == ':')
      return typed_identity(type, s.substr(type.size() + 1));
  if (auto a = IpAddress::parse(s)) return address_identity(*a);
  if (s.starts_with('@') && s.size() > 1) return text_identity(IdKind::Fqdn, s.substr(1));
  if (s.find('@') != std::string_view::npos) return text_identity(IdKind::Email, s);
  if (auto colon = s.find(':'); colon != std::string_view::npos)
    return typed_identity(s.substr(0, colon), s.substr(colon + 1));
  if (s.find('.') != std::string_view::npos) return text_identity(IdKind::Fqdn, s);
  return fail("cannot tell the type of identity " + quote(s) + ": write \"fqdn:" + std::string(s) +
              "\", \"keyid:0x...\" or an address");
}

// An identity is printable text: a control character (C0, DEL or a C1 control in UTF-8)
// would reach logs, status and the peer's IDr. nullopt when there is none, else "\x1b at
// offset 3" (what printable() makes of it).
std::optional<std::string> control_character(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const auto next = i + 1 < s.size() ? static_cast<unsigned char>(s[i + 1]) : 0;
    const size_t n = c == 0xc2 && next >= 0x80 && next <= 0x9f ? 2 : 1;
    if (n == 2 || c < 0x20 || c == 0x7f)
      return printable(s.substr(i, n)) + " at offset " + std::to_string(i);
  }
  return std::nullopt;
}

// Remote id patterns: "any"/"%any", "*.example.org" (also "fqdn:*.example.org"), an address
// prefix "192.0.2.0/24" (also "ipv4:"/"ipv6:" before it). nullopt: not a pattern.
std::optional<Result<Identity>> parse_id_pattern(std::string_view s) {
  if (s == "any" || s == "%any") return Result<Identity>(Identity{IdKind::Any, {}});
  if (s.starts_with("dn:")) {
    if (s.find('*') == std::string_view::npos) return std::nullopt;
    return parse_dn_identity(s.substr(3), true);
  }
  std::string_view v = s.starts_with("fqdn:") ? s.substr(5) : s;
  if (v.starts_with("*.")) {
    if (v.size() < 3 || v.find('*', 1) != std::string_view::npos)
      return Result<Identity>(fail(quote(s) + ": a domain pattern is \"*.\" and a domain name"));
    return Result<Identity>(text_identity(IdKind::DomainSuffix, v.substr(2)));
  }
  if (s.find('*') != std::string_view::npos)
    return Result<Identity>(
        fail(quote(s) + ": '*' may only open a domain pattern (\"*.example.org\")"));
  v = s.starts_with("ipv4:") || s.starts_with("ipv6:") ? s.substr(5) : s;
  if (v.find('/') == std::string_view::npos) return std::nullopt;
  auto p = Prefix::parse(v);
  if (!p || (s.starts_with("ipv6:") && p->family() != Family::V6) ||
      (s.starts_with("ipv4:") && p->family() != Family::V4))
    return Result<Identity>(fail(quote(s) + " is not an address prefix" +
                                 (p ? std::string() : ": " + p.error().message)));
  return Result<Identity>(text_identity(IdKind::AddressPrefix, p->str()));
}

std::optional<Peer> parse_peer(Reader& r, const Json& conn, const std::string& conn_path,
                               std::string_view side) {
  const Json* j = r.required(conn, conn_path, side);
  std::string path = join(conn_path, side);
  if (j == nullptr ||
      !r.object(*j, path,
                {"address", "id", "auth", "cert", "key", "key_passphrase_file", "send_cert",
                 "cacerts", "crls", "signature_schemes", "ocsp", "ocsp_uri"}))
    return std::nullopt;
  size_t before = r.error_count();
  Peer p;
  if (const Json* a = r.required(*j, path, "address"))
    if (auto addr = r.address(*a, join(path, "address"))) p.address = *addr;
  if (const Json* auth = Reader::field(*j, "auth"))
    if (auto m = r.keyword<AuthMethod>(*auth, join(path, "auth"),
                                       {{"psk", AuthMethod::Psk}, {"pubkey", AuthMethod::Pubkey}}))
      p.auth = *m;
  parse_peer_pubkey(r, *j, path, side, p);
  p.id = address_identity(p.address);
  if (const Json* id = Reader::field(*j, "id")) {
    const std::string* s = r.string(*id, join(path, "id"));
    if (auto bad = s != nullptr ? control_character(*s) : std::nullopt) {
      r.error(join(path, "id"), "contains a control character (" + *bad + ")");
    } else if (s != nullptr) {
      auto pattern = parse_id_pattern(*s);
      if (pattern && side != "remote")
        pattern =
            Result<Identity>(fail(quote(*s) + " is a pattern; a local identity is one identity"));
      auto parsed = pattern ? std::move(*pattern) : parse_identity(*s);
      if (parsed)
        p.id = std::move(*parsed);
      else
        r.error(join(path, "id"), parsed.error().message);
    }
  }
  if (side == "local") check_local_id(r, path, Reader::field(*j, "id") != nullptr, p);
  return r.error_count() == before ? std::optional<Peer>(std::move(p)) : std::nullopt;
}

// The file's text (a trailing newline dropped), or "0x..." hex.
Result<SecretBytes> decode_psk(const SecretBytes& raw) {
  size_t n = raw.size();
  while (n > 0 && (raw.data()[n - 1] == '\n' || raw.data()[n - 1] == '\r')) --n;
  std::string_view text(reinterpret_cast<const char*>(raw.data()), n);
  if (text.starts_with("0x") || text.starts_with("0X")) {
    auto key = decode_hex_key(text);
    if (!key) return fail("holds \"0x\" but no hex key: " + key.error().message);
    if (key->empty()) return fail("holds an empty key");
    return key;
  }
  if (n == 0) return fail("is empty");
  return SecretBytes(raw.view().first(n));
}

std::optional<SecretBytes> parse_psk_file(Reader& r, const Json& conn, const std::string& path) {
  const Json* f = r.required(conn, path, "psk_file");
  std::string p = join(path, "psk_file");
  const std::string* name = f == nullptr ? nullptr : r.string(*f, p);
  if (name == nullptr) return std::nullopt;
  if (name->empty()) {
    r.error(p, "empty path");
    return std::nullopt;
  }
  std::string resolved = resolve_path(r.base_dir(), *name);
  auto raw = read_private_file(resolved);
  if (!raw) {
    r.error(p, raw.error().message);
    return std::nullopt;
  }
  auto psk = decode_psk(*raw);
  if (!psk) {
    r.error(p, quote(resolved) + " " + psk.error().message);
    return std::nullopt;
  }
  return std::move(*psk);
}

std::vector<Proposal> default_proposals(ProposalKind kind) {
  std::vector<Proposal> out;
  std::vector<std::string> unused;
  auto add = [&](std::string_view text) {
    if (auto p = parse_proposal(text, kind, false, unused)) out.push_back(std::move(*p));
  };
  if (kind == ProposalKind::Ike)
    for (auto t : kDefaultIkeProposals) add(t);
  else
    for (auto t : kDefaultEspProposals) add(t);
  return out;
}

std::vector<Proposal> parse_proposals(Reader& r, const Json& obj, const std::string& path,
                                      std::string_view name, ProposalKind kind,
                                      bool allow_insecure) {
  const Json* list = Reader::field(obj, name);
  if (list == nullptr) return default_proposals(kind);
  std::string p = join(path, name);
  std::vector<Proposal> out;
  if (!r.array(*list, p)) return out;
  if (list->empty()) r.error(p, "empty list; leave the field out for the default proposals");
  for (size_t i = 0; i < list->size(); ++i) {
    std::string ip = join(p, i);
    const std::string* text = r.string((*list)[i], ip);
    if (text == nullptr) continue;
    std::vector<std::string> warnings;
    auto proposal = parse_proposal(*text, kind, allow_insecure, warnings);
    for (auto& w : warnings) r.warn(ip, std::move(w));
    if (proposal)
      out.push_back(std::move(*proposal));
    else
      r.error(ip, proposal.error().message);
  }
  return out;
}

// Traffic selectors: prefixes, or "dynamic" for the peer's address; default: that address.
std::vector<Prefix> parse_ts(Reader& r, const Json& child, const std::string& path,
                             std::string_view name, const IpAddress& address) {
  const Json* list = Reader::field(child, name);
  if (list == nullptr) return {Prefix::host(address)};
  std::string p = join(path, name);
  std::vector<Prefix> out;
  if (!r.array(*list, p)) return out;
  if (list->empty()) r.error(p, "empty list; leave the field out for the peer's address");
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& item = (*list)[i];
    if (item.is_string() && item.get_ref<const std::string&>() == "dynamic")
      out.push_back(Prefix::host(address));
    else if (auto prefix = r.prefix(item, join(p, i)))
      out.push_back(*prefix);
  }
  return out;
}

const char* family_name(Family f) { return f == Family::V4 ? "IPv4" : "IPv6"; }

bool has_family(const std::vector<Prefix>& ts, Family f) {
  return std::any_of(ts.begin(), ts.end(), [f](const Prefix& p) { return p.family() == f; });
}

// Selectors that can never match a packet: in transport mode, one of another family than
// the connection's addresses (the traffic is theirs); in either mode, one with no selector
// of its family on the other side (the kernel pairs them family by family). Reported on
// the selectors the file gives; `ch`'s lists are complete (no entry refused).
void check_ts_families(Reader& r, const Json& j, const std::string& path, const Child& ch,
                       Family addresses) {
  struct Side {
    const char* name;
    const std::vector<Prefix>& ts;
    const std::vector<Prefix>& other;
    const char* other_name;
  };
  for (const Side& s : {Side{"local_ts", ch.local_ts, ch.remote_ts, "remote_ts"},
                        Side{"remote_ts", ch.remote_ts, ch.local_ts, "local_ts"}}) {
    if (Reader::field(j, s.name) == nullptr) continue;  // the address: checked on the other
    for (size_t i = 0; i < s.ts.size(); ++i) {
      const Family f = s.ts[i].family();
      const std::string what = quote(s.ts[i].str()) + " is " + family_name(f);
      if (ch.mode == kernel::Mode::Transport && f != addresses)
        r.error(join(join(path, s.name), i),
                what + " but the connection's addresses are " + family_name(addresses) +
                    ": a transport-mode child protects the traffic between them");
      else if (!has_family(s.other, f))
        r.error(join(join(path, s.name), i),
                what + " but " + s.other_name + " has no " + family_name(f) +
                    " selector: a local and a remote selector pair only within one family");
    }
  }
}

std::optional<Child> parse_child(Reader& r, const Json& j, const std::string& path,
                                 const std::string& name, const Connection& c) {
  if (!r.object(
          j, path,
          {"mode", "local_ts", "remote_ts", "esp_proposals", "start_action", "reqid",
           "replay_window", "rekey_time", "life_time", "rand_time", "rekey_bytes", "life_bytes",
           "rekey_packets", "life_packets", "dpd_action", "close_action", "inactivity"}))
    return std::nullopt;
  size_t before = r.error_count();
  Child ch;
  ch.name = name;
  check_name(r, path, name, "child");
  if (const Json* m = Reader::field(j, "mode"))
    ch.mode = r.keyword<kernel::Mode>(
                   *m, join(path, "mode"),
                   {{"tunnel", kernel::Mode::Tunnel}, {"transport", kernel::Mode::Transport}})
                  .value_or(ch.mode);
  const size_t ts_errors = r.error_count();
  ch.local_ts = parse_ts(r, j, path, "local_ts", c.local.address);
  ch.remote_ts = parse_ts(r, j, path, "remote_ts", c.remote.address);
  if (r.error_count() == ts_errors) check_ts_families(r, j, path, ch, c.local.address.family);
  ch.esp_proposals =
      parse_proposals(r, j, path, "esp_proposals", ProposalKind::Esp, c.allow_insecure);
  if (const Json* a = Reader::field(j, "start_action"))
    ch.start_action = r.keyword<StartAction>(*a, join(path, "start_action"),
                                             {{"none", StartAction::None},
                                              {"start", StartAction::Start},
                                              {"trap", StartAction::Trap},
                                              {"on-demand", StartAction::Trap}})
                          .value_or(ch.start_action);
  ch.reqid = r.opt_u32(j, path, "reqid").value_or(0);
  ch.replay_window = static_cast<uint32_t>(
      r.opt_integer(j, path, "replay_window", 0, 4096).value_or(kDefaultReplayWindow));
  parse_child_lifecycle(r, j, path, ch);
  return r.error_count() == before ? std::optional<Child>(std::move(ch)) : std::nullopt;
}

void parse_children(Reader& r, const Json& conn, const std::string& path, Connection& c) {
  const Json* children = Reader::field(conn, "children");
  std::string p = join(path, "children");
  if (children == nullptr || (children->is_object() && children->empty())) {
    r.error(p, "a connection needs at least one child (its traffic selectors, mode, proposals)");
    return;
  }
  if (!children->is_object()) {
    r.error(p, "expected an object, got " + type_name(*children));
    return;
  }
  for (const auto& item : children->items()) {
    if (auto ch = parse_child(r, item.value(), join(p, item.key()), item.key(), c))
      c.children.push_back(std::move(*ch));
  }
}

void parse_version(Reader& r, const Json& conn, const std::string& path) {
  auto v = r.opt_integer(conn, path, "version", 0, 255);
  if (v && *v != 2)
    r.error(join(path, "version"),
            "IKE version " + std::to_string(*v) + " is not supported; expected 2");
}

}  // namespace

std::optional<Connection> parse_connection(Reader& r, const Json& j, const std::string& path,
                                           const std::string& name) {
  if (!r.object(j, path,
                {"version", "local", "remote", "psk_file", "proposals", "children",
                 "allow_insecure", "encap", "rekey_time", "reauth_time", "over_time", "rand_time",
                 "dpd_delay", "dpd_timeout", "fragmentation", "fragment_size"}))
    return std::nullopt;
  size_t before = r.error_count();
  Connection c;
  c.name = name;
  check_name(r, path, name, "connection");
  c.allow_insecure = r.opt_boolean(j, path, "allow_insecure").value_or(false);
  c.encap = r.opt_boolean(j, path, "encap").value_or(false);
  c.fragmentation = r.opt_boolean(j, path, "fragmentation").value_or(true);
  // RFC 7383 §2.5.1: IPv4 hosts accept 576-byte datagrams; no IKE datagram exceeds 65535.
  c.fragment_size = static_cast<unsigned>(
      r.opt_integer(j, path, "fragment_size", 576, 65535).value_or(c.fragment_size));
  parse_version(r, j, path);
  auto local = parse_peer(r, j, path, "local");
  auto remote = parse_peer(r, j, path, "remote");
  if (local && remote && local->address.family != remote->address.family)
    r.error(join(join(path, "remote"), "address"), "not the address family of local.address");
  const bool uses_psk =
      (local && local->auth == AuthMethod::Psk) || (remote && remote->auth == AuthMethod::Psk);
  if (uses_psk || Reader::field(j, "psk_file") != nullptr) {
    if (auto psk = parse_psk_file(r, j, path)) c.psk = std::move(*psk);
    if (!uses_psk && local && remote)
      r.error(join(path, "psk_file"), "neither side uses \"auth\": \"psk\"");
  }
  c.proposals = parse_proposals(r, j, path, "proposals", ProposalKind::Ike, c.allow_insecure);
  parse_ike_lifecycle(r, j, path, c);
  if (!local || !remote) return std::nullopt;  // children default to the addresses
  c.local = std::move(*local);
  c.remote = std::move(*remote);
  parse_children(r, j, path, c);
  if (r.error_count() != before) return std::nullopt;
  return c;
}

}  // namespace ipsec::policy::detail

namespace ipsec::policy {

std::string describe(const Identity& id) {
  std::string text(id.data.begin(), id.data.end());
  switch (id.kind) {
    case IdKind::Fqdn:
      return "fqdn:" + text;
    case IdKind::Email:
      return "email:" + text;
    case IdKind::Ipv4:
    case IdKind::Ipv6: {
      IpAddress a;
      a.family = id.kind == IdKind::Ipv4 ? Family::V4 : Family::V6;
      if (id.data.size() != a.size()) return "address:0x" + to_hex(id.data);
      std::copy(id.data.begin(), id.data.end(), a.bytes.begin());
      return (id.kind == IdKind::Ipv4 ? "ipv4:" : "ipv6:") + a.str();
    }
    case IdKind::KeyId:
      break;
    case IdKind::Any:
      return "any";
    case IdKind::DomainSuffix:
      return "fqdn:*." + text;
    case IdKind::AddressPrefix:
      return text.find(':') != std::string::npos ? "ipv6:" + text : "ipv4:" + text;
    case IdKind::Dn:
    case IdKind::DnPattern:
      return "dn:" + crypto::dn_to_text(id.data);
  }
  return "keyid:0x" + to_hex(id.data);
}

}  // namespace ipsec::policy
