// SPDX-License-Identifier: Apache-2.0
// The XFRM codec without a kernel: what we encode parses back to the same
// model (the SA encoding cannot be checked against this host's kernel, which
// has no ESP/AH), and malformed input is refused.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <linux/xfrm.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

#include "host_util.h"
#include "netlink/xfrm_codec.h"
#include "netlink/xfrm_socket.h"

using namespace ipsec;
using namespace ipsec::kernel;
using ipsec::host_test::ip;
using ipsec::host_test::pfx;

namespace {

SecretBytes key(size_t n, uint8_t seed) {
  std::vector<uint8_t> k(n);
  for (size_t i = 0; i < n; ++i) k[i] = static_cast<uint8_t>(seed + i);
  return SecretBytes(std::move(k));
}

SaParams esp_cbc_sha256_v4() {
  SaParams sa;
  sa.src = ip("192.0.2.1");
  sa.dst = ip("192.0.2.2");
  sa.spi = 0xc0ffee01;
  sa.mode = Mode::Tunnel;
  sa.reqid = 42;
  sa.enc = Algorithm{"cbc(aes)", key(32, 1), 0};
  sa.auth = Algorithm{"hmac(sha256)", key(32, 100), 128};
  sa.replay_window = 128;
  sa.esn = true;
  sa.lifetime = Lifetime{1000, 2000, 10, 20, 3000, 3600, 100, 200};
  sa.encap = Encap{2, 4500, 14500, ip("10.9.8.7")};
  sa.mark = Mark{0x10, 0xff};
  sa.if_id = 7;
  sa.sel = host_test::sel("10.0.0.0/24", "10.0.1.0/24", 6);
  sa.sel.dport = 443;
  sa.sel.dport_mask = 0xffff;
  sa.flags = XFRM_STATE_NOECN;
  sa.extra_flags = XFRM_SA_XFLAG_DONT_ENCAP_DSCP;
  sa.tfcpad = 512;
  return sa;
}

SaParams round_trip(const SaParams& sa) {
  std::vector<uint8_t> buf(4096);
  auto msg = netlink::build_sa(buf, sa, false);
  REQUIRE_MESSAGE(msg.has_value(), host_test::why(msg));
  auto back = netlink::parse_sa(*msg);
  REQUIRE_MESSAGE(back.has_value(), host_test::why(back));
  return std::move(*back);
}

}  // namespace

TEST_CASE("codec: an ESP SA with keys, ESN, lifetimes, encap, mark, if_id round-trips") {
  SaParams sa = esp_cbc_sha256_v4();
  SaParams back = round_trip(sa);
  CHECK(back.same_config(sa));
  CHECK(back.enc->key == sa.enc->key);
  CHECK(back.auth->bits == 128);
  CHECK(back.replay_window == 128);
  CHECK(back.esn);
  CHECK(back.encap->original_address == ip("10.9.8.7"));
  CHECK(back.lifetime.hard_add_seconds == 3600);
  CHECK_FALSE(back.larval);
}

TEST_CASE("codec: the SA message carries what linux/xfrm.h expects") {
  SaParams sa = esp_cbc_sha256_v4();
  std::vector<uint8_t> buf(4096);
  auto msg = netlink::build_sa(buf, sa, true);
  REQUIRE(msg.has_value());
  CHECK((*msg)->nlmsg_type == XFRM_MSG_UPDSA);
  CHECK((*msg)->nlmsg_flags == (NLM_F_REQUEST | NLM_F_ACK));
  xfrm_usersa_info info;
  std::memcpy(&info, NLMSG_DATA(*msg), sizeof info);
  CHECK(info.id.spi == htonl(0xc0ffee01));
  CHECK(info.id.proto == IPPROTO_ESP);
  CHECK(info.family == AF_INET);
  CHECK(info.replay_window == 0);  // the window travels in XFRMA_REPLAY_ESN_VAL
  CHECK((info.flags & XFRM_STATE_ESN) != 0);
  CHECK(info.lft.soft_byte_limit == 1000);
  sa.lifetime = {};
  msg = netlink::build_sa(buf, sa, false);
  std::memcpy(&info, NLMSG_DATA(*msg), sizeof info);
  CHECK(info.lft.hard_byte_limit == XFRM_INF);  // 0 in the model: no limit
  CHECK(info.lft.hard_packet_limit == XFRM_INF);
  CHECK(info.lft.hard_add_expires_seconds == 0);  // seconds: 0 already means none
}

