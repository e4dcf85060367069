// SPDX-License-Identifier: Apache-2.0
// ipsecd's status: traffic selectors as text; every CHILD SA of an IKE SA (built by hand:
// old and new side by side during a rekey) with times from the engine's clock and
// counters and age from the kernel (and what happens when the kernel has none); IKE SA
// lifetimes; closed SAs, merging the workers.
#include <doctest/doctest.h>

#include <cstring>
#include <map>

#include "daemon/status.h"
#include "ike/traffic_selectors.h"
#include "ike/v2/summary.h"
#include "ike_test_harness.h"

using namespace ike_test;

namespace {

// What a worker's facade reports, from an engine of the pair.
daemon::EngineView view(const Engine& e) {
  return {ike::v2::summaries(e), ike::v2::closed_summaries(e), e.counters()};
}

}  // namespace

namespace {

// A kernel that is a MemoryKernel, except that get_sa reports traffic counters (the
// MemoryKernel counts nothing) for the SAs given some, even ones the MemoryKernel does not
// hold (the IKE SAs built by hand installed nothing), or fails when told to.
class CountingKernel final : public kernel::Kernel {
 public:
  explicit CountingKernel(kernel::MemoryKernel& inner) : k_(inner) {}
  std::map<std::pair<std::string, uint32_t>, kernel::Counters> counters;  // by dst and SPI
  bool fail_get = false;
  int gets = 0;

  Result<kernel::SaParams> get_sa(const kernel::SaId& id) override {
    if (fail_get) return fail("getting SA: No such process", 3);
    ++gets;
    auto it = counters.find({id.dst.str(), id.spi});
    if (it == counters.end()) return k_.get_sa(id);
    kernel::SaParams sa;
    sa.dst = id.dst;
    sa.spi = id.spi;
    sa.counters = it->second;
    return sa;
  }
  Result<uint32_t> alloc_spi(const kernel::SpiRequest& r) override { return k_.alloc_spi(r); }
  Result<void> add_sa(const kernel::SaParams& s) override { return k_.add_sa(s); }
  Result<void> update_sa(const kernel::SaParams& s) override { return k_.update_sa(s); }
  Result<void> delete_sa(const kernel::SaId& id) override { return k_.delete_sa(id); }
  Result<std::vector<kernel::SaParams>> dump_sas() override { return k_.dump_sas(); }
  Result<void> flush_sas() override { return k_.flush_sas(); }
  Result<void> add_policy(const kernel::PolicyParams& p) override { return k_.add_policy(p); }
  Result<void> update_policy(const kernel::PolicyParams& p) override { return k_.update_policy(p); }
  Result<void> delete_policy(const kernel::PolicyId& id) override { return k_.delete_policy(id); }
  Result<kernel::PolicyParams> get_policy(const kernel::PolicyId& id) override {
    return k_.get_policy(id);
  }
  Result<std::vector<kernel::PolicyParams>> dump_policies() override { return k_.dump_policies(); }
  Result<void> flush_policies() override { return k_.flush_policies(); }
  Result<kernel::SadInfo> sad_info() override { return k_.sad_info(); }
  Result<kernel::SpdInfo> spd_info() override { return k_.spd_info(); }
  std::vector<Result<void>> apply_batch(std::span<const kernel::Op> ops) override {
    return k_.apply_batch(ops);
  }
  Result<std::unique_ptr<kernel::EventSource>> subscribe(uint32_t groups) override {
    return k_.subscribe(groups);
  }

