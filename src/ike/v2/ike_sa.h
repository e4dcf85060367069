// SPDX-License-Identifier: Apache-2.0
// One IKE SA: its state, SPIs, negotiated algorithms, keys, message IDs, the
// request awaiting an answer (retransmission) and the last response (duplicate
// requests), and its first CHILD SA. Plain state: the exchange files operate on
// it through the functions below.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/kdf.h"
#include "crypto/key_exchange.h"
#include "crypto/random_source.h"
#include "crypto/sk_cipher.h"
#include "ike/config.h"
#include "ike/connections.h"
#include "ike/events.h"
#include "ike/io.h"
#include "ike/policy_refs.h"
#include "ike/v2/fragments.h"
#include "ike/v2/proposals.h"
#include "kernel/kernel.h"
#include "wire/message.h"

namespace ipsec::ike::v2 {

using ike::to_string;  // EventKind (ike/events.h) beside IkeState and ChildState

enum class IkeState {
  SaInitSent,   // initiator: IKE_SA_INIT request out
  SaInitDone,   // responder: IKE_SA_INIT answered, waiting for IKE_AUTH
  AuthSent,     // initiator: IKE_AUTH request out
  Established,  // both: authenticated
  Deleting,     // our INFORMATIONAL {D(IKE)} is out; its kernel state is already gone
  Closed,       // deleted (by us or the peer): the engine removes it from its table
  Failed,       // see IkeSa::failure; the engine removes it from its table
};
std::string_view to_string(IkeState s);  // "established", "failed", ...

enum class ChildState {
  None,       // being negotiated (IKE_AUTH or CREATE_CHILD_SA in flight)
  Installed,  // in the kernel, carrying traffic
  Rekeying,   // installed; our CREATE_CHILD_SA rekeying it is in flight
  Rekeyed,    // installed; replaced by a newer CHILD SA, its Delete under way
  Failed,
  Deleted,
};
std::string_view to_string(ChildState s);

struct ChildSa {
  // Its configuration: a child of the IKE SA's connection (kept alive by IkeSa::config).
  const ChildConfig* cfg = nullptr;
  ChildState state = ChildState::None;
  std::string failure;
  uint32_t spi_in = 0;   // allocated by us, host order
  uint32_t spi_out = 0;  // chosen by the peer
  wire::Proposal proposal;
  bool transport = false;
  std::vector<wire::TrafficSelector> local_ts, remote_ts;
  Millis installed{0};       // when it reached Installed
  uint32_t replaces = 0;     // our inbound SPI of the CHILD SA this one rekeyed; 0: new
  uint32_t replaced_by = 0;  // our inbound SPI of its successor, once rekeyed
  // Responder of a rekey (like strongSwan): the new outbound SA goes into the kernel only
  // when the initiator deletes the old CHILD SA, so that nothing is sent on it before
  // the initiator has the matching inbound SA.
  bool outbound_pending = false;
  // The limits programmed into the kernel, jitter applied; and when the time limits fall
  // due in engine time (0: none).
  kernel::Lifetime lifetime;
  Millis soft_at{0}, hard_at{0};
  // Inactivity: kernel byte counters (in + out) seen last, and since when unchanged.
  uint64_t last_bytes = 0;
  Millis last_active{0};
  uint64_t last_in_bytes = 0;  // DPD: inbound ESP is as good a sign of life as IKE