TEST_CASE("codec: IPv6 AEAD SA with a small window, no ESN, empty selector") {
  SaParams sa;
  sa.src = ip("2001:db8::1");
  sa.dst = ip("2001:db8::2");
  sa.spi = 0x2000;
  sa.aead = Algorithm{"rfc4106(gcm(aes))", key(36, 7), 128};
  sa.replay_window = 32;
  SaParams back = round_trip(sa);
  CHECK(back.same_config(sa));
  CHECK(back.sel == Selector{});
  CHECK(back.aead->key.size() == 36);
  CHECK_FALSE(back.esn);

  sa.replay_window = 4096;  // above 32 without ESN: XFRMA_REPLAY_ESN_VAL, no ESN flag
  back = round_trip(sa);
  CHECK(back.replay_window == 4096);
  CHECK_FALSE(back.esn);
}

TEST_CASE("codec: AH and IPComp SAs round-trip") {
  SaParams ah;
  ah.src = ip("198.51.100.1");
  ah.dst = ip("198.51.100.2");
  ah.spi = 0x3000;
  ah.proto = Proto::Ah;
  ah.auth = Algorithm{"hmac(sha512)", key(64, 3), 256};
  CHECK(round_trip(ah).same_config(ah));
  SaParams comp = ah;
  comp.proto = Proto::Comp;
  comp.auth.reset();
  comp.comp = Algorithm{"deflate", {}, 0};
  comp.spi = 0x4000;
  CHECK(round_trip(comp).same_config(comp));
}

TEST_CASE("codec: a policy with a two-template bundle, mark, if_id and lifetime round-trips") {
  PolicyParams p;
  p.sel = host_test::sel("2001:db8:1::/48", "2001:db8:2::/48", 17);
  p.sel.sport = 500;
  p.sel.sport_mask = 0xffff;
  p.dir = Dir::Fwd;
  p.priority = 1234;
  p.index = 0;
  p.tmpls = {
      Template{{}, {}, 0, Proto::Ah, Mode::Transport, 1, false},
      Template{ip("2001:db8::a"), ip("2001:db8::b"), 0x77, Proto::Esp, Mode::Tunnel, 2, true}};
  p.mark = Mark{1, 0xffffffff};
  p.if_id = 99;
  p.lifetime.hard_add_seconds = 60;
  p.flags = XFRM_POLICY_ICMP;
  std::vector<uint8_t> buf(4096);
  auto msg = netlink::build_policy(buf, p, false);
  REQUIRE(msg.has_value());
  auto back = netlink::parse_policy(*msg);
  REQUIRE_MESSAGE(back.has_value(), host_test::why(back));
  CHECK(back->same_config(p));
  CHECK(back->tmpls == p.tmpls);
}

TEST_CASE("codec: building into a buffer that is too small reports EMSGSIZE") {
  SaParams sa = esp_cbc_sha256_v4();
  std::vector<uint8_t> buf(300);  // room for usersa_info but not every attribute
  auto msg = netlink::build_sa(buf, sa, false);
  REQUIRE_FALSE(msg.has_value());
  CHECK(msg.error().code == EMSGSIZE);
  sa.enc->name = std::string(80, 'x');
  std::vector<uint8_t> big(4096);
  msg = netlink::build_sa(big, sa, false);
  REQUIRE_FALSE(msg.has_value());
  CHECK(msg.error().code == EINVAL);
}

TEST_CASE("codec: truncated and malformed messages are refused, not read past") {
  SaParams sa = esp_cbc_sha256_v4();
  std::vector<uint8_t> buf(4096);
  auto msg = netlink::build_sa(buf, sa, false);
  REQUIRE(msg.has_value());
  nlmsghdr* nlh = *msg;
  uint32_t full = nlh->nlmsg_len;
  nlh->nlmsg_len = NLMSG_LENGTH(sizeof(xfrm_usersa_info) - 8);
  CHECK_FALSE(netlink::parse_sa(nlh).has_value());
  // A key length claiming more bytes than the attribute holds.
  nlh->nlmsg_len = full;
  auto* attr = reinterpret_cast<nlattr*>(static_cast<uint8_t*>(NLMSG_DATA(nlh)) +
                                         NLMSG_ALIGN(sizeof(xfrm_usersa_info)));
  REQUIRE(attr->nla_type == XFRMA_ALG_CRYPT);
  xfrm_algo algo;
  std::memcpy(&algo, attr + 1, sizeof algo);
  algo.alg_key_len = 4096;
  std::memcpy(attr + 1, &algo, sizeof algo);
  auto r = netlink::parse_sa(nlh);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == EBADMSG);
}

