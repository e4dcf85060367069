// SPDX-License-Identifier: Apache-2.0
// The record of an IKE SA handed from one ipsecd process to the next (handover.h). Format
// (version 1, big-endian, every length bounded by what follows):
//   u8 version, u64 SPIi, u64 SPIr, u16 flags, str connection,
//   str local address, u16 port, str remote address, u16 port,
//   u32 our next request MID, u32 the peer's next request MID,
//   u8 cached response?, u32 its MID, u16 count, {u32 length, datagram}...,
//   i64 created, established, rekey, expire, last peer message, next keepalive (ms),
//   blob Ni, blob Nr, 7 x blob SK_d SK_ai SK_ar SK_ei SK_er SK_pi SK_pr,
//   blob payloads (SA with the selected IKE proposal, IDi with the peer's identity),
//   str certificate subject, str authentication text, u16 count, u16 hash algorithm...,
//   u16 children, each: str name, u32 SPI in, u32 SPI out, u32 reqid, u8 transport,
//     i64 installed, soft, hard, last active, u64 last bytes, last inbound bytes,
//     8 x u64 kernel lifetime, blob payloads (SA, TSi local, TSr remote).
// str: u16 length + bytes; blob: u32 length + bytes.
#include "ike/v2/handover.h"

#include <algorithm>

#include "common/log.h"
#include "ike/child_kernel.h"
#include "ike/v2/engine.h"
#include "ike/v2/exchanges.h"
#include "ike/v2/proposals.h"
#include "wire/message.h"
#include "wire/reader.h"
#include "wire/writer.h"

