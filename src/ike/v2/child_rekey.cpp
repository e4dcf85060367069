// SPDX-License-Identifier: Apache-2.0
// CHILD SA rekeys (RFC 7296 §1.3.3, §2.8): which CHILD SA a peer's rekey names, and
// simultaneous rekeys (§2.8.1), decided by the lowest of the four nonces; the exchange itself
// is CREATE_CHILD_SA's (create_child.cpp), shared with new CHILD SAs.
#include "common/log.h"
#include "ike/v2/create_child_util.h"
#include "ike/v2/exchanges.h"
#include "ike/v2/sk_message.h"

namespace ipsec::ike::v2 {

using wire::NotifyType;

namespace {

ByteView lowest(std::initializer_list<ByteView> list) {
  ByteView low = *list.begin();
  for (ByteView v : list)
    if (nonce_less(v, low)) low = v;
  return low;
}

// A CHILD SA that is already replaced, or whose Delete is queued or in flight: a rekey of
// it is refused with TEMPORARY_FAILURE (§2.25).
bool being_replaced(const IkeSa& sa, const ChildSa& t) {
  bool deleting = t.state == ChildState::Rekeyed || t.replaced_by != 0;
  for (const auto& q : sa.queued)
    deleting = deleting || (q.kind == Request::DeleteChild && q.child_spi == t.spi_in);
  return deleting || (sa.awaiting_response && sa.in_flight.kind == Request::DeleteChild &&
                      sa.in_flight.child_spi == t.spi_in);
}

}  // namespace

// §1.3.3: a rekey names the SPI the exchange's initiator receives on: our outbound SPI.
// The index of that CHILD SA, sa.children.size() for a new one; nullopt: refused (answered).
std::optional<size_t> rekey_target(Context& ctx, IkeSa& sa, uint32_t mid,
                                   const std::vector<wire::Payload>& in) {
  size_t target = sa.children.size();
  const auto* rekey = find_notify(in, NotifyType::RekeySa);
  if (rekey == nullptr) return target;
  const uint32_t spi = esp_spi_value(rekey->spi);
  for (size_t i = 0; i < sa.children.size(); ++i)
    if (child_in_kernel(sa.children[i]) && sa.children[i].spi_out == spi) target = i;
  if (target == sa.children.size()) {
    respond_create_error(
        ctx, sa, mid, make_notify(NotifyType::ChildSaNotFound, wire::ProtocolId::Esp, rekey->spi),
        "no CHILD SA with outbound SPI " + esp_spi_str(spi));
    return std::nullopt;
  }
  if (being_replaced(sa, sa.children[target])) {
    respond_create_error(
        ctx, sa, mid, make_notify(NotifyType::TemporaryFailure),
        "CHILD SA " + esp_spi_str(sa.children[target].spi_in) + " is being deleted or replaced");
    return std::nullopt;
  }
  return target;
}

// §2.8.1: both sides rekeyed `old` at once; the SA created with the lowest of the four
// nonces is redundant and its creator deletes it. True: ours stands.
bool won_collision(const IkeSa& sa, const ChildSa& old, const PendingCreate& p, ByteView nr) {
  const ByteView low = lowest({p.nonce, nr, old.collision_ni, old.collision_nr});
  const bool won = !(low.data() == ByteView(p.nonce).data() || low.data() == nr.data());
  log::info(label(sa) + ": rekey collision on CHILD SA " + esp_spi_str(old.spi_in) + ": " +
            (won ? "ours stays, the peer deletes its SA" : "the peer's stays, we delete ours"));
  return won;
}

// After our new CHILD SA is installed: a rekey's old SA goes (Delete), or, having lost a
// collision, ours goes and the peer's stands.
void settle_rekey(Context& ctx, IkeSa& sa, uint32_t new_spi, uint32_t old_spi, uint32_t peer_new,
                  bool won) {
  ChildSa* theirs = peer_new != 0 ? sa.child(peer_new) : nullptr;
  if (!won) {
    if (theirs != nullptr && theirs->announce_later) announce_child(ctx, sa, *theirs);
    return start_informational(ctx, sa, {Request::DeleteChild, new_spi});
  }
  if (old_spi == 0) return;
  ChildSa& o = *sa.child(old_spi);
  if (theirs != nullptr) {  // the peer deletes it
    theirs->redundant = true;
    theirs->announce_later = false;
  }
  o.replaced_by = new_spi;
  o.state = ChildState::Rekeyed;
  start_informational(ctx, sa, {Request::DeleteChild, old_spi});
}

}  // namespace ipsec::ike::v2
