// SPDX-License-Identifier: Apache-2.0
// Builds XFRM netlink requests (linux/xfrm.h) from the kernel model, with the
// libmnl idiom: put_header -> put_extra_header -> attr_put_check.
#include "netlink/xfrm_codec.h"

#include <libmnl/libmnl.h>
#include <linux/ipsec.h>
#include <linux/xfrm.h>

#include <cerrno>
#include <cstring>

#include "netlink/xfrm_convert.h"

namespace ipsec::netlink {

namespace {

using namespace ipsec::kernel;

// Every request but a dump asks for an ack: replies (GETSA, ALLOCSPI, ...)
// are then followed by one, so the reader knows when the answer is complete.
constexpr uint16_t kAck = NLM_F_REQUEST | NLM_F_ACK;

static_assert(kSaFlagAfUnspec == XFRM_STATE_AF_UNSPEC);

Unexpected<Error> no_room() { return fail(Error{std::string(), EMSGSIZE}); }

// Header plus the fixed part, copied in: netlink payloads are only 4-byte
// aligned, while some XFRM structures hold u64 fields, so they are built on
// the stack and never written through a pointer into the buffer.
template <class T>
nlmsghdr* put_fixed(std::span<uint8_t> buf, uint16_t type, uint16_t flags, const T& fixed) {
  if (buf.size() < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(T))) return nullptr;
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  std::memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof(T)), &fixed, sizeof(T));
  return nlh;
}

// Reserves an attribute at the tail and returns its zeroed payload; nullptr
// when it does not fit. Used where the payload is a header plus key bytes, so
// the key is written straight into the (later wiped) message buffer.
void* reserve_attr(nlmsghdr* nlh, size_t buflen, uint16_t type, size_t len) {
  if (len > UINT16_MAX - MNL_ATTR_HDRLEN) return nullptr;
  if (nlh->nlmsg_len + MNL_ATTR_HDRLEN + MNL_ALIGN(len) > buflen) return nullptr;
  auto* attr = static_cast<nlattr*>(mnl_nlmsg_get_payload_tail(nlh));
  attr->nla_type = type;
  attr->nla_len = static_cast<uint16_t>(MNL_ATTR_HDRLEN + len);
  void* payload = mnl_attr_get_payload(attr);
  std::memset(payload, 0, MNL_ALIGN(len));
  nlh->nlmsg_len += MNL_ALIGN(attr->nla_len);
  return payload;
}

template <class T>
bool put_struct(nlmsghdr* nlh, size_t buflen, uint16_t type, const T& value) {
  return mnl_attr_put_check(nlh, buflen, type, sizeof(T), &value);
}

// struct xfrm_algo / xfrm_algo_auth / xfrm_algo_aead: name, key bits, then
// (auth, aead) a length in bits, then the key.
template <class Header>
Result<void> put_algorithm(nlmsghdr* nlh, size_t buflen, uint16_t type, const Algorithm& alg,
                           uint32_t* bits_field_value) {
  if (alg.name.size() >= sizeof(Header{}.alg_name))
    return fail("algorithm name \"" + alg.name + "\" is too long", EINVAL);
  if (alg.key.size() > 1024) return fail("key of " + alg.name + " is too long", EINVAL);
  auto* p = static_cast<uint8_t*>(reserve_attr(nlh, buflen, type, sizeof(Header) + alg.key.size()));
  if (p == nullptr) return no_room();
  Header h{};
  std::memcpy(h.alg_name, alg.name.data(), alg.name.size());
  h.alg_key_len = static_cast<unsigned>(alg.key.size() * 8);
  if constexpr (requires { h.alg_trunc_len; }) h.alg_trunc_len = *bits_field_value;
  if constexpr (requires { h.alg_icv_len; }) h.alg_icv_len = *bits_field_value;
  std::memcpy(p, &h, sizeof h);
  if (!alg.key.empty()) std::memcpy(p + sizeof h, alg.key.data(), alg.key.size());
  return ok();
}

