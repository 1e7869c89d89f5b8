#!/usr/bin/env python3
# Writes the seed corpus of fuzz_dnsanswer: DNS responses (after one selector byte: bits 0-1
# query type IPSECKEY/TXT/KEY, bits 2-3 validation state, bit 4 forward name) with IPSECKEY,
# TXT, KEY answers, a negative answer with SOA and NSEC, and a truncated message.
import base64, os, struct, sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "dnsanswer")
os.makedirs(out, exist_ok=True)

def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.rstrip(".").split(".")) + b"\0"

def rr(owner, typ, rdata, ttl=300):
    return name(owner) + struct.pack("!HHIH", typ, 1, ttl, len(rdata)) + rdata

def msg(q, qtype, ans=(), auth=(), rcode=0):
    h = struct.pack("!HHHHHH", 0x1234, 0x8400 | rcode, 1, len(ans), len(auth), 0)
    return h + name(q) + struct.pack("!HH", qtype, 1) + b"".join(ans) + b"".join(auth)

# A small (not cryptographically meaningful) RSA-shaped blob: exponent 65537, 128-byte modulus.
rsa = bytes([3, 1, 0, 1]) + bytes([0xc1]) + bytes(range(1, 128))
ed = bytes(range(32))
rev = "1.2.0.192.in-addr.arpa."
fwd = "host.oe.test."
soa = rr("2.0.192.in-addr.arpa.", 6, name("ns.oe.test.") + name("h.oe.test.") +
         struct.pack("!IIIII", 1, 3600, 900, 604800, 60))
nsec = rr("1.2.0.192.in-addr.arpa.", 47, name("2.2.0.192.in-addr.arpa.") + bytes([0, 1, 0x40]))
seeds = {
    "ipseckey_nogw_rsa": (0x00, msg(rev, 45, [rr(rev, 45, bytes([10, 0, 2]) + rsa)])),
    "ipseckey_v4gw_insecure": (0x08, msg(rev, 45, [rr(rev, 45, bytes([10, 1, 2, 192, 0, 2, 1]) + rsa),
                                                  rr(rev, 45, bytes([20, 1, 2, 192, 0, 2, 9]) + rsa)])),
    "ipseckey_namegw_ed": (0x10, msg(fwd, 45, [rr(fwd, 45, bytes([5, 3, 4]) + name("gw.oe.test.") + ed)])),
    "ipseckey_v6gw": (0x00, msg(rev, 45, [rr(rev, 45, bytes([10, 2, 4]) + bytes(15) + b"\1" + ed)])),
    "txt_split": (0x01, msg(rev, 16, [rr(rev, 16, b"\x28X-IPsec-Server(10)=192.0.2.1 " +
                                       bytes([20]) + base64.b64encode(rsa)[:20] +
                                       bytes([len(base64.b64encode(rsa)[20:])]) + base64.b64encode(rsa)[20:])])),
    "txt_other": (0x01, msg(rev, 16, [rr(rev, 16, b"\x0bv=spf1 -all")])),
    "key_rr": (0x02, msg(rev, 25, [rr(rev, 25, struct.pack("!HBB", 0x4200, 4, 1) + rsa)])),
    "nodata_soa_nsec": (0x00, msg(rev, 45, auth=[soa, nsec])),
    "nxdomain_soa": (0x00, msg(rev, 45, auth=[soa], rcode=3)),
    "truncated": (0x00, msg(rev, 45, [rr(rev, 45, bytes([10, 0, 2]) + rsa)])[:40]),
}
for n, (sel, m) in seeds.items():
    with open(os.path.join(out, n), "wb") as f:
        f.write(bytes([sel]) + m)
