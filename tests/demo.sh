#!/bin/bash
# `make demo`: oe-agent as a new user meets it, inside a throw-away network namespace (root).
# Writes a sample policy, starts the agent, asks `ipsec policy` why addresses land in their
# groups, lists the eroutes and the status, edits a group file and reloads, shows how a broken
# edit is rejected while the old policy stays, sends packets to a second namespaced host to show
# the trap path's outcomes (clear, block, private-or-clear and private without a published key),
# then stops the agent (its kernel rules go with it) and cleans up.
set -u
cd "$(dirname "$0")/.." || exit 2
. tests/netns/lib.sh # NSD with a signed zone (dns_*), bounded waits
B=${B:-build}
AGENT=$PWD/$B/oe-agent
IPSEC=$PWD/$B/ipsec
NS=oet-demo-$$
PEER=oet-demop-$$
T=$(mktemp -d /tmp/oet-demo.XXXXXX)
PID=
FAILED=0

cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	for p in "${NT_PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	ip netns del "$PEER" 2>/dev/null
	ip netns del "oet-demoe1-$$" 2>/dev/null
	ip netns del "oet-demoe2-$$" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

if [ -t 1 ]; then H=$'\e[1m' N=$'\e[0m'; else H= N=; fi
heading() { printf '\n%s== %s%s\n' "$H" "$*" "$N"; }
say() { printf '%s\n' "$*" | fold -s -w 92; }
# run CMD...: shows the command as typed (paths shortened) and its output
run() {
	printf '%s$ %s%s\n' "$H" "$(echo "$@" | sed "s|$T|\$DEMO|g; s|$PWD/$B/||g")" "$N"
	timeout 30 ip netns exec "$NS" "$@" 2>&1 | sed "s|$T|\$DEMO|g; s/^/  /"
	return "${PIPESTATUS[0]}"
}
ipsec() { run "$IPSEC" --config "$T/ipsec.conf" "$@"; }
# eroutes_matching TEXT: `ipsec eroute | grep -F TEXT`, shown as such
eroutes_matching() {
	printf "%s\$ ipsec --config \$DEMO/ipsec.conf eroute | grep -F -e '%s'%s\n" "$H" "$1" "$N"
	timeout 30 ip netns exec "$NS" "$IPSEC" --config "$T/ipsec.conf" eroute | grep -F -e "$1" |
		sed 's/^/  /'
}
expect() { # expect WHAT RC: notes an unexpected result without stopping the demo
	if [ "$2" -ne 0 ]; then echo "  (unexpected: $1 failed)"; FAILED=1; fi
}
expect_fail() { # expect_fail WHAT RC: the same for something that must not work
	if [ "$2" -eq 0 ]; then echo "  (unexpected: $1 worked)"; FAILED=1; fi
}
# lib.sh's helpers name namespaces by role: a is our host, b the neighbour
NT_NAME=demo
NT_DIR=$T
ns() { if [ "$1" = a ]; then echo "$NS"; else echo "$PEER"; fi; }

[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates network namespaces)"; exit 1; }
for b in "$AGENT" "$IPSEC"; do [ -x "$b" ] || { echo "demo: $b is not built"; exit 1; }; done

heading "1. Two hosts in namespaces"
say "Namespace $NS is our host A: 192.0.2.1 and 2001:db8::1 on a veth to a neighbour B ($PEER, 192.0.2.2), which runs no agent, answers for a few more addresses (198.51.100.9, 203.0.113.201, 192.0.2.130) and serves DNS at 192.0.2.53: the reverse zone 2.0.192.in-addr.arpa, DNSSEC-signed, in which nobody publishes a key. Everything below happens inside the namespaces and is removed at the end."
ip netns add "$NS" && ip netns add "$PEER" || exit 1
ip -n "$NS" link add veth0 type veth peer name veth1 netns "$PEER"
ip -n "$NS" link set lo up
ip -n "$PEER" link set lo up
ip -n "$NS" addr add 192.0.2.1/24 dev veth0
ip -n "$NS" addr add 2001:db8::1/64 dev veth0 nodad
ip -n "$PEER" addr add 192.0.2.2/24 dev veth1
for a in 192.0.2.53 192.0.2.130 198.51.100.9 203.0.113.201; do
	ip -n "$PEER" addr add $a/32 dev veth1