namespace ipsec::ike::v2 {
namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kMaxDatagrams = 64;  // a cached response: one datagram or its fragments
constexpr size_t kMaxChildren = 4096;

enum Flag : uint16_t {
  kInitiator = 1 << 0,
  kFragmentation = 1 << 1,
  kInitialContact = 1 << 2,
  kNatLocal = 1 << 3,
  kNatRemote = 1 << 4,
  kNatFake = 1 << 5,
  kNatDetection = 1 << 6,
  kReauth = 1 << 7,
  kPeerCertreq = 1 << 8,
};

void put_str(wire::Writer& w, std::string_view s) {
  w.u16(static_cast<uint16_t>(std::min<size_t>(s.size(), 0xffff)));
  w.bytes(ByteView(reinterpret_cast<const uint8_t*>(s.data()), std::min<size_t>(s.size(), 0xffff)));
}
void put_blob(wire::Writer& w, ByteView b) {
  w.u32(static_cast<uint32_t>(b.size()));
  w.bytes(b);
}
void put_time(wire::Writer& w, Millis t) { w.u64(static_cast<uint64_t>(t.count())); }

std::string get_str(wire::Reader& r) {
  ByteView v = r.view(r.u16());
  return std::string(v.begin(), v.end());
}
ByteView get_blob(wire::Reader& r) { return r.view(r.u32()); }
Millis get_time(wire::Reader& r) { return Millis(static_cast<int64_t>(r.u64())); }

uint16_t flags_of(const IkeSa& sa) {
  uint16_t f = 0;
  auto set = [&](bool on, Flag bit) {
    if (on) f |= bit;
  };
  set(sa.initiator, kInitiator);
  set(sa.fragmentation, kFragmentation);
  set(sa.initial_contact, kInitialContact);
  set(sa.nat.local, kNatLocal);
  set(sa.nat.remote, kNatRemote);
  set(sa.nat.fake, kNatFake);
  set(sa.nat.detection, kNatDetection);
  set(sa.reauth, kReauth);
  set(sa.peer_certreq, kPeerCertreq);
  return f;
}

void apply_flags(IkeSa& sa, uint16_t f) {
  sa.initiator = f & kInitiator;
  sa.fragmentation = f & kFragmentation;
  sa.initial_contact = f & kInitialContact;
  sa.nat.local = f & kNatLocal;
  sa.nat.remote = f & kNatRemote;
  sa.nat.fake = f & kNatFake;
  sa.nat.detection = f & kNatDetection;
  sa.reauth = f & kReauth;
  sa.peer_certreq = f & kPeerCertreq;
}

void put_endpoint(wire::Writer& w, const Endpoint& e) {
  put_str(w, e.addr.str());
  w.u16(e.port);
}

Result<Endpoint> get_endpoint(wire::Reader& r, std::string_view which) {
  const std::string text = get_str(r);
  const uint16_t port = r.u16();
  auto addr = IpAddress::parse(text);
  if (!r.ok() || !addr) return fail(std::string(which) + " address: not an IP address");
  return Endpoint{*addr, port};
}

void put_keys(wire::Writer& w, const crypto::IkeSaKeys& k) {
  for (const SecretBytes* s : {&k.sk_d, &k.sk_ai, &k.sk_ar, &k.sk_ei, &k.sk_er, &k.sk_pi, &k.sk_pr})
    put_blob(w, s->view());
}

void get_keys(wire::Reader& r, crypto::IkeSaKeys& k) {
  for (SecretBytes* s : {&k.sk_d, &k.sk_ai, &k.sk_ar, &k.sk_ei, &k.sk_er, &k.sk_pi, &k.sk_pr})
    *s = SecretBytes(get_blob(r));
}

void put_child(wire::Writer& w, const ChildSa& c) {
  put_str(w, c.cfg->name);
  w.u32(c.spi_in);
  w.u32(c.spi_out);
  w.u32(c.cfg->reqid);  // the kernel's SAs carry it; the next process's config may not
  w.u8(c.transport ? 1 : 0);
  for (Millis t : {c.installed, c.soft_at, c.hard_at, c.last_active}) put_time(w, t);
  w.u64(c.last_bytes);
  w.u64(c.last_in_bytes);
  const kernel::Lifetime& l = c.lifetime;
  for (uint64_t v : {l.soft_bytes, l.hard_bytes, l.soft_packets, l.hard_packets,
                     l.soft_add_seconds, l.hard_add_seconds, l.soft_use_seconds,
                     l.hard_use_seconds})
    w.u64(v);
  put_blob(w, wire::encode_payloads({wire::SaPayload{{c.proposal}}, wire::TsIPayload{c.local_ts},
                                     wire::TsRPayload{c.remote_ts}}));
}

Result<ChildSa> get_child(wire::Reader& r, const ConnectionConfig& conn) {
  ChildSa c;
  const std::string name = get_str(r);
  c.cfg = conn.child(name);
  if (c.cfg == nullptr) return fail("CHILD SA \"" + name + "\": the connection has no such child now");
  c.spi_in = r.u32();
  c.spi_out = r.u32();
  c.kernel_reqid = r.u32();
  c.transport = r.u8() != 0;
  for (Millis* t : {&c.installed, &c.soft_at, &c.hard_at, &c.last_active}) *t = get_time(r);
  c.last_bytes = r.u64();
  c.last_in_bytes = r.u64();
  kernel::Lifetime& l = c.lifetime;
  for (uint64_t* v : {&l.soft_bytes, &l.hard_bytes, &l.soft_packets, &l.hard_packets,
                      &l.soft_add_seconds, &l.hard_add_seconds, &l.soft_use_seconds,
                      &l.hard_use_seconds})
    *v = r.u64();
  const ByteView body = get_blob(r);
  if (!r.ok()) return fail("CHILD SA \"" + name + "\": truncated");
  auto p = wire::parse_payloads(wire::PayloadType::Sa, body);
  if (!p || p->size() != 3) return fail("CHILD SA \"" + name + "\": malformed proposal or selectors");
  const auto* sa = std::get_if<wire::SaPayload>(&(*p)[0]);
  const auto* tsi = std::get_if<wire::TsIPayload>(&(*p)[1]);
  const auto* tsr = std::get_if<wire::TsRPayload>(&(*p)[2]);
  if (!sa || sa->proposals.size() != 1 || !tsi || !tsr || !esp_algorithms(sa->proposals[0]))
    return fail("CHILD SA \"" + name + "\": malformed or unsupported proposal or selectors");
  c.proposal = sa->proposals[0];
  c.local_ts = tsi->selectors;
  c.remote_ts = tsr->selectors;
  c.state = ChildState::Installed;
  return c;
}

void put_cached_response(wire::Writer& w, const IkeSa& sa) {
  w.u8(sa.cached_response_mid ? 1 : 0);
  w.u32(sa.cached_response_mid.value_or(0));
  w.u16(static_cast<uint16_t>(sa.cached_response.size()));
  for (const Bytes& d : sa.cached_response) put_blob(w, d);
}

Result<void> get_cached_response(wire::Reader& r, IkeSa& sa) {
  const bool has = r.u8() != 0;
  const uint32_t mid = r.u32();
  const size_t n = r.u16();
  if (n > kMaxDatagrams) return fail("cached response: " + std::to_string(n) + " datagrams");
  for (size_t i = 0; i < n && r.ok(); ++i) {
    ByteView d = get_blob(r);
    sa.cached_response.emplace_back(d.begin(), d.end());
  }
  if (has) sa.cached_response_mid = mid;
  return ok();
}

// The peer's part: its identity, certificate subject, how it authenticated.
void put_peer(wire::Writer& w, const IkeSa& sa) {
  put_blob(w, wire::encode_payloads({wire::SaPayload{{sa.ike_proposal}},
                                     wire::IdIPayload{sa.peer_id.type, sa.peer_id.data}}));
  put_str(w, sa.peer_cert_subject);
  put_str(w, sa.peer_auth_text);
  w.u16(static_cast<uint16_t>(sa.peer_sig_hashes.size()));
  for (uint16_t h : sa.peer_sig_hashes) w.u16(h);
}

Result<void> get_peer(wire::Reader& r, IkeSa& sa) {
  const ByteView body = get_blob(r);
  sa.peer_cert_subject = get_str(r);
  sa.peer_auth_text = get_str(r);
  const size_t n = r.u16();
  for (size_t i = 0; i < n && r.ok(); ++i) sa.peer_sig_hashes.push_back(r.u16());
  if (!r.ok()) return fail("truncated");
  auto p = wire::parse_payloads(wire::PayloadType::Sa, body);
  const auto* prop = p && p->size() == 2 ? std::get_if<wire::SaPayload>(&(*p)[0]) : nullptr;
  const auto* id = p && p->size() == 2 ? std::get_if<wire::IdIPayload>(&(*p)[1]) : nullptr;
  if (!prop || prop->proposals.size() != 1 || !id)
    return fail("malformed IKE proposal or peer identity");
  auto algs = ike_algorithms(prop->proposals[0]);
  if (!algs) return fail("IKE proposal: " + algs.error().message);
  sa.ike_proposal = prop->proposals[0];
  sa.algs = *algs;
  sa.peer_id = Identity{id->id_type, id->data};
  return ok();
}

Result<void> make_ciphers(IkeSa& sa) {
  const auto& k = sa.keys;
  auto out = crypto::make_sk_cipher(sa.algs.sk, sa.initiator ? k.sk_ei : k.sk_er,
                                    sa.initiator ? k.sk_ai : k.sk_ar);
  auto in = crypto::make_sk_cipher(sa.algs.sk, sa.initiator ? k.sk_er : k.sk_ei,
                                   sa.initiator ? k.sk_ar : k.sk_ai);
  if (!out || !in) return fail("SK keys: " + (!out ? out.error() : in.error()).message);
  sa.out_cipher = std::move(*out);
  sa.in_cipher = std::move(*in);
  return ok();
}

// Everything before the keys: identity of the SA, its endpoints, message IDs, timers.
Result<void> get_head(wire::Reader& r, IkeSa& sa, const Connections& connections) {
  sa.spi_i = r.u64();
  sa.spi_r = r.u64();
  apply_flags(sa, r.u16());
  const std::string name = get_str(r);
  if (!r.ok()) return fail("truncated");
  sa.config = connections.find(name);
  if (!sa.config) return fail("connection \"" + name + "\" is not loaded now");
  auto local = get_endpoint(r, "local");
  if (!local) return fail(local.error());
  auto remote = get_endpoint(r, "remote");
  if (!remote) return fail(remote.error());
  sa.local = *local;
  sa.remote = *remote;
  sa.next_request_mid = r.u32();
  sa.expected_request_mid = r.u32();
  if (auto c = get_cached_response(r, sa); !c) return c;
  for (Millis* t : {&sa.created, &sa.established_at, &sa.rekey_at, &sa.expire_at,
                    &sa.last_peer_message, &sa.next_keepalive})
    *t = get_time(r);
  ByteView ni = get_blob(r), nr = get_blob(r);
  sa.ni.assign(ni.begin(), ni.end());
  sa.nr.assign(nr.begin(), nr.end());
  return r.ok() ? ok() : fail("truncated");
}

Result<void> get_children(wire::Reader& r, IkeSa& sa) {
  const size_t n = r.u16();
  if (n > kMaxChildren) return fail(std::to_string(n) + " CHILD SAs");
  for (size_t i = 0; i < n && r.ok(); ++i) {
    auto c = get_child(r, *sa.config);
    if (!c) return fail(c.error());
    sa.children.push_back(std::move(*c));
  }
  if (!r.ok()) return fail("truncated");
  if (!r.empty()) return fail(std::to_string(r.remaining()) + " bytes after the last CHILD SA");
  return ok();
}

}  // namespace

