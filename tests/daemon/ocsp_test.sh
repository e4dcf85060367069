#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# OCSP between two ipsecd (memory kernel, real UDP, two namespaces) and a real responder:
# `openssl ocsp` answers for a test CA from its index.txt on http://192.0.2.9/ in right's
# namespace, signing with a delegated responder certificate (id-kp-OCSPSigning). Left
# authenticates with certificates that name the responder in their AIA (or not); right
# checks them. A good certificate brings the tunnel up; a revoked one is refused with the
# date, reason and responder in right's log and status; with the responder stopped, "strict"
# refuses a certificate it cannot ask about ("did not answer"), "ifuri" accepts one without
# AIA, and "strict" refuses one without AIA and without a CRL. A responder that accepts and
# never answers does not stall right: its status answers at once while the fetch waits.
set -u
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "SKIPPED: openssl is not installed (tests/run deps)"; exit 77; }
make_namespaces 192.0.2.1 "192.0.2.2 192.0.2.9"
EX=$SRC/policies/examples/ikev2-cert-tunnel
D=$WORK/pki
mkdir "$D"
cd "$D" || exit 1
URI=http://192.0.2.9/

# A CA; the responder's certificate; right's; left's key with four certificates: good and
# revoked naming the responder, another good one naming it (never asked before: no cached
# answer), and one without AIA.
make_pki() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
    -subj "/C=DE/O=Example/CN=Example CA" -keyout ca.key -out ca.pem \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out left.key &&
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out right.key &&
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ocsp.key || return 1
  issue ocsp ocsp.key "Example OCSP" 10 "extendedKeyUsage=OCSPSigning" &&
  issue right right.key right.example 11 "subjectAltName=DNS:right.example" &&
  issue left-good left.key left.example 12 "subjectAltName=DNS:left.example
authorityInfoAccess=OCSP;URI:$URI" &&
  issue left-revoked left.key left.example 13 "subjectAltName=DNS:left.example
authorityInfoAccess=OCSP;URI:$URI" &&
  issue left-fresh left.key left.example 14 "subjectAltName=DNS:left.example
authorityInfoAccess=OCSP;URI:$URI" &&
  issue left-noaia left.key left.example 15 "subjectAltName=DNS:left.example"
}
issue() {  # NAME KEY CN SERIAL EXTENSIONS
  openssl req -new -key "$2" -subj "/C=DE/O=Example/CN=$3" -out "$1.csr" &&
  printf 'keyUsage=critical,digitalSignature\n%s\n' "$5" >"$1.ext" &&
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -set_serial "$4" -days 365 \
    -extfile "$1.ext" -out "$1.pem"
}
make_pki >"$WORK/openssl.log" 2>&1 && ok "made a CA, an OCSP responder certificate and gateway certificates" \
  || { bad "openssl: $(tail -5 "$WORK/openssl.log")"; finish; exit; }
chmod 600 left.key right.key

# openssl ocsp's index (as `openssl ca` keeps it): V/R, expiry, revocation "time,reason",
# serial in hex, file, subject. Serial 13 revoked yesterday for keyCompromise.
EXP=$(date -u -d "+365 days" +%y%m%d%H%M%SZ)
REV=$(date -u -d yesterday +%y%m%d%H%M%SZ)
REV_DAY=$(date -u -d yesterday +%F)
{
  printf 'V\t%s\t\t0C\tunknown\t/C=DE/O=Example/CN=left.example\n' "$EXP"
  printf 'R\t%s\t%s,keyCompromise\t0D\tunknown\t/C=DE/O=Example/CN=left.example\n' "$EXP" "$REV"
  printf 'V\t%s\t\t0E\tunknown\t/C=DE/O=Example/CN=left.example\n' "$EXP"
  printf 'V\t%s\t\t0F\tunknown\t/C=DE/O=Example/CN=left.example\n' "$EXP"
} >index.txt
echo "unique_subject = no" >index.txt.attr  # left's four certificates share a subject
ip netns exec "$NSB" openssl ocsp -index index.txt -port 80 -rsigner ocsp.pem -rkey ocsp.key \
  -CA ca.pem -nmin 10 -ignore_err >"$WORK/responder.log" 2>&1 &
RESPONDER=$!
PIDS+=("$RESPONDER")
listening() { ip netns exec "$NSB" ss -ltn 'sport = :80' | grep -q LISTEN; }
poll listening && ok "openssl ocsp listens on $URI" \
  || { bad "responder: $(cat "$WORK/responder.log")"; finish; exit; }

# Left (a) uses CERT; right (b) checks left's chain with "ocsp": POLICY.
left_json() {  # CERT
  sed -e "s|\"left.pem\"|\"$D/$1.pem\"|" -e "s|\"left.key\"|\"$D/left.key\"|" \
    -e "s|\"ca.pem\"|\"$D/ca.pem\"|" "$EX/left.json" >"$WORK/left-$1.json"
  echo "$WORK/left-$1.json"
}
right_json() {  # POLICY
  sed -e "s|\"right.pem\"|\"$D/right.pem\"|" -e "s|\"right.key\"|\"$D/right.key\"|" \
    -e "s|\"cacerts\": \"ca.pem\"|\"cacerts\": \"$D/ca.pem\", \"ocsp\": \"$1\"|" \
    "$EX/right.json" >"$WORK/right-$1.json"
  echo "$WORK/right-$1.json"
}
for f in "$(left_json left-good)" "$(right_json ifuri)" "$(right_json strict)"; do
  out=$("$IPSECCTL" validate "$f" 2>&1) && ok "ipsecctl validate: $out" || bad "validate: $out"