 private:
  kernel::MemoryKernel& k_;
};

wire::TrafficSelector ts(const char* start, const char* end, uint8_t proto = 0,
                         uint16_t port_lo = 0, uint16_t port_hi = 65535) {
  wire::TrafficSelector t;
  t.start = ip(start);
  t.end = ip(end);
  t.ip_protocol = proto;
  t.start_port = port_lo;
  t.end_port = port_hi;
  return t;
}

constexpr uint64_t kWallNow = 1700000000;

ChildSa child(ChildState state, uint32_t spi_in, uint32_t spi_out) {
  ChildSa c;
  c.state = state;
  c.spi_in = spi_in;
  c.spi_out = spi_out;
  c.local_ts = {ts("10.1.0.0", "10.1.255.255")};
  c.remote_ts = {ts("10.2.0.0", "10.2.255.255")};
  return c;
}

// An established IKE SA of Alice's at engine time 1000 s, rekeyed (it replaced 0x77) at
// 1300 s, to be rekeyed at 4000 s and closed at 4500 s, with three CHILD SAs: one
// rekeyed at 1900 s (soft 5000 s, hard 5400 s), the one it replaced (installed at 1000 s,
// its Delete under way, hard 2100 s), and one being negotiated.
IkeSa sample_sa() {
  IkeSa sa;
  sa.config = std::make_shared<const ConnectionConfig>(connection(true));
  sa.initiator = true;
  sa.local = {ip("192.0.2.1"), 500};
  sa.remote = {ip("192.0.2.2"), 4500};
  sa.spi_i = 0x1111;
  sa.spi_r = 0x2222;
  sa.state = IkeState::Established;
  sa.created = Millis(1000000);
  sa.established_at = Millis(1300000);
  sa.rekey_at = Millis(4000000);
  sa.expire_at = Millis(4500000);
  sa.replaces = 0x77;
  ChildSa fresh = child(ChildState::Installed, 0xc0000002, 0xc1000002);
  fresh.installed = Millis(1900000);
  fresh.soft_at = Millis(5000000);
  fresh.hard_at = Millis(5400000);
  fresh.replaces = 0xc0000001;
  ChildSa old = child(ChildState::Rekeyed, 0xc0000001, 0xc1000001);
  old.installed = Millis(1000000);
  old.hard_at = Millis(2100000);
  old.replaced_by = 0xc0000002;
  ChildSa next = child(ChildState::None, 0xc0000003, 0);
  sa.children.push_back(std::move(fresh));
  sa.children.push_back(std::move(old));
  sa.children.push_back(std::move(next));
  return sa;
}

}  // namespace

TEST_CASE("traffic selectors: a prefix when they are one, a range otherwise") {
  CHECK(ike::describe(ts("198.51.100.0", "198.51.100.255")) == "198.51.100.0/24");
  CHECK(ike::describe(ts("192.0.2.7", "192.0.2.7")) == "192.0.2.7/32");
  CHECK(ike::describe(ts("0.0.0.0", "255.255.255.255")) == "0.0.0.0/0");
  CHECK(ike::describe(ts("192.0.2.1", "192.0.2.9")) == "192.0.2.1-192.0.2.9");
  CHECK(ike::describe(ts("2001:db8::", "2001:db8::ffff:ffff")) == "2001:db8::/96");
  CHECK(ike::describe(ts("192.0.2.0", "192.0.2.255", 6, 443, 443)) ==
        "192.0.2.0/24 proto 6 port 443-443");
  CHECK(ike::describe(ts("192.0.2.0", "192.0.2.255", 17)) == "192.0.2.0/24 proto 17");
}

