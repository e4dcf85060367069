// ipsecd's status: traffic selectors as text, CHILD SA counters and age from the kernel
// (and what happens when the kernel has none), closed SAs, merging the workers.
#include <doctest/doctest.h>

#include <cstring>
#include <map>

#include "daemon/status.h"
#include "ike/v2/traffic_selectors.h"
#include "ike_test_harness.h"

using namespace ike_test;

namespace {

// A kernel that is Alice's MemoryKernel, except that get_sa reports traffic counters
// (the MemoryKernel counts nothing) or fails when told to.
class CountingKernel final : public kernel::Kernel {
 public:
  explicit CountingKernel(kernel::MemoryKernel& inner) : k_(inner) {}
  std::map<std::pair<std::string, uint32_t>, kernel::Counters> counters;  // by dst and SPI
  bool fail_get = false;

  Result<kernel::SaParams> get_sa(const kernel::SaId& id) override {
    if (fail_get) return fail("getting SA: No such process", 3);
    auto sa = k_.get_sa(id);
    auto it = counters.find({id.dst.str(), id.spi});
    if (sa && it != counters.end()) sa->counters = it->second;
    return sa;
  }
  Result<uint32_t> alloc_spi(const kernel::SpiRequest& r) override { return k_.alloc_spi(r); }
  Result<void> add_sa(const kernel::SaParams& s) override { return k_.add_sa(s); }
  Result<void> update_sa(const kernel::SaParams& s) override { return k_.update_sa(s); }
  Result<void> delete_sa(const kernel::SaId& id) override { return k_.delete_sa(id); }
  Result<std::vector<kernel::SaParams>> dump_sas() override { return k_.dump_sas(); }
  Result<void> flush_sas() override { return k_.flush_sas(); }
  Result<void> add_policy(const kernel::PolicyParams& p) override { return k_.add_policy(p); }
  Result<void> update_policy(const kernel::PolicyParams& p) override {
    return k_.update_policy(p);
  }
  Result<void> delete_policy(const kernel::PolicyId& id) override { return k_.delete_policy(id); }
  Result<kernel::PolicyParams> get_policy(const kernel::PolicyId& id) override {
    return k_.get_policy(id);
  }
  Result<std::vector<kernel::PolicyParams>> dump_policies() override {
    return k_.dump_policies();
  }
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

}  // namespace

TEST_CASE("traffic selectors: a prefix when they are one, a range otherwise") {
  CHECK(ike::v2::describe(ts("198.51.100.0", "198.51.100.255")) == "198.51.100.0/24");
  CHECK(ike::v2::describe(ts("192.0.2.7", "192.0.2.7")) == "192.0.2.7/32");
  CHECK(ike::v2::describe(ts("0.0.0.0", "255.255.255.255")) == "0.0.0.0/0");
  CHECK(ike::v2::describe(ts("192.0.2.1", "192.0.2.9")) == "192.0.2.1-192.0.2.9");
  CHECK(ike::v2::describe(ts("2001:db8::", "2001:db8::ffff:ffff")) == "2001:db8::/96");
  CHECK(ike::v2::describe(ts("192.0.2.0", "192.0.2.255", 6, 443, 443)) ==
        "192.0.2.0/24 proto 6 port 443-443");
  CHECK(ike::v2::describe(ts("192.0.2.0", "192.0.2.255", 17)) == "192.0.2.0/24 proto 17");
}

TEST_CASE("status: the IKE SA, its worker, CHILD SA counters and age from the kernel") {
  Pair p;
  const uint64_t spi = p.start();
  p.run();
  const IkeSa* a = p.alice.find(spi);
  REQUIRE(a != nullptr);
  REQUIRE(a->child.state == ChildState::Installed);
  CountingKernel k(p.alice_kernel);
  k.counters[{"192.0.2.1", a->child.spi_in}] = {1000, 10, kWallNow - 42, 0, 0, 0, 0};
  k.counters[{"192.0.2.2", a->child.spi_out}] = {2000, 20, kWallNow - 42, 0, 0, 0, 0};
  p.clock.t += Millis(5000);

  control::Status st = daemon::make_status(p.alice, k, 3, p.clock.t, kWallNow);
  REQUIRE(st.ike_sas.size() == 1);
  const control::IkeStatus& s = st.ike_sas[0];
  CHECK(s.connection == "to-bob");
  CHECK(s.state == "established");
  CHECK(s.initiator);
  CHECK(s.spi_i == spi);
  CHECK(s.local == "192.0.2.1[500]");
  CHECK(s.worker == 3);
  CHECK(s.age_seconds == 5);
  CHECK(s.rekey_in_seconds == -1);
  CHECK(s.algorithms == "ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519");
  const control::ChildStatus& c = s.child;
  CHECK(c.state == "installed");
  CHECK(c.mode == "tunnel");
  CHECK(c.local_ts == std::vector<std::string>{"10.1.0.0/16"});
  CHECK(c.remote_ts == std::vector<std::string>{"10.2.0.0/16"});
  CHECK(c.bytes_in == 1000);
  CHECK(c.packets_in == 10);
  CHECK(c.bytes_out == 2000);
  CHECK(c.packets_out == 20);
  CHECK(c.age_seconds == 42);  // the kernel's add_time
  CHECK(c.rekey_in_seconds == -1);
  CHECK(c.expire_in_seconds == -1);
  CHECK(st.counters.at("ike_established") == 1);
  CHECK(st.counters.at("child_installed") == 1);
}

TEST_CASE("status: a kernel that does not answer leaves the counters 0, status still works") {
  Pair p;
  const uint64_t spi = p.start();
  p.run();
  REQUIRE(p.alice.find(spi) != nullptr);
  CountingKernel k(p.alice_kernel);
  k.fail_get = true;
  p.clock.t += Millis(7000);
  control::Status st = daemon::make_status(p.alice, k, 0, p.clock.t, kWallNow);
  REQUIRE(st.ike_sas.size() == 1);
  const control::ChildStatus& c = st.ike_sas[0].child;
  CHECK(c.state == "installed");
  CHECK(c.bytes_in == 0);
  CHECK(c.bytes_out == 0);
  CHECK(c.packets_in == 0);
  CHECK(c.packets_out == 0);
  CHECK(c.age_seconds == 7);  // without the kernel's add time: the IKE SA's age
  // The MemoryKernel itself keeps no add time: the same fallback.
  control::Status mem = daemon::make_status(p.alice, p.alice_kernel, 0, p.clock.t, kWallNow);
  CHECK(mem.ike_sas[0].child.age_seconds == 7);
}

TEST_CASE("status: deleted SAs move to the closed list; merge adds the workers up") {
  Pair p;
  const uint64_t spi = p.start();
  p.run();
  REQUIRE(p.alice.delete_ike_sa(spi));
  p.run();
  control::Status alice = daemon::make_status(p.alice, p.alice_kernel, 0, p.clock.t, kWallNow);
  control::Status bob = daemon::make_status(p.bob, p.bob_kernel, 1, p.clock.t, kWallNow);
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
