// SPDX-License-Identifier: Apache-2.0
// The version-neutral kernel programming of CHILD SAs (ike/child_kernel.h), on the memory
// kernel: both ESP SAs with the keys of each direction, out/in/fwd policies per selector
// pair, counted against a trap that shares them; all or nothing when the kernel refuses;
// removal leaves the trap's policies.
#include <doctest/doctest.h>

#include <cerrno>

#include "ike/child_kernel.h"
#include "ike/traffic_selectors.h"
#include "ike_test_harness.h"
#include "kernel/memory_kernel.h"

using namespace ike_test;

namespace {

struct Fixture {
  kernel::MemoryKernel kern;
  PolicyRefs refs;
  ConnectionConfig conn = connection(true);
  std::vector<wire::TrafficSelector> local_ts = to_ts(conn.children.front().local_ts);
  std::vector<wire::TrafficSelector> remote_ts = to_ts(conn.children.front().remote_ts);
  SecretBytes ein{Bytes(36, 0x11)}, iin{}, eout{Bytes(36, 0x22)}, iout{};
  EspAlgorithms gcm{"aes-gcm-16", "", 36, 0, false};
  uint64_t errors = 0;

  ChildKernelSa child(uint32_t spi_in) {
    ChildKernelSa c;
    c.cfg = &conn.children.front();
    c.local = conn.local.addr;
    c.remote = conn.remote.addr;
    c.spi_in = spi_in;
    c.spi_out = spi_in + 0x100;
    c.local_ts = local_ts;
    c.remote_ts = remote_ts;
    return c;
  }
  size_t sas() { return kern.dump_sas()->size(); }
  size_t policies() { return kern.dump_policies()->size(); }
};

}  // namespace

TEST_SUITE("ike child kernel") {
  TEST_CASE("a tunnel CHILD SA: two ESP SAs with each direction's key, out/in/fwd policies") {
    Fixture f;
    const EspKeys keys{f.ein, f.iin, f.eout, f.iout};
    auto r = install_child_sas(f.kern, &f.refs, f.child(0xc0000001), f.gcm, keys, false, f.errors);
    REQUIRE(r);
    CHECK_FALSE(r->has_value());
    REQUIRE(f.sas() == 2);
    auto in =
        f.kern.get_sa(kernel::SaId{f.conn.local.addr, 0xc0000001, kernel::Proto::Esp, {}, {}});
    auto out =
        f.kern.get_sa(kernel::SaId{f.conn.remote.addr, 0xc0000101, kernel::Proto::Esp, {}, {}});
    REQUIRE(in);
    REQUIRE(out);
    REQUIRE(in->aead);
    CHECK(in->aead->key == f.ein);
    CHECK(out->aead->key == f.eout);
    CHECK(in->src == f.conn.remote.addr);
    CHECK(out->reqid == f.conn.children.front().reqid);
    CHECK(f.policies() == 3);
    CHECK(f.errors == 0);
  }

  TEST_CASE("outbound later: only the inbound SA goes in, the outbound one is handed back") {
    Fixture f;
    const EspKeys keys{f.ein, f.iin, f.eout, f.iout};
    auto r = install_child_sas(f.kern, &f.refs, f.child(0xc0000002), f.gcm, keys, true, f.errors);
    REQUIRE(r);
    REQUIRE(r->has_value());
    CHECK((*r)->spi == 0xc0000102);
    CHECK(f.sas() == 1);
  }

  TEST_CASE("the kernel refusing the outbound SA leaves nothing, and counts an error") {
    Fixture f;
    const EspKeys keys{f.ein, f.iin, f.eout, f.iout};
    f.kern.fail_next("0xc0000103", EEXIST);
    auto r = install_child_sas(f.kern, &f.refs, f.child(0xc0000003), f.gcm, keys, false, f.errors);
    CHECK_FALSE(r);
    CHECK(f.sas() == 0);
    CHECK(f.policies() == 0);
    CHECK(f.errors == 1);
  }

  TEST_CASE("policies shared with a trap stay when the CHILD SA goes") {
    Fixture f;
    auto trap = trap_policies(f.conn, f.conn.children.front());
    REQUIRE(trap);
    REQUIRE(f.refs.acquire(f.kern, *trap));
    const EspKeys keys{f.ein, f.iin, f.eout, f.iout};
    auto c = f.child(0xc0000004);
    REQUIRE(install_child_sas(f.kern, &f.refs, c, f.gcm, keys, false, f.errors));
    CHECK(f.policies() == 3);
    CHECK(remove_child_sas(f.kern, &f.refs, c, true, f.errors).empty());
    CHECK(f.sas() == 0);
    CHECK(f.policies() == 3);  // the trap's
    f.refs.release(f.kern, *trap);
    CHECK(f.policies() == 0);
    // Removing again: the SAs are gone already (as after a hard expiry): XFRM's ESRCH is
    // not an error (it was counted and logged as one before, only ENOENT was forgiven).
    auto again = remove_child_sas(f.kern, &f.refs, c, true, f.errors);
    for (const auto& e : again) MESSAGE(e);
    CHECK(again.empty());
    CHECK(f.errors == 0);
  }

  TEST_CASE("ESP SPI helpers") {
    CHECK(esp_spi_str(0xc0000001) == "0xc0000001");
    CHECK(esp_spi_value(esp_spi_bytes(0xdeadbeef)) == 0xdeadbeef);
  }
}
