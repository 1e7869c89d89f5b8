#!/bin/bash
# `ipsec verify` against a real authoritative server: NSD on a free loopback port serving
# zones signed at test time, with records made by `ipsec showhostkey` from a fresh host key.
#
#   ipsec verify (config: listen=, myid=, nameservers=127.0.0.1:PORT, dnssec-anchors=)
#        │ dk lookup (c-ares + ldns), as peers would
#        ▼
#   NSD 127.0.0.1:PORT
#        2.0.192.in-addr.arpa.  signed: .10 IPSECKEY ours, .11 another key, .12 nothing,
#                               .13 TXT ours, .14 KEY ours, .15 ours via gateway 192.0.2.99
#        8.b.d.0.1.0.0.2.ip6.arpa. signed: 2001:db8::10 IPSECKEY ours, gateway itself
#        oe.test.               signed: host IPSECKEY ours (myid=@host.oe.test)
#        bad.test.              signed, then the record altered: bogus
#        100.51.198.in-addr.arpa. unsigned, no anchor: .10 IPSECKEY ours (insecure)
# Prints ok / not ok lines.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/netns/lib.sh # nsd_conf
B=${B:-build}
IPSEC=$B/ipsec

for tool in nsd ldns-keygen ldns-signzone ldns-key2ds python3; do
	command -v $tool >/dev/null || { echo "not ok - verify: $tool missing (tools/deps.sh)"; exit 1; }
done
[ -x "$IPSEC" ] || { echo "not ok - verify: $IPSEC not built"; exit 1; }

