#!/bin/bash
# dnskeys records end to end: `ipsec newhostkey` makes one key of each type, `ipsec
# showhostkey` prints every record form, the records go unchanged into two zone files
# (2.0.192.in-addr.arpa and 8.b.d.0.1.0.0.2.ip6.arpa) that ldns-read-zone and nsd-checkzone
# must accept; NSD serves them on a free 127.0.0.1 port, drill fetches them, and our own
# decoder (build/tests/test_dnskeys_rdata --packet) must turn each answer back into exactly
# the rdata we published. Needs: nsd, ldnsutils (drill, ldns-read-zone). No namespaces: only
# loopback. Prints "ok - ..." / "not ok - ..." per check.
set -u
cd "$(dirname "$0")/../.." || exit 2
B=${B:-build}
IPSEC=$PWD/$B/ipsec
RDATA=$PWD/$B/tests/test_dnskeys_rdata
T=$(mktemp -d /tmp/oet-dnskeys.XXXXXX)
NSD_PID=

cleanup() {
	[ -n "$NSD_PID" ] && kill "$NSD_PID" 2>/dev/null && wait "$NSD_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

fails=0
ok() { echo "ok - dnskeys_records: $*"; }
nok() { echo "not ok - dnskeys_records: $*"; fails=$((fails + 1)); }
check() { # check DESCRIPTION COMMAND...
	local d=$1
	shift
	if "$@" >"$T/out" 2>&1; then ok "$d"; else nok "$d"; sed 's/^/#   /' "$T/out" | head -20; fi
}

for x in "$IPSEC" "$RDATA"; do
	[ -x "$x" ] || { nok "missing $x (run make tests first)"; exit 1; }
done
for x in nsd drill ldns-read-zone nsd-checkzone; do
	command -v $x >/dev/null || { nok "missing $x (tools/deps.sh installs nsd ldnsutils)"; exit 1; }
done

# --- keys: one of each type; the default RSA size; no overwrite without --force ----------------
check "newhostkey rsa (default 3072 bits)" "$IPSEC" newhostkey --output "$T/keys/rsa.pem"
check "newhostkey ecdsa" "$IPSEC" newhostkey --keytype ecdsa --output "$T/keys/ecdsa.pem"
check "newhostkey ed25519" "$IPSEC" newhostkey --keytype ed25519 --output "$T/keys/ed25519.pem"
check "key files are mode 0600 in a 0700 directory" \
	test "$(stat -c %a "$T/keys" "$T/keys/rsa.pem" "$T/keys/ed25519.pem" | tr '\n' ' ')" = "700 600 600 "
check "newhostkey refuses to overwrite" bash -c "! '$IPSEC' newhostkey --output '$T/keys/rsa.pem'"
check "newhostkey --force overwrites, --bits sets the size, the printed keyid is the key's" \
	bash -c "'$IPSEC' newhostkey --keytype ed25519 --output '$T/keys/force.pem' >/dev/null &&
	id=\$('$IPSEC' newhostkey --force --bits 2048 --output '$T/keys/force.pem') &&
	'$IPSEC' showhostkey --file '$T/keys/force.pem' --key --id 192.0.2.10 |
	grep -q \"^; RSA 2048 bits, keyid \$id,\""
check "newhostkey --bits outside 2048..8192 is a usage error" \
	bash -c "'$IPSEC' newhostkey --bits 1024 --output '$T/keys/x.pem'; test \$? = 2"
check "newhostkey --bits with a non-RSA key is a usage error" \
	bash -c "'$IPSEC' newhostkey --keytype ecdsa --bits 3072 --output '$T/keys/x.pem'; test \$? = 2"
check "newhostkey ecdsa is P-256" bash -c "'$IPSEC' showhostkey --file '$T/keys/ecdsa.pem' \
	--ipseckey --id 192.0.2.10 | grep -q '^; ECDSA P-256 256 bits'"
check "RSA key has 3072 bits" bash -c "'$IPSEC' showhostkey --file '$T/keys/rsa.pem' --key \
	--id 192.0.2.10 | grep -q '^; RSA 3072 bits, keyid AwEAA'"
refused() { # refused DESCRIPTION WANT-IN-STDERR COMMAND...: must fail and say why
	local d=$1 want=$2
	shift 2
	if "$@" >"$T/out" 2>&1; then nok "$d (exit status 0)"
	elif grep -q "$want" "$T/out"; then ok "$d"
	else nok "$d"; sed 's/^/#   /' "$T/out"; fi
}
refused "KEY refused for Ed25519 with a reason" "KEY records can only carry RSA keys" \
	"$IPSEC" showhostkey --file "$T/keys/ed25519.pem" --key --id 192.0.2.12
refused "TXT refused for ECDSA with a reason" "TXT records can only carry RSA keys" \
	"$IPSEC" showhostkey --file "$T/keys/ecdsa.pem" --txt 192.0.2.11 --id 192.0.2.11
check "--left prints leftrsasigkey=0s for RSA" bash -c "'$IPSEC' showhostkey \
	--file '$T/keys/rsa.pem' --left | grep -q '^	leftrsasigkey=0sAwEAA'"
check "--right prints rightpubkey=0s (SPKI) for Ed25519" bash -c "'$IPSEC' showhostkey \
	--file '$T/keys/ed25519.pem' --right | grep -q '^	rightpubkey=0sMCowBQYDK2VwAyEA'"

# --- the config names the key file and the address (the default record owner) -----------------
printf 'config setup\n\tlisten=192.0.2.55\n\thostkey=%s\n' "$T/conf/hostkey.pem" >"$T/ipsec.conf"
check "newhostkey writes the config's hostkey" "$IPSEC" --config "$T/ipsec.conf" newhostkey \
	--keytype ed25519
check "showhostkey owner defaults to the reverse name of listen=" bash -c "'$IPSEC' --config \
	'$T/ipsec.conf' showhostkey --ipseckey | grep -q '^55.2.0.192.in-addr.arpa.	IN	IPSECKEY	10 0 4 . '"

# --- zones: every record form, printed by showhostkey and pasted unchanged ----------------------
soa() {
	printf '$TTL 300\n%s IN SOA ns.test. admin.test. 1 3600 600 86400 300\n%s IN NS ns.test.\n' "$1" "$1"
}
V4=2.0.192.in-addr.arpa.
V6=8.b.d.0.1.0.0.2.ip6.arpa.
soa $V4 >"$T/v4.zone"
soa $V6 >"$T/v6.zone"
show() { # show ZONEFILE KEY ID FORM...
	local z=$1 k=$2 id=$3
	shift 3
	"$IPSEC" showhostkey --file "$T/keys/$k.pem" --id "$id" "$@" >>"$z" ||
		nok "showhostkey --file $k.pem --id $id $*"
}
declare -A ID=([rsa]=192.0.2.10 [ecdsa]=192.0.2.11 [ed25519]=192.0.2.12)
declare -A ID6=([rsa]=2001:db8::10 [ecdsa]=2001:db8::11 [ed25519]=2001:db8::12)
for k in rsa ecdsa ed25519; do
	for z in v4 v6; do
		if [ $z = v4 ]; then id=${ID[$k]}; else id=${ID6[$k]}; fi
		show "$T/$z.zone" $k "$id" --ipseckey
		show "$T/$z.zone" $k "$id" --ipseckey --gateway 192.0.2.1 --precedence 20
		show "$T/$z.zone" $k "$id" --ipseckey --gateway 2001:db8::1 --precedence 30
		show "$T/$z.zone" $k "$id" --ipseckey --gateway gw.example --precedence 40
		if [ $k = rsa ]; then
			show "$T/$z.zone" $k "$id" --txt "$id"
			show "$T/$z.zone" $k "$id" --txt @gw.example --precedence 20
			show "$T/$z.zone" $k "$id" --key
		fi
	done
done
count() { cat "$T/v4.zone" "$T/v6.zone" | grep -c "	IN	$1	"; }
check "records printed: 24 IPSECKEY, 4 TXT, 2 KEY" \
	test "$(count IPSECKEY) $(count TXT) $(count KEY)" = "24 4 2"
check "ldns-read-zone accepts the IPv4 reverse zone" ldns-read-zone "$T/v4.zone"
check "ldns-read-zone accepts the IPv6 reverse zone" ldns-read-zone "$T/v6.zone"
check "nsd-checkzone accepts the IPv4 reverse zone" nsd-checkzone ${V4%.} "$T/v4.zone"
check "nsd-checkzone accepts the IPv6 reverse zone" nsd-checkzone ${V6%.} "$T/v6.zone"

# --- serve them: NSD on a free loopback port -------------------------------------------------------
PORT=$(python3 - <<'PY'
import socket, random
for p in random.sample(range(20000, 30000), 200):
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", p))
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM); t.bind(("127.0.0.1", p))
        u.close(); t.close(); print(p); break
    except OSError:
        pass
PY
)
cat >"$T/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$PORT
  port: $PORT
  database: ""
  zonelistfile: "$T/zone.list"
  pidfile: "$T/nsd.pid"
  logfile: "$T/nsd.log"
  xfrdfile: "$T/xfrd.state"
  zonesdir: "$T"
  username: ""
  chroot: ""
  server-count: 1
