// SPDX-License-Identifier: Apache-2.0
// Plans and all-or-nothing application, against the in-memory kernel.
#include <doctest/doctest.h>
#include <errno.h>

#include "common/bytes.h"
#include "kernel/memory_kernel.h"
#include "policy/plan.h"

using namespace ipsec;
namespace k = ipsec::kernel;

namespace {

k::SaParams sa(uint32_t spi, const char* src = "192.0.2.1", const char* dst = "192.0.2.2") {
  k::SaParams s;
  s.src = *IpAddress::parse(src);
  s.dst = *IpAddress::parse(dst);
  s.spi = spi;
  s.aead = k::Algorithm{"rfc4106(gcm(aes))", SecretBytes(Bytes(20, 0x11)), 128};
  s.replay_window = 32;
  return s;
}

k::PolicyParams make_policy(const char* src, const char* dst, k::Dir dir) {
  k::PolicyParams p;
  p.sel.src = *Prefix::parse(src);
  p.sel.dst = *Prefix::parse(dst);
  p.dir = dir;
  p.tmpls.push_back(k::Template{});
  return p;
}

policy::StaticConfig config() {
  policy::StaticConfig c;
  c.sas = {sa(0x1000), sa(0x1001, "192.0.2.2", "192.0.2.1")};
  c.policies = {make_policy("192.0.2.1/32", "192.0.2.2/32", k::Dir::Out),
                make_policy("192.0.2.2/32", "192.0.2.1/32", k::Dir::In)};
  return c;
}

policy::Plan plan_for(k::Kernel& kern, const policy::StaticConfig& c) {
  return policy::make_plan(c, *kern.dump_sas(), *kern.dump_policies());
}

}  // namespace

TEST_CASE("apply installs everything, and again is nothing to do") {
  k::MemoryKernel kern;
  auto plan = plan_for(kern, config());
  CHECK(plan.summary() == "2 SAs added, 2 policies added");
  auto r = policy::execute(kern, plan);
  CHECK(r.applied);
  CHECK(kern.dump_sas()->size() == 2);
  CHECK(kern.dump_policies()->size() == 2);
  auto again = plan_for(kern, config());
  CHECK(again.empty());
  CHECK(again.summary() == "nothing to do (4 unchanged)");
}

TEST_CASE("a changed key replaces the SA, a changed template updates the policy") {
  k::MemoryKernel kern;
  REQUIRE(policy::execute(kern, plan_for(kern, config())).applied);
  auto c = config();
  c.sas[0].aead->key = SecretBytes(Bytes(20, 0x22));
  c.policies[0].tmpls[0].reqid = 7;
  auto plan = plan_for(kern, c);
  CHECK(plan.summary() == "1 SA replaced, 1 policy replaced, 2 unchanged");
  REQUIRE(policy::execute(kern, plan).applied);
  CHECK(kern.get_sa(c.sas[0].id())->aead->key == c.sas[0].aead->key);
  CHECK(kern.get_policy(c.policies[0].id())->tmpls[0].reqid == 7);
}

TEST_CASE("the kernel refusing the fourth object rolls back the first three") {
  k::MemoryKernel kern;
  kern.fail_next("policy 192.0.2.2/32->192.0.2.1/32 in", EINVAL);
  auto r = policy::execute(kern, plan_for(kern, config()));
  CHECK_FALSE(r.applied);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].message == "adding policy 192.0.2.2/32->192.0.2.1/32 in: Invalid argument");
  CHECK(r.rolled_back == 3);
  CHECK(r.undo_errors.empty());
  CHECK(kern.dump_sas()->empty());
  CHECK(kern.dump_policies()->empty());
}

TEST_CASE("a failed replacement restores the old SA with its old key") {
  k::MemoryKernel kern;
  REQUIRE(policy::execute(kern, plan_for(kern, config())).applied);
  auto c = config();
  c.sas[1].aead->key = SecretBytes(Bytes(20, 0x33));
  kern.fail_next("adding SA spi 0x1001", EINVAL);
  auto r = policy::execute(kern, plan_for(kern, c));
  CHECK_FALSE(r.applied);
  CHECK(r.rolled_back == 1);
  auto restored = kern.get_sa(c.sas[1].id());
  REQUIRE(restored);
  CHECK(restored->aead->key == config().sas[1].aead->key);
}

TEST_CASE("removal takes policies out before SAs and leaves other objects") {
  k::MemoryKernel kern;
  REQUIRE(policy::execute(kern, plan_for(kern, config())).applied);
  REQUIRE(kern.add_sa(sa(0x2000)));
  auto plan = policy::make_removal_plan(config(), *kern.dump_sas(), *kern.dump_policies());
  REQUIRE(plan.ops.size() == 4);
  REQUIRE(plan.undo.size() == 4);
  CHECK(plan.summary() == "2 SAs removed, 2 policies removed");
  CHECK(std::holds_alternative<k::DeletePolicy>(plan.ops[0]));
  CHECK(std::holds_alternative<k::DeleteSa>(plan.ops[3]));
  REQUIRE(policy::execute(kern, plan).applied);
  CHECK(kern.dump_sas()->size() == 1);
  CHECK(kern.dump_policies()->empty());
}

TEST_CASE("memory kernel: identities, larval SAs and events") {
  k::MemoryKernel kern;
  auto events = kern.subscribe(k::kGroupPolicy);
  REQUIRE(events);
  k::SpiRequest req;
  req.src = *IpAddress::parse("192.0.2.1");
  req.dst = *IpAddress::parse("192.0.2.2");
  auto spi = kern.alloc_spi(req);
  REQUIRE(spi);
  CHECK(kern.dump_sas()->at(0).larval);
  CHECK(kern.add_sa(sa(*spi)));  // keys for the allocated SPI
  CHECK_FALSE(kern.dump_sas()->at(0).larval);
  CHECK(kern.add_sa(sa(*spi)).error().code == EEXIST);
  auto p = make_policy("10.0.0.0/24", "10.0.1.0/24", k::Dir::Out);
  REQUIRE(kern.add_policy(p));
  CHECK(kern.add_policy(p).error().code == EEXIST);
  auto got = (*events)->read();
  REQUIRE(got);
  REQUIRE(got->size() == 1);
  CHECK(std::get<k::PolicyChangeEvent>(got->at(0)).kind == k::ChangeKind::New);
}
