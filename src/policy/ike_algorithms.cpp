// SPDX-License-Identifier: Apache-2.0
// IKEv2/ESP proposal keywords: the table and the parser of '-'-separated proposals.
#include "policy/ike_algorithms.h"

#include <algorithm>
#include <array>

namespace ipsec::policy {

namespace {

constexpr uint8_t E = kTransformEncr, P = kTransformPrf, I = kTransformInteg, G = kTransformGroup,
                  S = kTransformEsn;

// IANA "IKEv2 Parameters": Transform Type 1 (ENCR), 2 (PRF), 3 (INTEG), 4 (DH), 5 (ESN).
// name, type, id, key bits, aead, insecure, legacy, derived PRF
// clang-format off
constexpr AlgorithmKeyword kKeywords[] = {
    {"aes128", E, 12, 128, false, false, false, 0},
    {"aes192", E, 12, 192, false, false, false, 0},
    {"aes256", E, 12, 256, false, false, false, 0},
    {"aes128ctr", E, 13, 128, false, false, false, 0},
    {"aes192ctr", E, 13, 192, false, false, false, 0},
    {"aes256ctr", E, 13, 256, false, false, false, 0},
    {"aes128gcm8", E, 18, 128, true, false, false, 0},
    {"aes192gcm8", E, 18, 192, true, false, false, 0},
    {"aes256gcm8", E, 18, 256, true, false, false, 0},
    {"aes128gcm12", E, 19, 128, true, false, false, 0},
    {"aes192gcm12", E, 19, 192, true, false, false, 0},
    {"aes256gcm12", E, 19, 256, true, false, false, 0},
    {"aes128gcm16", E, 20, 128, true, false, false, 0},
    {"aes192gcm16", E, 20, 192, true, false, false, 0},
    {"aes256gcm16", E, 20, 256, true, false, false, 0},
    {"chacha20poly1305", E, 28, 0, true, false, false, 0},  // RFC 7634
    {"sha1", I, 2, 0, false, false, true, 2},
    {"sha256", I, 12, 0, false, false, false, 5},
    {"sha384", I, 13, 0, false, false, false, 6},
    {"sha512", I, 14, 0, false, false, false, 7},
    {"prfsha1", P, 2, 0, false, false, true, 0},
    {"prfsha256", P, 5, 0, false, false, false, 0},
    {"prfsha384", P, 6, 0, false, false, false, 0},
    {"prfsha512", P, 7, 0, false, false, false, 0},
    {"modp768", G, 1, 0, false, true, false, 0},
    {"modp1024", G, 2, 0, false, true, false, 0},
    {"modp2048", G, 14, 0, false, false, false, 0},
    {"modp3072", G, 15, 0, false, false, false, 0},
    {"modp4096", G, 16, 0, false, false, false, 0},
    {"ecp256", G, 19, 0, false, false, false, 0},
    {"ecp384", G, 20, 0, false, false, false, 0},
    {"ecp521", G, 21, 0, false, false, false, 0},
    {"x25519", G, 31, 0, false, false, false, 0},  // RFC 8031
    {"curve25519", G, 31, 0, false, false, false, 0},
    {"x448", G, 32, 0, false, false, false, 0},
    {"curve448", G, 32, 0, false, false, false, 0},
    {"esn", S, 1, 0, false, false, false, 0},
    {"noesn", S, 0, 0, false, false, false, 0},
};
// clang-format on

std::string q(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool allowed_in(const AlgorithmKeyword& k, ProposalKind kind) {
  return kind == ProposalKind::Ike ? k.type != S : k.type != P;
}

// "encryption (aes128, ...), integrity (sha1, ...), ..." for the kind.
std::string accepted(ProposalKind kind) {
  constexpr std::array<std::pair<uint8_t, std::string_view>, 5> kTypes{
      {{E, "encryption"}, {I, "integrity"}, {P, "PRF"}, {G, "groups"}, {S, "ESN"}}};
  std::string out;
  for (const auto& [type, label] : kTypes) {
    std::string names;
    for (const auto& k : kKeywords)
      if (k.type == type && allowed_in(k, kind))
        names += (names.empty() ? "" : ", ") + std::string(k.name);
    if (!names.empty()) out += (out.empty() ? "" : "; ") + std::string(label) + " " + names;
  }
  return out;
}

std::string kind_name(ProposalKind kind) { return kind == ProposalKind::Ike ? "IKE" : "ESP"; }

// Splits at '-' and looks every keyword up, refusing what this kind of proposal cannot hold.
Result<std::vector<const AlgorithmKeyword*>> keywords_of(std::string_view text, ProposalKind kind,
                                                         bool allow_insecure,
                                                         std::vector<std::string>& warnings) {
  std::vector<const AlgorithmKeyword*> out;
  size_t start = 0;
  for (;;) {
    size_t dash = std::min(text.find('-', start), text.size());
    std::string_view word = text.substr(start, dash - start);
    if (word.empty()) return fail(q(text) + ": empty keyword (two '-' in a row, or at an end)");
    const AlgorithmKeyword* k = find_algorithm(word);
    if (k == nullptr || !allowed_in(*k, kind))
      return fail(q(word) + " in " + q(text) + " is not a keyword of " + kind_name(kind) +
                  " proposals; accepted: " + accepted(kind));
    if (k->insecure && !allow_insecure)
      return fail(q(word) + " in " + q(text) +
                  " is insecure; set \"allow_insecure\": true on the connection to accept it");
    if (k->insecure) warnings.push_back(q(text) + ": insecure " + std::string(word) + " accepted");
    if (k->legacy)
      warnings.push_back(q(text) + ": " + std::string(word) +
                         " is legacy; prefer a SHA-2 algorithm");
    for (const auto* seen : out)
      if (seen->type == k->type && seen->id == k->id && seen->key_bits == k->key_bits)
        return fail(q(word) + " in " + q(text) + " repeats " + q(seen->name));
    out.push_back(k);
    if (dash == text.size()) return out;
    start = dash + 1;
  }
}

void add_unique(std::vector<uint16_t>& list, uint16_t id) {
  if (std::find(list.begin(), list.end(), id) == list.end()) list.push_back(id);
}

Proposal assemble(std::string_view text, const std::vector<const AlgorithmKeyword*>& words) {
  Proposal p;
  p.text = std::string(text);
  for (const auto* k : words) {
    if (k->type == E) p.encryption.push_back({k->id, k->key_bits});
    if (k->type == P) p.prf.push_back(k->id);
    if (k->type == I) p.integrity.push_back(k->id);
    if (k->type == G) p.groups.push_back(k->id);
    if (k->type == S) p.esn.push_back(k->id);
  }
  return p;
}

const AlgorithmKeyword* first_of(const std::vector<const AlgorithmKeyword*>& words,
                                 bool (*pred)(const AlgorithmKeyword&)) {
  for (const auto* k : words)
    if (pred(*k)) return k;
  return nullptr;
}

// The rules between keywords (strongSwan's proposal checks).
Result<void> check_rules(std::string_view text, ProposalKind kind,
                         const std::vector<const AlgorithmKeyword*>& words) {
  const auto* aead =
      first_of(words, [](const AlgorithmKeyword& k) { return k.type == E && k.aead; });
  const auto* plain =
      first_of(words, [](const AlgorithmKeyword& k) { return k.type == E && !k.aead; });
  const auto* integ = first_of(words, [](const AlgorithmKeyword& k) { return k.type == I; });
  const auto* prf = first_of(words, [](const AlgorithmKeyword& k) { return k.type == P; });
  const auto* group = first_of(words, [](const AlgorithmKeyword& k) { return k.type == G; });
  std::string t = q(text) + ": ";
  if (aead == nullptr && plain == nullptr) return fail(t + "no encryption algorithm");
  if (aead != nullptr && plain != nullptr)
    return fail(t + "mixes AEAD " + q(aead->name) + " and non-AEAD " + q(plain->name) +
                " encryption; use two proposals");
  if (aead != nullptr && integ != nullptr)
    return fail(t + "AEAD " + q(aead->name) + " takes no integrity algorithm, got " +
                q(integ->name));
  if (plain != nullptr && integ == nullptr)
    return fail(t + q(plain->name) +
                " needs an integrity algorithm (sha256, sha384, sha512, sha1)");
  if (kind == ProposalKind::Ike && group == nullptr)
    return fail(t + "an IKE proposal needs a key exchange group (x25519, ecp256, modp2048, ...)");
  if (kind == ProposalKind::Ike && aead != nullptr && prf == nullptr)
    return fail(t + "an AEAD IKE proposal needs a PRF (prfsha256, prfsha384, prfsha512)");
  return ok();
}

}  // namespace

std::span<const AlgorithmKeyword> algorithm_keywords() { return kKeywords; }

const AlgorithmKeyword* find_algorithm(std::string_view name) {
  for (const auto& k : kKeywords)
    if (k.name == name) return &k;
  return nullptr;
}

Result<Proposal> parse_proposal(std::string_view text, ProposalKind kind, bool allow_insecure,
                                std::vector<std::string>& warnings) {
  std::vector<std::string> found;
  auto words = keywords_of(text, kind, allow_insecure, found);
  if (!words) return fail(words.error());
  if (auto rules = check_rules(text, kind, *words); !rules) return fail(rules.error());
  Proposal p = assemble(text, *words);
  // strongSwan: an IKE proposal without a PRF gets the PRF of each integrity algorithm.
  if (kind == ProposalKind::Ike && p.prf.empty())
    for (const auto* k : *words)
      if (k->type == I) add_unique(p.prf, k->prf);
  if (kind == ProposalKind::Esp && p.esn.empty()) p.esn.push_back(0);
  for (auto& w : found) warnings.push_back(std::move(w));
  return p;
}

}  // namespace ipsec::policy