Result<void> put_algorithms(nlmsghdr* nlh, size_t buflen, const SaParams& sa) {
  if (sa.enc) {
    auto r = put_algorithm<xfrm_algo>(nlh, buflen, XFRMA_ALG_CRYPT, *sa.enc, nullptr);
    if (!r) return r;
  }
  if (sa.auth) {  // always AUTH_TRUNC: the truncation length is explicit (RFC 4868 §2.3)
    uint32_t bits = sa.auth->bits;
    auto r = put_algorithm<xfrm_algo_auth>(nlh, buflen, XFRMA_ALG_AUTH_TRUNC, *sa.auth, &bits);
    if (!r) return r;
  }
  if (sa.aead) {
    uint32_t bits = sa.aead->bits;
    auto r = put_algorithm<xfrm_algo_aead>(nlh, buflen, XFRMA_ALG_AEAD, *sa.aead, &bits);
    if (!r) return r;
  }
  if (sa.comp) {
    auto r = put_algorithm<xfrm_algo>(nlh, buflen, XFRMA_ALG_COMP, *sa.comp, nullptr);
    if (!r) return r;
  }
  return ok();
}

// A window above 32 packets, or ESN, needs struct xfrm_replay_state_esn with
// a bitmap of ceil(window/32) words; usersa_info.replay_window must then be 0
// (net/xfrm/xfrm_user.c, verify_replay).
bool needs_replay_esn(const SaParams& sa) { return sa.esn || sa.replay_window > 32; }

bool put_replay_esn(nlmsghdr* nlh, size_t buflen, const SaParams& sa) {
  uint32_t words = (sa.replay_window + 31) / 32;
  size_t len = sizeof(xfrm_replay_state_esn) + words * sizeof(uint32_t);
  auto* p = static_cast<uint8_t*>(reserve_attr(nlh, buflen, XFRMA_REPLAY_ESN_VAL, len));
  if (p == nullptr) return false;
  xfrm_replay_state_esn r{};
  r.bmp_len = words;
  r.replay_window = sa.replay_window;
  std::memcpy(p, &r, sizeof r);
  return true;
}

bool put_mark_ifid(nlmsghdr* nlh, size_t buflen, const Mark& mark, uint32_t if_id) {
  if (mark.value != 0 || mark.mask != 0) {
    xfrm_mark m{mark.value, mark.mask};
    if (!put_struct(nlh, buflen, XFRMA_MARK, m)) return false;
  }
  return if_id == 0 || mnl_attr_put_u32_check(nlh, buflen, XFRMA_IF_ID, if_id);
}

bool put_encap(nlmsghdr* nlh, size_t buflen, const Encap& e) {
  xfrm_encap_tmpl t{};
  t.encap_type = e.type;
  t.encap_sport = htons(e.sport);
  t.encap_dport = htons(e.dport);
  t.encap_oa = convert::to_xfrm(e.original_address);
  return put_struct(nlh, buflen, XFRMA_ENCAP, t);
}

void fill_usersa(xfrm_usersa_info& info, const SaParams& sa) {
  info.sel = convert::to_xfrm(sa.sel);
  info.id.daddr = convert::to_xfrm(sa.dst);
  info.id.spi = htonl(sa.spi);
  info.id.proto = static_cast<uint8_t>(sa.proto);
  info.saddr = convert::to_xfrm(sa.src);
  info.lft = convert::to_xfrm(sa.lifetime);
  info.reqid = sa.reqid;
  info.family = convert::af_of(sa.dst.family);
  info.mode = static_cast<uint8_t>(sa.mode);
  info.flags = static_cast<uint8_t>(sa.flags | (sa.esn ? XFRM_STATE_ESN : 0));
  if (!needs_replay_esn(sa)) info.replay_window = static_cast<uint8_t>(sa.replay_window);
}