bool can_hand_over(const IkeSa& sa) {
  if (sa.state != IkeState::Established || sa.superseded() || sa.awaiting_response ||
      sa.creating || sa.auth_waiting || !sa.queued.empty() || !sa.delayed.empty() ||
      !sa.out_cipher || !sa.in_cipher)
    return false;
  return std::all_of(sa.children.begin(), sa.children.end(), [](const ChildSa& c) {
    const bool whole = c.state == ChildState::Installed && !c.outbound_pending &&
                       c.replaced_by == 0 && !c.redundant && c.cfg != nullptr;
    return whole || c.state == ChildState::Failed || c.state == ChildState::Deleted;
  });
}

SecretBytes export_ike_sa(const IkeSa& sa) {
  Bytes out;
  // Reserved up front so that no copy of the keys is left behind by a reallocation.
  size_t size = 4096 + sa.ni.size() + sa.nr.size() + 2048 * sa.children.size();
  for (const Bytes& d : sa.cached_response) size += d.size() + 4;
  out.reserve(size);
  wire::Writer w(out);
  w.u8(kVersion);
  w.u64(sa.spi_i);
  w.u64(sa.spi_r);
  w.u16(flags_of(sa));
  put_str(w, sa.config->name);
  put_endpoint(w, sa.local);
  put_endpoint(w, sa.remote);
  w.u32(sa.next_request_mid);
  w.u32(sa.expected_request_mid);
  put_cached_response(w, sa);
  for (Millis t : {sa.created, sa.established_at, sa.rekey_at, sa.expire_at,
                   sa.last_peer_message, sa.next_keepalive})
    put_time(w, t);
  put_blob(w, sa.ni);
  put_blob(w, sa.nr);
  put_keys(w, sa.keys);
  put_peer(w, sa);
  const auto installed = std::count_if(sa.children.begin(), sa.children.end(),
                                       [](const ChildSa& c) { return c.state == ChildState::Installed; });
  w.u16(static_cast<uint16_t>(installed));
  for (const ChildSa& c : sa.children)
    if (c.state == ChildState::Installed) put_child(w, c);
  return SecretBytes(std::move(out));  // wipes `out`
}

