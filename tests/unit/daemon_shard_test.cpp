// SPDX-License-Identifier: Apache-2.0
// ipsecd's steering of IKE messages to workers: the classic BPF program (run here by a
// small interpreter of the instructions it uses) against its C++ twin, the engines'
// SPI shards, and the kernel's SO_REUSEPORT group on loopback doing the same.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>
#include <random>

#include "daemon/shard.h"
#include "daemon/udp.h"
#include "ike_test_harness.h"

using namespace ike_test;

namespace {

// Runs a classic BPF program on a packet as the kernel does for SO_REUSEPORT (after the
// UDP header): loads beyond the packet end it with 0. Only the opcodes shard_program uses.
uint32_t run_cbpf(const std::vector<sock_filter>& prog, ByteView p) {
  uint32_t a = 0;
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& f = prog[pc];
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_LEN:
        a = static_cast<uint32_t>(p.size());
        break;
      case BPF_LD | BPF_B | BPF_ABS:
        if (f.k + 1 > p.size()) return 0;
        a = p[f.k];
        break;
      case BPF_LD | BPF_W | BPF_ABS:
        if (f.k + 4 > p.size()) return 0;
        a = uint32_t(p[f.k]) << 24 | uint32_t(p[f.k + 1]) << 16 | uint32_t(p[f.k + 2]) << 8 |
            p[f.k + 3];
        break;
      case BPF_JMP | BPF_JGE | BPF_K:
        pc += a >= f.k ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += a == f.k ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JSET | BPF_K:
        pc += (a & f.k) != 0 ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JA:
        pc += f.k;
        break;
      case BPF_ALU | BPF_MOD | BPF_K:
        a %= f.k;
        break;
      case BPF_RET | BPF_K:
        return f.k;
      case BPF_RET | BPF_A:
        return a;
      default:
        FAIL("opcode " << f.code << " not interpreted");
        return 0;
    }
  }
  FAIL("program ran off its end");
  return 0;
}

// An IKE header (RFC 7296 §3.1) after `offset` marker bytes, plus `extra` payload bytes.
Bytes ike_packet(uint64_t spi_i, uint64_t spi_r, bool initiator_flag, size_t offset,
                 size_t extra = 8) {
  Bytes p(offset + 28 + extra, 0);
  for (int i = 0; i < 8; ++i) {
    p[offset + size_t(i)] = uint8_t(spi_i >> (56 - 8 * i));
    p[offset + 8 + size_t(i)] = uint8_t(spi_r >> (56 - 8 * i));
  }
  p[offset + 16] = 33;    // next payload: SA
  p[offset + 17] = 0x20;  // version 2.0
  p[offset + 18] = 34;    // IKE_SA_INIT
  p[offset + 19] = initiator_flag ? 0x08 : 0x20;
  return p;
}

}  // namespace

TEST_CASE("shard_of: SPIr from the original initiator, SPIi for IKE_SA_INIT and replies") {
  // I set, SPIr nonzero: our SPI is SPIr (last byte 0x07 -> 7 % 4 = 3).
  CHECK(daemon::shard_of(ike_packet(0x1111111111111102, 0x2222222222222207, true, 0), 0, 4) == 3);
  // I set, SPIr zero (IKE_SA_INIT request): by SPIi (0x02 % 4 = 2).
  CHECK(daemon::shard_of(ike_packet(0x1111111111111102, 0, true, 0), 0, 4) == 2);
  // SPIr zero only in its upper half is not zero: by SPIr.
  CHECK(daemon::shard_of(ike_packet(0x02, 0x05, true, 0), 0, 4) == 1);
  CHECK(daemon::shard_of(ike_packet(0x02, 0x0500000000000000, true, 0), 0, 4) == 0);
  // I clear (from the original responder): our SPI is SPIi.
  CHECK(daemon::shard_of(ike_packet(0x1111111111111102, 0x2222222222222207, false, 0), 0, 4) == 2);
  // Too short for an IKE header: worker 0. One worker: always 0.
  CHECK(daemon::shard_of(Bytes(27, 0xff), 0, 4) == 0);
  CHECK(daemon::shard_of(ike_packet(0xff, 0xff, true, 0), 0, 1) == 0);
  // After a 4-byte non-ESP marker (port 4500).
  CHECK(daemon::shard_of(ike_packet(0x03, 0, true, 4), 4, 4) == 3);
}

