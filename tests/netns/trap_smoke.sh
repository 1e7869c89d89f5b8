#!/bin/bash
# Smoke test of the trap path's kernel side (issue 4), one agent, no DNS:
#
#   A 192.0.2.1 2001:db8::1 ── br0 ── B 192.0.2.2 .10 (clear) .20 (block) .30 (p-o-c)
#     oe-agent (trap=yes)              2001:db8::2 ::20 (block)
#
# The agent installs its own table and chains while running and removes them on SIGTERM; a
# start after SIGKILL cleans the leftovers first (one set of rules, not two). The range sets
# answer as the policy does (`nft get element`), clear pings pass, block pings get ICMP
# administratively prohibited from the kernel, and a private-or-clear destination with the
# DNS server unreachable is held, then passed, then decided in the kernel.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/netns/lib.sh

nt_init trapsmoke
nt_need nft iptables-save ip6tables-save ping

net_lan
net_host a 192.0.2.1 2001:db8::1
net_host b 192.0.2.2 2001:db8::2
net_addr b 192.0.2.10 192.0.2.20 192.0.2.30 192.0.2.31 192.0.2.32
net_addr b 2001:db8::20 2001:db8::22

# no DNS server at .53: lookups time out quickly and private-or-clear passes
agent_conf a nameservers=192.0.2.53 dnssec-rootkey-file=none dns-timeout=200ms \
	dns-lookup-timeout=1s
printf '192.0.2.10\n198.51.100.128/25 tcp 0 22\n192.0.2.32\n2001:db8::22\n' | agent_policy a clear
printf '192.0.2.20\n2001:db8::20\n198.51.100.0/24\n192.0.2.32 tcp 0 22\n192.0.2.32 icmp 0 0\n2001:db8::22 ipv6-icmp 0 0\n' |
	agent_policy a block
printf '192.0.2.0/24\n' | agent_policy a private-or-clear
printf '203.0.113.0/24\n' | agent_policy a private

ours() { # everything of ours in A's netfilter state, one line per item
	{
		in_ns a nft list tables | grep oe_agent
		in_ns a iptables-save | grep OE_TRAP
		in_ns a ip6tables-save | grep OE_TRAP6
	} 2>/dev/null
}

[ -z "$(ours)" ] || nok "nothing of ours before the start" "$(ours)"
agent_start a || exit 1
running=$(ours)
if printf '%s\n' "$running" | grep -q 'table inet oe_agent' &&
	printf '%s\n' "$running" | grep -q -- '-A OE_TRAP .*-j NFQUEUE --queue-num 20293' &&
	printf '%s\n' "$running" | grep -q -- '-A OUTPUT -j OE_TRAP6'; then
	ok "running: table inet oe_agent and the OE_TRAP/OE_TRAP6 NFQUEUE chains exist"
else nok "running: table inet oe_agent and the OE_TRAP/OE_TRAP6 NFQUEUE chains exist" "$running"; fi
if in_ns a iptables-save | grep -q -- '--queue-bypass'; then
	nok "the trap queue has no --queue-bypass"
else ok "the trap queue has no --queue-bypass (fails closed)"; fi

# the range sets answer as the matcher does
in_set() { in_ns a nft get element inet oe_agent "$1" "{ $2 }" >/dev/null 2>&1; }
for c in "clear4 192.0.2.10" "clear4 8.8.8.8" "block4 192.0.2.20" "block4 198.51.100.1" \
	"block6 2001:db8::20" "priv4 203.0.113.9" "clear4 127.0.0.1" "clear6 ::1"; do
	set -- $c
	if in_set "$1" "$2"; then ok "range set $1 holds $2"; else
		nok "range set $1 holds $2" "$(in_ns a nft list set inet oe_agent "$1" 2>&1)"; fi
done
for c in "clear4 192.0.2.30" "block4 192.0.2.30" "clear4 198.51.100.200" \
	"block4 198.51.100.200" "clear4 203.0.113.9"; do
	set -- $c
	if in_set "$1" "$2"; then nok "range set $1 lacks $2"; else ok "range set $1 lacks $2"; fi
done

