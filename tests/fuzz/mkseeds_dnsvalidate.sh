#!/bin/bash
# Writes the seed corpus of fuzz_dnsvalidate: real NSD answers (DO bit set) for the queries a
# lookup makes, in the order it makes them, from a zone oe.test. signed here with signatures
# valid until the end of 2037 (ldns compares signature times as signed 32-bit numbers).
# Prints the DS anchor line, which must replace DK_FUZZ_ANCHOR in fuzz_dnsvalidate.c
# whenever the seeds are regenerated (the key itself is thrown away).
# Input format: one selector byte, then per answer a 2-byte big-endian length and the message.
set -eu
cd "$(dirname "$0")"
out=corpus/dnsvalidate
dir=$(mktemp -d /tmp/oet-fzseed.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
blob=AwEAAcE$(head -c 180 /dev/zero | tr '\0' 'A')
ed=$(python3 -c 'import base64; print(base64.b64encode(bytes(range(32))).decode())')
cat >"$dir/oe.test" <<EOF
\$TTL 300
@ IN SOA ns.oe.test. h.oe.test. 1 3600 900 604800 60
@ IN NS ns.oe.test.
ns IN A 127.0.0.1
host IN IPSECKEY 10 0 4 . $ed
gw IN IPSECKEY 10 1 4 192.0.2.7 $ed
txt IN TXT "X-IPsec-Server(10)=192.0.2.1"
unsigned IN NS ns.unsigned
ns.unsigned IN A 127.0.0.1
EOF
cat >"$dir/unsigned.oe.test" <<EOF
\$TTL 300
@ IN SOA ns.oe.test. h.oe.test. 1 3600 900 604800 60
@ IN NS ns.oe.test.
self IN IPSECKEY 10 3 4 self.unsigned.oe.test. $ed
EOF
(cd "$dir" && k=$(ldns-keygen -a ECDSAP256SHA256 -k oe.test) &&
	ldns-signzone -i "$(date -u -d '1 hour ago' +%Y%m%d%H%M%S)" -e 20371231000000 -o oe.test \
		-f oe.test.zone oe.test "$k" && ldns-key2ds -n -2 "$k.key" >ds)
cp "$dir/unsigned.oe.test" "$dir/unsigned.oe.test.zone"
cat >"$dir/nsd.conf" <<EOF
server:
 ip-address: 127.0.0.1@$port
 port: $port
 zonesdir: "$dir"
 pidfile: "$dir/pid"
 username: ""
 chroot: ""
 database: ""
 xfrdfile: "$dir/x"
 zonelistfile: "$dir/zl"
 logfile: "$dir/log"
 server-count: 1
remote-control:
 control-enable: no
zone:
 name: oe.test
 zonefile: oe.test.zone
zone:
 name: unsigned.oe.test
 zonefile: unsigned.oe.test.zone
EOF
nsd -d -c "$dir/nsd.conf" &
pid=$!
sleep 0.5
mkdir -p "$out"
python3 - "$port" "$out" <<'EOF'
import socket, struct, sys
port, out = int(sys.argv[1]), sys.argv[2]
T = {"A": 1, "NS": 2, "TXT": 16, "KEY": 25, "DS": 43, "DNSKEY": 48, "IPSECKEY": 45}
def ask(name, t):
    q = struct.pack("!HHHHHH", 0x4242, 0x0110, 1, 0, 0, 1)
    q += b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    q += struct.pack("!HH", T[t], 1) + b"\0" + struct.pack("!HHIH", 41, 1232, 0x8000, 0)
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(struct.pack("!H", len(q)) + q)
    n = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))[0]
    return s.recv(n, socket.MSG_WAITALL)
# (seed name, selector, queries in the order the lookup sends them)
seeds = [
    ("secure_ipseckey", 0, [("host.oe.test", "IPSECKEY"), ("oe.test", "DNSKEY")]),
    ("secure_gw", 1, [("gw.oe.test", "IPSECKEY"), ("oe.test", "DNSKEY")]),
    ("secure_txt_after_nodata", 2, [("txt.oe.test", "IPSECKEY"), ("oe.test", "DNSKEY"),
                                    ("txt.oe.test", "TXT")]),
    ("secure_nxdomain", 3, [("nx.oe.test", "IPSECKEY"), ("oe.test", "DNSKEY")]),
    ("insecure_delegation", 4, [("self.unsigned.oe.test", "IPSECKEY"), ("oe.test", "DNSKEY"),
                                ("unsigned.oe.test", "DS")]),
]
for name, sel, qs in seeds:
    data = bytes([sel])
    for qn, qt in qs:
        m = ask(qn, qt)
        data += struct.pack("!H", len(m)) + m
    open(f"{out}/{name}", "wb").write(data)
EOF
echo "anchor: $(cat "$dir/ds")"
