// SPDX-License-Identifier: Apache-2.0
// Parses XFRM netlink messages (linux/xfrm.h) into the kernel model: bounds
// checked, copied, never cast onto the packet.
#include <libmnl/libmnl.h>
#include <linux/ipsec.h>
#include <linux/xfrm.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "common/secret.h"
#include "netlink/xfrm_codec.h"
#include "netlink/xfrm_convert.h"

namespace ipsec::netlink {

namespace {

using namespace ipsec::kernel;

using Attrs = std::array<const nlattr*, XFRMA_MAX + 1>;

Unexpected<Error> malformed(const std::string& what) {
  return fail(std::string("malformed XFRM message: ") + what, EBADMSG);
}

// Exact payload size of fixed-size attributes; 0 for those checked by their
// reader (variable length) or not read at all.
size_t fixed_size(uint16_t type) {
  switch (type) {
    case XFRMA_ENCAP:
      return sizeof(xfrm_encap_tmpl);
    case XFRMA_SRCADDR:
      return sizeof(xfrm_address_t);
    case XFRMA_SA:
      return sizeof(xfrm_usersa_info);
    case XFRMA_POLICY:
      return sizeof(xfrm_userpolicy_info);
    case XFRMA_LTIME_VAL:
      return sizeof(xfrm_lifetime_cur);
    case XFRMA_MARK:
      return sizeof(xfrm_mark);
    case XFRMA_IF_ID:
    case XFRMA_TFCPAD:
    case XFRMA_SA_EXTRA_FLAGS:
      return sizeof(uint32_t);
    default:
      return 0;
  }
}

// Minimum size of variable-length attributes.
size_t min_size(uint16_t type) {
  switch (type) {
    case XFRMA_ALG_AUTH:
    case XFRMA_ALG_CRYPT:
    case XFRMA_ALG_COMP:
      return sizeof(xfrm_algo);
    case XFRMA_ALG_AUTH_TRUNC:
      return sizeof(xfrm_algo_auth);
    case XFRMA_ALG_AEAD:
      return sizeof(xfrm_algo_aead);
    case XFRMA_REPLAY_ESN_VAL:
      return sizeof(xfrm_replay_state_esn);
    default:
      return 0;
  }
}

// mnl_attr_parse callback: validates each known attribute's size and files
// it in the table. Types newer than our header are skipped.
int attr_cb(const nlattr* attr, void* data) {
  auto& table = *static_cast<Attrs*>(data);
  if (mnl_attr_type_valid(attr, XFRMA_MAX) < 0) return MNL_CB_OK;
  uint16_t type = mnl_attr_get_type(attr);
  if (size_t fixed = fixed_size(type); fixed != 0) {
    if (mnl_attr_validate2(attr, MNL_TYPE_BINARY, fixed) < 0) return MNL_CB_ERROR;
  } else if (mnl_attr_get_payload_len(attr) < min_size(type)) {
    return MNL_CB_ERROR;
  }
  table[type] = attr;
  return MNL_CB_OK;
}

// The fixed header of a message, copied out; false when too short.
template <class T>
bool copy_header(const nlmsghdr* nlh, T& out) {
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(T)) return false;
  std::memcpy(&out, mnl_nlmsg_get_payload(nlh), sizeof(T));
  return true;
}

template <class T>
T copy_attr(const nlattr* a) {
  T out{};
  std::memcpy(&out, mnl_attr_get_payload(a), sizeof(T));
  return out;
}

Result<Attrs> parse_attrs(const nlmsghdr* nlh, size_t header) {
  Attrs table{};
  if (mnl_nlmsg_get_payload_len(nlh) < header) return malformed("short header");
  if (mnl_attr_parse(nlh, static_cast<unsigned>(MNL_ALIGN(header)), attr_cb, &table) < 0)
    return malformed("bad attribute");
  return table;
}

// struct xfrm_algo{,_auth,_aead}: header, then ceil(key_len/8) key bytes.
template <class Header>
Result<Algorithm> read_algorithm(const nlattr* a) {
  Header h = copy_attr<Header>(a);
  size_t key_bytes = (h.alg_key_len + 7) / 8;
  if (mnl_attr_get_payload_len(a) - sizeof(Header) < key_bytes) return malformed("short key");
  Algorithm alg;
  alg.name.assign(h.alg_name, strnlen(h.alg_name, sizeof h.alg_name));
  const auto* key = static_cast<const uint8_t*>(mnl_attr_get_payload(a)) + sizeof(Header);
  alg.key = SecretBytes(std::span<const uint8_t>(key, key_bytes));
  if constexpr (requires { h.alg_trunc_len; }) alg.bits = h.alg_trunc_len;
  if constexpr (requires { h.alg_icv_len; }) alg.bits = h.alg_icv_len;
  return alg;
}

Result<void> read_algorithms(const Attrs& t, SaParams& sa) {
  auto take = [](Result<Algorithm> r, std::optional<Algorithm>& out) -> Result<void> {
    if (!r) return fail(std::move(r.error()));
    out = std::move(*r);
    return ok();
  };
  Result<void> r;
  if (t[XFRMA_ALG_CRYPT] && !(r = take(read_algorithm<xfrm_algo>(t[XFRMA_ALG_CRYPT]), sa.enc)))
    return r;
  if (t[XFRMA_ALG_AUTH_TRUNC]) {
    if (!(r = take(read_algorithm<xfrm_algo_auth>(t[XFRMA_ALG_AUTH_TRUNC]), sa.auth))) return r;
  } else if (t[XFRMA_ALG_AUTH]) {  // legacy: the kernel's default truncation
    if (!(r = take(read_algorithm<xfrm_algo>(t[XFRMA_ALG_AUTH]), sa.auth))) return r;
  }
  if (t[XFRMA_ALG_AEAD] && !(r = take(read_algorithm<xfrm_algo_aead>(t[XFRMA_ALG_AEAD]), sa.aead)))
    return r;
  if (t[XFRMA_ALG_COMP] && !(r = take(read_algorithm<xfrm_algo>(t[XFRMA_ALG_COMP]), sa.comp)))
    return r;
  return ok();
}

Encap read_encap(const nlattr* a, uint16_t family) {
  auto t = copy_attr<xfrm_encap_tmpl>(a);
  Encap e;
  e.type = t.encap_type;
  e.sport = ntohs(t.encap_sport);
  e.dport = ntohs(t.encap_dport);
  e.original_address = convert::from_xfrm_optional(t.encap_oa, family);
  return e;
}

Mark read_mark(const Attrs& t) {
  if (!t[XFRMA_MARK]) return {};
  auto m = copy_attr<xfrm_mark>(t[XFRMA_MARK]);
  return Mark{m.v, m.m};
}

uint32_t read_u32(const Attrs& t, uint16_t type) { return t[type] ? mnl_attr_get_u32(t[type]) : 0; }

// The window comes from XFRMA_REPLAY_ESN_VAL when present (windows above 32
// and ESN), else from usersa_info; XFRM_STATE_ESN becomes the esn flag.
void read_replay(const Attrs& t, const xfrm_usersa_info& info, SaParams& sa) {
  sa.esn = (info.flags & XFRM_STATE_ESN) != 0;
  sa.flags = static_cast<uint8_t>(info.flags & ~XFRM_STATE_ESN);
  sa.replay_window = info.replay_window;
  if (t[XFRMA_REPLAY_ESN_VAL]) {
    auto r = copy_attr<xfrm_replay_state_esn>(t[XFRMA_REPLAY_ESN_VAL]);
    if (r.replay_window != 0) sa.replay_window = r.replay_window;
  }
}

// A selector the kernel could have sent: of no family (any traffic), IPv4 or IPv6, with
// prefix lengths that fit it (xfrm_user.c verify_newsa_info and verify_newpolicy_info
// refuse the rest). Anything else would not survive being programmed back (xfrm_fuzz).
Result<void> check_selector(const xfrm_selector& x) {
  const unsigned max = x.family == AF_INET ? 32 : x.family == AF_INET6 ? 128 : 0;
  if (x.family != AF_UNSPEC && max == 0)
    return fail("selector of address family " + std::to_string(x.family));
  if (x.family != AF_UNSPEC && (x.prefixlen_s > max || x.prefixlen_d > max))
    return fail("selector prefix length " + std::to_string(std::max(x.prefixlen_s, x.prefixlen_d)) +
                " for address family " + std::to_string(x.family));
  return ok();
}

void read_usersa(const xfrm_usersa_info& info, SaParams& sa) {
  sa.src = convert::from_xfrm(info.saddr, info.family);
  sa.dst = convert::from_xfrm(info.id.daddr, info.family);
  sa.spi = ntohl(info.id.spi);
  sa.proto = static_cast<Proto>(info.id.proto);
  sa.mode = static_cast<Mode>(info.mode);
  sa.reqid = info.reqid;
  sa.lifetime = convert::from_xfrm(info.lft);
  sa.sel = convert::from_xfrm(info.sel, true);
  sa.counters = convert::from_xfrm(info.curlft);
  sa.counters.replay_window_errors = info.stats.replay_window;
  sa.counters.replay_errors = info.stats.replay;
  sa.counters.integrity_failed = info.stats.integrity_failed;
}

// An SA from its usersa_info and the attributes around it.
Result<SaParams> read_sa(const xfrm_usersa_info& info, const Attrs& t) {
  if (auto r = check_selector(info.sel); !r) return malformed(r.error().message);
  SaParams sa;
  read_usersa(info, sa);
  read_replay(t, info, sa);
  auto algs = read_algorithms(t, sa);
  if (!algs) return fail(std::move(algs.error()));
  if (t[XFRMA_ENCAP]) sa.encap = read_encap(t[XFRMA_ENCAP], info.family);
  sa.mark = read_mark(t);
  sa.if_id = read_u32(t, XFRMA_IF_ID);
  sa.extra_flags = read_u32(t, XFRMA_SA_EXTRA_FLAGS);
  sa.tfcpad = read_u32(t, XFRMA_TFCPAD);
  if (t[XFRMA_LTIME_VAL]) {
    auto cur = copy_attr<xfrm_lifetime_cur>(t[XFRMA_LTIME_VAL]);
    auto c = convert::from_xfrm(cur);
    sa.counters.bytes = c.bytes;
    sa.counters.packets = c.packets;
    sa.counters.add_time = c.add_time;
    sa.counters.use_time = c.use_time;
  }
  // A state without any transform is larval: an SPI reserved by ALLOCSPI or
  // an ACQUIRE placeholder, no keys yet.
  sa.larval = !sa.enc && !sa.auth && !sa.aead && !sa.comp;
  return sa;
}

Template read_template(const xfrm_user_tmpl& u) {
  Template t;
  t.dst = convert::from_xfrm_optional(u.id.daddr, u.family);
  t.src = convert::from_xfrm_optional(u.saddr, u.family);
  t.spi = ntohl(u.id.spi);
  t.proto = static_cast<Proto>(u.id.proto);
  t.mode = static_cast<Mode>(u.mode);
  t.reqid = u.reqid;
  t.optional = u.optional != 0;
  return t;
}

Result<std::vector<Template>> read_templates(const nlattr* a) {
  std::vector<Template> out;
  if (a == nullptr) return out;
  size_t len = mnl_attr_get_payload_len(a);
  if (len % sizeof(xfrm_user_tmpl) != 0) return malformed("XFRMA_TMPL size");
  const auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(a));
  out.reserve(len / sizeof(xfrm_user_tmpl));
  for (size_t off = 0; off < len; off += sizeof(xfrm_user_tmpl)) {
    xfrm_user_tmpl u;
    std::memcpy(&u, p + off, sizeof u);
    out.push_back(read_template(u));
  }
  return out;
}

