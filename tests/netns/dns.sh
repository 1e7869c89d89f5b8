#!/bin/bash
# Key lookups against a real authoritative server: NSD on a free loopback port serving zones
# signed at test time with ldns-signzone, trust anchors from ldns-key2ds.
#
#   test_dklookup (c-ares + ldns) ──UDP/TCP──► 127.0.0.1:PORT  NSD
#        zones: oe.test.                 signed, anchor; delegates unsigned.oe.test. (no DS)
#               unsigned.oe.test.        unsigned
#               sub.ent.oe.test.         unsigned, below an empty non-terminal
#               2.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. unsigned, delegated from the NSEC3 zone
#               2.0.192.in-addr.arpa.    signed, anchor: IPSECKEY/TXT/KEY, NODATA, 40 TXT (TCP)
#               8.b.d.0.1.0.0.2.ip6.arpa. signed with NSEC3, DNSKEY anchor
#               bad.test.                signed, anchor, then a record altered (bogus)
#               stripped.test.           anchor, but served unsigned (bogus)
#               100.51.198.in-addr.arpa. unsigned, no anchor
# Also checks `ipsec lookup` against the same server. Prints ok / not ok lines.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/netns/lib.sh # nsd_conf
B=${B:-build}
T=$B/tests/test_dklookup
IPSEC=$B/ipsec

for tool in nsd ldns-keygen ldns-signzone ldns-key2ds python3; do
	command -v $tool >/dev/null || { echo "not ok - dns: $tool missing (tools/deps.sh)"; exit 1; }
done
[ -x "$T" ] || { echo "not ok - dns: $T not built"; exit 1; }

