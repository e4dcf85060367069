// SPDX-License-Identifier: Apache-2.0
// Batches: thousands of requests per send(), acks matched by seq.
#include <doctest/doctest.h>

// GCC 12 reports a false -Wmaybe-uninitialized inside std::variant when Ops
// are built from temporaries (it loses track of the active member).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <sys/socket.h>

#include "host_util.h"
#include "netlink/xfrm_codec.h"
#include "netlink/xfrm_socket.h"

using namespace ipsec;
using namespace ipsec::kernel;
using ipsec::host_test::ip;

namespace {

// Policy i: 10.x.y.0/24 -> 172.16.0.0/16 out, tunnel to 192.0.2.2.
PolicyParams numbered(uint32_t i) {
  PolicyParams p;
  p.sel.src = Prefix{IpAddress::v4(0x0a000000u | (i << 8)), 24};
  p.sel.dst = Prefix{IpAddress::v4(0xac100000u), 16};
  p.dir = Dir::Out;
  p.priority = 100;
  p.tmpls = {Template{ip("192.0.2.1"), ip("192.0.2.2"), 0, Proto::Esp, Mode::Tunnel, i, false}};
  return p;
}

}  // namespace

TEST_CASE("batch: 5000 policies with a duplicate in the middle: exactly one failure, right index") {
  host_test::fresh_netns();
  auto k = host_test::open_kernel();
  constexpr size_t kCount = 5000;
  constexpr size_t kDup = 2500;
  std::vector<Op> ops;
  ops.reserve(kCount);
  for (uint32_t i = 0; i < kCount; ++i) ops.push_back(AddPolicy{numbered(i == kDup ? 17 : i)});
  auto results = k->apply_batch(ops);
  REQUIRE(results.size() == kCount);
  size_t failures = 0;
  for (size_t i = 0; i < kCount; ++i) {
    if (results[i]) continue;
    ++failures;
    CHECK(i == kDup);
    CHECK(results[i].error().code == EEXIST);
    CHECK(results[i].error().message ==
          "adding policy 10.0.17.0/24->172.16.0.0/16 out: File exists (EEXIST)");
  }
  CHECK(failures == 1);
  auto all = k->dump_policies();
  REQUIRE(all.has_value());
  CHECK(all->size() == kCount - 1);
  CHECK(k->spd_info()->out == kCount - 1);
}

TEST_CASE("batch: mixed updates and deletes, and a failing delete, keep their order") {
  host_test::fresh_netns();
  auto k = host_test::open_kernel();
  std::vector<Op> ops;
  for (uint32_t i = 0; i < 100; ++i) ops.push_back(AddPolicy{numbered(i)});
  for (uint32_t i = 0; i < 100; i += 2) {
    PolicyParams p = numbered(i);
    p.priority = 7;
    ops.push_back(UpdatePolicy{p});
  }
  for (uint32_t i = 1; i <= 101; i += 2) {  // the last one deletes policy 1 again
    PolicyParams p = numbered(i == 101 ? 1 : i);
    ops.push_back(DeletePolicy{p.id()});
  }
  auto results = k->apply_batch(ops);
  REQUIRE(results.size() == ops.size());
  for (size_t i = 0; i + 1 < results.size(); ++i) {
    CAPTURE(i);
    if (!results[i]) FAIL_CHECK(results[i].error().message);
  }
  REQUIRE_FALSE(results.back().has_value());
  CHECK(results.back().error().code == ENOENT);
  CHECK(results.back().error().message.find("deleting policy 10.0.1.0/24->172.16.0.0/16 out") == 0);
  auto all = k->dump_policies();
  REQUIRE(all.has_value());
  REQUIRE(all->size() == 50);
  for (const auto& p : *all) CHECK(p.priority == 7);
}

TEST_CASE("batch: an empty batch and an SA batch on a kernel without ESP") {
  host_test::fresh_netns();
  auto k = host_test::open_kernel();
  CHECK(k->apply_batch({}).empty());
  SaParams sa;
  sa.src = ip("192.0.2.1");
  sa.dst = ip("192.0.2.2");
  sa.spi = 0x1234;
  sa.aead = Algorithm{"rfc4106(gcm(aes))", SecretBytes(std::vector<uint8_t>(20, 1)), 128};
  std::vector<Op> ops{AddSa{sa}, AddPolicy{numbered(1)}, DeleteSa{sa.id()}};
  auto results = k->apply_batch(ops);
  REQUIRE(results.size() == 3);
  CHECK(results[1].has_value());
  if (results[0].has_value()) {
    MESSAGE("this kernel has ESP");
    CHECK(results[2].has_value());
  } else {
    CHECK(results[0].error().message.find("adding SA spi 0x1234 192.0.2.1->192.0.2.2 esp: ") == 0);
    CHECK(results[2].error().message.find("deleting SA spi 0x1234") == 0);
  }
}

TEST_CASE("batch: an op that cannot be encoded fails alone, the rest go through") {
  host_test::fresh_netns();
  auto k = host_test::open_kernel();
  SaParams bad;
  bad.src = ip("192.0.2.1");
  bad.dst = ip("192.0.2.2");
  bad.spi = 0x5000;
  bad.enc = Algorithm{std::string(100, 'a'), SecretBytes(std::vector<uint8_t>(16, 1)), 0};
  std::vector<Op> ops{AddPolicy{numbered(1)}, AddSa{bad}, AddPolicy{numbered(2)}};
  auto results = k->apply_batch(ops);
  REQUIRE(results.size() == 3);
  CHECK(results[0].has_value());
  REQUIRE_FALSE(results[1].has_value());
  CHECK(results[1].error().code == EINVAL);
  CHECK(results[1].error().message.find("adding SA spi 0x5000 192.0.2.1->192.0.2.2 esp: ") == 0);
  CHECK(results[2].has_value());
  CHECK(k->dump_policies()->size() == 2);
}

namespace {
struct CountingSink final : netlink::AckSink {
  size_t ok = 0, failed = 0;
  void on_ack(size_t, int error, std::string_view) override { ++(error == 0 ? ok : failed); }
};
}  // namespace

TEST_CASE("batch: acks lost to a full receive queue are detected (ENOBUFS), never ignored") {
  host_test::fresh_netns();
  auto sock = netlink::NlSocket::open(NETLINK_XFRM);
  REQUIRE(sock.has_value());
  // Shrink the receive buffer far below what 1000 acks need.
  int small = 4096;
  REQUIRE(setsockopt((*sock)->fd(), SOL_SOCKET, SO_RCVBUFFORCE, &small, sizeof small) == 0);
  constexpr size_t kCount = 1000;
  std::vector<uint8_t> buf(kCount * 512);
  size_t off = 0;
  for (uint32_t i = 0; i < kCount; ++i) {
    auto msg = netlink::build_policy(std::span<uint8_t>(buf).subspan(off), numbered(i), false);
    REQUIRE(msg.has_value());
    off += NLMSG_ALIGN((*msg)->nlmsg_len);
  }
  CountingSink sink;
  auto out = (*sock)->send_batch(std::span<uint8_t>(buf.data(), off), kCount, sink);
  CHECK(out.send_error == 0);
  CHECK(out.overflowed);
  CHECK(out.acked < kCount);
  CHECK(sink.ok == out.acked);
  MESSAGE("acked ", out.acked, " of ", kCount, " with a 4 KiB receive buffer");
  // The kernel did apply them all: only the answers were lost.
  auto k = host_test::open_kernel();
  CHECK(k->dump_policies()->size() == kCount);
}
