// SPDX-License-Identifier: Apache-2.0
// IKEv2 engine: what real peers do that our own engine never does, each found
// against strongSwan 5.9.8 in the guest (tests/e2e/cases/interop-strongswan-*).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>

#include "ike/v2/proposals.h"
#include "ike_test_harness.h"
#include "wire/message.h"

using namespace ike_test;

namespace {

IkeProposalConfig ike_cbc_modp2048() {
  return {{{wire::EncrId::AesCbc, 256}},
          {wire::PrfId::HmacSha2_256},
          {wire::IntegId::HmacSha2_256_128},
          {wire::DhGroup::Modp2048}};
}

// strongSwan's order of transforms in a proposal: ENCR, INTEG, PRF, DH, ESN.
int strongswan_rank(wire::TransformType t) {
  switch (t) {
    case wire::TransformType::Encr:
      return 0;
    case wire::TransformType::Integ:
      return 1;
    case wire::TransformType::Prf:
      return 2;
    case wire::TransformType::Dh:
      return 3;
    default:
      return 4;
  }
}

bool is_sa_init_response(const Packet& p) {
  auto m = wire::parse(p.data);
  return m && m->header.exchange == wire::ExchangeType::IkeSaInit && m->header.response;
}

// The IKE_SA_INIT response with its SA payload's transforms in strongSwan's
// order (the rest of the message unchanged).
Bytes reorder_sa_init_response(ByteView datagram) {
  auto m = wire::parse(datagram);
  REQUIRE(m);
  for (auto& pl : m->payloads)
    if (auto* sa = std::get_if<wire::SaPayload>(&pl))
      for (auto& prop : sa->proposals)
        std::stable_sort(prop.transforms.begin(), prop.transforms.end(),
                         [](const wire::Transform& a, const wire::Transform& b) {
                           return strongswan_rank(a.type) < strongswan_rank(b.type);
                         });
  return wire::encode(*m);
}

}  // namespace

TEST_SUITE("ike interop") {
  TEST_CASE("same_transforms: the order of transforms in a proposal does not matter") {
    wire::Proposal a{1, wire::ProtocolId::Ike, {}, {}};
    a.transforms = {wire::Transform::make(wire::TransformType::Encr, 12, 256),
                    wire::Transform::make(wire::TransformType::Prf, 5),
                    wire::Transform::make(wire::TransformType::Integ, 12),
                    wire::Transform::make(wire::TransformType::Dh, 14)};
    wire::Proposal b = a;
    std::swap(b.transforms[1], b.transforms[2]);
    CHECK(same_transforms(a, b));
    b.transforms[0] = wire::Transform::make(wire::TransformType::Encr, 12, 128);
    CHECK_FALSE(same_transforms(a, b));
    b = a;
    b.transforms.pop_back();
    CHECK_FALSE(same_transforms(a, b));
    CHECK_FALSE(same_transforms(b, a));
  }

  // strongSwan answers IKE_SA_INIT with ENCR, INTEG, PRF, DH: the initiator
  // refused that as "peer chose what we did not offer" because it compared the
  // transform lists in order.
  TEST_CASE("initiator: the responder's chosen IKE proposal in another transform order") {
    Pair p;
    p.alice_config.proposals = p.bob_config.proposals = {ike_cbc_modp2048()};
    const uint64_t spi = p.start();
    bool reordered = false;
    for (int i = 0; i < 10 && !p.net.queue.empty(); ++i) {
      Packet pk = std::move(p.net.queue.front());
      p.net.queue.pop_front();
      const bool to_alice = pk.to.addr == p.alice_config.local.addr;
      if (to_alice && is_sa_init_response(pk)) {
        pk.data = reorder_sa_init_response(pk.data);
        reordered = true;
        (to_alice ? p.alice : p.bob).on_datagram(pk.to, pk.from, pk.data);
        break;  // Bob signed the original bytes: stop before IKE_AUTH is checked
      }
      (to_alice ? p.alice : p.bob).on_datagram(pk.to, pk.from, pk.data);
    }
    REQUIRE(reordered);
    const IkeSa* a = p.alice.find(spi);
    REQUIRE(a);
    INFO(a->failure);
    CHECK(a->state == IkeState::AuthSent);
    CHECK(a->failure.empty());
    CHECK(p.alice.counters().no_proposal_chosen == 0);
    CHECK(describe(a->ike_proposal) ==
          "ENCR_AES_CBC/256 PRF_HMAC_SHA2_256 AUTH_HMAC_SHA2_256_128 MODP_2048");
  }
}