Result<std::unique_ptr<IkeSa>> import_ike_sa(ByteView record, const Connections& connections) {
  wire::Reader r(record);
  if (const uint8_t v = r.u8(); !r.ok() || v != kVersion)
    return fail("record version " + std::to_string(v) + " (this ipsecd reads version " +
                std::to_string(kVersion) + ")");
  auto sa = std::make_unique<IkeSa>();
  if (auto h = get_head(r, *sa, connections); !h) return fail(h.error());
  get_keys(r, sa->keys);
  if (auto p = get_peer(r, *sa); !p) return fail(p.error());
  if (auto c = get_children(r, *sa); !c) return fail(c.error());
  if (sa->spi_i == 0 || sa->spi_r == 0) return fail("an SPI is zero");
  if (auto c = make_ciphers(*sa); !c) return fail(c.error());
  sa->state = IkeState::Established;
  sa->in_flight = QueuedRequest{Request::Liveness, 0};
  return sa;
}

// --- The engine's side.

size_t Engine::busy() const {
  size_t n = 0;
  for (const auto& [spi, sa] : sas_) {
    const bool ours_underway = sa->initiator && !sa->superseded() &&
                               (sa->state == IkeState::SaInitSent || sa->state == IkeState::AuthSent);
    const bool established = sa->state == IkeState::Established;
    if (ours_underway || (established && sa->superseded()) || (established && !can_hand_over(*sa)))
      ++n;
  }
  return n;
}

