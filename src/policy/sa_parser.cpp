// SPDX-License-Identifier: Apache-2.0
// Parser of the manually keyed SAs of a policy file: algorithms, keys, lifetimes, rules.
#include <algorithm>

#include "kernel/algorithms.h"
#include "policy/keys.h"
#include "policy/parser.h"

namespace ipsec::policy::detail {

using kernel::AlgKind;
using kernel::AlgorithmInfo;
using kernel::Mode;
using kernel::Proto;

namespace {

const char* kind_name(AlgKind k) {
  switch (k) {
    case AlgKind::Encryption:
      return "encryption";
    case AlgKind::Integrity:
      return "integrity";
    case AlgKind::Aead:
      return "aead";
    case AlgKind::Compression:
      return "compression";
  }
  return "?";
}

std::string known_algorithms(AlgKind kind) {
  std::string out;
  for (const auto& a : kernel::algorithms())
    if (a.kind == kind) out += (out.empty() ? "" : ", ") + std::string(a.keyword);
  return out;
}

// "16, 24 or 32"
std::string lengths_text(std::initializer_list<uint16_t> lengths) {
  std::string out;
  size_t i = 0;
  for (uint16_t n : lengths) {
    out += (i == 0 ? "" : i + 1 == lengths.size() ? " or " : ", ") + std::to_string(n);
    ++i;
  }
  return out;
}

bool allows_length(const AlgorithmInfo& info, size_t n) {
  return std::find(info.key_bytes.begin(), info.key_bytes.end(), n) != info.key_bytes.end();
}

// The "algorithm" of a key spec, checked against the slot's kind and allow_insecure.
const AlgorithmInfo* read_algorithm(Reader& r, const Json& spec, const std::string& path,
                                    AlgKind kind, bool allow_insecure) {
  const Json* a = r.required(spec, path, "algorithm");
  if (a == nullptr) return nullptr;
  std::string p = join(path, "algorithm");
  const std::string* name = r.string(*a, p);
  if (name == nullptr) return nullptr;
  std::string known = std::string(kind_name(kind)) + " algorithms are " + known_algorithms(kind);
  const AlgorithmInfo* info = kernel::find_algorithm(*name);
  if (info == nullptr && name->starts_with(kKernelMarker)) {
    r.error(p, quote(*name) + " is a kernel algorithm this format cannot express; " + known);
    return nullptr;
  }
  if (info == nullptr) {
    r.error(
        p, "unknown " + std::string(kind_name(kind)) + " algorithm " + quote(*name) + "; " + known);
    return nullptr;
  }
  if (info->kind != kind) {
    std::string other = kind_name(info->kind);
    std::string article = std::string("aeiou").find(other[0]) != std::string::npos ? "an " : "a ";
    r.error(p, quote(*name) + " is " + article + other + " algorithm, not " + kind_name(kind) +
                   "; " + known);
    return nullptr;
  }
  if (info->insecure && allow_insecure)
    r.warn(p, "insecure algorithm " + quote(*name) + " accepted (allow_insecure)");
  if (info->insecure && !allow_insecure)
    r.error(p, quote(*name) + " is insecure; refused unless \"allow_insecure\": true");
  return info;
}

std::optional<SecretBytes> read_key_value(Reader& r, const Json& key, const std::string& path) {
  if (!key.is_string()) {
    r.error(path, "expected a \"0x...\" hex string, got " + type_name(key));
    return std::nullopt;
  }
  if (key.get_ref<const std::string&>() == kHiddenKey) {
    r.error(path, "the key is hidden: 'ipsecctl show --json' writes keys only with --keys");
    return std::nullopt;
  }
  auto bytes = decode_hex_key(key.get_ref<const std::string&>());
  if (!bytes) {
    r.error(path, "not a hex key: " + bytes.error().message);
    return std::nullopt;
  }
  return std::move(*bytes);
}

std::optional<SecretBytes> read_key_file_field(Reader& r, const Json& file,
                                               const std::string& path) {
  const std::string* name = r.string(file, path);
  if (name == nullptr) return std::nullopt;
  auto bytes = read_key_file(resolve_path(r.base_dir(), *name));
  if (!bytes) {
    r.error(path, bytes.error().message);
    return std::nullopt;
  }
  return std::move(*bytes);
}

// The key of a key spec ("key" or "key_file"), its length checked when the algorithm is known.
std::optional<SecretBytes> read_key(Reader& r, const Json& spec, const std::string& path,
                                    const AlgorithmInfo* info) {
  const Json* key = Reader::field(spec, "key");
  const Json* file = Reader::field(spec, "key_file");
  if (key != nullptr && file != nullptr) {
    r.error(path, "give \"key\" or \"key_file\", not both");
    return std::nullopt;
  }
  if (key == nullptr && file == nullptr) {
    if (info != nullptr && allows_length(*info, 0)) return SecretBytes{};
    r.error(path, "missing \"key\" or \"key_file\"");
    return std::nullopt;
  }
  std::string kp = join(path, key != nullptr ? "key" : "key_file");
  auto bytes = key != nullptr ? read_key_value(r, *key, kp) : read_key_file_field(r, *file, kp);
  if (bytes && info != nullptr && !allows_length(*info, bytes->size())) {
    r.error(kp, "key of " + std::to_string(bytes->size()) + " bytes, " +
                    std::string(info->keyword) + " needs " + lengths_text(info->key_bytes));
    return std::nullopt;
  }
  return bytes;
}

struct Slot {
  bool present = false;  // the field exists (valid or not)
  const AlgorithmInfo* info = nullptr;
  std::optional<kernel::Algorithm> alg;
};

Slot parse_key_spec(Reader& r, const Json& sa, const std::string& sa_path, std::string_view field,
                    AlgKind kind, bool allow_insecure) {
  Slot slot;
  const Json* j = Reader::field(sa, field);
  if (j == nullptr) return slot;
  slot.present = true;
  std::string path = join(sa_path, field);
  if (!r.object(*j, path, {"algorithm", "key", "key_file"})) return slot;
  slot.info = read_algorithm(r, *j, path, kind, allow_insecure);
  auto key = read_key(r, *j, path, slot.info);
  if (slot.info != nullptr && key)
    slot.alg =
        kernel::Algorithm{std::string(slot.info->kernel_name), std::move(*key), slot.info->bits};
  return slot;
}

struct Slots {
  Slot enc, auth, aead;
};

void check_esp_slots(Reader& r, const std::string& path, const Slots& s, bool allow_insecure) {
  if (s.aead.present && (s.enc.present || s.auth.present)) {
    r.error(path, "\"aead\" cannot be combined with \"encryption\" or \"integrity\"");
    return;
  }
  if (s.aead.present) return;
  if (!s.enc.present) {
    r.error(path,
            s.auth.present
                ? "ESP needs \"encryption\" with \"integrity\" (use \"null\" for integrity only)"
                : "ESP needs \"aead\", or \"encryption\" with \"integrity\"");
    return;
  }
  if (s.auth.present) return;
  if (s.enc.info != nullptr && s.enc.info->keyword == "null")
    r.error(path, "\"null\" encryption requires \"integrity\"");
  else if (allow_insecure)
    r.warn(path, "encryption without integrity accepted (allow_insecure)");
  else
    r.error(path,
            "encryption without integrity is insecure; add \"integrity\" or set "
            "\"allow_insecure\": true");
}

void check_ah_slots(Reader& r, const Json& j, const std::string& path, const Slots& s) {
  for (std::string_view f : {"encryption", "aead", "encap"})
    if (Reader::field(j, f) != nullptr)
      r.error(join(path, f), f == "encap" ? "UDP encapsulation is for ESP only"
                                          : "not allowed with AH (AH has integrity only)");
  if (!s.auth.present) r.error(path, "AH needs \"integrity\"");
}

void parse_algorithms(Reader& r, const Json& j, const std::string& path, std::optional<Proto> proto,
                      bool allow_insecure, kernel::SaParams& sa) {
  Slots s;
  s.enc = parse_key_spec(r, j, path, "encryption", AlgKind::Encryption, allow_insecure);
  s.auth = parse_key_spec(r, j, path, "integrity", AlgKind::Integrity, allow_insecure);
  s.aead = parse_key_spec(r, j, path, "aead", AlgKind::Aead, allow_insecure);
  if (proto == Proto::Esp) check_esp_slots(r, path, s, allow_insecure);
  if (proto == Proto::Ah) check_ah_slots(r, j, path, s);
  sa.enc = std::move(s.enc.alg);
  sa.auth = std::move(s.auth.alg);
  sa.aead = std::move(s.aead.alg);
}

std::optional<kernel::Lifetime> parse_lifetime(Reader& r, const Json& j, const std::string& path) {
  if (!r.object(j, path, {"soft", "hard"})) return std::nullopt;
  static constexpr std::string_view kLimits[] = {"seconds", "use_seconds", "bytes", "packets"};
  uint64_t values[2][4] = {};
  const char* sides[2] = {"soft", "hard"};
  for (int side = 0; side < 2; ++side) {
    const Json* limits = Reader::field(j, sides[side]);
    std::string lp = join(path, sides[side]);
    if (limits == nullptr || !r.object(*limits, lp, {"seconds", "use_seconds", "bytes", "packets"}))
      continue;
    for (int i = 0; i < 4; ++i)
      values[side][i] = r.opt_integer(*limits, lp, kLimits[i], 1, UINT64_MAX).value_or(0);
  }
  for (int i = 0; i < 4; ++i)
    if (values[0][i] != 0 && values[1][i] != 0 && values[0][i] >= values[1][i])
      r.error(join(join(path, "soft"), kLimits[i]), "soft limit " + std::to_string(values[0][i]) +
                                                        " is not below hard limit " +
                                                        std::to_string(values[1][i]));
  kernel::Lifetime l;
  l.soft_add_seconds = values[0][0], l.hard_add_seconds = values[1][0];
  l.soft_use_seconds = values[0][1], l.hard_use_seconds = values[1][1];
  l.soft_bytes = values[0][2], l.hard_bytes = values[1][2];
  l.soft_packets = values[0][3], l.hard_packets = values[1][3];
  return l;
}

std::optional<kernel::Encap> parse_encap(Reader& r, const Json& j, const std::string& path) {
  if (!r.object(j, path, {"type", "sport", "dport"})) return std::nullopt;
  kernel::Encap e;
  if (const Json* t = Reader::field(j, "type"))
    e.type = r.keyword<uint16_t>(*t, join(path, "type"), {{"espinudp", kEncapEspInUdp}})
                 .value_or(kEncapEspInUdp);
  e.sport =
      static_cast<uint16_t>(r.opt_integer(j, path, "sport", 1, 65535).value_or(kDefaultEncapPort));
  e.dport =
      static_cast<uint16_t>(r.opt_integer(j, path, "dport", 1, 65535).value_or(kDefaultEncapPort));
  return e;
}

std::optional<kernel::Selector> parse_sa_selector(Reader& r, const Json& j,
                                                  const std::string& path) {
  if (!r.object(j, path, {"src", "dst", "proto", "sport", "dport"})) return std::nullopt;
  return parse_selector_fields(r, j, path);
}

// protocol, mode, spi, src, dst, reqid.
void parse_identity(Reader& r, const Json& j, const std::string& path, std::optional<Proto>& proto,
                    kernel::SaParams& sa) {
  if (const Json* p = r.required(j, path, "protocol"))
    proto = r.keyword<Proto>(*p, join(path, "protocol"), {{"esp", Proto::Esp}, {"ah", Proto::Ah}});
  sa.proto = proto.value_or(Proto::Esp);
  if (const Json* m = Reader::field(j, "mode"))
    sa.mode = r.keyword<Mode>(*m, join(path, "mode"),
                              {{"transport", Mode::Transport}, {"tunnel", Mode::Tunnel}})
                  .value_or(Mode::Transport);
  if (const Json* s = r.required(j, path, "spi")) {
    auto spi = r.u32(*s, join(path, "spi"));
    if (spi && *spi < 256)
      r.error(join(path, "spi"),
              std::to_string(*spi) +
                  " is out of range 256..0xffffffff (RFC 4303 §2.1: 1-255 are reserved)");
    sa.spi = spi.value_or(0);
  }
  const Json* src = r.required(j, path, "src");
  const Json* dst = r.required(j, path, "dst");
  auto s = src ? r.address(*src, join(path, "src")) : std::nullopt;
  auto d = dst ? r.address(*dst, join(path, "dst")) : std::nullopt;
  if (s && d && s->family != d->family)
    r.error(join(path, "dst"), quote(d->str()) + " is " +
                                   (d->family == Family::V4 ? "IPv4" : "IPv6") + " but src is " +
                                   (s->family == Family::V4 ? "IPv4" : "IPv6"));
  sa.src = s.value_or(IpAddress{});
  sa.dst = d.value_or(IpAddress{});
  sa.reqid = r.opt_u32(j, path, "reqid").value_or(0);
}

// replay_window, esn, lifetime, encap, mark, if_id, selector.
void parse_options(Reader& r, const Json& j, const std::string& path, kernel::SaParams& sa) {
  auto window = r.opt_integer(j, path, "replay_window", 0, 4096);
  sa.replay_window = static_cast<uint32_t>(window.value_or(kDefaultReplayWindow));
  sa.esn = r.opt_boolean(j, path, "esn").value_or(false);
  if (sa.esn && window == 0u) r.error(join(path, "esn"), "esn needs replay_window > 0");
  if (const Json* l = Reader::field(j, "lifetime"))
    sa.lifetime = parse_lifetime(r, *l, join(path, "lifetime")).value_or(kernel::Lifetime{});
  if (const Json* e = Reader::field(j, "encap")) sa.encap = parse_encap(r, *e, join(path, "encap"));
  if (const Json* m = Reader::field(j, "mark"))
    sa.mark = parse_mark(r, *m, join(path, "mark")).value_or(kernel::Mark{});
  sa.if_id = r.opt_u32(j, path, "if_id").value_or(0);
  if (const Json* s = Reader::field(j, "selector"))
    sa.sel = parse_sa_selector(r, *s, join(path, "selector")).value_or(kernel::Selector{});
}

// A transport-mode SA carries the traffic of its own addresses: a selector of the other
// family can never match it (tunnel mode may carry either family).
void check_transport_selector(Reader& r, const Json& j, const std::string& path,
                              const kernel::SaParams& sa) {
  if (sa.mode != Mode::Transport || Reader::field(j, "selector") == nullptr || sa.src.is_unspec() ||
      sa.sel.empty())
    return;
  auto family = [](Family f) { return f == Family::V4 ? "IPv4" : "IPv6"; };
  const Prefix& p = sa.sel.src;  // src and dst are of one family (parse_selector_fields)
  if (!p.addr.is_unspec() && p.family() != sa.src.family)
    r.error(join(path, "selector"), "src " + quote(p.str()) + " and dst " +
                                        quote(sa.sel.dst.str()) + " are " + family(p.family()) +
                                        " but the SA's src and dst are " + family(sa.src.family) +
                                        ": a transport-mode SA carries the traffic between them");
}

}  // namespace

std::optional<kernel::SaParams> parse_sa(Reader& r, const Json& j, const std::string& path) {
  size_t errors_before = r.error_count();
  if (!r.object(j, path,
                {"protocol", "mode", "spi", "src", "dst", "reqid", "encryption", "integrity",
                 "aead", "replay_window", "esn", "lifetime", "encap", "mark", "if_id", "selector",
                 "allow_insecure"}))
    return std::nullopt;
  kernel::SaParams sa;
  std::optional<Proto> proto;
  parse_identity(r, j, path, proto, sa);
  bool allow_insecure = r.opt_boolean(j, path, "allow_insecure").value_or(false);
  parse_algorithms(r, j, path, proto, allow_insecure, sa);
  parse_options(r, j, path, sa);
  if (r.error_count() == errors_before) check_transport_selector(r, j, path, sa);
  if (r.error_count() != errors_before) return std::nullopt;
  return sa;
}

}  // namespace ipsec::policy::detail