  // Engine internals.
  std::optional<kernel::SaParams> pending_out;  // outbound_pending: the SA to install
  // §2.8.1: the peer rekeyed this CHILD SA while our own rekey of it was in flight: the
  // nonces of its exchange, compared with ours when our response arrives.
  Bytes collision_ni, collision_nr;
  bool redundant = false;  // lost a rekey collision: we delete it, it replaces nothing
  // Its IKE SA was reauthenticated: a CHILD SA of the new IKE SA carries its traffic.
  bool carried_on = false;
  // Replaced by a rekey, redundant, or carried on: it goes without a ChildDown event.
  bool superseded() const { return replaced_by != 0 || redundant || carried_on; }
  // We answered the peer's rekey of a CHILD SA we were rekeying ourselves (§2.8.1): it is
  // reported (ChildRekeyed) only once the collision is decided in its favour.
  bool announce_later = false;
  // Its ESP SAs (one or both) vanished from the kernel behind our back (a flush, an admin's
  // `ip xfrm state delete`): a rekey replaces it; status no longer calls it installed.
  bool kernel_gone = false;
  // Continued from the previous ipsecd (handover.h): the reqid its kernel SAs carry.
  uint32_t kernel_reqid = 0;
};

// The requests an IKE SA can have in flight (window size 1, RFC 7296 §2.3).
enum class Request : uint8_t {
  SaInit,
  Auth,
  Liveness,
  DeleteChild,
  DeleteIke,
  CreateChild,
  RekeyChild,
  RekeyIke
};

// A request waiting for the window: what, and the CHILD SA it concerns (our inbound
// SPI: the one to delete or rekey).
struct QueuedRequest {
  Request kind = Request::Liveness;
  uint32_t child_spi = 0;
  const ChildConfig* child = nullptr;  // CreateChild: which of the connection's children
};

// A CREATE_CHILD_SA request of ours in flight (window 1: at most one).
struct PendingCreate {
  Request kind = Request::CreateChild;
  const ChildConfig* child = nullptr;  // CreateChild/RekeyChild: the child's config
  uint32_t old_spi = 0;                // RekeyChild: our inbound SPI of the CHILD SA being rekeyed
  uint32_t new_spi_in = 0;             // CreateChild/RekeyChild: the new CHILD SA's inbound SPI
  uint64_t new_ike_spi = 0;            // RekeyIke: our SPI of the new IKE SA
  Bytes nonce;
  crypto::KeGroup group = crypto::KeGroup::Curve25519;
  std::unique_ptr<crypto::KeyExchange> ke;  // PFS or IKE rekey
  unsigned ke_retries = 0;
};

struct IkeSa {
  std::shared_ptr<const ConnectionConfig> config;  // shared, immutable: never copied per SA
  bool initiator = false;
  Endpoint local, remote;
  uint64_t spi_i = 0, spi_r = 0;
  IkeState state = IkeState::SaInitSent;
  std::string failure;       // operator-readable, e.g. "authentication failed: peer's
                             // AUTH did not verify"
  std::string close_reason;  // why a healthy SA was closed: "deleted by peer"
  Millis created{0};         // half-open responder SAs expire from here

  wire::Proposal ike_proposal;  // the selected one
  IkeAlgorithms algs;
  crypto::KeGroup ke_group = crypto::KeGroup::Curve25519;  // of our KE payload
  unsigned ke_retries = 0;
  Bytes cookie;  // the responder's N(COOKIE) data, sent first in IKE_SA_INIT (§2.6)
  unsigned cookie_retries = 0;
  std::unique_ptr<crypto::KeyExchange> ke;  // dropped once g^ir is computed
  Bytes ni, nr;
  Bytes init_request, init_response;  // RealMessage1 / RealMessage2 (§2.15)
  crypto::IkeSaKeys keys;
  std::unique_ptr<crypto::SkCipher> out_cipher, in_cipher;

  uint32_t next_request_mid = 0;      // our next request (§2.2)
  uint32_t expected_request_mid = 0;  // the peer's next request
  // Sent, unanswered: retransmitted on the timer (every fragment, RFC 7383 §2.6.1).
  std::vector<Bytes> pending_request;
  bool awaiting_response = false;
  QueuedRequest in_flight{Request::SaInit, 0};  // what pending_request asks
  std::vector<QueuedRequest> queued;            // INFORMATIONAL requests waiting for the window
  unsigned retransmits = 0;
  Millis deadline{0};
  std::optional<uint32_t> cached_response_mid;
  std::vector<Bytes> cached_response;  // one datagram, or its fragments
  // RFC 7383: both sides announced IKEV2_FRAGMENTATION_SUPPORTED in IKE_SA_INIT (a rekeyed
  // IKE SA inherits it), so our large encrypted messages go out as SKF fragments; and the
  // peer's fragments of the message we expect, each verified before it is kept.
  bool fragmentation = false;
  Reassembly reassembly;