TEST_CASE("codec: xfrm_fuzz findings stay fixed") {
  SaParams sa = esp_cbc_sha256_v4();
  std::vector<uint8_t> buf(4096);
  auto msg = netlink::build_sa(buf, sa, false);
  REQUIRE(msg.has_value());
  nlmsghdr* nlh = *msg;
  const int len = static_cast<int>(nlh->nlmsg_len);
  CHECK(netlink::message_ok(nlh, len));
  CHECK_FALSE(netlink::message_ok(nlh, len - 1));
  // A length of 2^31 or more: negative as an int, so libmnl's own check lets it through.
  const uint32_t full = nlh->nlmsg_len;
  nlh->nlmsg_len = 0xa0a0a0a0;
  CHECK_FALSE(netlink::message_ok(nlh, len));
  nlh->nlmsg_len = full;
  xfrm_usersa_info info;
  std::memcpy(&info, NLMSG_DATA(nlh), sizeof info);
  const xfrm_usersa_info saved = info;
  auto with = [&](const xfrm_usersa_info& i) {
    std::memcpy(NLMSG_DATA(nlh), &i, sizeof i);
    return netlink::parse_sa(nlh);
  };
  // A selector of no known family, or a prefix longer than its family's, is refused.
  info.sel.family = 0x82;
  auto r = with(info);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "malformed XFRM message: selector of address family 130");
  info = saved;
  info.sel.family = AF_INET;
  info.sel.prefixlen_s = 200;
  r = with(info);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "malformed XFRM message: selector prefix length 200 for address family 2");
  // Bytes past an IPv4 address in the 16-byte union do not make 0.0.0.0/0 a real selector.
  info = saved;
  std::memset(&info.sel, 0, sizeof info.sel);
  info.sel.family = AF_INET;
  info.sel.saddr.a6[3] = 0x01020304;
  r = with(info);
  REQUIRE(r.has_value());
  CHECK(r->sel.empty());
}

TEST_CASE("codec: an extended ack yields the kernel's message") {
  alignas(4) uint8_t buf[256] = {};
  auto* nlh = reinterpret_cast<nlmsghdr*>(buf);
  nlh->nlmsg_type = NLMSG_ERROR;
  nlh->nlmsg_flags = NLM_F_CAPPED | NLM_F_ACK_TLVS;
  nlh->nlmsg_seq = 77;
  nlmsgerr err{};
  err.error = -EPROTONOSUPPORT;
  err.msg.nlmsg_len = 400;  // capped: not echoed
  std::memcpy(NLMSG_DATA(nlh), &err, sizeof err);
  const char text[] = "Requested type not found";
  auto* attr = reinterpret_cast<nlattr*>(buf + NLMSG_HDRLEN + sizeof err);
  attr->nla_type = NLMSGERR_ATTR_MSG;
  attr->nla_len = static_cast<uint16_t>(NLA_HDRLEN + sizeof text);
  std::memcpy(attr + 1, text, sizeof text);
  nlh->nlmsg_len = static_cast<uint32_t>(NLMSG_HDRLEN + sizeof err + NLA_ALIGN(attr->nla_len));
  netlink::Ack ack;
  REQUIRE(netlink::parse_ack(nlh, sizeof buf, ack));
  CHECK(ack.seq == 77);
  CHECK(ack.error == EPROTONOSUPPORT);
  CHECK(ack.extack == "Requested type not found");
  CHECK(netlink::cause_text(ack.error, ack.extack) == "Requested type not found (EPROTONOSUPPORT)");
  // Cut short by the receive slot: the errno survives, the text is dropped.
  REQUIRE(netlink::parse_ack(nlh, NLMSG_HDRLEN + sizeof err + 6, ack));
  CHECK(ack.error == EPROTONOSUPPORT);
  CHECK(ack.extack.empty());
}