bool put_sa_extras(nlmsghdr* nlh, size_t buflen, const SaParams& sa) {
  if (needs_replay_esn(sa) && !put_replay_esn(nlh, buflen, sa)) return false;
  if (sa.encap && !put_encap(nlh, buflen, *sa.encap)) return false;
  if (!put_mark_ifid(nlh, buflen, sa.mark, sa.if_id)) return false;
  if (sa.extra_flags != 0 &&
      !mnl_attr_put_u32_check(nlh, buflen, XFRMA_SA_EXTRA_FLAGS, sa.extra_flags))
    return false;
  return sa.tfcpad == 0 || mnl_attr_put_u32_check(nlh, buflen, XFRMA_TFCPAD, sa.tfcpad);
}

// iproute2 and strongSwan allow every algorithm (~0) and share "any".
xfrm_user_tmpl to_xfrm(const Template& t, Family policy_family) {
  xfrm_user_tmpl u{};
  Family f = !t.dst.is_unspec() ? t.dst.family : !t.src.is_unspec() ? t.src.family : policy_family;
  u.family = convert::af_of(f);
  u.id.daddr = convert::to_xfrm(t.dst);
  u.id.spi = htonl(t.spi);
  u.id.proto = static_cast<uint8_t>(t.proto);
  u.saddr = convert::to_xfrm(t.src);
  u.reqid = t.reqid;
  u.mode = static_cast<uint8_t>(t.mode);
  u.share = XFRM_SHARE_ANY;
  u.optional = t.optional ? 1 : 0;
  u.aalgos = u.ealgos = u.calgos = ~0u;
  return u;
}

// Several templates go into one XFRMA_TMPL attribute, in order (a bundle).
bool put_templates(nlmsghdr* nlh, size_t buflen, const PolicyParams& p) {
  if (p.tmpls.empty()) return true;
  size_t len = p.tmpls.size() * sizeof(xfrm_user_tmpl);
  auto* out = static_cast<uint8_t*>(reserve_attr(nlh, buflen, XFRMA_TMPL, len));
  if (out == nullptr) return false;
  for (const Template& t : p.tmpls) {
    xfrm_user_tmpl u = to_xfrm(t, p.sel.family());
    std::memcpy(out, &u, sizeof u);
    out += sizeof u;
  }
  return true;
}

xfrm_userpolicy_id to_policy_id(const PolicyId& id) {
  xfrm_userpolicy_id u{};
  u.sel = convert::to_xfrm(id.sel);
  u.dir = static_cast<uint8_t>(id.dir);
  return u;
}

}  // namespace

Built build_sa(std::span<uint8_t> buf, const SaParams& sa, bool update) {
  xfrm_usersa_info info{};
  fill_usersa(info, sa);
  nlmsghdr* nlh = put_fixed(buf, update ? XFRM_MSG_UPDSA : XFRM_MSG_NEWSA, kAck, info);
  if (nlh == nullptr) return no_room();
  auto algs = put_algorithms(nlh, buf.size(), sa);
  if (!algs) return fail(std::move(algs.error()));
  if (!put_sa_extras(nlh, buf.size(), sa)) return no_room();
  return nlh;
}

Built build_sa_id(std::span<uint8_t> buf, uint16_t type, const SaId& id) {
  xfrm_usersa_id u{};
  u.daddr = convert::to_xfrm(id.dst);
  u.spi = htonl(id.spi);
  u.family = convert::af_of(id.dst.family);
  u.proto = static_cast<uint8_t>(id.proto);
  nlmsghdr* nlh = put_fixed(buf, type, kAck, u);
  if (nlh == nullptr) return no_room();
  if (!put_mark_ifid(nlh, buf.size(), id.mark, 0)) return no_room();
  if (!id.src.is_unspec()) {
    xfrm_address_t src = convert::to_xfrm(id.src);
    if (!put_struct(nlh, buf.size(), XFRMA_SRCADDR, src)) return no_room();
  }
  return nlh;
}

