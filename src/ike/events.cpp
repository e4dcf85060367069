// SPDX-License-Identifier: Apache-2.0
#include "ike/events.h"

namespace ipsec::ike {

std::string_view to_string(EventKind k) {
  switch (k) {
    case EventKind::IkeUp:
      return "ike-up";
    case EventKind::IkeRekeyed:
      return "ike-rekeyed";
    case EventKind::IkeDown:
      return "ike-down";
    case EventKind::ChildUp:
      return "child-up";
    case EventKind::ChildRekeyed:
      return "child-rekeyed";
    case EventKind::ChildDown:
      return "child-down";
    case EventKind::DpdFailed:
      return "dpd-failed";
    case EventKind::Acquire:
      return "acquire";
    case EventKind::Repair:
      return "repair";
  }
  return "?";
}

}  // namespace ipsec::ike
