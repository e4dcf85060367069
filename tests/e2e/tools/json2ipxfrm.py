#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Development stand-in for `ipsecctl apply|flush` in the e2e jobs.

Translates the manual-keying policy format (policies/README.md) into
`ip xfrm` commands and runs them. Used only with E2E_APPLY=ipxfrm, to develop
the harness before the CLI existed and to cross-check the examples against
the kernel independently of ipsecctl. Covers the subset the examples use.

  json2ipxfrm.py apply FILE...     run the commands
  json2ipxfrm.py print FILE...     print them
  json2ipxfrm.py flush             ip xfrm state flush; ip xfrm policy flush
"""
import json
import os
import subprocess
import sys

AEAD = {"aes-gcm-8": ("rfc4106(gcm(aes))", 64), "aes-gcm-12": ("rfc4106(gcm(aes))", 96),
        "aes-gcm-16": ("rfc4106(gcm(aes))", 128),
        "chacha20-poly1305": ("rfc7539esp(chacha20,poly1305)", 128)}
ENC = {"aes-cbc": "cbc(aes)", "aes-ctr": "rfc3686(ctr(aes))", "null": "ecb(cipher_null)",
       "3des-cbc": "cbc(des3_ede)"}
AUTH = {"hmac-sha1": ("hmac(sha1)", 96), "hmac-sha256": ("hmac(sha256)", 128),
        "hmac-sha384": ("hmac(sha384)", 192), "hmac-sha512": ("hmac(sha512)", 256),
        "hmac-md5": ("hmac(md5)", 96)}


def key(spec, base):
    if "key_file" in spec:
        with open(os.path.join(base, spec["key_file"])) as f:
            return "0x" + "".join(f.read().split()).removeprefix("0x")
    return spec.get("key", "")


def sel(obj):
    out = ["src", obj["src"], "dst", obj["dst"]]
    proto = obj.get("proto", "any")
    if proto != "any":
        out += ["proto", str(proto)]
        if "sport" in obj:
            out += ["sport", str(obj["sport"])]
        if "dport" in obj:
            out += ["dport", str(obj["dport"])]
    return out


def spi(v):
    return str(v) if isinstance(v, str) else hex(v)


def commands(path):
    base = os.path.dirname(os.path.abspath(path))
    with open(path) as f:
        doc = json.load(f)
    cmds = []
    for sa in doc.get("sas", []):
        c = ["ip", "xfrm", "state", "add", "src", sa["src"], "dst", sa["dst"],
             "proto", sa["protocol"], "spi", spi(sa["spi"]), "mode", sa.get("mode", "transport"),
             "reqid", str(sa.get("reqid", 0)), "replay-window", str(sa.get("replay_window", 32))]
        if "aead" in sa:
            name, icv = AEAD[sa["aead"]["algorithm"]]
            c += ["aead", name, key(sa["aead"], base), str(icv)]
        if "encryption" in sa:
            c += ["enc", ENC[sa["encryption"]["algorithm"]], key(sa["encryption"], base)]
        if "integrity" in sa:
            name, icv = AUTH[sa["integrity"]["algorithm"]]
            c += ["auth-trunc", name, key(sa["integrity"], base), str(icv)]
        if sa.get("esn"):
            c += ["flag", "esn"]
        if "selector" in sa:
            c += ["sel"] + sel(sa["selector"])
        cmds.append(c)
    for p in doc.get("policies", []):
        c = ["ip", "xfrm", "policy", "add"] + sel(p) + ["dir", p["dir"],
                                                        "priority", str(p.get("priority", 0))]
        action = p.get("action", "protect")
        if action == "block":
            c += ["action", "block"]
        for t in p.get("templates", []):
            c += ["tmpl"]
            if t.get("mode", "transport") == "tunnel":
                c += ["src", t["src"], "dst", t["dst"]]
            c += ["proto", t["protocol"], "mode", t.get("mode", "transport"),
                  "reqid", str(t.get("reqid", 0))]
            if t.get("spi"):
                c += ["spi", spi(t["spi"])]
            c += ["level", "use" if t.get("optional") else "required"]
        cmds.append(c)
    return cmds


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    if argv[1] == "flush":
        for c in (["ip", "xfrm", "state", "flush"], ["ip", "xfrm", "policy", "flush"]):
            subprocess.run(c, check=True)
        return 0
    cmds = [c for path in argv[2:] for c in commands(path)]
    for c in cmds:
        if argv[1] == "print":
            print(" ".join(a if a and " " not in a else repr(a) for a in c))
        elif subprocess.run(c).returncode != 0:
            print("failed: " + " ".join(c), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
