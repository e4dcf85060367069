// SPDX-License-Identifier: Apache-2.0
// `list-certs`: every certificate the loaded connections use (ours and the CAs we trust),
// once each, with the connections that use it, its validity and days left, the CRLs (issuer,
// updates, entries) and each connection's OCSP policy.
#include <algorithm>
#include <ctime>
#include <map>

#include "crypto/cert_identity.h"
#include "daemon/daemon.h"

namespace ipsec::daemon {
namespace {

constexpr int64_t kWarnDays = 30;

std::string utc(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

struct Entry {
  crypto::Certificate cert;
  std::vector<std::string> roles, connections;
};

void add(std::map<Bytes, Entry>& all, const crypto::Certificate& c, const std::string& role,
         const std::string& connection) {
  auto [it, fresh] = all.try_emplace(c.der(), Entry{c, {}, {}});
  auto put = [](std::vector<std::string>& v, const std::string& s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
  };
  put(it->second.roles, role);
  put(it->second.connections, connection);
}

nlohmann::json describe(const Entry& e, std::time_t now) {
  const crypto::Certificate& c = e.cert;
  const crypto::PublicKey key = c.public_key();
  const int64_t days = (static_cast<int64_t>(c.not_after()) - now) / 86400;
  return {{"subject", c.subject_text()},
          {"issuer", crypto::dn_to_text(c.issuer())},
          {"subject_alt_names", crypto::subject_alt_names(c)},
          {"ca", c.is_ca()},
          {"key", std::string(crypto::key_type_name(key.type())) + " " +
                      std::to_string(key.bits()) + " bits"},
          {"not_before", utc(c.not_before())},
          {"not_after", utc(c.not_after())},
          {"days_left", days},
          {"expiring", days < kWarnDays},
          {"roles", e.roles},
          {"connections", e.connections}};
}

}  // namespace

control::Response Daemon::list_certs(const control::Request&, const Peer&) {
  std::map<Bytes, Entry> all;
  nlohmann::json crls = nlohmann::json::array();
  const std::time_t now = std::time(nullptr);
  for (const DaemonConnection& d : connections_) {
    const ike::ConnectionConfig& c = d.config;
    for (size_t i = 0; i < c.certs.size(); ++i)
      add(all, c.certs[i], i == 0 ? "local certificate" : "intermediate CA", c.name);
    for (const auto& ca : c.cacerts) add(all, ca, "trusted CA", c.name);
    if (c.remote_auth != ike::AuthMethod::Pubkey) continue;
    nlohmann::json list = nlohmann::json::array();
    for (const Bytes& der : c.crls)
      if (auto info = crypto::describe_crl(der))
        list.push_back({{"issuer", info->issuer},
                        {"last_update", utc(info->last_update)},
                        {"next_update", info->next_update ? utc(info->next_update) : ""},
                        {"stale", info->next_update != 0 && info->next_update < now},
                        {"revoked", info->revoked}});
    crls.push_back({{"connection", c.name},
                    {"count", c.crls.size()},
                    {"crls", list},
                    {"ocsp", std::string(crypto::ocsp_policy_name(c.ocsp))},
                    {"ocsp_uri", c.ocsp_uri}});
  }
  nlohmann::json certs = nlohmann::json::array();
  for (const auto& [der, e] : all) certs.push_back(describe(e, now));
  control::Response resp;
  resp.data = {{"certificates", certs}, {"crls", crls}};
  return resp;
}

}  // namespace ipsec::daemon
