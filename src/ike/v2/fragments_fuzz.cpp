// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for IKE fragment reassembly (RFC 7383), the path Engine::open takes for
// SKF: parse the datagram, payload rules, verify and decrypt the fragment, Reassembly::add,
// and once complete the inner chain and its rules. The input is a script of records, so
// that most fragments verify (they are sealed here with the target's own key) while their
// numbers, totals, first payload types, message IDs, sizes and timing are the fuzzer's;
// raw records are datagrams as they come, and a flip record corrupts a sealed one.
//
//   record: op (1 byte), length / 4 (1 byte), then `length` bytes (up to 1020)
//   op % 4 == 0: sealed fragment: message ID (1), number (1), total (1), first type (1),
//                response flag (1), the rest the fragment's plaintext
//   op % 4 == 1: raw datagram
//   op % 4 == 2: sealed fragment as op 0, one byte of the datagram flipped (at byte 0 of
//                the body, modulo its size)
//   op % 4 == 3: the clock moves on by body[0] seconds
// Invariants: nothing held beyond the limits, a complete message is the sum of its parts.
#include <cstdint>
#include <cstdlib>

#include "ike/v2/fragments.h"
#include "wire/rules.h"

using namespace ipsec;
using namespace ipsec::ike;
using namespace ipsec::ike::v2;

namespace {

crypto::SkCipher& cipher() {
  static std::unique_ptr<crypto::SkCipher> c = [] {
    const crypto::SkTransform t{};
    SecretBytes encr(Bytes(crypto::sk_encr_key_size(t), 0x5a));
    auto made = crypto::make_sk_cipher(t, encr, SecretBytes());
    if (!made) std::abort();
    return std::move(*made);
  }();
  return *c;
}

wire::Header header(uint32_t message_id, bool response) {
  wire::Header h;
  h.spi_i = 0x0102030405060708;
  h.spi_r = 0x1112131415161718;
  h.exchange = wire::ExchangeType::IkeAuth;
  h.initiator = !response;
  h.response = response;
  h.message_id = message_id;
  return h;
}

struct Receiver {
  Reassembly reassembly;
  Millis now{0};

  // What Engine::open does with a datagram of an SA whose keys are cipher()'s.
  void on_datagram(ByteView datagram) {
    auto m = wire::parse(datagram);
    if (!m || !wire::check_rules(*m)) return;
    const auto* f = m->find<wire::SkfPayload>();
    if (f == nullptr) return;
    auto plain = cipher().open(datagram.first(datagram.size() - f->data.size()), f->data);
    if (!plain) return;
    const size_t size = plain->size();
    const size_t before = reassembly.bytes();
    const auto v =
        reassembly.add(m->header.message_id, m->header.response, *f, std::move(*plain), now);
    if (reassembly.bytes() > kMaxReassembled) std::abort();
    if (v == Reassembly::Verdict::Kept && reassembly.bytes() != before + size &&
        reassembly.bytes() != size)
      std::abort();
    if (v != Reassembly::Verdict::Complete) return;
    const size_t held = reassembly.bytes();
    auto [first, whole] = reassembly.take();
    if (whole.size() != held || !reassembly.empty()) std::abort();
    auto inner = wire::parse_payloads(first, whole);
    if (inner) (void)wire::check_rules(m->header, *inner, wire::Layer::Inner);
  }
};

Bytes sealed_fragment(ByteView body) {
  if (body.size() < 5) return {};
  wire::SkfPayload f;
  f.fragment_number = body[1];
  f.total_fragments = body[2];
  f.inner_first = static_cast<wire::PayloadType>(body[3]);
  auto out = seal_envelope(header(body[0], (body[4] & 1) != 0), std::move(f), body.subspan(5),
                           cipher());
  return out ? std::move(*out) : Bytes{};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Receiver r;
  ByteView in(data, size);
  while (in.size() >= 2) {
    const uint8_t op = in[0];
    const size_t len = std::min<size_t>(size_t{in[1]} * 4, in.size() - 2);
    const ByteView body = in.subspan(2, len);
    in = in.subspan(2 + len);
    switch (op % 4) {
      case 0:
        r.on_datagram(sealed_fragment(body));
        break;
      case 1:
        r.on_datagram(body);
        break;
      case 2: {
        Bytes d = sealed_fragment(body);
        if (!d.empty()) d[body[0] % d.size()] ^= 0x01;
        r.on_datagram(d);
        break;
      }
      case 3:
        if (!body.empty()) r.now += Millis(1000L * body[0]);
        break;
    }
  }
  return 0;
}