std::vector<HandoverRecord> Engine::hand_over() {
  std::vector<HandoverRecord> records;
  for (auto it = sas_.begin(); it != sas_.end();) {
    IkeSa& sa = *it->second;
    if (!can_hand_over(sa)) {
      ++it;
      continue;
    }
    records.push_back(HandoverRecord{sa.local_spi(), export_ike_sa(sa)});
    const auto children = std::count_if(sa.children.begin(), sa.children.end(), [](const ChildSa& c) {
      return c.state == ChildState::Installed;
    });
    log::info(label(sa) + ": handed over to the next ipsecd with " + std::to_string(children) +
              " CHILD SA(s), left in the kernel");
    sas_.erase(it++);
  }
  std::erase_if(parked_, [&](const Parked& p) { return sas_.count(p.spi) == 0; });
  return records;
}

Result<uint64_t> Engine::take_over(ByteView record) {
  auto sa = import_ike_sa(record, connections_);
  if (!sa) return fail(sa.error());
  IkeSa& s = **sa;
  const uint64_t spi = s.local_spi();
  if (sas_.count(spi) != 0) return fail("IKE SPI " + spi_str(spi) + " is in use here");
  std::vector<std::vector<kernel::PolicyParams>> taken;
  for (const ChildSa& c : s.children) {
    auto pols = child_policies(s, c);
    auto r = pols ? ctx_.policies->acquire(ctx_.kernel, *pols) : Result<void>(fail(pols.error()));
    if (!r) {
      for (const auto& p : taken) ctx_.policies->release(ctx_.kernel, p);
      return fail("CHILD SA " + std::string(child_name(c)) + ": its policies: " + r.error().message);
    }
    taken.push_back(std::move(*pols));
  }
  log::info(label(s) + ": continued from the previous ipsecd (same SPIs, keys and message IDs), " +
            std::to_string(s.children.size()) + " CHILD SA(s)");
  // A child whose reqid changed (reqids given out anew from the files): its kernel SAs
  // carry the old one, its policies now the new one; a rekey installs SAs that match.
  for (const ChildSa& c : s.children)
    if (c.kernel_reqid != c.cfg->reqid) {
      log::warn(label(s) + ": CHILD SA " + std::string(child_name(c)) + " " + esp_spi_str(c.spi_in) +
                ": its reqid is " + std::to_string(c.cfg->reqid) + " now, " +
                std::to_string(c.kernel_reqid) + " in the kernel: rekeying");
      enqueue(ctx_, s, {Request::RekeyChild, c.spi_in});
    }
  sas_.add(spi, std::move(*sa));
  reap();
  return spi;
}

}  // namespace ipsec::ike::v2
