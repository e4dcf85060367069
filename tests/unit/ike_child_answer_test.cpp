// SPDX-License-Identifier: Apache-2.0
// The initiator's check of a responder's CHILD SA answer (child_negotiation.h), the one
// check IKE_AUTH and CREATE_CHILD_SA share: one proposal of ours with a 4-byte SPI, our
// mode, selectors that only narrow ours (RFC 7296 §2.9).
#include <doctest/doctest.h>

#include "ike/traffic_selectors.h"
#include "ike/v2/child_negotiation.h"
#include "ike/v2/proposals.h"
#include "ike_test_harness.h"

using namespace ike_test;
using ipsec::ike::v2::check_child_answer;
using ipsec::ike::v2::to_wire;

namespace {

ChildConfig lan() {
  ChildConfig c;
  c.name = "lan";
  c.local_ts = {prefix("10.1.0.0/16")};
  c.remote_ts = {prefix("10.2.0.0/16")};
  c.proposals = {esp_gcm()};
  return c;
}

// The responder's answer: our first proposal with its SPI, and the given selectors.
std::vector<wire::Payload> answer(const ChildConfig& c, const char* tsi, const char* tsr) {
  const uint8_t spi[4] = {0xc1, 0, 0, 7};
  wire::SaPayload sa{to_wire(c.proposals, ByteView(spi, 4))};
  return {sa, wire::TsIPayload{{to_ts(prefix(tsi))}}, wire::TsRPayload{{to_ts(prefix(tsr))}}};
}

}  // namespace

TEST_SUITE("ike child answer") {
  TEST_CASE("the responder's narrowed selectors and its SPI are taken") {
    auto a =
        check_child_answer(lan(), 0xc0000001, false, answer(lan(), "10.1.2.0/24", "10.2.0.0/16"));
    REQUIRE(a);
    CHECK(describe(a.local_ts) == "10.1.2.0/24");
    CHECK(describe(a.remote_ts) == "10.2.0.0/16");
    CHECK(a.proposal.spi == Bytes{0xc1, 0, 0, 7});
    CHECK_FALSE(a.transport);
  }

  TEST_CASE("selectors wider than ours are refused, in IKE_AUTH and CREATE_CHILD_SA alike") {
    for (bool with_dh : {false, true}) {
      auto a = check_child_answer(lan(), 1, with_dh, answer(lan(), "10.0.0.0/8", "10.2.0.0/16"));
      CHECK_FALSE(a);
      CHECK(a.why.find("traffic selectors exceed ours: 10.0.0.0/8 === 10.2.0.0/16") !=
            std::string::npos);
    }
  }

  TEST_CASE("transport mode chosen for a tunnel child is refused") {
    auto in = answer(lan(), "10.1.0.0/16", "10.2.0.0/16");
    in.push_back(
        wire::NotifyPayload{wire::ProtocolId::None, wire::NotifyType::UseTransportMode, {}, {}});
    auto a = check_child_answer(lan(), 1, false, in);
    CHECK_FALSE(a);
    CHECK(a.why == "peer chose transport mode; child lan is tunnel");
  }

  TEST_CASE("a proposal we did not offer, or two proposals, are refused") {
    ChildConfig other = lan();
    other.proposals[0].encr = {{wire::EncrId::AesCbc, 128}};
    other.proposals[0].integ = {wire::IntegId::HmacSha2_256_128};
    auto a = check_child_answer(lan(), 1, false, answer(other, "10.1.0.0/16", "10.2.0.0/16"));
    CHECK_FALSE(a);
    CHECK(a.why.find("peer chose an ESP proposal we did not offer") == 0);
    auto two = answer(lan(), "10.1.0.0/16", "10.2.0.0/16");
    auto& props = std::get<wire::SaPayload>(two[0]).proposals;
    props.push_back(props[0]);
    CHECK_FALSE(check_child_answer(lan(), 1, false, two));
  }

  TEST_CASE("an answer without SA or selectors is refused") {
    auto in = answer(lan(), "10.1.0.0/16", "10.2.0.0/16");
    in.pop_back();
    auto a = check_child_answer(lan(), 1, false, in);
    CHECK(a.why == "response without SA, TSi and TSr");
  }
}
