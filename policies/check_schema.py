#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Validates every policies/examples/**/*.json against policies/ipsecctl.schema.json.

Also checks the schema itself (draft 2020-12) and that it rejects a few documents the
loader rejects. Exit 0: all good; 1: a failure; 77: python3-jsonschema is not installed
(CTest: SKIP_RETURN_CODE 77). Usage: check_schema.py [POLICIES_DIR]
"""
import json
import pathlib
import sys

try:
    import jsonschema
except ImportError:
    print("SKIP: python3-jsonschema is not installed")
    sys.exit(77)

KEY = "0x000102030405060708090a0b0c0d0e0f10111213"
GOOD_SA = {"protocol": "esp", "spi": "0x1000", "src": "192.0.2.1", "dst": "192.0.2.2",
           "aead": {"algorithm": "aes-gcm-16", "key": KEY}}
GOOD_POLICY = {"src": "192.0.2.1/32", "dst": "192.0.2.2/32", "dir": "out",
               "templates": [{"protocol": "esp", "mode": "transport"}]}
GOOD_CHILD = {"mode": "tunnel", "local_ts": ["198.51.100.0/24"], "remote_ts": ["203.0.113.0/24"],
              "esp_proposals": ["aes256gcm16", "aes256-sha256"], "start_action": "none", "reqid": 7}
GOOD_CONNECTION = {"version": 2,
                   "local": {"address": "192.0.2.1", "id": "fqdn:gw-a.example", "auth": "psk"},
                   "remote": {"address": "192.0.2.2", "id": "fqdn:gw-b.example", "auth": "psk"},
                   "psk_file": "secrets/site-b.psk",
                   "proposals": ["aes256gcm16-prfsha256-x25519", "aes256-sha256-modp2048"],
                   "children": {"lan": GOOD_CHILD}}


def connection(**changes):
    return {"connections": {"site-b": with_changes(GOOD_CONNECTION, **changes)}}


def child(**changes):
    return connection(children={"lan": with_changes(GOOD_CHILD, **changes)})


def with_changes(base, **changes):
    out = dict(base)
    for k, v in changes.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


# Documents the loader refuses, each for one reason the schema can see.
BAD = {
    "unknown top-level field": {"sa": []},
    "unknown SA field": {"sas": [with_changes(GOOD_SA, spii=1)]},
    "reserved SPI": {"sas": [with_changes(GOOD_SA, spi=255)]},
    "SPI as decimal string": {"sas": [with_changes(GOOD_SA, spi="4096")]},
    "aead with integrity": {"sas": [with_changes(GOOD_SA, integrity={"algorithm": "hmac-sha1", "key": KEY})]},
    "ESP without algorithms": {"sas": [with_changes(GOOD_SA, aead=None)]},
    "encryption without integrity": {"sas": [with_changes(GOOD_SA, aead=None, encryption={"algorithm": "aes-cbc", "key": KEY})]},
    "insecure without opt-in": {"sas": [with_changes(GOOD_SA, aead=None, encryption={"algorithm": "3des-cbc", "key": KEY},
                                                     integrity={"algorithm": "hmac-sha1", "key": KEY})]},
    "AH with aead": {"sas": [with_changes(GOOD_SA, protocol="ah")]},
    "key and key_file": {"sas": [with_changes(GOOD_SA, aead={"algorithm": "aes-gcm-16", "key": KEY, "key_file": "k"})]},
    "hidden key (show --json without --keys)": {"sas": [with_changes(GOOD_SA, aead={"algorithm": "aes-gcm-16", "key": "hidden"})]},
    "integrity keyword under aead": {"sas": [with_changes(GOOD_SA, aead={"algorithm": "hmac-sha256", "key": KEY})]},
    "replay window too large": {"sas": [with_changes(GOOD_SA, replay_window=5000)]},
    "esn without replay window": {"sas": [with_changes(GOOD_SA, esn=True, replay_window=0)]},
    "protect without templates": {"policies": [with_changes(GOOD_POLICY, templates=None)]},
    "block with templates": {"policies": [with_changes(GOOD_POLICY, action="block")]},
    "transport template with src": {"policies": [with_changes(GOOD_POLICY, templates=[
        {"protocol": "esp", "src": "192.0.2.1"}])]},
    "tunnel template without dst": {"policies": [with_changes(GOOD_POLICY, templates=[
        {"protocol": "esp", "mode": "tunnel", "src": "192.0.2.1"}])]},
    "ports without tcp/udp/sctp": {"policies": [with_changes(GOOD_POLICY, dport=22)]},
    "missing dir": {"policies": [with_changes(GOOD_POLICY, dir=None)]},
    "unknown connection field": connection(versions=2),
    "IKEv1 connection": connection(version=1),
    "connection without psk_file": connection(psk_file=None),
    "unknown peer field": connection(local={"address": "192.0.2.1", "port": 500}),
    "unknown auth method": connection(local={"address": "192.0.2.1", "auth": "rsasig"}),
    "control character in an id": connection(remote={"address": "192.0.2.2", "id": "fqdn:gw\x1b[2J"}),
    "pubkey on one side only, without psk_file":
        connection(local={"address": "192.0.2.1", "auth": "pubkey", "cert": "a.pem", "key": "a.key"},
                   psk_file=None),
    "unknown IKE keyword": connection(proposals=["aes257-sha256-modp2048"]),
    "esn in an IKE proposal": connection(proposals=["aes256gcm16-prfsha256-x25519-esn"]),
    "prf in an ESP proposal": child(esp_proposals=["aes256-sha256-prfsha256"]),
    "bad connection name": {"connections": {"a/b": GOOD_CONNECTION}},
    "unknown child field": child(lifetime=1),
    "bad child mode": child(mode="beet"),
    "bad start_action": child(start_action="route"),
    "empty traffic selectors": child(local_ts=[]),
    "duration without unit as a string": child(rekey_time="3600"),
    "duration with two units": child(life_time="1h30m"),
    "fractional duration": child(rand_time=1.5),
    "negative duration": connection(dpd_delay=-1),
    "unknown duration unit": child(inactivity="2w"),
    "duration beyond 32 bits": connection(over_time=4294967296),
    "negative byte count": child(rekey_bytes=-1),
    "packet count as a string": child(life_packets="10"),
    "dpd_action none": child(dpd_action="none"),
    "close_action clear": child(close_action="clear"),
    "both rekey_time and reauth_time": connection(rekey_time="4h", reauth_time=3600),
    "dpd_timeout 0 with DPD on": connection(dpd_delay="30s", dpd_timeout="0s"),
    "swanctl's dpd_timeout spelled differently": connection(dpd_interval=30),
}

# Lifecycle settings the loader accepts, each form once.
GOOD_LIFECYCLE = connection(rekey_time=0, reauth_time="4h", over_time="10m", rand_time=300,
                            dpd_delay="30s", dpd_timeout=120,
                            children={"lan": with_changes(
                                GOOD_CHILD, start_action="on-demand", rekey_time="1h",
                                life_time=3960, rand_time="6m", rekey_bytes=1000000000,
                                life_bytes=1100000000, rekey_packets=0, life_packets=5000000,
                                dpd_action="trap", close_action="restart", inactivity="1d",
                                esp_proposals=["aes256gcm16-x25519", "aes256-sha256-modp2048"])})


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent)
    schema = json.loads((root / "ipsecctl.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failures = 0
    examples = sorted((root / "examples").rglob("*.json"))
    if not examples:
        print(f"FAIL: no examples under {root / 'examples'}")
        failures += 1
    for path in examples:
        errors = sorted(validator.iter_errors(json.loads(path.read_text())), key=lambda e: list(e.path))
        for e in errors:
            print(f"FAIL: {path}: {'.'.join(map(str, e.path)) or '(top)'}: {e.message}")
        failures += bool(errors)
    good = {"sas": [GOOD_SA], "policies": [GOOD_POLICY], "connections": {"site-b": GOOD_CONNECTION}}
    for e in validator.iter_errors(good):
        print(f"FAIL: the README example is rejected: {e.message}")
        failures += 1
    for e in validator.iter_errors(GOOD_LIFECYCLE):
        print(f"FAIL: the lifecycle example is rejected: {'.'.join(map(str, e.path))}: {e.message}")
        failures += 1
    for name, doc in BAD.items():
        if validator.is_valid(doc):
            print(f"FAIL: the schema accepts a document with {name}")
            failures += 1
    print(f"{len(examples)} examples, {len(BAD)} refused documents checked, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