TEST_CASE("status: every CHILD SA of an IKE SA, times from the engine, counters from the kernel") {
  kernel::MemoryKernel mem;
  CountingKernel k(mem);
  k.counters[{"192.0.2.1", 0xc0000002}] = {1000, 10, kWallNow - 42, 0, 0, 0, 0};
  k.counters[{"192.0.2.2", 0xc1000002}] = {2000, 20, kWallNow - 42, 0, 0, 0, 0};
  k.counters[{"192.0.2.1", 0xc0000001}] = {5, 1, 0, 0, 0, 0, 0};  // no add time
  const IkeSa sa = sample_sa();
  const Millis now(2000000);

  control::IkeStatus s = daemon::ike_status(ike::v2::summarize(sa), k, 3, now, kWallNow);
  CHECK(s.connection == "to-bob");
  CHECK(s.state == "established");
  CHECK(s.initiator);
  CHECK(s.spi_i == 0x1111);
  CHECK(s.spi_r == 0x2222);
  CHECK(s.local == "192.0.2.1[500]");
  CHECK(s.remote == "192.0.2.2[4500]");
  CHECK(s.worker == 3);
  CHECK(s.age_seconds == 1000);
  CHECK(s.rekey_in_seconds == 2000);
  CHECK(s.expire_in_seconds == 2500);
  CHECK(s.last_rekey_seconds_ago == 700);
  REQUIRE(s.children.size() == 3);

  const control::ChildStatus& c = s.children[0];
  CHECK(c.name == "lan");
  CHECK(c.state == "installed");
  CHECK(c.mode == "tunnel");
  CHECK(c.spi_in == 0xc0000002);
  CHECK(c.spi_out == 0xc1000002);
  CHECK(c.local_ts == std::vector<std::string>{"10.1.0.0/16"});
  CHECK(c.remote_ts == std::vector<std::string>{"10.2.0.0/16"});
  CHECK(c.bytes_in == 1000);
  CHECK(c.packets_in == 10);
  CHECK(c.bytes_out == 2000);
  CHECK(c.packets_out == 20);
  CHECK(c.age_seconds == 42);  // the kernel's add_time wins over the engine's
  CHECK(c.rekey_in_seconds == 3000);
  CHECK(c.expire_in_seconds == 3400);
  CHECK(c.last_rekey_seconds_ago == 100);
  CHECK(c.replaces == 0xc0000001);

  const control::ChildStatus& old = s.children[1];
  CHECK(old.state == "rekeyed");
  CHECK(old.spi_in == 0xc0000001);
  CHECK(old.bytes_in == 5);
  CHECK(old.packets_in == 1);
  CHECK(old.bytes_out == 0);       // the kernel has no such SA: 0, and status still works
  CHECK(old.age_seconds == 1000);  // no add time: since the engine installed it
  CHECK(old.rekey_in_seconds == -1);
  CHECK(old.expire_in_seconds == 100);
  CHECK(old.last_rekey_seconds_ago == -1);  // it was the first, no rekey made it
  CHECK(old.replaces == 0);

  const control::ChildStatus& next = s.children[2];
  CHECK(next.state == "none");
  CHECK(next.spi_in == 0xc0000003);
  CHECK(next.algorithms.empty());
  CHECK(next.bytes_in == 0);
  CHECK(next.age_seconds == 0);
  CHECK(next.rekey_in_seconds == -1);
  CHECK(next.expire_in_seconds == -1);
}

TEST_CASE("status: limits already due show 0, unset ones -1; a new SA shows no last rekey") {
  kernel::MemoryKernel mem;
  CountingKernel k(mem);
  IkeSa sa = sample_sa();
  sa.replaces = 0;
  sa.rekey_at = Millis(0);  // none
  sa.children.resize(1);
  sa.children[0].soft_at = Millis(1500000);  // past: the rekey is due
  sa.children[0].hard_at = Millis(0);
  control::IkeStatus s =
      daemon::ike_status(ike::v2::summarize(sa), k, 0, Millis(2000000), kWallNow);
  CHECK(s.rekey_in_seconds == -1);
  CHECK(s.expire_in_seconds == 2500);
  CHECK(s.last_rekey_seconds_ago == -1);
  REQUIRE(s.children.size() == 1);
  CHECK(s.children[0].rekey_in_seconds == 0);
  CHECK(s.children[0].expire_in_seconds == -1);
  CHECK(s.children[0].last_rekey_seconds_ago == 100);

  // An IKE SA not established (yet, or any more) has no lifetime to show.
  sa.state = IkeState::AuthSent;
  s = daemon::ike_status(ike::v2::summarize(sa), k, 0, Millis(2000000), kWallNow);
  CHECK(s.expire_in_seconds == -1);
}

TEST_CASE("status: the outbound SA of a responder's pending rekey is not asked for") {
  kernel::MemoryKernel mem;
  CountingKernel k(mem);
  IkeSa sa = sample_sa();
  sa.children.resize(1);
  sa.children[0].outbound_pending = true;
  k.counters[{"192.0.2.2", 0xc1000002}] = {2000, 20, 0, 0, 0, 0, 0};
  control::IkeStatus s =
      daemon::ike_status(ike::v2::summarize(sa), k, 0, Millis(2000000), kWallNow);
  CHECK(s.children[0].bytes_out == 0);
  CHECK(k.gets == 1);  // the inbound one only
}

