// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the IKEv2 codec: parse, and what parses must encode and parse back equal.
#include <cstdint>
#include <cstdlib>

#include "wire/message.h"
#include "wire/rules.h"

using namespace ipsec;
using namespace ipsec::wire;

namespace {

void round_trip(const Message& m) {
  const Bytes again = encode(m);
  auto reparsed = parse(again);
  if (!reparsed || !(*reparsed == m)) std::abort();
  // The encoder is canonical: encoding the re-parsed message gives the same bytes.
  if (encode(*reparsed) != again) std::abort();
}

// Treat the SK data as if it were decrypted content: exercises the inner chain parser.
void inner_chain(const Message& m) {
  for (const auto& p : m.payloads) {
    const auto* sk = std::get_if<SkPayload>(&p);
    if (!sk) continue;
    auto inner = parse_payloads(sk->inner_first, sk->data);
    if (!inner) continue;
    (void)check_rules(m.header, *inner, Layer::Inner);
    auto back = parse_payloads(sk->inner_first, encode_payloads(*inner));
    if (!back || *back != *inner) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = parse(ByteView(data, size));
  if (!m) return 0;
  (void)check_rules(*m);
  round_trip(*m);
  inner_chain(*m);
  return 0;
}