// Per-socket policies are dumped with dir XFRM_POLICY_MAX + dir.
Result<PolicyParams> read_policy(const xfrm_userpolicy_info& info, const Attrs& t) {
  if (auto r = check_selector(info.sel); !r) return malformed(r.error().message);
  PolicyParams p;
  p.sel = convert::from_xfrm(info.sel, false);
  p.lifetime = convert::from_xfrm(info.lft);
  p.counters = convert::from_xfrm(info.curlft);
  p.priority = info.priority;
  p.index = info.index;
  p.socket = info.dir >= XFRM_POLICY_MAX;
  p.dir = static_cast<Dir>(info.dir % XFRM_POLICY_MAX);
  p.action = info.action == XFRM_POLICY_BLOCK ? Action::Block : Action::Allow;
  p.flags = info.flags;
  auto tmpls = read_templates(t[XFRMA_TMPL]);
  if (!tmpls) return fail(std::move(tmpls.error()));
  p.tmpls = std::move(*tmpls);
  p.mark = read_mark(t);
  p.if_id = read_u32(t, XFRMA_IF_ID);
  return p;
}

SaId read_sa_id(const xfrm_usersa_id& u, const Attrs& t) {
  SaId id;
  id.dst = convert::from_xfrm(u.daddr, u.family);
  id.spi = ntohl(u.spi);
  id.proto = static_cast<Proto>(u.proto);
  id.mark = read_mark(t);
  if (t[XFRMA_SRCADDR])
    id.src = convert::from_xfrm(copy_attr<xfrm_address_t>(t[XFRMA_SRCADDR]), u.family);
  return id;
}