remote-control:
  control-enable: no
zone:
  name: ${V4%.}
  zonefile: $T/v4.zone
zone:
  name: ${V6%.}
  zonefile: $T/v6.zone
CONF
nsd -d -c "$T/nsd.conf" >"$T/nsd.out" 2>&1 &
NSD_PID=$!
up=no
for _ in $(seq 50); do
	if drill -p "$PORT" @127.0.0.1 $V4 SOA 2>/dev/null | grep -q 'rcode: NOERROR'; then
		up=yes
		break
	fi
	kill -0 $NSD_PID 2>/dev/null || break
	sleep 0.1
done
if [ $up = yes ]; then ok "nsd serves both zones on 127.0.0.1 port $PORT"; else
	nok "nsd did not start on port $PORT"
	sed 's/^/#   /' "$T/nsd.out" "$T/nsd.log" 2>/dev/null | tail -20
	exit 1
fi

# --- query every owner and type; our decoder must give back what we published --------------------
# query NAME TYPE ZONEFILE: drill returns the records and they decode to the zone's rdata.
query() {
	local name=$1 type=$2 zone=$3 want got n
	want=$(awk -v n="$name" -v t="$type" -F'\t' '$1 == n && $3 == t { print t " " $4 }' \
		"$zone" | sort)
	n=$(printf '%s\n' "$want" | grep -c .)
	# TCP: a 3072-bit RSA key times four records does not fit a 512-octet UDP answer.
	if ! drill -t -p "$PORT" @127.0.0.1 "$name" "$type" >"$T/drill.txt" 2>&1; then
		nok "drill $name $type failed"
		return
	fi
	got=$(awk -v t="$type" '!/^;/ && $4 == t' "$T/drill.txt" | grep -c .)
	if [ "$got" -eq "$n" ] && [ "$n" -gt 0 ]; then ok "drill $name $type returns $n records"
	else nok "drill $name $type returns $got records, want $n"; sed 's/^/#   /' "$T/drill.txt"; fi
	drill -t -w "$T/pkt" -p "$PORT" @127.0.0.1 "$name" "$type" >/dev/null 2>&1
	got=$("$RDATA" --packet "$T/pkt" 2>&1 | sort)
	if [ "$got" = "$want" ]; then ok "$name $type: our decoder reads back the published rdata"
	else
		nok "$name $type: decoded rdata differs from the zone"
		diff <(echo "$want") <(echo "$got") | sed 's/^/#   /' | head -20
	fi
}
rev6() { # the ip6.arpa. name of 2001:db8::X (X one or two hex digits)
	local x=$1
	[ ${#x} = 1 ] && x=0$x
	echo "${x:1:1}.${x:0:1}.$(printf '0.%.0s' $(seq 22))8.b.d.0.1.0.0.2.ip6.arpa."
}
for k in rsa ecdsa ed25519; do
	o4=$(echo "${ID[$k]}" | awk -F. '{ print $4 "." $3 "." $2 "." $1 ".in-addr.arpa." }')
	o6=$(rev6 "${ID6[$k]##*:}")
	query "$o4" IPSECKEY "$T/v4.zone"
	query "$o6" IPSECKEY "$T/v6.zone"
	if [ $k = rsa ]; then
		query "$o4" TXT "$T/v4.zone"
		query "$o4" KEY "$T/v4.zone"
		query "$o6" TXT "$T/v6.zone"
		query "$o6" KEY "$T/v6.zone"
	fi
done
[ $fails -eq 0 ]
