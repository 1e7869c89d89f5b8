#!/bin/bash
# Shared helpers for the namespace tests (source it; run alone it does nothing): a LAN of
# namespaced hosts, a DNSSEC-signing NSD, agents with generated configs, tcpdump captures,
# bounded waits and ok / not ok reporting. Everything lives in namespaces named
# oet-<test>-$$-<role> and in one temporary directory, removed by the EXIT trap.
#
#   +------------------+   +------------------+   +------------------+
#   | oet-T-$$-a       |   | oet-T-$$-b       |   | oet-T-$$-dns     |
#   |  oe-agent        |   |  (peer; later a  |   |  nsd on :53      |
#   |  192.0.2.1       |   |   second agent)  |   |  192.0.2.53      |
#   |  2001:db8::1     |   |  192.0.2.2 ...   |   |  2001:db8::53    |
#   +-------eth0-------+   +-------eth0-------+   +-------eth0-------+
#           |  veth                |  veth                |  veth
#   +------p-a---------------------p-b---------------------p-dns------+
#   | oet-T-$$-lan: bridge br0 (one L2 segment: 192.0.2.0/24,        |
#   |               2001:db8::/64; hosts add more addresses at will)  |
#   +-----------------------------------------------------------------+
#
# Use (from the repository root; B= picks the build directory, as for the other tests):
#   . tests/netns/lib.sh; nt_init trap; net_lan; net_host a 192.0.2.1 2001:db8::1
#   net_host b 192.0.2.2; agent_conf a KEY=VALUE...; agent_policy a private </dev/null
#   agent_start a; ping_ok a 192.0.2.2; eroute_has a 192.0.2.1 192.0.2.2 %pass
# Any role can run an agent (two agents for IKE: agent_conf b ...; agent_start b).
# Every wait is bounded; every process started here is killed by its PID at exit.
# shellcheck disable=SC2034

[ "${BASH_SOURCE[0]}" = "$0" ] && exit 0