// XFRM_MSG_DELSA notification: xfrm_usersa_id, the state in XFRMA_SA and its
// other attributes beside it (net/xfrm/xfrm_user.c, xfrm_notify_sa).
Result<Event> parse_del_sa(const nlmsghdr* nlh) {
  xfrm_usersa_id u;
  if (!copy_header(nlh, u)) return malformed("short xfrm_usersa_id");
  auto t = parse_attrs(nlh, sizeof u);
  if (!t) return fail(std::move(t.error()));
  SaChangeEvent ev{ChangeKind::Delete, std::nullopt, read_sa_id(u, *t), 0};
  if ((*t)[XFRMA_SA]) {
    auto sa = read_sa(copy_attr<xfrm_usersa_info>((*t)[XFRMA_SA]), *t);
    if (!sa) return fail(std::move(sa.error()));
    ev.id->src = sa->src;
    ev.sa = std::move(*sa);
  }
  return Event(std::move(ev));
}

Result<Event> parse_del_policy(const nlmsghdr* nlh) {
  xfrm_userpolicy_id u;
  if (!copy_header(nlh, u)) return malformed("short xfrm_userpolicy_id");
  auto t = parse_attrs(nlh, sizeof u);
  if (!t) return fail(std::move(t.error()));
  if (auto r = check_selector(u.sel); !r) return malformed(r.error().message);
  PolicyId id{convert::from_xfrm(u.sel, false), static_cast<Dir>(u.dir % XFRM_POLICY_MAX),
              read_mark(*t), read_u32(*t, XFRMA_IF_ID)};
  PolicyChangeEvent ev{ChangeKind::Delete, std::nullopt, id};
  if ((*t)[XFRMA_POLICY]) {
    auto p = read_policy(copy_attr<xfrm_userpolicy_info>((*t)[XFRMA_POLICY]), *t);
    if (!p) return fail(std::move(p.error()));
    ev.policy = std::move(*p);
  }
  return Event(std::move(ev));
}