dir=$(mktemp -d /tmp/oet-dns.XXXXXX)
nsd_pid=
cleanup() {
	[ -n "$nsd_pid" ] && kill "$nsd_pid" 2>/dev/null && wait "$nsd_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

# A port free for both UDP and TCP on 127.0.0.1.
port=$(python3 - <<'EOF'
import socket
for _ in range(50):
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        u.close(); t.close()
EOF
)

# Keys: RSA (RFC 3110 blob), ECDSA P-256, Ed25519, as our encoder writes them.
eval "$("$T" gen)" || { echo "not ok - dns: key generation"; exit 1; }
export DK_T_RSA=$RSA_KEYID DK_T_EC=$EC_KEYID DK_T_ED=$ED_KEYID

soa() { printf '$TTL 300\n@ IN SOA ns.oe.test. hostmaster.oe.test. 1 3600 900 604800 60\n@ IN NS ns.oe.test.\n'; }

{ soa; cat <<EOF
ns              IN A        127.0.0.1
host            IN IPSECKEY 10 3 2 gw.oe.test. $RSA_B64
gw              IN A        192.0.2.50
unsigned        IN NS       ns.unsigned
ns.unsigned     IN A        127.0.0.1
sub.ent         IN NS       ns.sub.ent
ns.sub.ent      IN A        127.0.0.1
*.wild          IN IPSECKEY 10 0 4 . $ED_B64
alias           IN CNAME    host
EOF
} >"$dir/oe.test"

# Below an empty non-terminal (ent.oe.test.): the secure walk must pass it.
{ soa; echo "self IN IPSECKEY 10 3 2 self.sub.ent.oe.test. $RSA_B64"; } >"$dir/sub.ent.oe.test"

{ soa; cat <<EOF
self            IN IPSECKEY 10 3 2 self.unsigned.oe.test. $RSA_B64
other           IN IPSECKEY 10 1 2 192.0.2.77 $RSA_B64
none            IN IPSECKEY 10 0 2 . $RSA_B64
EOF
} >"$dir/unsigned.oe.test"

# TXT: one string without key; the key form split over two strings at an odd place.
half=$((${#RSA_B64} / 2))
{ soa; cat <<EOF
1               IN IPSECKEY 10 0 2 . $RSA_B64
2               IN IPSECKEY 10 1 3 192.0.2.2 $EC_B64
5               IN IPSECKEY 30 0 2 . $RSA_B64
5               IN IPSECKEY 10 0 3 . $EC_B64
5               IN IPSECKEY 20 0 4 . $ED_B64
6               IN TXT      "X-IPsec-Server(10)=192.0.2.6"
7               IN TXT      "X-IPsec-Server(10)=192.0.2.7 ${RSA_B64:0:$half}" "${RSA_B64:$half}"
8               IN KEY      16896 4 1 $RSA_B64
9               IN PTR      host.oe.test.
EOF
for i in $(seq 1 40); do
	echo "20 IN TXT \"X-IPsec-Server($i)=192.0.2.20 ${RSA_B64:0:$half}\" \"${RSA_B64:$half}\""
done
} >"$dir/2.0.192.in-addr.arpa"

{ soa; echo "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 IN IPSECKEY 10 2 4 2001:db8::1 $ED_B64"
	echo "2.0.0.0.0.0.0.0 IN NS ns.oe.test."
} >"$dir/8.b.d.0.1.0.0.2.ip6.arpa"

# 2001:db8:0:2::/64: unsigned, delegated without DS from the NSEC3-signed zone above.
v6u=2.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa
{ soa; cat <<EOF
0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0 IN IPSECKEY 10 2 4 2001:db8:0:2::10 $ED_B64
1.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0 IN IPSECKEY 10 2 4 2001:db8:0:2::99 $ED_B64
EOF
} >"$dir/$v6u"

{ soa; echo "host IN IPSECKEY 10 0 2 . $RSA_B64"; } >"$dir/bad.test"

{ soa; cat <<EOF
10              IN IPSECKEY 10 1 2 198.51.100.10 $RSA_B64
11              IN IPSECKEY 10 1 2 198.51.100.99 $RSA_B64
EOF
} >"$dir/100.51.198.in-addr.arpa"

# Sign (one ECDSA key per zone, used as CSK), collect DS anchors.
inception=$(date -u -d '1 hour ago' +%Y%m%d%H%M%S)
signed="oe.test 2.0.192.in-addr.arpa 8.b.d.0.1.0.0.2.ip6.arpa bad.test"
: >"$dir/anchors"
for z in $signed; do
	k=$(cd "$dir" && ldns-keygen -a ECDSAP256SHA256 -k "$z") || exit 1
	nsec3=
	anchor="ldns-key2ds -n -2 $k.key"
	# The IPv6 zone: NSEC3 instead of NSEC, and its DNSKEY itself as the anchor, not a DS.
	case $z in *ip6.arpa) nsec3="-n -s $(printf '%04x' $RANDOM)" anchor="cat $k.key" ;; esac
	(cd "$dir" && ldns-signzone $nsec3 -i "$inception" -o "$z" -f "$z.zone" "$z" "$k" &&
		$anchor >>anchors) || { echo "not ok - dns: signing $z"; exit 1; }
done
# stripped.test.: an anchor exists but the server hands out the zone unsigned (a downgrade).
{ soa; echo "host IN IPSECKEY 10 0 2 . $RSA_B64"; } >"$dir/stripped.test.zone"
k=$(cd "$dir" && ldns-keygen -a ECDSAP256SHA256 -k stripped.test) &&
	(cd "$dir" && ldns-key2ds -n -2 "$k.key" >>anchors) || exit 1
# bad.test: change the signed record's precedence so its RRSIG no longer matches.
sed -i 's/\(IPSECKEY[[:space:]]*\)10 0 2/\111 0 2/' "$dir/bad.test.zone"
for z in unsigned.oe.test sub.ent.oe.test $v6u; do cp "$dir/$z" "$dir/$z.zone"; done
cp "$dir/100.51.198.in-addr.arpa" "$dir/100.51.198.in-addr.arpa.zone"

# shellcheck disable=SC2086 # zone lists are words
nsd_conf "$dir" "$port" "127.0.0.1@$port" -- $signed unsigned.oe.test sub.ent.oe.test $v6u 100.51.198.in-addr.arpa stripped.test >"$dir/nsd.conf"

nsd -d -c "$dir/nsd.conf" >"$dir/nsd.out" 2>&1 &
nsd_pid=$!
up=0
for _ in $(seq 1 50); do
	if python3 - "$port" <<'EOF' 2>/dev/null; then up=1; break; fi
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.1)
q = bytes.fromhex("abcd01000001000000000000") + b"\x02oe\x04test\x00\x00\x06\x00\x01"
s.sendto(q, ("127.0.0.1", int(sys.argv[1]))); s.recvfrom(4096)
EOF
	sleep 0.1
done
if [ $up = 0 ]; then
	echo "not ok - dns: NSD did not start"
	sed 's/^/#   /' "$dir/nsd.out" "$dir/nsd.log" 2>/dev/null
	exit 1
fi
echo "# NSD on 127.0.0.1:$port (pid $nsd_pid)"

"$T" server "127.0.0.1:$port" "$dir/anchors"
rc=$?

# `ipsec lookup` end to end (when the ipsec program is built).
if [ -x "$IPSEC" ]; then
	conf="$dir/ipsec.conf"
	printf 'config setup\n\tnameservers=127.0.0.1:%s\n\tdnssec-anchors=%s\n' \
		"$port" "$dir/anchors" >"$conf"
	out=$("$IPSEC" lookup --server "127.0.0.1:$port" --anchor "$dir/anchors" 192.0.2.5 2>&1)
	st=$?
	if [ $st = 0 ] && echo "$out" | grep -q 'secure' && echo "$out" | grep -q 'IPSECKEY'; then
		echo "ok - dns: ipsec lookup 192.0.2.5 (secure IPSECKEY, exit 0)"
	else
		echo "not ok - dns: ipsec lookup 192.0.2.5 exit $st"; echo "$out" | sed 's/^/#   /'
	fi
	out=$("$IPSEC" lookup --server "127.0.0.1:$port" --anchor "$dir/anchors" @host.bad.test 2>&1)
	st=$?
	if [ $st = 1 ] && echo "$out" | grep -q 'bogus'; then
		echo "ok - dns: ipsec lookup @host.bad.test (bogus, exit 1)"
	else
		echo "not ok - dns: ipsec lookup @host.bad.test exit $st"; echo "$out" | sed 's/^/#   /'
	fi
	out=$("$IPSEC" lookup --config "$conf" 192.0.2.99 2>&1)
	st=$?
	if [ $st = 1 ] && echo "$out" | grep -qi 'nxdomain'; then
		echo "ok - dns: ipsec lookup --config 192.0.2.99 (NXDOMAIN, exit 1)"
	else
		echo "not ok - dns: ipsec lookup --config 192.0.2.99 exit $st"; echo "$out" | sed 's/^/#   /'
	fi
	"$IPSEC" lookup --bogus-option x >/dev/null 2>&1
	st=$?
	if [ $st = 2 ]; then echo "ok - dns: ipsec lookup usage error exits 2"
	else echo "not ok - dns: ipsec lookup usage error exit $st"; fi
fi
[ -n "${DNS_KEEP:-}" ] && { echo "# kept: $dir port $port"; sleep "$DNS_KEEP"; }
exit $rc