TEST_CASE("status: a kernel that does not answer leaves the counters 0, status still works") {
  kernel::MemoryKernel mem;
  CountingKernel k(mem);
  k.fail_get = true;
  const IkeSa sa = sample_sa();
  control::IkeStatus s =
      daemon::ike_status(ike::v2::summarize(sa), k, 0, Millis(2000000), kWallNow);
  REQUIRE(s.children.size() == 3);
  const control::ChildStatus& c = s.children[0];
  CHECK(c.state == "installed");
  CHECK(c.bytes_in == 0);
  CHECK(c.bytes_out == 0);
  CHECK(c.packets_in == 0);
  CHECK(c.packets_out == 0);
  CHECK(c.age_seconds == 100);  // without the kernel's add time: since installed
}

TEST_CASE("status: an engine pair's IKE SA and its first CHILD SA") {
  Pair p;
  const uint64_t spi = p.start();
  p.run();
  const IkeSa* a = p.alice.find(spi);
  REQUIRE(a != nullptr);
  REQUIRE(a->children.size() == 1);
  REQUIRE(a->children[0].state == ChildState::Installed);
  p.clock.t += Millis(5000);
  control::Status st = daemon::make_status(view(p.alice), p.alice_kernel, 3, p.clock.t, kWallNow);
  REQUIRE(st.ike_sas.size() == 1);
  const control::IkeStatus& s = st.ike_sas[0];
  CHECK(s.connection == "to-bob");
  CHECK(s.state == "established");
  CHECK(s.spi_i == spi);
  CHECK(s.worker == 3);
  CHECK(s.age_seconds == 5);
  CHECK(s.last_rekey_seconds_ago == -1);
  CHECK(s.algorithms == "ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519");
  REQUIRE(s.children.size() == 1);
  const control::ChildStatus& c = s.children[0];
  CHECK(c.name == "lan");
  CHECK(c.state == "installed");
  CHECK(c.spi_in == a->children[0].spi_in);
  CHECK(c.spi_out == a->children[0].spi_out);
  CHECK(c.algorithms == "ENCR_AES_GCM_16_256/NO_ESN");
  CHECK(c.age_seconds == 5);  // the MemoryKernel keeps no add time: since installed
  CHECK(c.last_rekey_seconds_ago == -1);
  // The default lifetimes (1 h soft minus up to 6 min jitter, 66 min hard) are scheduled.
  CHECK(c.rekey_in_seconds > 3000);
  CHECK(c.rekey_in_seconds <= 3600);
  CHECK(c.expire_in_seconds > c.rekey_in_seconds);
  CHECK(st.counters.at("ike_established") == 1);
  CHECK(st.counters.at("child_installed") == 1);
}

TEST_CASE("status: deleted SAs move to the closed list; merge adds the workers up") {
  Pair p;
  const uint64_t spi = p.start();
  p.run();
  REQUIRE(p.alice.delete_ike_sa(spi));
  p.run();
  control::Status alice =
      daemon::make_status(view(p.alice), p.alice_kernel, 0, p.clock.t, kWallNow);
  control::Status bob = daemon::make_status(view(p.bob), p.bob_kernel, 1, p.clock.t, kWallNow);
  CHECK(alice.ike_sas.empty());
  REQUIRE(alice.closed.size() == 1);
  CHECK(alice.closed[0].state == "closed");
  CHECK(!alice.closed[0].reason.empty());
  REQUIRE(bob.closed.size() == 1);
  CHECK(bob.closed[0].reason.find("peer") != std::string::npos);

  control::Status all;
  daemon::merge(all, alice);
  daemon::merge(all, bob);
  CHECK(all.closed.size() == 2);
  CHECK(all.counters.at("ike_established") == 2);
  CHECK(all.counters.at("ike_deleted") == 2);
  CHECK(all.counters.size() == alice.counters.size());
}
