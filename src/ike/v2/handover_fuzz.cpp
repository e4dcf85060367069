// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the IKE SA records of a restart that keeps the tunnels (handover.h):
// the next ipsecd reads them from its state file, so a damaged file must be refused, never
// crash, leak or hit UB. A record that is accepted must come back the same: export of the
// imported SA, imported again, gives the same record (every field read is a field written).
// IPSEC_HANDOVER_FUZZ_SEEDS=DIR writes seed records (an IKE SA with zero, one and three
// CHILD SAs, AES-GCM and AES-CBC/SHA-256) to DIR and exits.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "ike/v2/fuzz_fixture.h"
#include "ike/v2/handover.h"

using namespace ipsec;
using namespace ipsec::ike;
using namespace ipsec::ike::v2;
using namespace ipsec::ike::v2::fuzz;

namespace {

void write_seeds(const char* dir) {
  int n = 0;
  for (bool gcm : {true, false})
    for (size_t children : {size_t{0}, size_t{1}, size_t{3}}) {
      IkeSa sa = sample(gcm, children);
      auto made = crypto::make_sk_cipher(sa.algs.sk, sa.keys.sk_ei, sa.keys.sk_ai);
      if (!made) std::abort();
      sa.out_cipher = std::move(*made);
      SecretBytes rec = export_ike_sa(sa);
      if (!import_ike_sa(rec.view(), connections())) std::abort();  // the seed must be whole
      const std::string path = std::string(dir) + "/seed-" + std::to_string(n++);
      FILE* f = std::fopen(path.c_str(), "wb");
      if (f == nullptr || std::fwrite(rec.data(), 1, rec.size(), f) != rec.size()) std::abort();
      std::fclose(f);
    }
  std::fprintf(stderr, "handover_fuzz: %d seeds in %s\n", n, dir);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("IPSEC_HANDOVER_FUZZ_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto sa = import_ike_sa(ByteView(data, size), connections());
  if (!sa) return 0;
  // Accepted: exported, it must read back to the same record.
  const SecretBytes again = export_ike_sa(**sa);
  auto second = import_ike_sa(again.view(), connections());
  if (!second) std::abort();
  if (!(export_ike_sa(**second) == again)) std::abort();
  return 0;
}