NT_B=${B:-build}
case $NT_B in /*) ;; *) NT_B=$PWD/$NT_B ;; esac
NT_AGENT=$NT_B/oe-agent
NT_IPSEC=$NT_B/ipsec
NT_NAME=
NT_DIR=
NT_NS=()     # namespaces we created (deleted at exit, in reverse order)
NT_PIDS=()   # processes we started (killed at exit)
declare -A NT_AGENT_PID NT_CAP_PID

# --- reporting -----------------------------------------------------------------------------------
ok() { echo "ok - $NT_NAME: $1"; }
# nok NAME [DETAIL]: a failure, with DETAIL indented as a comment
nok() {
	echo "not ok - $NT_NAME: $1"
	[ $# -gt 1 ] && printf '%s\n' "$2" | sed -n '1,60p' | sed 's/^/#   /'
	return 0
}
# check NAME CMD...: ok when CMD succeeds, otherwise its output is shown
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$name"; else nok "$name" "$out"; fi
}
# result NAME RC [DETAIL]: ok when RC is 0
result() { if [ "$2" -eq 0 ]; then ok "$1"; else nok "$1" "${3:-}"; fi; }
note() { echo "# $*"; }

# --- waiting -------------------------------------------------------------------------------------
# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds; fails after SECONDS
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ $SECONDS -ge $end ] && return 1
		sleep 0.1
	done
}
# elapsed_ms START_NS: milliseconds since START_NS (date +%s%N)
elapsed_ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

# --- set-up and teardown -------------------------------------------------------------------------
# nt_init NAME: checks root and the programs, makes NT_DIR, installs the EXIT trap
nt_init() {
	NT_NAME=$1
	if [ "$(id -u)" != 0 ]; then echo "not ok - $NT_NAME: must run as root"; exit 1; fi
	local b
	for b in "$NT_AGENT" "$NT_IPSEC"; do
		[ -x "$b" ] || { echo "not ok - $NT_NAME: $b not built"; exit 1; }
	done
	NT_DIR=$(mktemp -d "/tmp/oet-$NT_NAME.XXXXXX") || exit 1
	trap nt_cleanup EXIT
	trap 'exit 130' INT TERM
}

# nt_need TOOL...: fails the test (not skips) when a tool is missing
nt_need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null ||
			{ echo "not ok - $NT_NAME: $t missing (tools/deps.sh)"; exit 1; }
	done
}

nt_cleanup() {
	local p i
	for p in "${NT_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${NT_PIDS[@]}"; do
		for i in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for ((i = ${#NT_NS[@]} - 1; i >= 0; i--)); do ip netns del "${NT_NS[i]}" 2>/dev/null; done
	[ -n "${NT_KEEP:-}" ] && { echo "# kept $NT_DIR"; return; }
	[ -n "$NT_DIR" ] && rm -rf "$NT_DIR"
}

# nt_bg CMD...: starts CMD in the background and records its PID in NT_BG
nt_bg() {
	"$@" &
	NT_BG=$!
	NT_PIDS+=("$NT_BG")
}

# --- namespaces and links ------------------------------------------------------------------------
ns() { echo "oet-$NT_NAME-$$-$1"; }
# in_ns ROLE CMD...: runs CMD in ROLE's namespace, at most 30 s
in_ns() {
	local r=$1
	shift
	timeout 30 ip netns exec "$(ns "$r")" "$@"
}

# net_lan: the LAN namespace with bridge br0
net_lan() {
	local l
	l=$(ns lan)
	ip netns add "$l" || { nok "netns add $l"; exit 1; }
	NT_NS+=("$l")
	ip -n "$l" link add br0 type bridge &&
		ip -n "$l" link set br0 type bridge forward_delay 0 stp_state 0 &&
		ip -n "$l" link set br0 up && ip -n "$l" link set lo up ||
		{ nok "bridge in $l"; exit 1; }
}

# net_host ROLE ADDR...: namespace with eth0 on the LAN bridge; IPv4 addresses get /24, IPv6
# /64 (no DAD, so they are usable at once); more with net_addr.
net_host() {
	local r=$1 n l a
	shift
	n=$(ns "$r")
	l=$(ns lan)
	ip netns add "$n" || { nok "netns add $n"; exit 1; }
	NT_NS+=("$n")
	ip -n "$l" link add name "p-$r" type veth peer name eth0 netns "$n" &&
		ip -n "$l" link set dev "p-$r" master br0 && ip -n "$l" link set dev "p-$r" up &&
		ip -n "$n" link set lo up && ip -n "$n" link set eth0 up ||
		{ nok "veth for $r"; exit 1; }
	# IPv6 on a fresh link: no router solicitation noise, no DAD delay.
	ip netns exec "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.eth0.accept_dad=0 \
		net.ipv6.conf.eth0.router_solicitations=0 >/dev/null 2>&1
	for a in "$@"; do net_addr "$r" "$a"; done
}

# net_addr ROLE ADDR...: adds addresses to ROLE's eth0
net_addr() {
	local r=$1 a
	shift
	for a in "$@"; do
		case $a in
		*/*) ip -n "$(ns "$r")" addr add "$a" dev eth0 nodad 2>/dev/null ||
			ip -n "$(ns "$r")" addr add "$a" dev eth0 ;;
		*:*) ip -n "$(ns "$r")" addr add "$a/64" dev eth0 nodad ;;
		*) ip -n "$(ns "$r")" addr add "$a/24" dev eth0 ;;
		esac || { nok "address $a on $r"; exit 1; }
	done
}

# net_link ROLE up|down: takes ROLE off the LAN (its bridge port p-ROLE) or puts it back
net_link() { ip -n "$(ns lan)" link set dev "p-$1" "$2"; }

# --- DNS: NSD with zones signed at test time -----------------------------------------------------
# dns_zone ZONE: records on stdin (relative or absolute names); SOA and NS are added
dns_zone() {
	local z=$1
	mkdir -p "$NT_DIR/dns"
	{
		printf '$TTL 300\n$ORIGIN %s.\n' "$z"
		printf '@ IN SOA ns.oe.test. hostmaster.oe.test. 1 3600 900 604800 60\n'
		printf '@ IN NS ns.oe.test.\n'
		cat
	} >"$NT_DIR/dns/$z"
	cp "$NT_DIR/dns/$z" "$NT_DIR/dns/$z.zone"
	echo "$z" >>"$NT_DIR/dns/zones"
}