// XFRM_MSG_ACQUIRE: the addresses of the SA to negotiate, the packet's
// selector, the policy and its template (xfrm_user.c, build_acquire).
Result<Event> parse_acquire(const nlmsghdr* nlh) {
  xfrm_user_acquire a;
  if (!copy_header(nlh, a)) return malformed("short xfrm_user_acquire");
  auto t = parse_attrs(nlh, sizeof a);
  if (!t) return fail(std::move(t.error()));
  auto policy = read_policy(a.policy, *t);
  if (!policy) return fail(std::move(policy.error()));
  if (auto r = check_selector(a.sel); !r) return malformed(r.error().message);
  AcquireEvent ev;
  uint16_t family = a.sel.family;
  if (!policy->tmpls.empty()) {
    ev.tmpl = policy->tmpls.front();
    xfrm_user_tmpl first;
    std::memcpy(&first, mnl_attr_get_payload((*t)[XFRMA_TMPL]), sizeof first);
    family = first.family;
  }
  ev.src = convert::from_xfrm(a.saddr, family);
  ev.dst = convert::from_xfrm(a.id.daddr, family);
  ev.sel = convert::from_xfrm(a.sel, false);
  ev.policy = std::move(*policy);
  ev.seq = a.seq;
  return Event(std::move(ev));
}

