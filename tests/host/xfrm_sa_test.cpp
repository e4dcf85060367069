// SPDX-License-Identifier: Apache-2.0
// SAs against the host kernel. It has XFRM but no ESP/AH transforms: SPI
// allocation (larval states) works, real ESP states are refused with a clear
// error. Where ESP exists (the VM), the add test checks the dump instead.
#include <doctest/doctest.h>

#include <algorithm>

#include "host_util.h"

using namespace ipsec;
using namespace ipsec::kernel;
using ipsec::host_test::ip;

TEST_CASE("sa: ALLOCSPI gives an SPI in range; the larval state dumps, gets and deletes") {
  host_test::fresh_netns();
  auto k = host_test::open_kernel();
  SpiRequest req;
  req.src = ip("192.0.2.1");
  req.dst = ip("192.0.2.2");
  req.reqid = 9;
  req.min = 0x1000;
  req.max = 0x1fff;
  auto spi = k->alloc_spi(req);
  REQUIRE_MESSAGE(spi.has_value(), host_test::why(spi));
  CHECK(*spi >= 0x1000);
  CHECK(*spi <= 0x1fff);

  auto sas = k->dump_sas();
  REQUIRE_MESSAGE(sas.has_value(), host_test::why(sas));
  REQUIRE(sas->size() == 1);
  const SaParams& larval = sas->front();
  CHECK(larval.larval);
  CHECK(larval.spi == *spi);
  CHECK(larval.src == req.src);
  CHECK(larval.dst == req.dst);
  CHECK(larval.proto == Proto::Esp);
  CHECK(larval.reqid == 9);
  CHECK_FALSE(larval.enc.has_value());
  // ALLOCSPI sent a zeroed selector, the kernel keeps it: empty on read.
  // (`ip xfrm state allocspi` fills in the host addresses /32 itself.)
  CHECK(larval.sel == Selector{});

  SaId id{req.dst, *spi, Proto::Esp, {}, req.src};
  auto got = k->get_sa(id);
  REQUIRE_MESSAGE(got.has_value(), host_test::why(got));
  CHECK(got->spi == *spi);
  CHECK(got->larval);

  auto info = k->sad_info();
  REQUIRE_MESSAGE(info.has_value(), host_test::why(info));
  CHECK(info->sa_count == 1);

  auto del = k->delete_sa(id);
  REQUIRE_MESSAGE(del.has_value(), host_test::why(del));
  CHECK(k->dump_sas()->empty());
  auto gone = k->get_sa(id);
  REQUIRE_FALSE(gone.has_value());
  CHECK(gone.error().message.find("getting SA spi 0x") == 0);
}

TEST_CASE("sa: ALLOCSPI for IPv6 and flush of every protocol") {
  host_test::fresh_netns();
  auto k = host_test::open_kernel();
  SpiRequest req;
  req.src = ip("2001:db8::1");
  req.dst = ip("2001:db8::2");
  auto a = k->alloc_spi(req);
  REQUIRE_MESSAGE(a.has_value(), host_test::why(a));
  CHECK(*a >= 0x100);
  req.proto = Proto::Ah;
  auto b = k->alloc_spi(req);
  REQUIRE_MESSAGE(b.has_value(), host_test::why(b));
  auto sas = k->dump_sas();
  REQUIRE(sas.has_value());
  CHECK(sas->size() == 2);
  for (const auto& sa : *sas) CHECK(sa.dst == req.dst);
  REQUIRE(k->flush_sas().has_value());
  CHECK(k->dump_sas()->empty());
  CHECK(k->sad_info()->sa_count == 0);
}

TEST_CASE("sa: adding an ESP SA names the SA and gives the kernel's reason") {
  host_test::fresh_netns();
  auto k = host_test::open_kernel();
  SaParams sa;
  sa.src = ip("192.0.2.1");
  sa.dst = ip("192.0.2.2");
  sa.spi = 0x1000;
  sa.mode = Mode::Tunnel;
  sa.enc = Algorithm{"cbc(aes)", SecretBytes(std::vector<uint8_t>(16, 0x11)), 0};
  sa.auth = Algorithm{"hmac(sha256)", SecretBytes(std::vector<uint8_t>(32, 0x22)), 128};
  sa.replay_window = 64;
  auto r = k->add_sa(sa);
  if (r.has_value()) {
    MESSAGE("this kernel has ESP: checking the installed state instead");
    auto got = k->get_sa(sa.id());
    REQUIRE(got.has_value());
    CHECK(got->same_config(sa));
    return;
  }
  INFO(r.error().message);
  CHECK(r.error().message.find("adding SA spi 0x1000 192.0.2.1->192.0.2.2 esp: ") == 0);
  CHECK(r.error().message.find("Requested type not found") != std::string::npos);
  CHECK(r.error().message.find("(EPROTONOSUPPORT)") != std::string::npos);
  CHECK(r.error().code == EPROTONOSUPPORT);
  CHECK(k->dump_sas()->empty());
}