TEST_CASE("the classic BPF program selects what shard_of selects") {
  std::mt19937_64 rng(7);
  for (size_t offset : {daemon::kIkeOffsetPort500, daemon::kIkeOffsetNatT}) {
    for (uint32_t count : {1u, 2u, 3u, 4u, 7u, 64u}) {
      const auto prog = daemon::shard_program(offset, count);
      for (int i = 0; i < 400; ++i) {
        uint64_t spi_i = rng(), spi_r = i % 3 == 0 ? 0 : rng();
        if (i % 7 == 0) spi_r &= 0xffffffff;              // upper half zero
        if (i % 11 == 0) spi_r &= ~uint64_t{0xffffffff};  // lower half zero
        Bytes p = ike_packet(spi_i, spi_r, i % 2 == 0, offset, size_t(i % 5));
        INFO("offset " << offset << " count " << count << " spi_i " << spi_i << " spi_r " << spi_r);
        CHECK(run_cbpf(prog, p) == daemon::shard_of(p, offset, count));
      }
      for (size_t len = 0; len < offset + 28; ++len) CHECK(run_cbpf(prog, Bytes(len, 0xff)) == 0);
    }
  }
}

TEST_CASE("SpiShard: generated SPIs name their shard in their last byte on the wire") {
  std::mt19937_64 rng(11);
  for (uint32_t count : {1u, 2u, 3u, 5u, 64u, 255u, 256u})
    for (uint32_t index = 0; index < count; index += (count > 8 ? 7 : 1))
      for (int i = 0; i < 200; ++i) {
        uint64_t spi = i == 0 ? ~uint64_t{0} : i == 1 ? 0xff00 : rng();
        uint64_t s = ike::SpiShard{index, count}.apply(spi);
        INFO("count " << count << " index " << index << " spi " << spi);
        CHECK((s & 0xff) % count == index);
        CHECK((s >> 8) == (spi >> 8));  // the other 56 random bits stay
      }
}

TEST_CASE("engines with SPI shards: initiator's SPIi and responder's SPIr in their shard") {
  for (uint32_t round = 0; round < 6; ++round) {
    Pair p;
    ike::EngineLimits alice_limits, bob_limits;
    alice_limits.shard = {round % 3, 3};
    bob_limits.shard = {round % 4, 4};
    p.alice.set_limits(alice_limits);
    p.bob.set_limits(bob_limits);
    const uint64_t spi = p.start();
    p.run();
    const IkeSa* a = p.alice.find(spi);
    const IkeSa* b = p.bob_sa();
    REQUIRE(a != nullptr);
    REQUIRE(b != nullptr);
    CHECK(a->state == IkeState::Established);
    CHECK((a->spi_i & 0xff) % 3 == round % 3);
    CHECK((b->spi_r & 0xff) % 4 == round % 4);
    // The daemon's steering sends Bob's messages to Alice's worker and back.
    CHECK(daemon::shard_of(ike_packet(a->spi_i, a->spi_r, false, 0), 0, 3) == round % 3);
    CHECK(daemon::shard_of(ike_packet(a->spi_i, a->spi_r, true, 0), 0, 4) == round % 4);
    CHECK(daemon::shard_of(ike_packet(a->spi_i, 0, true, 0), 0, 4) == (a->spi_i & 0xff) % 4);
  }
}

