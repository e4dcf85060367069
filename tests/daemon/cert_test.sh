#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Certificates between two ipsecd (memory kernel, real UDP, two namespaces), from the
# worked example policies/examples/ikev2-cert-tunnel: its make-certs.sh makes a test CA
# and both gateways' ECDSA certificates and keys with openssl, `ipsecctl validate` accepts
# both files, the tunnel comes up with each side authenticated by its certificate (status
# shows the peer's id, method and certificate subject), and a peer whose certificate comes
# from another CA is refused with the reason in the log and in status. A reload that only
# brings CRLs (made with `openssl ca`) keeps the tunnel up; once left's certificate is on
# the CRL, its next IKE SA is refused as revoked. A FIFO given as a policy file is refused
# at once, not waited on.
set -u
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "SKIPPED: openssl is not installed (tests/run deps)"; exit 77; }
make_namespaces 192.0.2.1 192.0.2.2
EX=$SRC/policies/examples/ikev2-cert-tunnel
mkdir "$WORK/ex" "$WORK/other"
cp "$EX"/left.json "$EX"/right.json "$WORK/ex/"
KEEP_CA_KEY=1 sh "$EX/make-certs.sh" "$WORK/ex" >/dev/null && sh "$EX/make-certs.sh" "$WORK/other" >/dev/null \
  && ok "make-certs.sh made a CA and both gateways' certificates and keys" \
  || { bad "make-certs.sh failed"; finish; exit; }
[ "$(stat -c %a "$WORK/ex/left.key")" = 600 ] && ok "the keys are 0600" \
  || bad "left.key is $(stat -c %a "$WORK/ex/left.key")"
out=$("$IPSECCTL" validate "$WORK/ex/left.json" "$WORK/ex/right.json" 2>&1) \
  && ok "ipsecctl validate accepts both files: $out" || bad "validate: $out"

mkfifo "$WORK/fifo.json"
out=$(timeout 10 "$IPSECCTL" validate "$WORK/fifo.json" 2>&1); rc=$?
[ "$rc" != 124 ] && grep -q "not a regular file" <<<"$out" \
  && ok "a FIFO as policy file is refused at once: $out" || bad "FIFO: rc $rc: $out"