done

start_ipsecd "$NSB" b --config "$(right_json ifuri)" --workers 1
start_ipsecd "$NSA" a --config "$(left_json left-good)"
wait_socket "$WORK/a.sock" && wait_socket "$WORK/b.sock" \
  || { bad "ipsecd did not start: $(cat "$WORK"/*.log)"; finish; exit; }
up() { ctl a status --json | jq -e '.ike_sas[] | select(.state == "established")
  | .children[] | select(.state == "installed")' >/dev/null; }
closed() { ctl b status --json | jq -e --arg r "$1" '.closed[] | select(.reason | contains($r))' >/dev/null; }
reason() { ctl b status --json | jq -r --arg r "$1" '[.closed[] | select(.reason | contains($r))][0].reason'; }
# Left switches to CERT and tries again.
retry_with() { ctl a load "$(left_json "$1")" >/dev/null && ctl a restart to-right >/dev/null; }

poll up && ok "a good certificate naming the responder: the tunnel is up" \
  || { bad "no CHILD SA: $(ctl a status) $(tail -5 "$WORK/b.log")"; finish; exit; }

line=$(ctl b list-certs | grep "^revocation of")
[ "$line" = "revocation of from-left: OCSP ifuri (responder from the certificate's AIA), 0 CRL(s)" ] \
  && ok "list-certs: $line" || bad "list-certs: $(ctl b list-certs)"

REVOKED="certificate C=DE, O=Example, CN=left.example revoked on $REV_DAY (keyCompromise), by OCSP responder $URI"
retry_with left-revoked
poll closed "$REVOKED" && ok "a revoked certificate is refused: $(reason "$REVOKED")" \
  || bad "right's status: $(ctl b status) $(tail -5 "$WORK/b.log")"
grep -qF "$REVOKED" "$WORK/b.log" && ok "right's log says so" || bad "right's log: $(tail -5 "$WORK/b.log")"
counters=$(ctl b status --json | jq -r '.counters | "\(.ocsp_requests) \(.ocsp_revoked) \(.ocsp_failed)"')
[ "$counters" = "2 1 0" ] && ok "right's counters: 2 OCSP requests, 1 revoked, 0 failed" \
  || bad "counters (requests revoked failed): $counters"

kill "$RESPONDER" && wait "$RESPONDER" 2>/dev/null
ok "the responder is stopped"
out=$(ctl b load "$(right_json strict)") && ok "right loads \"ocsp\": \"strict\"" || bad "load: $out"
NOANSWER="certificate C=DE, O=Example, CN=left.example: OCSP responder $URI did not answer (Connection refused)"
retry_with left-fresh
poll closed "$NOANSWER" && ok "strict, responder down: refused: $(reason "$NOANSWER")" \
  || bad "right's status: $(ctl b status) $(tail -5 "$WORK/b.log")"
retry_with left-noaia
NOSTATUS="certificate C=DE, O=Example, CN=left.example: no revocation status"
poll closed "$NOSTATUS" && ok "strict, no AIA and no CRL: refused: $(reason "$NOSTATUS")" \
  || bad "right's status: $(ctl b status) $(tail -5 "$WORK/b.log")"

out=$(ctl b load "$(right_json ifuri)") && ok "right loads \"ocsp\": \"ifuri\"" || bad "load: $out"
retry_with left-noaia
poll up && ok "ifuri, responder down, a certificate without AIA: the tunnel is up" \
  || bad "no CHILD SA: $(ctl a status) $(tail -5 "$WORK/b.log")"

# A responder that accepts the connection and never answers (bounded: it exits by itself).
ip netns exec "$NSB" python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.9", 80)); s.listen(8); s.settimeout(1)
held, end = [], time.time() + 30
while time.time() < end:
    try: held.append(s.accept()[0])
    except OSError: pass
' >"$WORK/silent.log" 2>&1 &
PIDS+=("$!")
poll listening && ok "a silent responder listens on $URI" || bad "silent responder: $(cat "$WORK/silent.log")"
out=$(ctl b load "$(right_json strict)") && ok "right loads \"ocsp\": \"strict\"" || bad "load: $out"
asked() { ctl b status --json | jq -e '.counters.ocsp_requests >= 4' >/dev/null; }
retry_with left-fresh
if poll asked; then
  # The exchange takes the transport's whole timeout (3 s); right's one worker goes on.
  t0=$(date +%s%N)
  ctl b status >/dev/null
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ "$ms" -lt 1000 ] && ok "while right waits for the silent responder, its status answers in $ms ms" \
    || bad "status took $ms ms while the OCSP fetch was under way"
else
  bad "right did not ask the silent responder: $(ctl b status --json | jq -c .counters)"
fi
SILENT="certificate C=DE, O=Example, CN=left.example: OCSP responder $URI did not answer"
timed_out() { ctl b status --json | jq -e --arg r "$SILENT" '.closed[] | .reason
  | select(contains($r) and (contains("Connection refused") | not))' >/dev/null; }
poll timed_out && ok "strict, silent responder: refused after the timeout: $(ctl b status --json \
  | jq -r --arg r "$SILENT" '[.closed[].reason | select(contains($r))][0]')" \
  || bad "right's status: $(ctl b status) $(tail -5 "$WORK/b.log")"
finish