TEST_CASE("worker_for_connection: stable, in range") {
  CHECK(daemon::worker_for_connection("to-right", 1) == 0);
  for (uint32_t n : {2u, 3u, 64u}) {
    CHECK(daemon::worker_for_connection("to-right", n) < n);
    CHECK(daemon::worker_for_connection("to-right", n) ==
          daemon::worker_for_connection("to-right", n));
  }
}

namespace {

// A free UDP port on 127.0.0.1 (bound and released: the group binds it next).
std::optional<uint16_t> free_port() {
  daemon::Fd s(::socket(AF_INET, SOCK_DGRAM, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sin;
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 ||
      ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&sin), &len) != 0)
    return std::nullopt;
  return ntohs(sin.sin_port);
}

// Which socket of the group got the one datagram in flight (-1: none within 1 s).
int receiver(const std::vector<daemon::UdpSocket>& group) {
  std::vector<pollfd> fds;
  for (const auto& s : group) fds.push_back(pollfd{s.fd.get(), POLLIN, 0});
  if (::poll(fds.data(), fds.size(), 1000) <= 0) return -1;
  for (size_t i = 0; i < group.size(); ++i) {
    if (!(fds[i].revents & POLLIN)) continue;
    auto d = daemon::receive(group[i]);
    if (d && !d->data.empty()) return int(i);
  }
  return -1;
}

}  // namespace

TEST_CASE("the kernel's SO_REUSEPORT group on loopback steers by the BPF program") {
  auto port = free_port();
  REQUIRE(port);
  const ike::Endpoint local{ip("127.0.0.1"), *port};
  const uint32_t count = 3;
  auto group = daemon::open_udp_group(local, count);
  if (!group) {  // the IKE sockets' IPsec bypass policy needs CAP_NET_ADMIN
    MESSAGE("SKIPPED: cannot open the socket group: " << group.error().message);
    return;
  }
  REQUIRE(group->size() == count);
  // A second group on the same address is refused: nobody joins ours by SO_REUSEPORT.
  CHECK(!daemon::open_udp_group(local, count));
  daemon::Fd client(::socket(AF_INET, SOCK_DGRAM, 0));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(*port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::mt19937_64 rng(3);
  int seen[count] = {};
  for (int i = 0; i < 60; ++i) {
    Bytes p = i % 10 == 9 ? Bytes(12, 0xff)  // not IKE: socket 0
                          : ike_packet(rng(), i % 3 == 0 ? 0 : rng(), i % 2 == 0, 0);
    REQUIRE(::sendto(client.get(), p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&to),
                     sizeof to) == ssize_t(p.size()));
    const int want = int(daemon::shard_of(p, 0, count));
    CHECK(receiver(*group) == want);
    ++seen[want];
  }
  for (uint32_t k = 0; k < count; ++k) CHECK(seen[k] > 0);
}

TEST_CASE("kernel semantics relied on: a BPF index beyond the group falls back to hashing") {
  auto port = free_port();
  REQUIRE(port);
  const ike::Endpoint local{ip("127.0.0.1"), *port};
  auto group = daemon::open_udp_group(local, 2);
  if (!group) {
    MESSAGE("SKIPPED: cannot open the socket group: " << group.error().message);
    return;
  }
  // Replace the group's program with one that answers 5 for every packet.
  sock_filter ret5{BPF_RET | BPF_K, 0, 0, 5};
  sock_fprog prog{1, &ret5};
  REQUIRE(::setsockopt((*group)[0].fd.get(), SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
                       sizeof prog) == 0);
  daemon::Fd client(::socket(AF_INET, SOCK_DGRAM, 0));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(*port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Bytes p = ike_packet(1, 2, true, 0);
  for (int i = 0; i < 5; ++i) {
    REQUIRE(::sendto(client.get(), p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&to),
                     sizeof to) == ssize_t(p.size()));
    CHECK(receiver(*group) >= 0);  // delivered (to the hash's choice), not dropped
  }
}
