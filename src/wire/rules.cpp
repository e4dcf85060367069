// SPDX-License-Identifier: Apache-2.0
// Per-exchange payload tables and the checker (RFC 7296 §1.2-§1.5, RFC 7383 for SKF).
#include "wire/rules.h"

#include <algorithm>
#include <array>
#include <string>

#include "wire/names.h"
#include "wire/payload_codec.h"

namespace ipsec::wire {
namespace {

using T = PayloadType;

// §1.2: HDR, SAi1, KEi, Ni  -->  <--  HDR, SAr1, KEr, Nr, [CERTREQ]
constexpr PayloadRule kSaInitRequest[] = {
    {T::Sa, 1, 1}, {T::Ke, 1, 1}, {T::Nonce, 1, 1}, {T::Notify, 0, kAny}, {T::VendorId, 0, kAny}};
constexpr PayloadRule kSaInitResponse[] = {{T::Sa, 1, 1},        {T::Ke, 1, 1},
                                           {T::Nonce, 1, 1},     {T::CertReq, 0, kAny},
                                           {T::Notify, 0, kAny}, {T::VendorId, 0, kAny}};

// §1.2, §2.16: SK {IDi, [CERT+], [CERTREQ+], [IDr], AUTH, [CP], SAi2, TSi, TSr}; IDi and
// AUTH are optional here because later EAP rounds (§2.16) carry only EAP or AUTH.
constexpr PayloadRule kAuthRequest[] = {
    {T::IdI, 0, 1},  {T::Cert, 0, kAny}, {T::CertReq, 0, kAny}, {T::IdR, 0, 1},
    {T::Auth, 0, 1}, {T::Eap, 0, 1},     {T::Cp, 0, 1},         {T::Sa, 0, 1},
    {T::TsI, 0, 1},  {T::TsR, 0, 1},     {T::Notify, 0, kAny},  {T::VendorId, 0, kAny}};
constexpr PayloadRule kAuthResponse[] = {
    {T::IdR, 0, 1},       {T::Cert, 0, kAny},    {T::Auth, 0, 1}, {T::Eap, 0, 1},
    {T::Cp, 0, 1},        {T::Sa, 0, 1},         {T::TsI, 0, 1},  {T::TsR, 0, 1},
    {T::Notify, 0, kAny}, {T::VendorId, 0, kAny}};
constexpr PayloadType kSaAndSelectors[] = {T::Sa, T::TsI, T::TsR};

// §1.3: SK {[N], SA, Ni, [KEi], [TSi, TSr]}; IKE SA rekey (§1.3.2) has no selectors.
constexpr PayloadRule kChildSa[] = {{T::Sa, 1, 1},         {T::Nonce, 1, 1}, {T::Ke, 0, 1},
                                    {T::TsI, 0, 1},        {T::TsR, 0, 1},   {T::Notify, 0, kAny},
                                    {T::VendorId, 0, kAny}};
constexpr PayloadType kSelectors[] = {T::TsI, T::TsR};

// §1.4: SK {[N,] [D,] [CP,] ...}
constexpr PayloadRule kInformational[] = {
    {T::Notify, 0, kAny}, {T::Delete, 0, kAny}, {T::Cp, 0, 1}, {T::VendorId, 0, kAny}};

constexpr std::array<ExchangeRules, 8> kRules{{
    {ExchangeType::IkeSaInit, false, false, kSaInitRequest, {}},
    {ExchangeType::IkeSaInit, true, false, kSaInitResponse, {}},
    {ExchangeType::IkeAuth, false, true, kAuthRequest, kSaAndSelectors},
    {ExchangeType::IkeAuth, true, true, kAuthResponse, kSaAndSelectors},
    {ExchangeType::CreateChildSa, false, true, kChildSa, kSelectors},
    {ExchangeType::CreateChildSa, true, true, kChildSa, kSelectors},
    {ExchangeType::Informational, false, true, kInformational, {}},
    {ExchangeType::Informational, true, true, kInformational, {}},
}};

std::string context(const Header& h) {
  return exchange_name(h.exchange) + (h.response ? " response" : " request");
}

size_t count_of(const std::vector<Payload>& payloads, PayloadType t) {
  return static_cast<size_t>(std::count_if(payloads.begin(), payloads.end(),
                                           [t](const Payload& p) { return payload_type(p) == t; }));
}

const PayloadRule* rule_for(std::span<const PayloadRule> rules, PayloadType t) {
  for (const auto& r : rules)
    if (r.type == t) return &r;
  return nullptr;
}

// A response that reports an error (or asks for a COOKIE) omits the usual payloads.
bool exempt_from_minimums(const Header& h, const std::vector<Payload>& payloads) {
  if (!h.response) return false;
  return std::any_of(payloads.begin(), payloads.end(), [](const Payload& p) {
    const auto* n = std::get_if<NotifyPayload>(&p);
    return n && (n->is_error() || n->type == NotifyType::Cookie);
  });
}

// Encrypted exchanges: the datagram holds one SK or SKF payload (RFC 7383 §2.5), and only
// unknown payloads besides.
Result<void> check_encrypted_outer(const std::string& ctx, const std::vector<Payload>& payloads) {
  size_t encrypted = 0;
  for (const auto& p : payloads) {
    const PayloadType t = payload_type(p);
    if (t == T::Sk || t == T::Skf)
      ++encrypted;
    else if (detail::is_known(t))
      return detail::syntax_error(ctx + ": " + payload_name(t) + " payload must be inside SK");
  }
  if (encrypted == 0) return detail::syntax_error(ctx + ": missing SK payload");
  if (encrypted > 1)
    return detail::syntax_error(ctx + ": " + std::to_string(encrypted) + " encrypted payloads");
  return ok();
}

std::string not_allowed(const std::string& ctx, const ExchangeRules& rules, Layer layer,
                        PayloadType t) {
  std::string why = " payload not allowed";
  if (rules.encrypted && layer == Layer::Inner && (t == T::Sk || t == T::Skf))
    why = " payload not allowed inside SK";
  return ctx + ": " + payload_name(t) + why;
}

Result<void> check_counts(const std::string& ctx, const ExchangeRules& rules, Layer layer,
                          const std::vector<Payload>& payloads, bool exempt) {
  for (const auto& p : payloads) {
    const PayloadType t = payload_type(p);
    if (detail::is_known(t) && !rule_for(rules.payloads, t))
      return detail::syntax_error(not_allowed(ctx, rules, layer, t));
  }
  for (const auto& r : rules.payloads) {
    const size_t n = count_of(payloads, r.type);
    if (n > r.max)
      return detail::syntax_error(ctx + ": " + std::to_string(n) + " " + payload_name(r.type) +
                                  " payloads, at most " + std::to_string(r.max) + " allowed");
    if (n < r.min && !exempt)
      return detail::syntax_error(ctx + ": missing " + payload_name(r.type) + " payload");
  }
  return ok();
}

Result<void> check_together(const std::string& ctx, const ExchangeRules& rules,
                            const std::vector<Payload>& payloads) {
  size_t present = 0;
  for (PayloadType t : rules.together) present += count_of(payloads, t) > 0 ? 1 : 0;
  if (present == 0 || present == rules.together.size()) return ok();
  std::string names;
  for (PayloadType t : rules.together) names += (names.empty() ? "" : ", ") + payload_name(t);
  for (PayloadType t : rules.together)
    if (count_of(payloads, t) == 0)
      return detail::syntax_error(ctx + ": " + names + " must appear together, " + payload_name(t) +
                                  " is missing");
  return ok();
}

}  // namespace

const ExchangeRules* find_rules(ExchangeType exchange, bool response) {
  for (const auto& r : kRules)
    if (r.exchange == exchange && r.response == response) return &r;
  return nullptr;
}

Result<void> check_rules(const Header& header, const std::vector<Payload>& payloads, Layer layer) {
  const std::string ctx = context(header);
  const ExchangeRules* rules = find_rules(header.exchange, header.response);
  if (!rules) return detail::syntax_error(ctx + ": unknown exchange type");
  if (layer == Layer::Outer && rules->encrypted) return check_encrypted_outer(ctx, payloads);
  if (layer == Layer::Inner && !rules->encrypted)
    return detail::syntax_error(ctx + ": has no encrypted payloads");
  auto counts = check_counts(ctx, *rules, layer, payloads, exempt_from_minimums(header, payloads));
  if (!counts) return counts;
  return check_together(ctx, *rules, payloads);
}

}  // namespace ipsec::wire
