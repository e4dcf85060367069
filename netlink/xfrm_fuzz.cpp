// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for XFRM netlink parsing (xfrm_parse.cpp): the bytes are a buffer of
// netlink messages as a dump, a reply or a multicast read brings them; each message that
// passes the socket layer's length check (message_ok) goes through every parser, as if
// the kernel had sent it with each type. What parses as an SA or a policy must build
// (xfrm_codec.cpp) and parse back with the same configuration. Never a crash, a leak or UB.
#include <libmnl/libmnl.h>
#include <linux/xfrm.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "common/secret.h"
#include "netlink/xfrm_codec.h"

using namespace ipsec;
using namespace ipsec::netlink;

namespace {

void sa_round_trip(const kernel::SaParams& sa) {
  std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE * 2);
  Built b = build_sa(buf, sa, false);
  if (!b) return;  // not every parsed SA can be programmed (the builder says why)
  auto again = parse_sa(*b);
  if (!again) {
    std::fprintf(stderr, "built SA does not parse: %s\n", again.error().message.c_str());
    std::abort();
  }
  if (!again->same_config(sa)) {
    const auto& a = sa;
    const auto& c = *again;
    std::fprintf(stderr,
                 "SA differs after build+parse: %s / %s\n sel %d flags %d/%d extra %u/%u "
                 "esn %d/%d win %u/%u lifetime %d encap %d mark %d ifid %d tfc %d enc %d auth %d "
                 "aead %d comp %d\n",
                 kernel::describe(a).c_str(), kernel::describe(c).c_str(), a.sel == c.sel, a.flags,
                 c.flags, a.extra_flags, c.extra_flags, a.esn, c.esn, a.replay_window,
                 c.replay_window, a.lifetime == c.lifetime, a.encap == c.encap, a.mark == c.mark,
                 a.if_id == c.if_id, a.tfcpad == c.tfcpad, a.enc == c.enc, a.auth == c.auth,
                 a.aead == c.aead, a.comp == c.comp);
    std::abort();
  }
}

void policy_round_trip(const kernel::PolicyParams& p) {
  std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
  Built b = build_policy(buf, p, false);
  if (!b) return;
  auto again = parse_policy(*b);
  if (!again || !again->same_config(p)) std::abort();
}

void every_parser(nlmsghdr* nlh) {
  // Each parser sees every message, as itself and under each type the kernel sends.
  const uint16_t types[] = {XFRM_MSG_NEWSA,     XFRM_MSG_UPDSA,     XFRM_MSG_DELSA,
                            XFRM_MSG_NEWPOLICY, XFRM_MSG_UPDPOLICY, XFRM_MSG_DELPOLICY,
                            XFRM_MSG_ACQUIRE,   XFRM_MSG_EXPIRE,    XFRM_MSG_POLEXPIRE,
                            XFRM_MSG_FLUSHSA,   XFRM_MSG_FLUSHPOLICY, XFRM_MSG_MAPPING,
                            XFRM_MSG_NEWSADINFO, XFRM_MSG_NEWSPDINFO};
  const uint16_t original = nlh->nlmsg_type;
  if (auto sa = parse_sa(nlh)) sa_round_trip(*sa);
  if (auto p = parse_policy(nlh)) policy_round_trip(*p);
  (void)parse_sad_info(nlh);
  (void)parse_spd_info(nlh);
  (void)parse_event(nlh);
  for (uint16_t t : types) {
    nlh->nlmsg_type = t;
    (void)parse_event(nlh);
  }
  nlh->nlmsg_type = original;
}

// IPSEC_XFRM_FUZZ_SEEDS=DIR: messages as the codec builds them (a tunnel SA with AEAD and
// NAT-T, a transport SA with encryption and authentication, an ESN SA, policies with one
// and two templates) written to DIR as seeds.
void write_seeds(const std::string& dir) {
  auto ip = [](const char* t) { return *IpAddress::parse(t); };
  auto prefix = [](const char* t) { return *Prefix::parse(t); };
  std::vector<std::vector<uint8_t>> seeds;
  auto keep = [&](Built b) {
    if (!b) std::abort();
    const auto* p = reinterpret_cast<const uint8_t*>(*b);
    seeds.emplace_back(p, p + (*b)->nlmsg_len);
  };
  kernel::SaParams sa;
  sa.src = ip("192.0.2.1");
  sa.dst = ip("192.0.2.2");
  sa.spi = 0xc0000001;
  sa.mode = kernel::Mode::Tunnel;
  sa.reqid = 7;
  sa.aead = kernel::Algorithm{"rfc4106(gcm(aes))", SecretBytes(std::vector<uint8_t>(36, 0x11)), 128};
  sa.replay_window = 32;
  sa.lifetime.soft_add_seconds = 3000;
  sa.lifetime.hard_add_seconds = 3600;
  sa.encap = kernel::Encap{};
  std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
  keep(build_sa(buf, sa, false));
  sa.aead.reset();
  sa.encap.reset();
  sa.mode = kernel::Mode::Transport;
  sa.enc = kernel::Algorithm{"cbc(aes)", SecretBytes(std::vector<uint8_t>(16, 0x22)), 0};
  sa.auth = kernel::Algorithm{"hmac(sha256)", SecretBytes(std::vector<uint8_t>(32, 0x33)), 128};
  sa.src = ip("2001:db8::1");
  sa.dst = ip("2001:db8::2");
  keep(build_sa(buf, sa, true));
  sa.esn = true;
  sa.replay_window = 128;
  keep(build_sa(buf, sa, false));
  kernel::PolicyParams p;
  p.sel.src = prefix("198.51.100.0/24");
  p.sel.dst = prefix("203.0.113.0/24");
  p.dir = kernel::Dir::Out;
  p.priority = 1000;
  kernel::Template t;
  t.src = ip("192.0.2.1");
  t.dst = ip("192.0.2.2");
  t.mode = kernel::Mode::Tunnel;
  t.reqid = 7;
  p.tmpls = {t};
  keep(build_policy(buf, p, false));
  kernel::Template ah = t;
  ah.proto = kernel::Proto::Ah;
  p.tmpls = {ah, t};
  p.dir = kernel::Dir::Fwd;
  keep(build_policy(buf, p, true));
  for (size_t i = 0; i < seeds.size(); ++i)
    std::ofstream(dir + "/seed-" + std::to_string(i), std::ios::binary)
        .write(reinterpret_cast<const char*>(seeds[i].data()),
               static_cast<std::streamsize>(seeds[i].size()));
  // All of them in one buffer, as a dump arrives.
  std::ofstream all(dir + "/seed-dump", std::ios::binary);
  for (const auto& s : seeds)
    all.write(reinterpret_cast<const char*>(s.data()), static_cast<std::streamsize>(s.size()));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("IPSEC_XFRM_FUZZ_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A private, aligned copy: the parsers read it as the socket buffer it would be.
  std::vector<uint8_t> buf(data, data + size);
  auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data());
  int left = static_cast<int>(buf.size());
  for (int n = 0; n < 64 && message_ok(nlh, left); ++n) {
    every_parser(nlh);
    nlh = mnl_nlmsg_next(nlh, &left);
  }
  return 0;
}