Result<Event> parse_expire(const nlmsghdr* nlh) {
  xfrm_user_expire e;
  if (!copy_header(nlh, e)) return malformed("short xfrm_user_expire");
  auto t = parse_attrs(nlh, sizeof e);
  if (!t) return fail(std::move(t.error()));
  auto sa = read_sa(e.state, *t);
  if (!sa) return fail(std::move(sa.error()));
  // EXPIRE carries usersa_info, mark and if_id only, never the transforms
  // (xfrm_user.c, build_expire): their absence does not make the state larval.
  sa->larval = false;
  return Event(ExpireEvent{std::move(*sa), e.hard != 0});
}

Result<Event> parse_polexpire(const nlmsghdr* nlh) {
  xfrm_user_polexpire e;
  if (!copy_header(nlh, e)) return malformed("short xfrm_user_polexpire");
  auto t = parse_attrs(nlh, sizeof e);
  if (!t) return fail(std::move(t.error()));
  auto p = read_policy(e.pol, *t);
  if (!p) return fail(std::move(p.error()));
  return Event(PolExpireEvent{std::move(*p), e.hard != 0});
}

Result<Event> parse_mapping(const nlmsghdr* nlh) {
  xfrm_user_mapping m;
  if (!copy_header(nlh, m)) return malformed("short xfrm_user_mapping");
  auto t = parse_attrs(nlh, sizeof m);
  if (!t) return fail(std::move(t.error()));
  MappingEvent ev;
  ev.id = read_sa_id(m.id, *t);
  ev.old_addr = convert::from_xfrm(m.old_saddr, m.id.family);
  ev.new_addr = convert::from_xfrm(m.new_saddr, m.id.family);
  ev.old_port = ntohs(m.old_sport);
  ev.new_port = ntohs(m.new_sport);
  return Event(ev);
}

Result<Event> sa_change(const nlmsghdr* nlh, ChangeKind kind) {
  auto sa = parse_sa(nlh);
  if (!sa) return fail(std::move(sa.error()));
  return Event(SaChangeEvent{kind, std::move(*sa), std::nullopt, 0});
}

Result<Event> policy_change(const nlmsghdr* nlh, ChangeKind kind) {
  auto p = parse_policy(nlh);
  if (!p) return fail(std::move(p.error()));
  return Event(PolicyChangeEvent{kind, std::move(*p), std::nullopt});
}

Result<Event> flush_sa(const nlmsghdr* nlh) {
  xfrm_usersa_flush f{};
  if (!copy_header(nlh, f)) return malformed("short xfrm_usersa_flush");
  SaChangeEvent ev{ChangeKind::Flush, std::nullopt, std::nullopt, f.proto};
  if (ev.flush_proto == IPSEC_PROTO_ANY) ev.flush_proto = 0;
  return Event(ev);
}

Result<Event> dispatch_event(const nlmsghdr* nlh) {
  switch (nlh->nlmsg_type) {
    case XFRM_MSG_NEWSA:
      return sa_change(nlh, ChangeKind::New);
    case XFRM_MSG_UPDSA:
      return sa_change(nlh, ChangeKind::Update);
    case XFRM_MSG_DELSA:
      return parse_del_sa(nlh);
    case XFRM_MSG_FLUSHSA:
      return flush_sa(nlh);
    case XFRM_MSG_NEWPOLICY:
      return policy_change(nlh, ChangeKind::New);
    case XFRM_MSG_UPDPOLICY:
      return policy_change(nlh, ChangeKind::Update);
    case XFRM_MSG_DELPOLICY:
      return parse_del_policy(nlh);
    case XFRM_MSG_FLUSHPOLICY:
      return Event(PolicyChangeEvent{ChangeKind::Flush, std::nullopt, std::nullopt});
    case XFRM_MSG_ACQUIRE:
      return parse_acquire(nlh);
    case XFRM_MSG_EXPIRE:
      return parse_expire(nlh);
    case XFRM_MSG_POLEXPIRE:
      return parse_polexpire(nlh);
    case XFRM_MSG_MAPPING:
      return parse_mapping(nlh);
    default:
      return fail(std::string(), 0);
  }
}