# random addresses: what the kernel's sets say agrees with `ipsec policy` (the matcher)
bad=
for i in $(seq 60); do
	a=$(printf '%s.%d' "$(shuf -n1 -e 192.0.2 198.51.100 203.0.113 10.9.8)" $((RANDOM % 256)))
	g=$(agent_ipsec a policy "$a" | awk '{ print $2 }')
	k=trap
	in_set clear4 "$a" && k=clear
	in_set block4 "$a" && k="${k/trap/}block"
	in_set priv4 "$a" && k="${k/trap/}private"
	case "$k/$g" in
	clear/clear | clear/clear-or-private | block/block | private/private) ;;
	trap/private-or-clear | trap/clear | trap/block) ;; # trapped: the matcher decides
	*) bad="$bad $a:$k/$g" ;;
	esac
done
if [ -z "$bad" ]; then ok "60 random addresses: the kernel sets agree with ipsec policy"
else nok "60 random addresses: the kernel sets agree with ipsec policy" "$bad"; fi

check "clear: ping 192.0.2.10" ping_ok a 192.0.2.10 1 3
out=$(ping_out a 192.0.2.20 1 2)
if printf '%s\n' "$out" | grep -Eq 'Packet filtered|Administratively prohibited'; then
	ok "block: ping 192.0.2.20 gets ICMP administratively prohibited"
else nok "block: ping 192.0.2.20 gets ICMP administratively prohibited" "$out"; fi
out=$(ping_out a 2001:db8::20 1 2)
if printf '%s\n' "$out" | grep -Eq 'Packet filtered|Administratively prohibited'; then
	ok "block: ping 2001:db8::20 gets ICMPv6 administratively prohibited"
else nok "block: ping 2001:db8::20 gets ICMPv6 administratively prohibited" "$out"; fi

# private-or-clear, DNS silent: held, passed after the lookup timeout, then in the kernel
check "private-or-clear, DNS down: ping 192.0.2.30 answered" ping_ok a 192.0.2.30 1 6
if wait_for 5 eroute_has a 192.0.2.1 192.0.2.30 %pass; then
	ok "ipsec eroute shows 192.0.2.1 -> 192.0.2.30 %pass"
else nok "ipsec eroute shows 192.0.2.1 -> 192.0.2.30 %pass" "$(agent_ipsec a eroute 2>&1)"; fi
if in_ns a nft get element inet oe_agent pass4 '{ 192.0.2.1 . 192.0.2.30 }' >/dev/null 2>&1
then ok "the pass4 set holds the pair"; else nok "the pass4 set holds the pair"; fi
ping_ok a 192.0.2.30 2 2
n=$(eroute_count a 192.0.2.1 192.0.2.30)
if [ "${n:-0}" -ge 2 ]; then ok "the shunt counts later packets ($n)"; else
	nok "the shunt counts later packets" "count '$n': $(agent_ipsec a eroute 2>&1)"; fi
if agent_ipsec a eroute --json | grep -q '"reason": *"private-or-clear: no key'; then
	ok "eroute --json gives the shunt's reason"
else nok "eroute --json gives the shunt's reason" "$(agent_ipsec a eroute --json 2>&1)"; fi
if agent_ipsec a status | grep -q 'counters: trapped'; then ok "ipsec status shows the counters"
else nok "ipsec status shows the counters" "$(agent_ipsec a status 2>&1)"; fi

# a destination where port rules decide: decided per (protocol, ports), in the kernel after
udp3() { # three datagrams from one socket (one source port) to $1 port $2
	in_ns a python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.1", 40009))
for i in range(3):
    s.sendto(b"x", (sys.argv[1], int(sys.argv[2])))' "$1" "$2"
}
q0=$(nfq_seq a)
udp3 192.0.2.32 9
sleep 0.3
udp3 192.0.2.32 9
q1=$(nfq_seq a)
if [ $((q1 - q0)) -ge 1 ] && [ $((q1 - q0)) -le 3 ]; then
	ok "ports decide: only the first datagrams of 192.0.2.1:40009 -> 192.0.2.32:9 trap ($((q1 - q0)))"