dir=$(mktemp -d /tmp/oet-verify.XXXXXX)
nsd_pid=
cleanup() {
	[ -n "$nsd_pid" ] && kill "$nsd_pid" 2>/dev/null && wait "$nsd_pid" 2>/dev/null
	[ -n "${VERIFY_KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT

port=$(python3 - <<'PY'
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
PY
)

# Our host key and someone else's; the records come from showhostkey, unchanged.
"$IPSEC" newhostkey --bits 2048 --output "$dir/host.pem" >/dev/null 2>&1 &&
	"$IPSEC" newhostkey --keytype ed25519 --output "$dir/other.pem" >/dev/null 2>&1 ||
	{ echo "not ok - verify: newhostkey"; exit 1; }
show() { "$IPSEC" showhostkey --file "$1" "${@:2}" || echo "; showhostkey $* failed"; }

soa() { printf '$TTL 300\n@ IN SOA ns.oe.test. hostmaster.oe.test. 1 3600 900 604800 60\n@ IN NS ns.oe.test.\n'; }
{ soa; show "$dir/host.pem" --ipseckey --id 192.0.2.10
	show "$dir/other.pem" --ipseckey --id 192.0.2.11
	show "$dir/host.pem" --txt 192.0.2.13 --id 192.0.2.13
	show "$dir/host.pem" --key --id 192.0.2.14
	show "$dir/host.pem" --ipseckey --gateway 192.0.2.99 --id 192.0.2.15
	# .16: our RSA key with the 3-octet exponent length form of RFC 3110 §2 (other bytes,
	# same key).
	long=$(show "$dir/host.pem" --ipseckey --id 192.0.2.16 | awk '/IPSECKEY/ {print $NF}' |
		python3 -c 'import base64, sys
b = base64.b64decode(sys.stdin.read().strip())
print(base64.b64encode(b"\0\0" + b).decode())')
	echo "16 IN IPSECKEY 10 0 2 . $long"
} >"$dir/2.0.192.in-addr.arpa"
{ soa; show "$dir/host.pem" --ipseckey --gateway 2001:db8::10 --id 2001:db8::10
} >"$dir/8.b.d.0.1.0.0.2.ip6.arpa"
{ soa; echo "ns IN A 127.0.0.1"; show "$dir/host.pem" --ipseckey --id @host.oe.test; } >"$dir/oe.test"
{ soa; show "$dir/host.pem" --ipseckey --id @host.bad.test; } >"$dir/bad.test"
{ soa; show "$dir/host.pem" --ipseckey --id 198.51.100.10; } >"$dir/100.51.198.in-addr.arpa"
if grep -q 'showhostkey.*failed' "$dir"/*.arpa "$dir"/*.test; then
	echo "not ok - verify: showhostkey"; grep -h failed "$dir"/*.arpa "$dir"/*.test; exit 1
fi

inception=$(date -u -d '1 hour ago' +%Y%m%d%H%M%S)
signed="oe.test 2.0.192.in-addr.arpa 8.b.d.0.1.0.0.2.ip6.arpa bad.test"
: >"$dir/anchors"
for z in $signed; do
	k=$(cd "$dir" && ldns-keygen -a ECDSAP256SHA256 -k "$z") &&
		(cd "$dir" && ldns-signzone -i "$inception" -o "$z" -f "$z.zone" "$z" "$k" &&
			ldns-key2ds -n -2 "$k.key" >>anchors) || { echo "not ok - verify: signing $z"; exit 1; }
done
# bad.test: change the signed record's precedence so its RRSIG no longer matches.
sed -i 's/\(IPSECKEY[[:space:]]*\)10 0 2/\111 0 2/' "$dir/bad.test.zone"
cp "$dir/100.51.198.in-addr.arpa" "$dir/100.51.198.in-addr.arpa.zone"

# shellcheck disable=SC2086 # zone lists are words
nsd_conf "$dir" "$port" "127.0.0.1@$port" -- $signed 100.51.198.in-addr.arpa >"$dir/nsd.conf"
nsd -d -c "$dir/nsd.conf" >"$dir/nsd.out" 2>&1 &
nsd_pid=$!
up=0
for _ in $(seq 1 50); do
	if python3 - "$port" <<'PY' 2>/dev/null; then up=1; break; fi
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.1)
q = bytes.fromhex("abcd01000001000000000000") + b"\x02oe\x04test\x00\x00\x06\x00\x01"
s.sendto(q, ("127.0.0.1", int(sys.argv[1]))); s.recvfrom(4096)
PY
	sleep 0.1
done
if [ $up = 0 ]; then
	echo "not ok - verify: NSD did not start"
	sed 's/^/#   /' "$dir/nsd.out" "$dir/nsd.log" 2>/dev/null
	exit 1
fi
echo "# NSD on 127.0.0.1:$port (pid $nsd_pid)"

# conf NAME LINES...: a config with our key, the test server and anchors, plus LINES.
conf() {
	local f="$dir/$1.conf"
	shift
	{ printf 'config setup\n\thostkey=%s\n\tnameservers=127.0.0.1:%s\n' "$dir/host.pem" "$port"
		printf '\tdnssec-anchors=%s\n\tdnssec-rootkey-file=none\n\tdns-timeout=500ms\n' "$dir/anchors"
		for l in "$@"; do printf '\t%s\n' "$l"; done; } >"$f"
	echo "$f"
}

# check NAME WANT_EXIT 'egrep that must match' [ipsec verify args...]
check() {
	local name=$1 want=$2 pat=$3 out st
	shift 3
	out=$(timeout 30 "$IPSEC" verify "$@" 2>&1)
	st=$?
	if [ "$st" = "$want" ] && echo "$out" | grep -Eq -- "$pat"; then
		echo "ok - verify: $name (exit $st)"
	else
		echo "not ok - verify: $name: exit $st, want $want and /$pat/"
		echo "$out" | sed 's/^/#   /'
	fi
}

# The agent's side of the same lookup: the resolver driven by its event loop (oe_dns).
if [ -x "$B/tests/test_dns_loop" ]; then
	"$B/tests/test_dns_loop" server "127.0.0.1:$port" "$dir/anchors" 192.0.2.10
else
	echo "not ok - verify: $B/tests/test_dns_loop not built"
fi

check "published IPSECKEY with our key, secure" 0 \
	'^OK +192\.0\.2\.10: DNSSEC secure' --config "$(conf good listen=192.0.2.10)"
check "summary line counts the matching record" 0 \
	'^OK +1 record carries our key and validates; 0 failures' --config "$dir/good.conf"
check "published with a different key" 1 \
	'^FAIL +192\.0\.2\.11: IPSECKEY precedence 10: keyid .* is not our host key' \
	--config "$(conf otherkey listen=192.0.2.11)"
check "not published (NXDOMAIN)" 1 \
	'^FAIL +192\.0\.2\.12: not published at 12\.2\.0\.192\.in-addr\.arpa\.: name does not exist' \
	--config "$(conf none listen=192.0.2.12)"
check "bogus signature (myid=@host.bad.test)" 1 \
	'^FAIL +@host\.bad\.test: DNSSEC bogus, peers refuse it, at host\.bad\.test\.' \
	--config "$(conf bogus listen=192.0.2.12 myid=@host.bad.test)"
check "TXT X-IPsec-Server with our key" 0 \
	'^OK +192\.0\.2\.13: TXT precedence 10: gateway 192\.0\.2\.13 is this host' \
	--config "$(conf txt listen=192.0.2.13)"
check "KEY with our key" 0 '^OK +192\.0\.2\.14: KEY precedence 0: keyid .* matches our host key' \
	--config "$(conf key listen=192.0.2.14)"
check "our key in another RFC 3110 encoding matches" 0 \
	'^OK +192\.0\.2\.16: IPSECKEY precedence 10: keyid AAADAQAB. matches our host key' \
	--config "$(conf long listen=192.0.2.16)"
check "IPv6: our key at the ip6.arpa name, gateway this host" 0 \
	'^OK +2001:db8::10: IPSECKEY precedence 10: gateway 2001:db8::10 is this host' \
	--config "$(conf v6 listen=2001:db8::10)"
check "another gateway is a warning" 0 \
	'^WARN +192\.0\.2\.15: .*gateway 192\.0\.2\.99 is not this host' \
	--config "$(conf gw listen=192.0.2.15)"
check "myid=@FQDN checked at its forward name" 0 '^OK +@host\.oe\.test: DNSSEC secure' \
	--config "$(conf fqdn listen=192.0.2.12 myid=@host.oe.test)"
check "one unpublished address is still reported" 0 '^FAIL +192\.0\.2\.12: not published' \
	--config "$dir/fqdn.conf"
check "unsigned zone: insecure is not enough with dnssec-enable=yes" 1 \
	'^FAIL +198\.51\.100\.10: DNSSEC insecure' --config "$(conf insec listen=198.51.100.10)"
check "unsigned zone accepted with dnssec-enable=no" 0 \
	'^OK +198\.51\.100\.10: DNSSEC insecure, accepted with dnssec-enable=no' \
	--config "$(conf insecno listen=198.51.100.10 dnssec-enable=no)"
check "identities on the command line replace the config's" 0 \
	'^OK +192\.0\.2\.10: DNSSEC secure' --config "$dir/none.conf" 192.0.2.10
sed -i "s|hostkey=.*|hostkey=$dir/missing.pem|" "$dir/none.conf"
check "missing host key" 1 '^FAIL +hostkey: cannot load .*missing\.pem' --config "$dir/none.conf"
check "unknown option is a usage error" 2 'ipsec verify: unknown option' --bogus
# No listen= and no global address (a fresh network namespace has only lo): nothing to check.
grep -v listen= "$dir/good.conf" >"$dir/noaddr.conf"
out=$(timeout 30 unshare -n "$IPSEC" verify --config "$dir/noaddr.conf" 2>&1)
st=$?
if [ $st = 1 ] && echo "$out" | grep -q '^FAIL  identities: no address to check'; then
	echo "ok - verify: no address and no myid is a failure that says so (exit 1)"
else
	echo "not ok - verify: no address: exit $st"; echo "$out" | sed 's/^/#   /'
fi

# The config's dns-timeout and dns-retries reach the lookup: against a server that never
# answers, `ipsec lookup` gives up after dns-timeout (200 ms, no retry), not the default 6 s.
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True); time.sleep(30)' >"$dir/silent.port" &
silent_pid=$!
for _ in $(seq 1 50); do [ -s "$dir/silent.port" ] && break; sleep 0.1; done
conf silent "dns-retries=0" >/dev/null
sed -i -e "s/nameservers=.*/nameservers=127.0.0.1:$(cat "$dir/silent.port")/" \
	-e "s/dns-timeout=.*/dns-timeout=200ms/" "$dir/silent.conf"
t0=$(date +%s%N)
out=$(timeout 30 "$IPSEC" lookup --config "$dir/silent.conf" 192.0.2.10 2>&1)
st=$?
ms=$((($(date +%s%N) - t0) / 1000000))
kill $silent_pid 2>/dev/null; wait $silent_pid 2>/dev/null
if [ $st = 1 ] && echo "$out" | grep -q '^status: *timeout' && [ $ms -lt 2000 ]; then
	echo "ok - verify: ipsec lookup obeys dns-timeout/dns-retries of the config (timeout in $ms ms)"
else
	echo "not ok - verify: ipsec lookup with a silent server: exit $st after $ms ms"
	echo "$out" | sed 's/^/#   /'
fi

# No nameservers= in the config: the servers come from /etc/resolv.conf. In a private network
# and mount namespace, a second NSD serves the same zones on 127.0.0.1:53 and a private
# resolv.conf (bind-mounted over the real one, which stays untouched) names it.
sed -e "s/@$port/@53/; s/port: $port/port: 53/; s|nsd.pid|nsd53.pid|; s|nsd.log|nsd53.log|" \
	-e "s|xfrd.state|xfrd53.state|; s|zone.list|zone53.list|" "$dir/nsd.conf" >"$dir/nsd53.conf"
echo "nameserver 127.0.0.1" >"$dir/resolv.conf"
grep -v nameservers= "$dir/good.conf" >"$dir/resolv-ns.conf"
out=$(timeout 30 unshare -mn bash -c '
	ip link set lo up || exit 3
	mount --bind "$1/resolv.conf" /etc/resolv.conf || exit 3
	nsd -d -c "$1/nsd53.conf" >/dev/null 2>&1 & p=$!
	for _ in $(seq 1 50); do
		[ -s "$1/nsd53.pid" ] && break
		sleep 0.1
	done
	"$2" verify --config "$1/resolv-ns.conf"; st=$?
	kill $p; wait $p 2>/dev/null
	exit $st' sh "$dir" "$IPSEC" 2>&1)
st=$?
if [ $st = 0 ] && echo "$out" | grep -q '^OK  *192\.0\.2\.10: DNSSEC secure'; then
	echo "ok - verify: servers from /etc/resolv.conf when the config names none (exit 0)"
else
	echo "not ok - verify: servers from /etc/resolv.conf: exit $st"; echo "$out" | sed 's/^/#   /'
fi