# dns_sign ZONE [nsec3]: signs ZONE (one ECDSA P-256 key as CSK) into ZONE.zone and appends
# its DS to the anchors file (dns_anchors prints its path)
dns_sign() {
	local z=$1 k opt=
	[ "${2:-}" = nsec3 ] && opt="-n -s $(printf '%04x' $RANDOM)"
	local inception
	inception=$(date -u -d '1 hour ago' +%Y%m%d%H%M%S)
	# shellcheck disable=SC2086
	k=$(cd "$NT_DIR/dns" && ldns-keygen -a ECDSAP256SHA256 -k "$z") &&
		(cd "$NT_DIR/dns" && ldns-signzone $opt -i "$inception" -o "$z" -f "$z.zone" "$z" "$k" &&
			ldns-key2ds -n -2 "$k.key" >>anchors) || { nok "dns: signing $z"; exit 1; }
}
dns_anchors() { echo "$NT_DIR/dns/anchors"; }
dns_zonefile() { echo "$NT_DIR/dns/$1.zone"; }

# nsd_conf DIR PORT ADDR... -- ZONE...: prints an NSD configuration that serves each ZONE from
# DIR/ZONE.zone on ADDR...:PORT, with every state file in DIR (no user change, no chroot). Used
# here and by the tests that run NSD on a loopback port (dns.sh, verify.sh).
nsd_conf() {
	local d=$1 port=$2 z
	shift 2
	printf 'server:\n'
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		printf '\tip-address: %s\n' "$1"
		shift
	done
	[ $# -gt 0 ] && shift
	cat <<EOF
	port: $port
	zonesdir: "$d"
	pidfile: "$d/nsd.pid"
	username: ""
	chroot: ""
	database: ""
	xfrdfile: "$d/xfrd.state"
	zonelistfile: "$d/zone.list"
	logfile: "$d/nsd.log"
	server-count: 1
	verbosity: 1
remote-control:
	control-enable: no
EOF
	for z in "$@"; do printf 'zone:\n\tname: %s\n\tzonefile: %s.zone\n' "$z" "$z"; done
}

# dns_start ROLE ADDR...: NSD on port 53 of ADDR... in ROLE's namespace, serving every zone
# made with dns_zone; waits (10 s at most) until it answers
dns_start() {
	local r=$1 d=$NT_DIR/dns z
	shift
	touch "$d/anchors"
	# shellcheck disable=SC2046 # zone names are single words
	nsd_conf "$d" 53 "$@" -- $(cat "$d/zones") >"$d/nsd.conf"
	nt_bg ip netns exec "$(ns "$r")" nsd -d -c "$d/nsd.conf" >"$d/nsd.out" 2>&1
	NT_DNS_PID=$NT_BG
	z=$(head -1 "$d/zones")
	if ! wait_for 10 dns_answers "$r" "$1" "$z"; then
		nok "dns: NSD did not start" "$(cat "$d/nsd.out" "$d/nsd.log" 2>/dev/null)"
		exit 1
	fi
	note "NSD on $* in $(ns "$r") (pid $NT_DNS_PID)"
}

# dns_answers ROLE ADDR ZONE: one SOA query from ROLE's namespace, answered within 0.5 s
dns_answers() {
	in_ns "$1" python3 - "$2" "$3" <<'EOF'
import socket, sys
addr, zone = sys.argv[1], sys.argv[2]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
q = bytes.fromhex("abcd00000001000000000000")
for label in zone.rstrip(".").split("."):
    q += bytes([len(label)]) + label.encode()
q += b"\x00\x00\x06\x00\x01"
s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(0.5)
s.sendto(q, (addr, 53)); r = s.recv(4096)
sys.exit(0 if r[:2] == b"\xab\xcd" and (r[3] & 0x0f) == 0 else 1)
EOF
}

# key_new NAME: an Ed25519 host key in NT_DIR/keys/NAME.pem
key_new() {
	mkdir -p "$NT_DIR/keys"
	"$NT_IPSEC" newhostkey --keytype ed25519 --output "$NT_DIR/keys/$1.pem" >/dev/null 2>&1 ||
		{ nok "newhostkey $1"; exit 1; }
}
# key_ipseckey NAME ADDR: the IPSECKEY record of key NAME at ADDR's reverse name
key_ipseckey() {
	"$NT_IPSEC" showhostkey --file "$NT_DIR/keys/$1.pem" --ipseckey --id "$2" | grep -v '^;'
}

# --- agents --------------------------------------------------------------------------------------
# agent_conf ROLE [KEY=VALUE...]: writes NT_DIR/ROLE/ipsec.conf: a private ipsecdir, control
# socket, pid file, log to stderr at debug, unless the given keys say otherwise; then those.
# The group files are NT_DIR/ROLE/policies/<group> (agent_policy writes them).
agent_conf() {
	local r=$1 d=$NT_DIR/$1 kv
	shift
	mkdir -p "$d/policies"
	{
		printf 'version 2\n\nconfig setup\n'
		for kv in "ipsecdir=$d" "ctlsocket=$d/run/ctl" "pidfile=$d/run/pid" logfile=stderr \
			loglevel=debug; do
			[[ " ${*%%=*} " == *" ${kv%%=*} "* ]] || printf '\t%s\n' "$kv"
		done
		for kv in "$@"; do printf '\t%s\n' "$kv"; done
	} >"$d/ipsec.conf"
}
# agent_policy ROLE GROUP: the group file's lines on stdin
agent_policy() { mkdir -p "$NT_DIR/$1/policies" && cat >"$NT_DIR/$1/policies/$2"; }

# agent_start ROLE: starts oe-agent -f in ROLE's namespace (log NT_DIR/ROLE/agent.log,
# appended across restarts); waits 10 s at most until `ipsec status` answers
agent_start() {
	local r=$1 d=$NT_DIR/$1
	echo "=== start $(date +%T.%N)" >>"$d/agent.log"
	ip netns exec "$(ns "$r")" "$NT_AGENT" -f --config "$d/ipsec.conf" 2>>"$d/agent.log" &
	NT_AGENT_PID[$r]=$!
	NT_PIDS+=($!)
	if wait_for 10 agent_ipsec "$r" status; then return 0; fi
	nok "agent $r starts" "$(tail -n 40 "$d/agent.log")"
	return 1
}
agent_pid() { echo "${NT_AGENT_PID[$1]:-}"; }
agent_log() { echo "$NT_DIR/$1/agent.log"; }
# agent_ipsec ROLE ARGS...: the ipsec command against ROLE's agent
agent_ipsec() {
	local r=$1
	shift
	in_ns "$r" "$NT_IPSEC" --config "$NT_DIR/$r/ipsec.conf" "$@"
}
# agent_stop ROLE: SIGTERM, waits 10 s at most; returns the exit status (124: did not stop)
agent_stop() {
	local p=${NT_AGENT_PID[$1]:-} rc
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null
	wait_for 10 eval "! kill -0 $p 2>/dev/null" || return 124
	wait "$p" 2>/dev/null
	rc=$?
	NT_AGENT_PID[$1]=
	return $rc
}
# agent_kill ROLE: SIGKILL, as a crash
agent_kill() {
	local p=${NT_AGENT_PID[$1]:-}
	[ -n "$p" ] || return 0
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	NT_AGENT_PID[$1]=
	return 0
}

# eroute_has ROLE SRC DST SAID: the KLIPS listing has "SRC/len -> DST/len => SAID"
eroute_has() {
	agent_ipsec "$1" eroute | grep -Eq "^[0-9]+ +${2//./\\.}/[0-9]+ +-> +${3//./\\.}/[0-9]+ +=> +$4\$"
}
# eroute_count ROLE SRC DST: the packet count of that pair's eroute (empty if none)
eroute_count() {
	agent_ipsec "$1" eroute |
		awk -v s="$2" -v d="$3" '{ split($2, a, "/"); split($4, b, "/") }
			a[1] == s && b[1] == d && $3 == "->" { print $1; exit }'
}

# nfq_seq ROLE [QUEUE]: packets handed to NFQUEUE QUEUE (default: all queues summed) in
# ROLE's namespace since its queue was bound (/proc/net/netfilter/nfnetlink_queue, id_sequence)
nfq_seq() {
	in_ns "$1" awk -v q="${2:-}" 'q == "" || $1 == q { n += $8 } END { print n + 0 }' \
		/proc/net/netfilter/nfnetlink_queue 2>/dev/null || echo 0
}

# --- traffic -------------------------------------------------------------------------------------
# ping_ok ROLE ADDR [COUNT [WAIT]]: COUNT (1) echo requests, each waiting WAIT (2) s
ping_ok() {
	in_ns "$1" ping -n -q -c "${3:-1}" -W "${4:-2}" "$2" >/dev/null 2>&1
}
# ping_out ROLE ADDR [COUNT [WAIT]]: ping's output (for ICMP errors)
ping_out() { in_ns "$1" ping -n -c "${3:-1}" -W "${4:-2}" "$2" 2>&1; }
# udp_send ROLE ADDR PORT [COUNT]: COUNT (1) datagrams; prints the errno name of a failure
udp_send() {
	in_ns "$1" python3 - "$2" "$3" "${4:-1}" <<'EOF'
import socket, sys, errno, time
a, p, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
s.connect((a, p))
err = 0
for i in range(n):
    try:
        s.send(b"oe-test %d" % i)
    except OSError as e:
        err = e.errno
        print(errno.errorcode.get(e.errno, e.errno))
    time.sleep(0.01)
sys.exit(1 if err else 0)
EOF
}

# udp_probe ROLE ADDR PORT: one datagram from a connected socket, then 3 s for an answer;
# prints "answer", "timeout" or the errno name an ICMP error turned into (EHOSTUNREACH, ...)
udp_probe() {
	in_ns "$1" python3 - "$2" "$3" <<'EOF'
import socket, sys, errno
a, p = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
s.connect((a, p))
s.settimeout(3)
try:
    s.send(b"oe-test probe")
    s.recv(100)
    print("answer")
except socket.timeout:
    print("timeout")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
EOF
}

# --- captures ------------------------------------------------------------------------------------
# cap_start ROLE NAME [FILTER...]: tcpdump on ROLE's eth0 into NT_DIR/NAME.pcap; returns once
# tcpdump listens (10 s at most)
cap_start() {
	local r=$1 name=$2 f=$NT_DIR/$2.pcap
	shift 2
	ip netns exec "$(ns "$r")" tcpdump --immediate-mode -U -n -i eth0 -w "$f" "$@" \
		>/dev/null 2>"$f.err" &
	NT_CAP_PID[$name]=$!
	NT_PIDS+=($!)
	wait_for 10 grep -q 'listening on' "$f.err" || { nok "tcpdump $name" "$(cat "$f.err")"; return 1; }
}
# cap_stop NAME: SIGINT (so nothing buffered is lost), waits 10 s at most
cap_stop() {
	local p=${NT_CAP_PID[$1]:-}
	[ -n "$p" ] || return 0
	kill -INT "$p" 2>/dev/null
	wait_for 10 eval "! kill -0 $p 2>/dev/null"
	wait "$p" 2>/dev/null
	NT_CAP_PID[$1]=
}
# cap_count NAME [FILTER...]: packets in the capture matching FILTER
cap_count() {
	local f=$NT_DIR/$1.pcap
	shift
	tcpdump -n -r "$f" "$@" 2>/dev/null | wc -l
}
# cap_show NAME [FILTER...]: the capture as text (for failure details)
cap_show() {
	local f=$NT_DIR/$1.pcap
	shift
	tcpdump -n -r "$f" "$@" 2>/dev/null | sed -n '1,30p'
}

# --- TCP with a checksum -------------------------------------------------------------------------
# tcp_sha FROM TO ADDR BYTES: BYTES random octets over TCP from FROM's namespace to a listener
# on ADDR port 5001 in TO's (IPv4 or IPv6; 60 s at most); prints "BYTES SHA256 in MS ms" as
# received, or what each end saw; succeeds only when TO got exactly what FROM sent
tcp_sha() {
	local from=$1 to=$2 addr=$3 n=$4 f=$NT_DIR/tcp_sha.$$ rpid t0 sent got
	cat >"$f.recv.py" <<'PY'
import hashlib, socket, sys
a = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((a, 5001)); s.listen(1); s.settimeout(60)
c, _ = s.accept(); c.settimeout(60); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    h.update(b); n += len(b)
print(n, h.hexdigest())
PY
	cat >"$f.send.py" <<'PY'
import hashlib, socket, sys, time
data = open(sys.argv[2], 'rb').read()
for i in range(50):
    try:
        s = socket.create_connection((sys.argv[1], 5001), timeout=60); break
    except OSError: time.sleep(0.1)
s.sendall(data); s.close()
print(len(data), hashlib.sha256(data).hexdigest())
PY
	head -c "$n" /dev/urandom >"$f.data"
	ip netns exec "$(ns "$to")" timeout 70 python3 "$f.recv.py" "$addr" >"$f.out" 2>&1 &
	rpid=$!
	NT_PIDS+=($rpid)
	t0=$(date +%s%N)
	sent=$(timeout 70 ip netns exec "$(ns "$from")" python3 "$f.send.py" "$addr" "$f.data" 2>&1)
	wait $rpid
	got=$(cat "$f.out")
	rm -f "$f.data"
	if [ -n "$sent" ] && [ "$sent" = "$got" ]; then
		echo "$got in $(elapsed_ms "$t0") ms"
		return 0
	fi
	echo "sent '$sent' got '$got'"
	return 1
}

# --- two agents that publish keys (the setup of oe.sh) -------------------------------------------
# oe_pair_setup [KEY=VALUE]...: hosts a (192.0.2.1) and b (192.0.2.2) on the LAN and a DNS
# server (192.0.2.53) with the signed reverse zone holding both IPSECKEYs; in a and b an agent
# with its host key, the LAN in private-or-clear, the other groups empty, and the extra config
# setup keys given; both started. Fails (after a nok) when an agent does not start.
oe_pair_setup() {
	local r g
	net_lan
	net_host a 192.0.2.1
	net_host b 192.0.2.2
	net_host dns 192.0.2.53
	key_new a
	key_new b
	{
		key_ipseckey a 192.0.2.1
		key_ipseckey b 192.0.2.2
	} | dns_zone 2.0.192.in-addr.arpa
	dns_sign 2.0.192.in-addr.arpa
	dns_start dns 192.0.2.53
	for r in a b; do
		agent_conf $r nameservers=192.0.2.53 "dnssec-anchors=$(dns_anchors)" \
			dnssec-rootkey-file=none dns-timeout=500ms dns-lookup-timeout=3s \
			"hostkey=$NT_DIR/keys/$r.pem" "$@"
		printf '192.0.2.0/24\n' | agent_policy $r private-or-clear
		for g in private clear clear-or-private block; do : | agent_policy $r $g; done
	done
	agent_start a && agent_start b
}

# --- strongSwan's charon as a peer (PEERS.md) ----------------------------------------------------
# charon_start ROLE DIR [libipsec]: charon in ROLE's namespace with a private /run (its pid
# file is compiled in there), configured by DIR/strongswan.conf (written here: IKE on 500/4500,
# raw public keys, vici at DIR/charon.vici, log DIR/charon.log) and DIR/swanctl/ (the
# caller's swanctl.conf, private/ and pubkey/). libipsec: its userspace ESP (kernel-libipsec,
# ESP-in-UDP only) for host-to-host SAs, its IKE sockets marked so they bypass its TUN device;
# without it Child SAs fail at the kernel install (no ESP here). Exports STRONGSWAN_CONF and
# SWANCTL_DIR for swanctl; waits 10 s at most until vici answers.
charon_start() {
	local r=$1 d=$2 kern="kernel-netlink" plugins="" routes="install_routes = no"
	if [ "${3:-}" = libipsec ]; then
		kern="kernel-libipsec kernel-netlink" routes=""
		plugins="kernel-libipsec { allow_peer_ts = yes }
		kernel-netlink { fwmark = !0x42 }
		socket-default { fwmark = 0x42 }"
	fi
	mkdir -p "$d/swanctl/private" "$d/swanctl/pubkey"
	cat >"$d/strongswan.conf" <<EOC
charon {
	port = 500
	port_nat_t = 4500
	$routes
	install_virtual_ip = no
	# a reauthentication makes the new SAs before deleting the old (no gap for traffic)
	make_before_break = yes
	load = random nonce openssl pem pkcs1 pkcs8 pubkey x509 gmp aes sha1 sha2 hmac gcm mgf1 \
		curve25519 kdf $kern socket-default vici
	plugins {
		$plugins
		vici { socket = unix://$d/charon.vici }
	}
	filelog {
		log { path = $d/charon.log
			default = 1
			ike = 2
			esp = 2
			enc = 1
		}
	}
}
swanctl { socket = unix://$d/charon.vici }
EOC
	export STRONGSWAN_CONF=$d/strongswan.conf SWANCTL_DIR=$d/swanctl
	nt_bg ip netns exec "$(ns "$r")" unshare -m --propagation private sh -c \
		"mount -t tmpfs tmpfs /run && exec /usr/lib/ipsec/charon" >"$d/charon.out" 2>&1
	wait_for 10 in_ns "$r" swanctl --stats && return 0
	nok "charon did not start" "$(tail -20 "$d/charon.out" "$d/charon.log" 2>/dev/null)"
	return 1
}
