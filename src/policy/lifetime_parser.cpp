// SPDX-License-Identifier: Apache-2.0
// Lifecycle settings of connections and children (swanctl's rekey_time, life_time, rand_time,
// dpd_delay, ...): parsed, defaults derived as swanctl derives them, and the rules between
// them checked, each problem reported at its JSON path.
#include <algorithm>
#include <limits>

#include "policy/parser.h"

namespace ipsec::policy::detail {

namespace {

using std::chrono::seconds;

std::string secs(seconds s) { return std::to_string(s.count()); }

// x * 1.1 rounded up (swanctl's default hard limit), nullopt when it does not fit.
std::optional<uint64_t> plus_ten_percent(uint64_t x) {
  uint64_t extra = x / 10 + (x % 10 != 0 ? 1 : 0);
  if (x > std::numeric_limits<uint64_t>::max() - extra) return std::nullopt;
  return x + extra;
}

seconds plus_ten_percent(seconds x) {
  return seconds(static_cast<seconds::rep>(*plus_ten_percent(static_cast<uint64_t>(x.count()))));
}

// One soft/hard pair of byte or packet counts: life defaults to rekey * 1.1 when only rekey
// is given, and must exceed rekey when both are non-zero.
void parse_count_pair(Reader& r, const Json& j, const std::string& path, const char* rekey_name,
                      const char* life_name, uint64_t& rekey, uint64_t& life) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  auto soft = r.opt_integer(j, path, rekey_name, 0, kMax);
  auto hard = r.opt_integer(j, path, life_name, 0, kMax);
  rekey = soft.value_or(0);
  if (hard) {
    life = *hard;
    if (life != 0 && rekey != 0 && life <= rekey)
      r.error(join(path, life_name), "must be greater than " + std::string(rekey_name) + " (" +
                                         std::to_string(rekey) + ")");
    return;
  }
  if (Reader::field(j, life_name) != nullptr) return;  // given but wrong: reported
  auto derived = plus_ten_percent(rekey);
  if (!derived)
    r.error(join(path, rekey_name), "too large to derive " + std::string(life_name) + " (" +
                                        rekey_name + " * 1.1); give " + life_name);
  life = derived.value_or(0);
}

void parse_child_times(Reader& r, const Json& j, const std::string& path, ChildLifetime& l) {
  auto rekey = r.opt_duration(j, path, "rekey_time");
  auto life = r.opt_duration(j, path, "life_time");
  auto rand = r.opt_duration(j, path, "rand_time");
  l.rekey_time = rekey.value_or(seconds(3600));
  l.life_time = life.value_or(plus_ten_percent(l.rekey_time));
  if (life && l.life_time.count() != 0 && l.rekey_time.count() != 0 && l.life_time <= l.rekey_time)
    r.error(join(path, "life_time"),
            "must be greater than rekey_time (" + secs(l.rekey_time) + ")");
  if (rand) {
    l.rand_time = *rand;
    if (l.rand_time > l.rekey_time)
      r.error(join(path, "rand_time"),
              "must not be greater than rekey_time (" + secs(l.rekey_time) + ")");
  } else if (l.rekey_time.count() != 0 && l.life_time > l.rekey_time) {
    // swanctl: life_time - rekey_time; here also at most rekey_time.
    l.rand_time = std::min(l.life_time - l.rekey_time, l.rekey_time);
  } else {
    l.rand_time = seconds(0);
  }
}

std::optional<PeerGoneAction> peer_gone_action(Reader& r, const Json& j, const std::string& path,
                                               const char* name, const char* none_name) {
  const Json* f = Reader::field(j, name);
  if (f == nullptr) return PeerGoneAction::None;
  return r.keyword<PeerGoneAction>(*f, join(path, name),
                                   {{none_name, PeerGoneAction::None},
                                    {"restart", PeerGoneAction::Restart},
                                    {"trap", PeerGoneAction::Trap}});
}

}  // namespace

void parse_child_lifecycle(Reader& r, const Json& j, const std::string& path, Child& ch) {
  parse_child_times(r, j, path, ch.lifetime);
  parse_count_pair(r, j, path, "rekey_bytes", "life_bytes", ch.lifetime.rekey_bytes,
                   ch.lifetime.life_bytes);
  parse_count_pair(r, j, path, "rekey_packets", "life_packets", ch.lifetime.rekey_packets,
                   ch.lifetime.life_packets);
  ch.dpd_action = peer_gone_action(r, j, path, "dpd_action", "clear").value_or(ch.dpd_action);
  ch.close_action = peer_gone_action(r, j, path, "close_action", "none").value_or(ch.close_action);
  ch.inactivity = r.opt_duration(j, path, "inactivity").value_or(seconds(0));
}

void parse_ike_lifecycle(Reader& r, const Json& j, const std::string& path, Connection& c) {
  IkeLifetime& l = c.lifetime;
  auto rekey = r.opt_duration(j, path, "rekey_time");
  auto reauth = r.opt_duration(j, path, "reauth_time");
  auto over = r.opt_duration(j, path, "over_time");
  auto rand = r.opt_duration(j, path, "rand_time");
  l.reauth_time = reauth.value_or(seconds(0));
  // Reauthentication replaces rekeying: a reauth_time alone turns the default rekey off.
  l.rekey_time = rekey.value_or(seconds(l.reauth_time.count() != 0 ? 0 : 14400));
  if (l.rekey_time.count() != 0 && l.reauth_time.count() != 0)
    r.error(join(path, "reauth_time"),
            "cannot be combined with rekey_time (" + secs(l.rekey_time) +
                "): reauthentication replaces rekeying; set rekey_time to 0 or leave it out");
  const seconds due = std::max(l.rekey_time, l.reauth_time);
  l.over_time = over.value_or(seconds((due.count() + 9) / 10));  // 10 %, rounded up
  if (rand) {
    l.rand_time = *rand;
    if (due.count() != 0 && l.rand_time >= due)
      r.error(join(path, "rand_time"),
              "must be less than " +
                  std::string(l.reauth_time.count() != 0 ? "reauth_time" : "rekey_time") + " (" +
                  secs(due) + ")");
  } else {
    // swanctl: over_time; here also below the time it jitters.
    l.rand_time = due.count() != 0 ? std::min(l.over_time, due - seconds(1)) : l.over_time;
  }
  c.dpd_delay = r.opt_duration(j, path, "dpd_delay").value_or(seconds(0));
  auto timeout = r.opt_duration(j, path, "dpd_timeout");
  c.dpd_timeout = timeout.value_or(seconds(30));
  if (timeout && c.dpd_timeout.count() == 0 && c.dpd_delay.count() != 0)
    r.error(join(path, "dpd_timeout"),
            "must be greater than 0 when dpd_delay is set (" + secs(c.dpd_delay) + ")");
}

}  // namespace ipsec::policy::detail