done
ip -n "$NS" link set veth0 up
ip -n "$PEER" link set veth1 up
ip -n "$NS" route add 198.51.100.0/24 via 192.0.2.2
ip -n "$NS" route add 203.0.113.0/24 via 192.0.2.2
dns_zone 2.0.192.in-addr.arpa </dev/null >/dev/null
dns_sign 2.0.192.in-addr.arpa >/dev/null
dns_start b 192.0.2.53 >/dev/null || exit 1

heading "2. Configuration: ipsec.conf and the policy group files"
mkdir -p "$T/policies"
cat >"$T/ipsec.conf" <<EOF
version 2

config setup
	ipsecdir=$T
	ctlsocket=$T/run/ctl
	pidfile=$T/run/pid
	nameservers=192.0.2.53
	# The trust anchor of the zone B serves (no root anchor needed here).
	dnssec-anchors=$T/dns/anchors
	dnssec-rootkey-file=none

# The five group conns are on by default; auto=ignore would switch one off.
conn private-or-clear
	auto=ondemand
EOF
cat >"$T/policies/clear" <<'EOF'
# Never encrypt: the local network's printers and the backup server.
198.51.100.0/24
EOF
cat >"$T/policies/clear-or-private" <<'EOF'
# Send clear, but answer if these hosts want to encrypt.
203.0.113.0/25
EOF
cat >"$T/policies/private-or-clear" <<'EOF'
# Try to encrypt with everyone; fall back to clear.
0.0.0.0/0
2001:db8::/32
EOF
cat >"$T/policies/private" <<'EOF'
# Only ever encrypted.
192.0.2.128/25
# SSH to this host must be encrypted (protocol, source port, destination port).
203.0.113.7 tcp 0 22
EOF
cat >"$T/policies/block" <<'EOF'
# Never talk to these.
203.0.113.200/29
EOF
for f in ipsec.conf policies/clear policies/clear-or-private policies/private-or-clear \
	policies/private policies/block; do
	printf '%s--- $DEMO/%s%s\n' "$H" "$f" "$N"
	sed "s|$T|\$DEMO|g; s/^/  /" "$T/$f"
done

heading "3. Which group is an address in, and why? (no agent needed)"
say "ipsec policy reads the group files itself. Most specific wins: the longest prefix, then the more exact protocol/port. Loopback, link-local, multicast and the resolvers are implicitly clear; an address no rule matches is clear by default."
ipsec policy 192.0.2.7 192.0.2.130 203.0.113.7 tcp 22 203.0.113.7 203.0.113.201 \
	198.51.100.9 2001:db8:5::1 127.0.0.1 192.0.2.53
expect "ipsec policy" $?
say "- 192.0.2.130 is in 0.0.0.0/0 (private-or-clear) and in 192.0.2.128/25 (private): the longer prefix wins."
say "- 203.0.113.7 with tcp port 22 matches the port rule in private; without a protocol only address rules apply, so it is clear-or-private (203.0.113.0/25)."
say "- 203.0.113.201 is inside 203.0.113.200/29 in block, more specific than 0.0.0.0/0."

heading "4. Start the agent"
ip netns exec "$NS" "$AGENT" -f --config "$T/ipsec.conf" 2>"$T/agent.log" &
PID=$!
for _ in $(seq 50); do [ -S "$T/run/ctl" ] && break; sleep 0.1; done
printf '%s$ oe-agent -f --config $DEMO/ipsec.conf &%s\n' "$H" "$N"
sed "s|$T|\$DEMO|g; s/^/  /" "$T/agent.log"

heading "5. The eroutes: what happens to outbound traffic"
say "One line per policy rule, as KLIPS listed them: packets, our address -> destination => %trap (negotiate first), %pass (clear) or %reject (block)."
ipsec eroute
expect "ipsec eroute" $?

heading "6. Agent status"
ipsec status
expect "ipsec status" $?

heading "7. Edit a group file and reload"
say "Add 203.0.113.99 to the block group; the agent picks it up without a restart."
echo "203.0.113.99" >>"$T/policies/block"
ipsec reload
expect "ipsec reload" $?
eroutes_matching 203.0.113.99
ipsec policy --agent 203.0.113.99

heading "8. A broken edit is rejected; the old policy stays"
say "A typo in a group file: reload names the file and line and exits 1; the eroutes are unchanged."
echo "203.0.113.300" >>"$T/policies/block"
ipsec reload
rc=$?
echo "  (exit status $rc)"
[ $rc -eq 1 ] || { echo "  (unexpected: the broken reload was accepted)"; FAILED=1; }
eroutes_matching 203.0.113.
say "(203.0.113.99 from the last good reload is still there; nothing of the broken file was applied)"
ipsec status
sed -i '$d' "$T/policies/block"