  // Every CHILD SA of this IKE SA: the first (IKE_AUTH), others from CREATE_CHILD_SA,
  // and during a rekey the old and the new one side by side.
  std::vector<ChildSa> children;
  ChildSa* child(uint32_t spi_in);  // by our inbound SPI; nullptr if none
  const ChildSa* child(uint32_t spi_in) const;

  // Lifetime (engine time; 0: none): when we rekey or reauthenticate, when it is closed.
  Millis established_at{0};
  Millis rekey_at{0}, expire_at{0};
  uint64_t replaces = 0;        // our SPI of the IKE SA this one rekeyed or reauthenticated
  Millis last_peer_message{0};  // DPD: anything from the peer that verified

  // Engine internals.
  // What became of it when a newer IKE SA took over; superseded ones emit no events of their
  // own and trigger no close action.
  enum class Succession : uint8_t {
    Current,          // carries its CHILD SAs
    Rekeyed,          // §2.18: rekeyed_to carries them now
    Reauthenticated,  // a new IKE_SA_INIT/IKE_AUTH replaced it (make-before-break)
    Redundant,        // the extra new IKE SA of a simultaneous rekey (§2.8.2)
    Abandoned,        // its peer is dead and it was only being finished
  } succession = Succession::Current;
  uint64_t rekeyed_to = 0;  // Rekeyed, Redundant: our SPI of the IKE SA that carries on
  bool superseded() const { return succession != Succession::Current; }
  bool reauth = false;  // replaces != 0 by a reauthentication (not a rekey)
  std::optional<PendingCreate> creating;
  std::optional<crypto::KeGroup> retry_group;  // INVALID_KE_PAYLOAD: the next request's group
  // Requests postponed after TEMPORARY_FAILURE (§2.25), sent again at `at`.
  struct Delayed {
    Millis at{0};
    QueuedRequest request;
  };
  std::vector<Delayed> delayed;
  Millis dpd_give_up{0};  // with DPD: the request in flight fails the peer at this time
  // ACQUIRE: the packet that asked for the first CHILD SA; its addresses go first in the
  // traffic selectors (§2.9).
  std::optional<kernel::Selector> trigger;
  // Initiator: the children to bring up; the first rides IKE_AUTH, the others follow in
  // CREATE_CHILD_SA once the IKE SA is established.
  std::vector<const ChildConfig*> want_children;
  // NAT traversal (§2.23), decided by the NAT_DETECTION_* notifies of IKE_SA_INIT.
  struct Nat {
    bool local = false;      // we are behind a NAT: we send keepalives
    bool remote = false;     // the peer is: its authenticated address and port are followed
    bool fake = false;       // ConnectionConfig::force_encap on either side, without a real NAT
    bool detection = false;  // the peer's IKE_SA_INIT carried both NAT_DETECTION_* kinds
    bool any() const { return local || remote || fake; }
  } nat;
  Millis next_keepalive{0};  // while nat.local and established
  // §2.4: initiator: we had no other IKE SA with this peer, so our IKE_AUTH
  // carries N(INITIAL_CONTACT); responder: the peer's did.
  bool initial_contact = false;

  // The peer's identity as authenticated in IKE_AUTH.
  Identity peer_id;
  // Certificate authentication (RFC 7427, RFC 7296 §3.6, §3.7): the hash algorithms the
  // peer announced in SIGNATURE_HASH_ALGORITHMS, whether it sent a CERTREQ (and the CA key
  // hashes it named), and the subject of its verified certificate.
  std::vector<uint16_t> peer_sig_hashes;
  bool peer_certreq = false;
  std::vector<Bytes> peer_certreq_cas;
  std::string peer_cert_subject;
  std::string peer_auth_text;  // for the log: "PSK", "certificate CN=... (ecdsa-sha256)"
  // IKE_AUTH: the peer's authentication waits for OCSP answers being fetched; the engine
  // keeps the message and processes it again when they come (Engine::resume).
  bool auth_waiting = false;

