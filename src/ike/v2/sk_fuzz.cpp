// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for what comes after decryption: an engine holding an established IKE
// SA with known keys (fuzz_fixture.h, continued from its handover record as a restarted
// ipsecd would) receives SK messages that the target seals with the peer's keys, so that
// every one verifies and decrypts and the fuzzer's bytes reach the inner payload parser,
// the payload rules and the exchange handlers (INFORMATIONAL: liveness, Delete, notifies;
// CREATE_CHILD_SA: new CHILD SAs, CHILD and IKE SA rekeys; anything else: refused), with
// the memory kernel behind them. It must never crash, leak or hit UB.
//
// Input: exchange (1 byte: 0 INFORMATIONAL, 1 CREATE_CHILD_SA, 2 IKE_AUTH, else the byte
// itself), flags (bit 0: a response, bit 1: I flag clear), message ID (0: the one the SA
// expects next, 1: the previous one (a retransmission), 2: our last request's, else the
// byte), the first inner payload type, then the plaintext of the SK payload. Several
// messages may follow one another, separated by the four bytes "NEXT".
// IPSEC_SK_FUZZ_SEEDS=DIR writes seeds (liveness, a Delete, a CHILD SA rekey) and exits.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/log.h"
#include "ike/v2/engine.h"
#include "ike/v2/fuzz_fixture.h"
#include "ike/v2/handover.h"
#include "kernel/memory_kernel.h"
#include "wire/message.h"

using namespace ipsec;
using namespace ipsec::ike;
using namespace ipsec::ike::v2;
using namespace ipsec::ike::v2::fuzz;

namespace {

struct Discard : Sender {
  void send(const Endpoint&, const Endpoint&, ByteView) override {}
};
struct Fixed : Clock {
  Millis t{1'000'000};
  Millis now() const override { return t; }
};

const IkeSa& state() {
  static const IkeSa* sa = new IkeSa(sample(true, 1));
  return *sa;
}
const SecretBytes& record() {
  static const SecretBytes* r = new SecretBytes(export_ike_sa(state()));
  return *r;
}
// The peer's (the original initiator's) outbound direction: SK_ei, SK_ai.
crypto::SkCipher& peer_cipher() {
  static std::unique_ptr<crypto::SkCipher> c = [] {
    auto made = crypto::make_sk_cipher(state().algs.sk, state().keys.sk_ei, state().keys.sk_ai);
    if (!made) std::abort();
    return std::move(*made);
  }();
  return *c;
}

wire::ExchangeType exchange_of(uint8_t b) {
  switch (b) {
    case 0: return wire::ExchangeType::Informational;
    case 1: return wire::ExchangeType::CreateChildSa;
    case 2: return wire::ExchangeType::IkeAuth;
    default: return static_cast<wire::ExchangeType>(b);
  }
}

uint32_t message_id_of(uint8_t b, const IkeSa& sa) {
  switch (b) {
    case 0: return sa.expected_request_mid;
    case 1: return sa.expected_request_mid - 1;
    case 2: return sa.next_request_mid - 1;
    default: return b;
  }
}

// The datagram the peer would send: header, SK payload sealed over the plaintext.
Bytes sealed(const wire::Header& h, wire::PayloadType first, ByteView plaintext) {
  crypto::SkCipher& c = peer_cipher();
  wire::Message m;
  m.header = h;
  m.payloads.push_back(wire::SkPayload{first, Bytes(c.sealed_size(plaintext.size()), 0)});
  Bytes out = wire::encode(m);
  constexpr size_t kAad = 28 + 4;  // IKE header, SK generic header
  auto body = c.seal(ByteView(out).first(kAad), plaintext);
  if (!body || body->size() != out.size() - kAad) std::abort();
  std::copy(body->begin(), body->end(), out.begin() + kAad);
  return out;
}

void deliver(Engine& engine, const IkeSa& sa, ByteView msg) {
  if (msg.size() < 4) return;
  wire::Header h;
  h.spi_i = sa.spi_i;
  h.spi_r = sa.spi_r;
  h.exchange = exchange_of(msg[0]);
  h.response = (msg[1] & 1) != 0;
  h.initiator = (msg[1] & 2) == 0;
  h.message_id = message_id_of(msg[2], sa);
  const auto first = static_cast<wire::PayloadType>(msg[3]);
  engine.on_datagram(sa.local, sa.remote, sealed(h, first, msg.subspan(4)));
}

void write_seed(const std::string& path, uint8_t exchange, const std::vector<wire::Payload>& inner) {
  Bytes b{exchange, 0, 0, inner.empty() ? uint8_t{0} : static_cast<uint8_t>(wire::payload_type(inner.front()))};
  const Bytes body = inner.empty() ? Bytes{} : wire::encode_payloads(inner);
  b.insert(b.end(), body.begin(), body.end());
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(b.data(), 1, b.size(), f) != b.size()) std::abort();
  std::fclose(f);
}

void write_seeds(const std::string& dir) {
  const ChildSa& c = state().children.front();
  write_seed(dir + "/liveness", 0, {});
  wire::DeletePayload d;
  d.protocol = wire::ProtocolId::Esp;
  d.spis = {Bytes{0xc0, 0, 2, 0}};
  write_seed(dir + "/delete-child", 0, {d});
  wire::Proposal p = c.proposal;
  p.spi = Bytes{0xc0, 0, 3, 0};
  wire::NotifyPayload rekey;
  rekey.protocol = wire::ProtocolId::Esp;
  rekey.type = wire::NotifyType::RekeySa;
  rekey.spi = Bytes{0xc0, 0, 2, 0};
  write_seed(dir + "/rekey-child", 1,
             {rekey, wire::SaPayload{{p}}, wire::NoncePayload{Bytes(32, 0x77)},
              wire::TsIPayload{c.remote_ts}, wire::TsRPayload{c.local_ts}});
  std::fprintf(stderr, "sk_fuzz: 3 seeds in %s\n", dir.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_level(log::Level::Error);
  if (const char* dir = std::getenv("IPSEC_SK_FUZZ_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Discard sender;
  Fixed clock;
  kernel::MemoryKernel kernel;
  Engine engine(sender, kernel, clock);
  engine.add_connection(*connections().find("from-alice"));
  auto spi = engine.take_over(record().view());
  if (!spi) std::abort();
  const ByteView all(data, size);
  const ByteView sep(reinterpret_cast<const uint8_t*>("NEXT"), 4);
  size_t at = 0;
  for (int messages = 0; at <= all.size() && messages < 8; ++messages) {
    auto rest = all.subspan(at);
    auto it = std::search(rest.begin(), rest.end(), sep.begin(), sep.end());
    const size_t len = static_cast<size_t>(it - rest.begin());
    const IkeSa* sa = engine.find(*spi);
    if (sa == nullptr) break;  // deleted by one of the messages
    deliver(engine, *sa, rest.first(len));
    at += len + sep.size();
    clock.t += Millis(1000);
    engine.on_timer(clock.t);
  }
  return 0;
}