heading "9. The trap path: packets to host B"
say "The agent's kernel rules send the first packet towards any destination that is not yet decided to the agent (NFQUEUE); clear and block ranges are decided by the kernel alone. The agent holds the packet, finds the group, looks for a key in DNS where the group wants privacy, and puts the decision into the kernel for that pair (a shunt, for shuntlifetime, 15 minutes by default): later packets never reach the agent."
run nft list tables
say "198.51.100.9 is in clear: passed by the kernel, never trapped."
run ping -n -c 2 -W 2 198.51.100.9
expect "ping to a clear address" $?
say "203.0.113.201 is in block: rejected with ICMP administratively prohibited (ping says 'Packet filtered'); nothing leaves the host."
run ping -n -c 1 -W 2 203.0.113.201
expect_fail "ping to a blocked address" $?
say "192.0.2.2 is in private-or-clear and publishes no key: the first packet is held while the agent asks DNS, and released in the clear once the signed answer says there is no key. The pair becomes %pass."
run ping -n -c 2 -W 5 192.0.2.2
expect "ping to private-or-clear without a key" $?
say "192.0.2.130 is in private and publishes no key: nothing may go out in the clear, so the pair becomes %drop (had it published a key, the agent would negotiate IKEv2 and encrypt instead: section 11)."
run ping -n -c 2 -W 3 192.0.2.130
expect_fail "ping to private without a key" $?
say "The decided pairs appear in ipsec eroute next to the group eroutes, with the kernel's packet counts:"
for _ in $(seq 50); do
	timeout 30 ip netns exec "$NS" "$IPSEC" --config "$T/ipsec.conf" eroute 2>/dev/null |
		grep -q -- '-> 192.0.2.130/32 .*%drop' && break
	sleep 0.1
done
eroutes_matching "-> 192.0.2.2/32 "
eroutes_matching "-> 192.0.2.130/32 "
ipsec status
expect "ipsec status" $?

heading "10. Stop the agent"
kill -TERM "$PID"
wait "$PID"
echo "  oe-agent exited with status $?; pid file and control socket removed:"
ls "$T/run" 2>/dev/null | sed 's/^/  /'
PID=
ipsec status
say "Its nft table and iptables chains, shunts included, are gone with it (the empty ip and ip6 filter tables are iptables' own):"
run nft list tables

heading "11. Two agents that publish keys: opportunistic encryption"
say "Two more hosts, E1 (192.0.2.21) and E2 (192.0.2.22) on a veth of their own, both run oe-agent with a host key each (ipsec newhostkey) published as IPSECKEY in the DNSSEC-signed reverse zone (NSD in E1's namespace on a third address, 192.0.2.23: a resolver is implicitly clear, so it must not be E1's own address); both put 192.0.2.0/24 in private-or-clear. No per-peer configuration: the first ping is held while the agents run IKEv2, then everything between them is ESP."
E1=oet-demoe1-$$
E2=oet-demoe2-$$
NT_DIR=$T/oe
mkdir -p "$NT_DIR"
ns() { case $1 in e1) echo "$E1" ;; e2) echo "$E2" ;; a) echo "$NS" ;; *) echo "$PEER" ;; esac; }
ip netns add "$E1" && ip netns add "$E2" || exit 1
NT_NS+=("$E1" "$E2")
ip -n "$E1" link add veth0 type veth peer name veth0 netns "$E2"
for n in "$E1" "$E2"; do ip -n "$n" link set lo up; ip -n "$n" link set veth0 up; done
ip -n "$E1" addr add 192.0.2.21/24 dev veth0
ip -n "$E2" addr add 192.0.2.22/24 dev veth0
ip -n "$E1" addr add 192.0.2.23/32 dev veth0
for h in e1 e2; do
	"$IPSEC" newhostkey --keytype ed25519 --output "$NT_DIR/$h.pem" >/dev/null 2>&1