  uint64_t local_spi() const { return initiator ? spi_i : spi_r; }
};

// What an exchange may ask of the engine that runs it: one narrow interface instead of
// reaching into the engine. The engine applies what changes its table (adopted SAs,
// restarts) once the exchange has returned.
class EngineHooks {
 public:
  virtual ~EngineHooks() = default;
  // Every event; the engine forwards it to the operator's handler.
  virtual void emit(const IkeSa& sa, EngineEvent event) = 0;
  // §2.4: the peer that `fresh` has just authenticated sent N(INITIAL_CONTACT): its other
  // IKE SAs go (called before the CHILD SA is installed).
  virtual void initial_contact(const IkeSa& fresh) = 0;
  // A new IKE SA made by an exchange of another (IKE rekey) joins the table.
  virtual void adopt(std::unique_ptr<IkeSa> fresh) = 0;
  // Our next IKE SPI (random, in this engine's shard, not in use).
  virtual Result<uint64_t> new_ike_spi() = 0;
  // The peer is gone (DPD or retransmission timeout: `dead`; or it deleted the IKE SA):
  // the children's dpd_action / close_action, applied after the SA is closed.
  virtual void peer_gone(const ConnectionConfig& config, bool dead) = 0;
  // The peer of `dead` is gone: the other IKE SAs held with it only to finish go too.
  virtual void forget_peer(const IkeSa& dead) = 0;
  // reauth_time reached: a new IKE SA replaces `sa` once its CHILD SAs are up.
  virtual void reauth(IkeSa& sa) = 0;
};

// What every exchange handler works with.
struct Context {
  Sender& sender;
  kernel::Kernel& kernel;
  const Clock& clock;
  Counters& counters;
  RetransmitConfig retransmit;
  EngineLimits limits;
  NatConfig nat = {};
  // The engine's connections and credentials: IKE_AUTH picks the connection by identity
  // and its authenticator's key material here.
  const Connections* connections = nullptr;
  // Nonces, SPIs, key exchange private keys, jitter (tests inject a deterministic one).
  crypto::RandomSource* random = &crypto::system_random();
  // The engine that runs the exchanges (events, new IKE SAs, the peer's fate); exchanges
  // reach it only through this. Null in tests that run an exchange alone.
  EngineHooks* engine = nullptr;
  // The XFRM policies in use, counted (shared by the engines on one kernel).
  std::shared_ptr<PolicyRefs> policies = {};
};

Bytes spi_bytes(uint64_t spi);      // 8 bytes, network order
std::string spi_str(uint64_t spi);  // "0x0123456789abcdef"
// "IKE SA 0x...i/0x...r 192.0.2.2[500]" for log lines.
std::string label(const IkeSa& sa);

wire::Header make_header(const IkeSa& sa, wire::ExchangeType exchange, bool response,
                         uint32_t message_id);

// Sends a request (one datagram, or its fragments) and arms its retransmission; bumps
// next_request_mid.
void send_request(Context& ctx, IkeSa& sa, std::vector<Bytes> datagrams);
// Sends a response and keeps it for duplicates of the request (§2.1).
void send_response(Context& ctx, IkeSa& sa, uint32_t message_id, std::vector<Bytes> datagrams);
// Sends each datagram of a message to the peer, counting fragments.
void send_datagrams(Context& ctx, const IkeSa& sa, const std::vector<Bytes>& datagrams);
// Retransmits or gives up if the deadline has passed.
void on_retransmit_timer(Context& ctx, IkeSa& sa, Millis now);
// Marks the SA failed with an operator-readable reason and logs it.
void fail_sa(IkeSa& sa, std::string reason);

// Protects `payloads` in an SK payload (or SKF fragments when fragmentation was negotiated
// and the message would exceed the connection's fragment_size) and sends them as a
// request (armed for retransmission) or as the response to `message_id`.
Result<void> send_sk_request(Context& ctx, IkeSa& sa, wire::ExchangeType exchange,
                             const std::vector<wire::Payload>& payloads);
Result<void> send_sk_response(Context& ctx, IkeSa& sa, wire::ExchangeType exchange,
                              uint32_t message_id, const std::vector<wire::Payload>& payloads);

// g^ir and SKEYSEED from our key exchange and the peer's public value (drops our
// private key), then install_ike_keys.
Result<void> derive_ike_keys(IkeSa& sa, ByteView peer_public);
// The keys and SK ciphers of `sa` from SKEYSEED (IKE_SA_INIT and IKE SA rekey alike).
Result<void> install_ike_keys(IkeSa& sa, const SecretBytes& skeyseed);

}  // namespace ipsec::ike::v2
