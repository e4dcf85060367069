// SPDX-License-Identifier: Apache-2.0
// Service manager notifications (sd_notify(3)) for `Type=notify` units: READY, RELOADING,
// STOPPING and STATUS. Every call is a no-op when NOTIFY_SOCKET is unset, i.e. when
// ipsecd is not started by systemd (or by something speaking its protocol).
#pragma once

#include <string>
#include <string_view>

namespace ipsec::daemon::notify {

// True when NOTIFY_SOCKET is set: the calls below send something.
bool enabled();

// READY=1 with STATUS=status: the sockets, the kernel and the control socket are up.
// Also ends a reload begun by reloading() (send it on success and on failure).
void ready(std::string_view status);

// RELOADING=1 (with MONOTONIC_USEC=, which systemd 253's Type=notify-reload wants) and
// STATUS=status. Follow it with ready() when the reload is over, whatever its outcome.
void reloading(std::string_view status);

// STOPPING=1 with STATUS=status: shutdown has begun (Deletes sent, SAs being removed).
void stopping(std::string_view status);

// STATUS=status alone (e.g. "2 IKE SAs established").
void status(std::string_view status);

// The datagram for the state and status above, as sent; exposed for tests. Newlines in
// `status` become spaces (one notification line per field).
std::string message(std::string_view state, std::string_view status);

}  // namespace ipsec::daemon::notify