Built build_policy(std::span<uint8_t> buf, const PolicyParams& p, bool update) {
  xfrm_userpolicy_info info{};
  info.sel = convert::to_xfrm(p.sel);
  info.lft = convert::to_xfrm(p.lifetime);
  info.priority = p.priority;
  info.index = p.index;
  info.dir = static_cast<uint8_t>(p.dir);
  info.action = static_cast<uint8_t>(p.action);
  info.flags = p.flags;
  info.share = XFRM_SHARE_ANY;
  uint16_t type = update ? XFRM_MSG_UPDPOLICY : XFRM_MSG_NEWPOLICY;
  nlmsghdr* nlh = put_fixed(buf, type, kAck, info);
  if (nlh == nullptr) return no_room();
  if (!put_templates(nlh, buf.size(), p)) return no_room();
  if (!put_mark_ifid(nlh, buf.size(), p.mark, p.if_id)) return no_room();
  return nlh;
}

Built build_policy_id(std::span<uint8_t> buf, uint16_t type, const PolicyId& id) {
  nlmsghdr* nlh = put_fixed(buf, type, kAck, to_policy_id(id));
  if (nlh == nullptr) return no_room();
  if (!put_mark_ifid(nlh, buf.size(), id.mark, id.if_id)) return no_room();
  return nlh;
}

Built build_alloc_spi(std::span<uint8_t> buf, const SpiRequest& req) {
  xfrm_userspi_info u{};
  u.info.id.daddr = convert::to_xfrm(req.dst);
  u.info.id.proto = static_cast<uint8_t>(req.proto);
  u.info.saddr = convert::to_xfrm(req.src);
  u.info.family = convert::af_of(req.dst.family);
  u.info.reqid = req.reqid;
  u.info.seq = req.seq;  // an ACQUIRE's seq: its state takes the SPI
  u.info.lft = convert::to_xfrm(Lifetime{});
  u.min = req.min;
  u.max = req.max;
  nlmsghdr* nlh = put_fixed(buf, XFRM_MSG_ALLOCSPI, kAck, u);
  if (nlh == nullptr) return no_room();
  if (!put_mark_ifid(nlh, buf.size(), req.mark, 0)) return no_room();
  return nlh;
}

Built build_flush_sa(std::span<uint8_t> buf) {
  xfrm_usersa_flush f{};
  f.proto = IPSEC_PROTO_ANY;
  nlmsghdr* nlh = put_fixed(buf, XFRM_MSG_FLUSHSA, kAck, f);
  if (nlh == nullptr) return no_room();
  return nlh;
}

Built build_flush_policy(std::span<uint8_t> buf) {
  if (buf.size() < MNL_NLMSG_HDRLEN) return no_room();
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = XFRM_MSG_FLUSHPOLICY;
  nlh->nlmsg_flags = kAck;
  return nlh;
}

Built build_dump(std::span<uint8_t> buf, uint16_t type) {
  if (buf.size() < MNL_NLMSG_HDRLEN) return no_room();
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  return nlh;
}

// The kernel reads a u32 of flags in front of GET{SA,SPD}INFO (xfrm_get_sadinfo).
Built build_info(std::span<uint8_t> buf, uint16_t type) {
  nlmsghdr* nlh = put_fixed(buf, type, kAck, uint32_t{0});
  if (nlh == nullptr) return no_room();
  return nlh;
}

Built build_op(std::span<uint8_t> buf, const Op& op) {
  struct V {
    std::span<uint8_t> b;
    Built operator()(const AddSa& o) const { return build_sa(b, o.sa, false); }
    Built operator()(const UpdateSa& o) const { return build_sa(b, o.sa, true); }
    Built operator()(const DeleteSa& o) const { return build_sa_id(b, XFRM_MSG_DELSA, o.id); }
    Built operator()(const AddPolicy& o) const { return build_policy(b, o.policy, false); }
    Built operator()(const UpdatePolicy& o) const { return build_policy(b, o.policy, true); }
    Built operator()(const DeletePolicy& o) const {
      return build_policy_id(b, XFRM_MSG_DELPOLICY, o.id);
    }
  };
  return std::visit(V{buf}, op);
}

bool op_carries_keys(const Op& op) {
  return std::holds_alternative<AddSa>(op) || std::holds_alternative<UpdateSa>(op);
}

}  // namespace ipsec::netlink