start_ipsecd "$NSB" b --config "$WORK/ex/right.json"
start_ipsecd "$NSA" a --config "$WORK/ex/left.json"
wait_socket "$WORK/a.sock" && wait_socket "$WORK/b.sock" || { bad "ipsecd did not start: $(cat "$WORK"/*.log)"; finish; exit; }
up() { ctl a status --json | jq -e '.ike_sas[] | select(.state == "established")
  | .children[] | select(.state == "installed")' >/dev/null; }
poll up && ok "the tunnel is up, authenticated by certificates" \
  || { bad "no CHILD SA: $(ctl a status) $(tail -5 "$WORK/b.log")"; finish; exit; }
peer() { ctl "$1" status --json | jq -r '.ike_sas[] | select(.state == "established")
  | "\(.peer_id) \(.peer_auth) \(.peer_cert)"'; }
[ "$(peer a)" = "fqdn:right.example pubkey C=DE, O=Example, CN=right.example" ] \
  && ok "left sees right: $(peer a)" || bad "left sees: $(peer a)"
[ "$(peer b)" = "fqdn:left.example pubkey C=DE, O=Example, CN=left.example" ] \
  && ok "right sees left: $(peer b)" || bad "right sees: $(peer b)"
ctl a status | grep -q "peer .*fqdn:right.example (pubkey, certificate C=DE, O=Example, CN=right.example)" \
  && ok "status text shows the peer line" || bad "status: $(ctl a status)"

certs=$(ctl a list-certs --json | jq -r '.certificates[] | "\(.subject)|\(.roles | join(","))|\(.connections | join(","))|\(.expiring)"' | sort)
want=$'C=DE, O=Example, CN=Example CA|trusted CA|to-right|false\nC=DE, O=Example, CN=left.example|local certificate|to-right|false'
[ "$certs" = "$want" ] && ok "list-certs shows left's certificate and the trusted CA" \
  || bad "list-certs: [$certs]"
ctl a list-certs | grep -q "key ecdsa-p256 256 bits, valid .* (36[45] days left)" \
  && ok "list-certs text: key and days left" || bad "list-certs text: $(ctl a list-certs)"

# CRLs: a reload that adds or changes only the CRLs keeps the IKE SA; a revoked left is
# refused at its next IKE SA.
spi_up() { ctl a status --json | jq -r '[.ike_sas[] | select(.state == "established") | .spi_i][0] // empty'; }
spi0=$(spi_up)
CA="$WORK/ex"
printf '[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\ncrlnumber = %s/crlnumber\ndefault_md = sha256\ndefault_crl_days = 1\n' \
  "$WORK" "$WORK" >"$WORK/ca.cnf"
: >"$WORK/index.txt"; echo 01 >"$WORK/crlnumber"
gencrl() { openssl ca -config "$WORK/ca.cnf" -gencrl -keyfile "$CA/ca.key" -cert "$CA/ca.pem" -out "$CA/crl.pem" 2>"$WORK/openssl.err"; }
gencrl && ok "openssl ca made an empty CRL" || bad "openssl ca -gencrl: $(cat "$WORK/openssl.err")"
jq '.connections["from-left"].remote.crls = "crl.pem"' "$WORK/ex/right.json" >"$WORK/ex/right-crl.json"
out=$(ctl b load "$WORK/ex/right-crl.json") && ok "right loads its file with the CRL: $out" || bad "load: $out"
grep -q "new CRLs for from-left" "$WORK/b.log" && [ "$(spi_up)" = "$spi0" ] && [ -n "$spi0" ] \
  && ok "the CRL was taken without disturbing the IKE SA ($spi0)" || bad "after the CRL load: $(ctl a status)"
openssl ca -config "$WORK/ca.cnf" -revoke "$CA/left.pem" -keyfile "$CA/ca.key" -cert "$CA/ca.pem" \
  -crl_reason keyCompromise 2>"$WORK/openssl.err" && gencrl \
  && ok "openssl ca revoked left's certificate" || bad "openssl ca -revoke: $(cat "$WORK/openssl.err")"
out=$(ctl b load "$WORK/ex/right-crl.json") && [ "$(spi_up)" = "$spi0" ] \
  && ok "right loads the new CRL, the IKE SA stays up" || bad "load: $out; $(ctl a status)"
ctl a restart to-right >/dev/null
revoked() { grep -q "authentication failed: .*revoked" "$WORK/b.log"; }
poll revoked && ok "right refuses left's next IKE SA: $(grep -o 'authentication failed: .*revoked[^"]*' "$WORK/b.log" | head -1)" \
  || bad "right's log: $(tail -5 "$WORK/b.log")"

# Right now trusts another CA only: left's next IKE SA is refused.
sed "s|\"ca.pem\"|\"$WORK/other/ca.pem\"|" "$WORK/ex/right.json" >"$WORK/ex/right2.json"
out=$(ctl b load "$WORK/ex/right2.json") && ok "right loads a file trusting another CA" || bad "load: $out"
ctl a restart to-right >/dev/null
refused() { grep -q "no trusted CA for issuer C=DE, O=Example, CN=Example CA (certificate C=DE, O=Example, CN=left.example: unable to get local issuer certificate)" "$WORK/b.log"; }
poll refused && ok "right refuses left's certificate: no trusted CA for issuer C=DE, O=Example, CN=Example CA" \
  || bad "right's log: $(tail -5 "$WORK/b.log")"
failed() { ctl b status --json | jq -e '.closed[] | select(.reason | contains("unable to get local issuer certificate"))' >/dev/null; }
poll failed && ok "right's status lists the refusal" || bad "right's status: $(ctl b status)"
finish
