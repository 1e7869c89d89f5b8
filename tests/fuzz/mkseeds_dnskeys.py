#!/usr/bin/env python3
"""Regenerates the seed corpora of the dnskeys/ fuzzers (rfc3110, ipseckey, txt, keyrr) from
freshly generated real keys (openssl CLI). Run from anywhere; writes tests/fuzz/corpus/NAME/.
The committed seeds were made with it; rerunning gives new keys, the same shapes."""
import base64, os, subprocess, struct

HERE = os.path.dirname(os.path.abspath(__file__))


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, check=True,
                          capture_output=True).stdout


def rsa_blob(bits, long_form=False):
    pem = openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}")
    mod = openssl("rsa", "-noout", "-modulus", data=pem).decode().strip().split("=")[1]
    n, e = bytes.fromhex(mod), b"\x01\x00\x01"
    hdr = b"\x00" + struct.pack(">H", len(e)) if long_form else bytes([len(e)])
    return hdr + e + n  # RFC 3110 section 2


def spki_tail(alg, n):
    pem = openssl("genpkey", "-algorithm", alg, *(["-pkeyopt", "ec_paramgen_curve:P-256"]
                                                   if alg == "EC" else []))
    der = openssl("pkey", "-pubout", "-outform", "DER", data=pem)
    return der[-n:]


def txt_rdata(text):
    raw = text.encode()
    return b"".join(bytes([len(raw[i:i + 255])]) + raw[i:i + 255]
                    for i in range(0, len(raw), 255))


def write(name, files):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    for fname, data in files.items():
        with open(os.path.join(d, fname), "wb") as f:
            f.write(data)


def main():
    rsa = rsa_blob(2048)
    rsa_long = rsa_blob(1024, long_form=True)
    ec = spki_tail("EC", 65)[1:]  # drop the 0x04 of the uncompressed point: RFC 6605 X||Y
    ed = spki_tail("ED25519", 32)
    name = b"\x02gw\x07example\x00"
    write("rfc3110", {"rsa2048": rsa, "rsa1024_3octet": rsa_long,
                      "even_exponent": b"\x01\x04" + rsa[4:], "short": rsa[:40]})
    write("ipseckey", {
        "gw0_rsa": bytes([10, 0, 2]) + rsa,
        "gw1_ecdsa": bytes([10, 1, 3, 192, 0, 2, 38]) + ec,
        "gw2_ed25519": bytes([20, 2, 4]) + bytes.fromhex("20010db8" + "00" * 11 + "01") + ed,
        "gw3_name_ed25519": bytes([30, 3, 4]) + name + ed,
        "alg0_nokey": bytes([10, 3, 0]) + name,
    })
    b64 = base64.b64encode(rsa).decode()
    write("txt", {
        "ipv4_key": txt_rdata(f"X-IPsec-Server(10)=192.0.2.11 {b64}"),
        "ipv6_nokey": txt_rdata("x-ipsec-server ( 5 ) = 2001:db8::1"),
        "fqdn_split": txt_rdata("X-IPsec-Server(10)=@gw.example.") + txt_rdata(" " + b64[:60])
        + txt_rdata(b64[60:]),
        "not_ours": txt_rdata("v=spf1 -all"),
    })
    write("keyrr", {"rsa2048": b"\x42\x00\x04\x01" + rsa,
                    "rsa1024": b"\x42\x00\x04\x01" + rsa_long,
                    "noauth_flags": b"\xc2\x00\x04\x01" + rsa})


if __name__ == "__main__":
    main()
