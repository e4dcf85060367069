// SPDX-License-Identifier: Apache-2.0
// Unit tests of ipsecctl's --json documents for validate, apply and remove (ctl/json_out.h):
// the shapes a script reads, from real plans and executions on the in-memory kernel.
#include <doctest/doctest.h>
#include <errno.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "ctl/json_out.h"
#include "kernel/memory_kernel.h"
#include "policy/plan.h"
#include "policy/static_config.h"

using namespace ipsec;
using nlohmann::json;
namespace k = ipsec::kernel;

namespace {

constexpr const char* kFile = R"({
  "sas": [{"protocol": "esp", "spi": "0x1000", "src": "192.0.2.1", "dst": "192.0.2.2",
           "aead": {"algorithm": "aes-gcm-16", "key": "0x000102030405060708090a0b0c0d0e0f10111213"}}],
  "policies": [{"src": "192.0.2.1/32", "dst": "192.0.2.2/32", "dir": "out",
                "templates": [{"protocol": "esp", "mode": "transport"}]}]
})";

policy::Plan plan_for(k::Kernel& kern, const policy::StaticConfig& c) {
  return policy::make_plan(c, *kern.dump_sas(), *kern.dump_policies());
}

}  // namespace

TEST_CASE("validate --json: counts when good; errors naming file and path when not") {
  auto good = policy::load_text(kFile, "site.json", ".");
  json j = ctl::validate_json({"site.json"}, good);
  CHECK(j["ok"] == true);
  CHECK(j["files"] == json{"site.json"});
  CHECK(j["sas"] == 1);
  CHECK(j["policies"] == 1);
  CHECK(j["connections"] == 0);
  CHECK(j["errors"] == json::array());
  CHECK(j["warnings"] == json::array());

  auto bad = policy::load_text(R"({"sas": [{"protocol": "esp", "spi": "x"}], "colour": 1})",
                               "bad.json", ".");
  json b = ctl::validate_json({"bad.json"}, bad);
  CHECK(b["ok"] == false);
  CHECK_FALSE(b.contains("sas"));  // nothing would be applied: no counts
  REQUIRE(b["errors"].size() == bad.errors.size());
  CHECK(b["errors"][0]["file"] == "bad.json");
  bool named = false;
  for (const auto& e : b["errors"]) named = named || e["path"] == "colour";
  CHECK(named);
}

TEST_CASE("apply --json: counts and one change per kernel operation, replacements as two") {
  k::MemoryKernel kern;
  auto r = policy::load_text(kFile, "site.json", ".");
  REQUIRE(r.ok());
  json j;
  ctl::put_plan(j, plan_for(kern, r.config));
  CHECK(j["added"] == json{{"sas", 1}, {"policies", 1}});
  CHECK(j["replaced"] == json{{"sas", 0}, {"policies", 0}});
  CHECK(j["removed"] == json{{"sas", 0}, {"policies", 0}});
  CHECK(j["unchanged"] == json{{"sas", 0}, {"policies", 0}});
  REQUIRE(j["changes"].size() == 2);
  CHECK(j["changes"][0] == json{{"action", "add"},
                                {"kind", "sa"},
                                {"object", "SA spi 0x1000 192.0.2.1->192.0.2.2 esp"}});
  CHECK(j["changes"][1]["kind"] == "policy");
  CHECK(j.dump().find("0x000102") == std::string::npos);  // never a key

  REQUIRE(policy::execute(kern, plan_for(kern, r.config)).applied);
  r.config.sas[0].replay_window = 64;
  json again;
  ctl::put_plan(again, plan_for(kern, r.config));
  CHECK(again["replaced"] == json{{"sas", 1}, {"policies", 0}});
  CHECK(again["unchanged"] == json{{"sas", 0}, {"policies", 1}});
  REQUIRE(again["changes"].size() == 2);
  CHECK(again["changes"][0]["action"] == "delete");
  CHECK(again["changes"][1]["action"] == "add");

  json removal;
  ctl::put_plan(removal,
                policy::make_removal_plan(r.config, *kern.dump_sas(), *kern.dump_policies()));
  CHECK(removal["removed"] == json{{"sas", 1}, {"policies", 1}});
  CHECK(removal["changes"][0] == json{{"action", "delete"},
                                      {"kind", "policy"},
                                      {"object", "policy 192.0.2.1/32->192.0.2.2/32 out"}});
}

TEST_CASE("apply --json: a refusal says what was rolled back") {
  k::MemoryKernel kern;
  auto r = policy::load_text(kFile, "site.json", ".");
  REQUIRE(r.ok());
  kern.fail_next("policy 192.0.2.1/32->192.0.2.2/32 out", EINVAL);
  auto outcome = policy::execute(kern, plan_for(kern, r.config));
  REQUIRE_FALSE(outcome.applied);
  json j = {{"ok", true}};
  ctl::put_outcome(j, outcome, "applied");
  CHECK(j["ok"] == false);
  CHECK(j["error"] == "nothing applied: rolled back 1 change, the kernel is as before");
  CHECK(j["rolled_back"] == 1);
  CHECK(j["kernel_errors"] ==
        json{"adding policy 192.0.2.1/32->192.0.2.2/32 out: Invalid argument"});
  CHECK(j["rollback_errors"] == json::array());

  policy::ApplyOutcome partial;
  partial.errors = {Error{"adding x: refused"}};
  partial.undo_errors = {Error{"deleting y: refused"}};
  json p;
  ctl::put_outcome(p, partial, "removed");
  CHECK(p["error"] == "the kernel was left partly changed; see 'ipsecctl show'");
  CHECK(p["rollback_errors"] == json{"deleting y: refused"});
}

TEST_CASE("--json text: control characters escaped, invalid UTF-8 replaced, never a throw") {
  json j = {{"file", std::string("a\nb\x1b[31m\xff.json")}};
  std::string text = ctl::json_text(j);
  CHECK(std::count(text.begin(), text.end(), '\n') == 2);  // only the pretty-printer's
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find("a\\nb\\u001b[31m\xef\xbf\xbd.json") != std::string::npos);
  CHECK(json::parse(text)["file"].is_string());
}