done
{
	"$IPSEC" showhostkey --file "$NT_DIR/e1.pem" --ipseckey --id 192.0.2.21 | grep -v '^;'
	"$IPSEC" showhostkey --file "$NT_DIR/e2.pem" --ipseckey --id 192.0.2.22 | grep -v '^;'
} | dns_zone 2.0.192.in-addr.arpa
dns_sign 2.0.192.in-addr.arpa >/dev/null
dns_start e1 192.0.2.23 >/dev/null || exit 1
printf '%s$ ipsec showhostkey --ipseckey --id 192.0.2.22   # what E2 published%s\n' "$H" "$N"
"$IPSEC" showhostkey --file "$NT_DIR/e2.pem" --ipseckey --id 192.0.2.22 | sed 's/^/  /' | cut -c1-92
declare -A EPID
for h in e1 e2; do
	mkdir -p "$NT_DIR/$h/policies"
	echo 192.0.2.0/24 >"$NT_DIR/$h/policies/private-or-clear"
	printf 'version 2\n\nconfig setup\n\tipsecdir=%s\n\tctlsocket=%s\n\tpidfile=%s\n\thostkey=%s\n\tnameservers=192.0.2.23\n\tdnssec-anchors=%s\n\tdnssec-rootkey-file=none\n' \
		"$NT_DIR/$h" "$NT_DIR/$h/run/ctl" "$NT_DIR/$h/run/pid" "$NT_DIR/$h.pem" \
		"$NT_DIR/dns/anchors" >"$NT_DIR/$h/ipsec.conf"
	ip netns exec "$(ns $h)" "$AGENT" -f --config "$NT_DIR/$h/ipsec.conf" 2>"$NT_DIR/$h.log" &
	EPID[$h]=$!
	NT_PIDS+=($!)
done
for h in e1 e2; do for _ in $(seq 50); do [ -S "$NT_DIR/$h/run/ctl" ] && break; sleep 0.1; done; done
eipsec() { # eipsec HOST ARGS...: the ipsec command on HOST, shown as typed there
	local h=$1
	shift
	printf '%s%s$ ipsec %s%s\n' "$H" "$h" "$*" "$N"
	timeout 30 ip netns exec "$(ns $h)" "$IPSEC" --config "$NT_DIR/$h/ipsec.conf" "$@" 2>&1 |
		sed "s|$T|\$DEMO|g; s/^/  /"
}
ip netns exec "$E2" tcpdump --immediate-mode -U -n -i veth0 -w "$NT_DIR/wire.pcap" \
	host 192.0.2.21 >/dev/null 2>"$NT_DIR/tcpdump.err" &
TPID=$!
NT_PIDS+=($TPID)
for _ in $(seq 100); do grep -q listening "$NT_DIR/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
printf '%se1$ ping -c 3 192.0.2.22%s\n' "$H" "$N"
timeout 30 ip netns exec "$E1" ping -n -c 3 -W 5 192.0.2.22 2>&1 | sed 's/^/  /'
expect "ping between two agents" "${PIPESTATUS[0]}"
say "Both ends now list a tunnel eroute for the pair: tun0x<SPI>@<peer>, with the packets sent through it."
eipsec e1 eroute | grep -e tun0x -e 'eroute' 
eipsec e2 eroute | grep -e tun0x -e 'eroute'
say "ipsec status shows the IKE SA (algorithms, the peer's authentication) and the Child SA, and the userspace ESP datapath's counters:"
eipsec e1 status | sed -n '/IKE and Child SAs/,$p'
kill -INT "$TPID" 2>/dev/null
wait "$TPID" 2>/dev/null
say "What crossed the wire (captured on E2): four IKE messages, then only ESP; no ICMP in the clear:"
tcpdump -n -r "$NT_DIR/wire.pcap" 2>/dev/null | grep -v ARP | sed -n '1,10p' | cut -c17- | sed 's/^/  /'
n=$(tcpdump -n -r "$NT_DIR/wire.pcap" icmp 2>/dev/null | wc -l)
echo "  cleartext ICMP packets between E1 and E2: $n"
if [ "$n" -ne 0 ]; then
	echo "  (unexpected: cleartext on the wire; the agents' logs follow)"
	FAILED=1
	tail -n 15 "$NT_DIR/e1.log" "$NT_DIR/e2.log"
fi
for h in e1 e2; do kill -TERM "${EPID[$h]}" 2>/dev/null; wait "${EPID[$h]}" 2>/dev/null; done
ip netns del "$E1" 2>/dev/null
ip netns del "$E2" 2>/dev/null

echo
[ $FAILED -eq 0 ] && echo "demo: done" || echo "demo: something above did not work as expected"
exit $FAILED