// XFRM_MSG_NEW{SAD,SPD}INFO: a u32 of flags, then attributes.
template <class Table, size_t N>
Result<Table> parse_info_attrs(const nlmsghdr* nlh) {
  Table table{};
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(uint32_t)) return malformed("short info");
  auto cb = [](const nlattr* attr, void* data) -> int {
    auto& tb = *static_cast<Table*>(data);
    if (mnl_attr_type_valid(attr, N - 1) < 0) return MNL_CB_OK;
    tb[mnl_attr_get_type(attr)] = attr;
    return MNL_CB_OK;
  };
  if (mnl_attr_parse(nlh, MNL_ALIGN(sizeof(uint32_t)), cb, &table) < 0)
    return malformed("bad info attribute");
  return table;
}

template <class T>
bool read_exact(const nlattr* a, T& out) {
  if (a == nullptr || mnl_attr_validate2(a, MNL_TYPE_BINARY, sizeof(T)) < 0) return false;
  out = copy_attr<T>(a);
  return true;
}

}  // namespace

Result<SadInfo> parse_sad_info(const nlmsghdr* nlh) {
  using Table = std::array<const nlattr*, XFRMA_SAD_MAX + 1>;
  auto t = parse_info_attrs<Table, XFRMA_SAD_MAX + 1>(nlh);
  if (!t) return fail(std::move(t.error()));
  SadInfo info;
  uint32_t count = 0;
  xfrmu_sadhinfo h{};
  if (read_exact((*t)[XFRMA_SAD_CNT], count)) info.sa_count = count;
  if (read_exact((*t)[XFRMA_SAD_HINFO], h)) {
    info.hash_size = h.sadhcnt;
    info.hash_max = h.sadhmcnt;
  }
  return info;
}

Result<SpdInfo> parse_spd_info(const nlmsghdr* nlh) {
  using Table = std::array<const nlattr*, XFRMA_SPD_MAX + 1>;
  auto t = parse_info_attrs<Table, XFRMA_SPD_MAX + 1>(nlh);
  if (!t) return fail(std::move(t.error()));
  SpdInfo info;
  xfrmu_spdinfo c{};
  xfrmu_spdhinfo h{};
  if (read_exact((*t)[XFRMA_SPD_INFO], c)) {
    info.in = c.incnt;
    info.out = c.outcnt;
    info.fwd = c.fwdcnt;
    info.in_socket = c.inscnt;
    info.out_socket = c.outscnt;
    info.fwd_socket = c.fwdscnt;
  }
  if (read_exact((*t)[XFRMA_SPD_HINFO], h)) {
    info.hash_size = h.spdhcnt;
    info.hash_max = h.spdhmcnt;
  }
  return info;
}

Result<std::optional<Event>> parse_event(const nlmsghdr* nlh) {
  auto ev = dispatch_event(nlh);
  if (ev) return std::optional<Event>(std::move(*ev));
  if (ev.error().code == 0 && ev.error().message.empty()) return std::optional<Event>();
  return fail(std::move(ev.error()));
}

Result<SaParams> parse_sa(const nlmsghdr* nlh) {
  xfrm_usersa_info info;
  if (!copy_header(nlh, info)) return malformed("short xfrm_usersa_info");
  auto t = parse_attrs(nlh, sizeof info);
  if (!t) return fail(std::move(t.error()));
  return read_sa(info, *t);
}

Result<PolicyParams> parse_policy(const nlmsghdr* nlh) {
  xfrm_userpolicy_info info;
  if (!copy_header(nlh, info)) return malformed("short xfrm_userpolicy_info");
  auto t = parse_attrs(nlh, sizeof info);
  if (!t) return fail(std::move(t.error()));
  return read_policy(info, *t);
}

}  // namespace ipsec::netlink