else nok "ports decide: only the first datagrams trap" "queue $q0 -> $q1"; fi
if agent_ipsec a eroute | grep -Eq '^[0-9]+ +192\.0\.2\.1/32:40009 +-> +192\.0\.2\.32/32:9 +=> %pass:17$'
then ok "ports decide: ipsec eroute shows the per-port %pass shunt"
else nok "ports decide: ipsec eroute shows the per-port %pass shunt" "$(agent_ipsec a eroute 2>&1)"; fi
if in_ns a nft list set inet oe_agent passp4 | grep -Eq '192.0.2.1 . 192.0.2.32 . (udp|17) . 40009 . 9 counter packets [3-5] '
then ok "ports decide: the passp4 set holds the 5-tuple"
else nok "ports decide: the passp4 set holds the 5-tuple" "$(in_ns a nft list set inet oe_agent passp4)"; fi
if in_set clear4 192.0.2.32; then nok "ports decide: 192.0.2.32 is not in clear4"
else ok "ports decide: 192.0.2.32 is not in clear4 (it must trap)"; fi

# ICMP blocked where port rules decide: the flow is keyed by protocol and the agent itself
# answers with ICMP administratively prohibited (raw socket, kern_icmp.c)
for d in 192.0.2.32 2001:db8::22; do
	out=$(ping_out a $d 2 1)
	if printf '%s\n' "$out" | grep -Eq 'Packet filtered|Administratively prohibited'; then
		ok "the agent's own ICMP error: ping $d (icmp blocked by a protocol rule) is refused"
	else nok "the agent's own ICMP error: ping $d is refused" "$out"; fi
done
if agent_ipsec a eroute | grep -Eq '192\.0\.2\.32/32 +=> %reject:1$'; then
	ok "ipsec eroute shows the per-protocol %reject shunt"
else nok "ipsec eroute shows the per-protocol %reject shunt" "$(agent_ipsec a eroute 2>&1)"; fi

# IPv6 neighbour discovery with a private peer is never trapped nor dropped (RFC 4301 §4.4.1.1)
printf '2001:db8::2\n' >>"$NT_DIR/a/policies/private"
agent_ipsec a reload >/dev/null
in_ns a ip -6 neigh flush dev eth0
in_ns b ip -6 neigh flush dev eth0
in_ns b ping -n -q -c 1 -W 1 -I 2001:db8::2 2001:db8::1 >/dev/null 2>&1
in_ns a ping -n -q -c 1 -W 1 2001:db8::2 >/dev/null 2>&1
if in_ns a ip -6 neigh show 2001:db8::2 | grep -Eq 'REACHABLE|STALE|DELAY|PROBE'; then
	ok "IPv6 neighbour discovery works with a private peer"
else nok "IPv6 neighbour discovery works with a private peer" "$(in_ns a ip -6 neigh show)"; fi

# SIGTERM removes everything
agent_stop a
result "SIGTERM: exit status 0" $? 
left=$(ours)
if [ -z "$left" ]; then ok "SIGTERM: every rule, chain and set of ours removed"; else
	nok "SIGTERM: every rule, chain and set of ours removed" "$left"; fi

# SIGKILL leaves them; fail closed; a restart cleans them first
agent_start a || exit 1
agent_kill a
if [ -n "$(ours)" ]; then ok "SIGKILL: the rules stay (fail closed)"; else
	nok "SIGKILL: the rules stay (fail closed)"; fi
if ping_ok a 192.0.2.31 1 2; then nok "SIGKILL: an undecided destination is not reached"
else ok "SIGKILL: an undecided destination is not reached"; fi
agent_start a || exit 1
again=$(ours)
if [ "$again" = "$running" ]; then ok "restart after SIGKILL: one set of rules, as before"
else nok "restart after SIGKILL: one set of rules, as before" \
	"$(diff <(echo "$running") <(echo "$again"))"; fi
check "restart: clear still works" ping_ok a 192.0.2.10 1 3
agent_stop a
left=$(ours)
if [ -z "$left" ]; then ok "second SIGTERM: nothing of ours left"; else
	nok "second SIGTERM: nothing of ours left" "$left"; fi
if grep -Eq 'AddressSanitizer|runtime error' "$(agent_log a)"; then
	nok "no sanitizer reports" "$(grep -E -A5 'Sanitizer|runtime error' "$(agent_log a)")"
else ok "no sanitizer reports"; fi
exit 0
