// SPDX-License-Identifier: Apache-2.0
// Unit tests of src/wire per-exchange payload rules: missing, duplicated, misplaced payloads.
#include <doctest/doctest.h>

#include "wire/rules.h"

using namespace ipsec;
using namespace ipsec::wire;

namespace {

Header hdr(ExchangeType x, bool response) {
  Header h;
  h.exchange = x;
  h.response = response;
  h.initiator = !response;
  return h;
}

NotifyPayload notify(NotifyType t) { return NotifyPayload{ProtocolId::None, t, {}, {}}; }
SaPayload sa() {
  return SaPayload{{Proposal{1, ProtocolId::Ike, {}, {Transform::make(TransformType::Dh, 31)}}}};
}

std::string rule_error(const Header& h, const std::vector<Payload>& p, Layer layer) {
  auto r = check_rules(h, p, layer);
  REQUIRE_FALSE(r);
  return r.error().message;
}

const Header kInitReq = hdr(ExchangeType::IkeSaInit, false);
const Header kInitResp = hdr(ExchangeType::IkeSaInit, true);
const Header kAuthReq = hdr(ExchangeType::IkeAuth, false);
const Header kAuthResp = hdr(ExchangeType::IkeAuth, true);

}  // namespace

TEST_SUITE("wire rules") {
  TEST_CASE("IKE_SA_INIT request: required, duplicated and misplaced payloads") {
    const std::vector<Payload> good{sa(), KePayload{31, Bytes(32, 1)}, NoncePayload{Bytes(32, 2)},
                                    notify(NotifyType::NatDetectionSourceIp),
                                    notify(NotifyType::Ikev2FragmentationSupported)};
    CHECK(check_rules(Message{kInitReq, good}));
    CHECK(rule_error(kInitReq, {sa(), NoncePayload{Bytes(32, 2)}}, Layer::Outer) ==
          "IKE_SA_INIT request: missing KE payload");
    auto twice = good;
    twice.push_back(NoncePayload{Bytes(32, 3)});
    CHECK(rule_error(kInitReq, twice, Layer::Outer) ==
          "IKE_SA_INIT request: 2 Nonce payloads, at most 1 allowed");
    auto with_sk = good;
    with_sk.push_back(SkPayload{PayloadType::None, {}});
    CHECK(rule_error(kInitReq, with_sk, Layer::Outer) ==
          "IKE_SA_INIT request: SK payload not allowed");
    auto with_certreq = good;
    with_certreq.push_back(CertReqPayload{4, {}});
    CHECK(rule_error(kInitReq, with_certreq, Layer::Outer) ==
          "IKE_SA_INIT request: CERTREQ payload not allowed");
    auto with_unknown = good;
    with_unknown.push_back(UnknownPayload{PayloadType{200}, false, {}});
    CHECK(check_rules(kInitReq, with_unknown, Layer::Outer));
    CHECK(rule_error(kInitReq, good, Layer::Inner) ==
          "IKE_SA_INIT request: has no encrypted payloads");
  }

  TEST_CASE("IKE_SA_INIT response: CERTREQ allowed; COOKIE or error notify alone is fine") {
    CHECK(check_rules(kInitResp,
                      {sa(), KePayload{31, {}}, NoncePayload{Bytes(32, 2)}, CertReqPayload{4, {}}},
                      Layer::Outer));
    CHECK(check_rules(kInitResp, {notify(NotifyType::Cookie)}, Layer::Outer));
    CHECK(check_rules(kInitResp, {notify(NotifyType::InvalidKePayload)}, Layer::Outer));
    CHECK(rule_error(kInitResp, {notify(NotifyType::NatDetectionSourceIp)}, Layer::Outer) ==
          "IKE_SA_INIT response: missing SA payload");
    // The exemption covers minimums only, never the maximum.
    CHECK(rule_error(kInitResp, {notify(NotifyType::Cookie), sa(), sa()}, Layer::Outer) ==
          "IKE_SA_INIT response: 2 SA payloads, at most 1 allowed");
  }

  TEST_CASE("IKE_AUTH: everything inside SK") {
    CHECK(check_rules(Message{kAuthReq, {SkPayload{PayloadType::IdI, Bytes(40, 0)}}}));
    CHECK(check_rules(Message{kAuthReq, {SkfPayload{PayloadType::IdI, 1, 2, Bytes(40, 0)}}}));
    CHECK(rule_error(kAuthReq, {IdIPayload{IdType::Fqdn, {}}, SkPayload{}}, Layer::Outer) ==
          "IKE_AUTH request: IDi payload must be inside SK");
    CHECK(rule_error(kAuthReq, {}, Layer::Outer) == "IKE_AUTH request: missing SK payload");

    const std::vector<Payload> inner{IdIPayload{IdType::Fqdn, {'a'}}, AuthPayload{2, {1}}, sa(),
                                     TsIPayload{}, TsRPayload{}};
    CHECK(check_rules(kAuthReq, inner, Layer::Inner));
    CHECK(rule_error(kAuthReq,
                     {IdIPayload{IdType::Fqdn, {'a'}}, AuthPayload{2, {1}}, sa(), TsIPayload{}},
                     Layer::Inner) ==
          "IKE_AUTH request: SA, TSi, TSr must appear together, TSr is missing");
    CHECK(rule_error(kAuthReq, {SkPayload{}}, Layer::Inner) ==
          "IKE_AUTH request: SK payload not allowed inside SK");
    CHECK(rule_error(kAuthReq, {KePayload{}}, Layer::Inner) ==
          "IKE_AUTH request: KE payload not allowed");
    CHECK(rule_error(kAuthResp, {IdIPayload{}}, Layer::Inner) ==
          "IKE_AUTH response: IDi payload not allowed");
    CHECK(check_rules(kAuthResp, {notify(NotifyType::AuthenticationFailed)}, Layer::Inner));
  }

  TEST_CASE("CREATE_CHILD_SA and INFORMATIONAL") {
    const Header req = hdr(ExchangeType::CreateChildSa, false);
    const Header resp = hdr(ExchangeType::CreateChildSa, true);
    CHECK(check_rules(
        req,
        {notify(NotifyType::RekeySa), sa(), NoncePayload{Bytes(16, 0)}, TsIPayload{}, TsRPayload{}},
        Layer::Inner));
    CHECK(check_rules(req, {sa(), NoncePayload{Bytes(16, 0)}, KePayload{}}, Layer::Inner));
    CHECK(rule_error(req, {sa(), TsIPayload{}, TsRPayload{}}, Layer::Inner) ==
          "CREATE_CHILD_SA request: missing Nonce payload");
    CHECK(rule_error(req, {sa(), NoncePayload{}, TsRPayload{}}, Layer::Inner) ==
          "CREATE_CHILD_SA request: TSi, TSr must appear together, TSi is missing");
    CHECK(check_rules(resp, {notify(NotifyType::NoProposalChosen)}, Layer::Inner));

    const Header info = hdr(ExchangeType::Informational, false);
    CHECK(check_rules(info, {}, Layer::Inner));
    CHECK(check_rules(info, {DeletePayload{}, DeletePayload{}}, Layer::Inner));
    CHECK(rule_error(info, {sa()}, Layer::Inner) ==
          "INFORMATIONAL request: SA payload not allowed");
  }

  TEST_CASE("unknown exchange type") {
    Header h;
    h.exchange = ExchangeType{40};
    CHECK(rule_error(h, {}, Layer::Outer) == "exchange type 40 request: unknown exchange type");
    CHECK(find_rules(ExchangeType::IkeAuth, true)->encrypted);
  }

}  // TEST_SUITE
