#!/bin/bash
# Packets too big once encapsulated (issue 6): two agents as in oe.sh, but the link between
# them has an MTU of 1400. Raw ESP in tunnel mode adds 20 (outer IPv4) + 8 (SPI, sequence)
# + 8 (IV) + 2 (trailer) + 16 (ICV) octets and pads to 4, so the largest inner IPv4 packet
# is 1346 (IPv6: 40 outer, 1326). A ping with DF that fits the link in the clear but not
# once encrypted (-M do -s 1372: 1400 octets) gets ICMP fragmentation needed with mtu 1346
# from uesp; then 1346-octet pings go through and A's kernel holds that PMTU; without DF
# (-M dont) the outer packets are fragmented and the ping still works. IPv6: packet too big
# with 1326, after which the sender fragments at the source. TCP works at the 1400 MTU in
# both directions and families. No cleartext on the wire.
#
#   A 192.0.2.1 2001:db8::1 ──┐  br0 (lan), p-a p-b      ┌── B 192.0.2.2 2001:db8::2
#     oe-agent, eth0 mtu 1400 ├──── mtu 1400 ────────────┤   oe-agent, eth0 mtu 1400
#   DNS 192.0.2.53 (nsd) ─────┘                          └── tcpdump on B's eth0
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/netns/lib.sh

nt_init pmtu
nt_need nsd ldns-keygen ldns-signzone ldns-key2ds tcpdump ping python3

A=192.0.2.1
B=192.0.2.2
A6=2001:db8::1
B6=2001:db8::2
MTU4=1346 # 1400 - 20 - 8 - 8 - 16 - 2, already a multiple of 4 with the trailer
MTU6=1326 # 1400 - 40 - 8 - 8 - 16 - 2

net_lan
net_host a $A $A6
net_host b $B $B6
net_host dns 192.0.2.53 2001:db8::53
for r in a b; do
	ip -n "$(ns lan)" link set dev "p-$r" mtu 1400 && ip -n "$(ns $r)" link set dev eth0 mtu 1400 ||
		{ nok "link MTU 1400 for $r"; exit 1; }
done

key_new a
key_new b
{
	key_ipseckey a $A
	key_ipseckey b $B
} | dns_zone 2.0.192.in-addr.arpa
dns_sign 2.0.192.in-addr.arpa
{
	key_ipseckey a $A6
	key_ipseckey b $B6
} | dns_zone 8.b.d.0.1.0.0.2.ip6.arpa
dns_sign 8.b.d.0.1.0.0.2.ip6.arpa
dns_start dns 192.0.2.53 2001:db8::53

for r in a b; do
	agent_conf $r nameservers=192.0.2.53 "dnssec-anchors=$(dns_anchors)" \
		dnssec-rootkey-file=none dns-timeout=500ms dns-lookup-timeout=3s \
		"hostkey=$NT_DIR/keys/$r.pem"
	printf '192.0.2.0/24\n2001:db8::/64\n' | agent_policy $r private-or-clear
	for g in private clear clear-or-private block; do : | agent_policy $r $g; done
done
agent_start a || exit 1
agent_start b || exit 1
cap_start b wire host $A and host $B || exit 1
cap_start b wire6 ip6 and host $A6 and host $B6 || exit 1

# the tunnels, with small packets
if ping_ok a $B 2 2 && ping_ok a $B6 1 8 && ping_ok a $B6 2 2; then ok "A pings B through the tunnels"
else nok "A pings B through the tunnels" "$(tail -n 30 "$(agent_log a)")"; fi

# 1. IPv4, DF: 1400 octets fit the link, not the tunnel
out=$(in_ns a ping -n -c 1 -W 2 -M do -s 1372 $B 2>&1)
if grep -Eq "mtu ?= ?$MTU4\b" <<<"$out"; then ok "ping -M do -s 1372: fragmentation needed, mtu $MTU4"
else nok "ping -M do -s 1372: fragmentation needed, mtu $MTU4" "$out"; fi
route=$(in_ns a ip route get $B)
if grep -q "mtu $MTU4" <<<"$route"; then ok "A's kernel holds PMTU $MTU4 for B"
else nok "A's kernel holds PMTU $MTU4 for B" "$route"; fi
out=$(in_ns a ping -n -c 3 -i 0.3 -W 2 -M do -s $((MTU4 - 28)) $B 2>&1)
if grep -q ' 0% packet loss' <<<"$out"; then ok "ping -M do -s $((MTU4 - 28)) (a $MTU4-octet packet) is answered"
else nok "ping -M do -s $((MTU4 - 28)) is answered" "$out"; fi
out=$(in_ns a ping -n -c 1 -W 2 -M do -s $((MTU4 - 27)) $B 2>&1)
if grep -Eq "message too long, mtu=$MTU4" <<<"$out"; then ok "ping -M do -s $((MTU4 - 27)): A's own stack refuses it (mtu=$MTU4)"
else nok "ping -M do -s $((MTU4 - 27)): A's own stack refuses it" "$out"; fi

# 2. IPv4 without DF: the outer packets are fragmented (B's answers: B never heard of 1346)
out=$(in_ns a ping -n -c 3 -i 0.3 -W 2 -M dont -s 1372 $B 2>&1)
if grep -q ' 0% packet loss' <<<"$out"; then ok "ping -M dont -s 1372 is answered"
else nok "ping -M dont -s 1372 is answered" "$out"; fi

# 3. IPv6: packet too big, then fragmentation at the source (the kernel fragments after our
# queue, so uesp splits such packets for it)
out=$(in_ns a ping -n -c 2 -i 0.5 -W 2 -s 1372 $B6 2>&1)
if grep -Eq "(Packet too big: mtu=|message too long, mtu=)$MTU6\b" <<<"$out"; then
	ok "IPv6: ping -s 1372: packet too big, mtu $MTU6"
else nok "IPv6: ping -s 1372: packet too big, mtu $MTU6" "$out"; fi
out=$(in_ns a ping -n -c 3 -i 0.3 -W 2 -s 1372 $B6 2>&1)
if grep -q ' 0% packet loss' <<<"$out"; then ok "IPv6: ping -s 1372 is then answered (fragmented at the source)"
else nok "IPv6: ping -s 1372 is then answered" "$out"; fi

# 4. TCP at the 1400 MTU, both directions (B learns its PMTU from its first full segment)
for t in "b a $A" "a b $B" "b a $A6" "a b $B6"; do
	set -- $t
	if got=$(tcp_sha $1 $2 $3 2000000); then ok "2 MB over TCP $1 -> $2 ($3) intact: $got"
	else nok "2 MB over TCP $1 -> $2 ($3) intact" "$got"; fi
done

# 5. the counters and the wire
st=$(agent_ipsec a status 2>&1)
if grep -Eq 'too-big [1-9]' <<<"$st" && grep -Eq 'icmp-sent [1-9]' <<<"$st"; then
	ok "A's ipsec status counts too-big packets and ICMP sent"
else nok "A's ipsec status counts too-big packets and ICMP sent" "$(grep esp: <<<"$st")"; fi
js=$(agent_ipsec a status --json 2>&1 | python3 -c '
import json, sys
def esp(o):
    if isinstance(o, dict):
        if "too_big" in o: return o
        o = list(o.values())
    for v in o if isinstance(o, list) else []:
        r = esp(v)
        if r: return r
e = esp(json.load(sys.stdin)) or {}
print(e.get("too_big", 0), e.get("icmp_sent", 0), e.get("split", 0))' 2>&1)
if [[ $js =~ ^[1-9][0-9]*\ [1-9][0-9]*\ [1-9] ]]; then ok "ipsec status --json: esp too_big, icmp_sent, split ($js)"
else nok "ipsec status --json: esp too_big, icmp_sent, split" "$js"; fi
cap_stop wire
cap_stop wire6
frag=$(cap_count wire 'ip[6:2] & 0x3fff != 0')
big=$(cap_count wire 'greater 1415') # frames: 14 octets of Ethernet header
clear=$(cap_count wire 'icmp or tcp')
if [ "$frag" -ge 3 ]; then ok "outer packets fragmented for the DF-less pings ($frag fragments)"
else nok "outer packets fragmented for the DF-less pings" "$(cap_show wire 'greater 1000')"; fi
if [ "$big" -eq 0 ]; then ok "no frame above the link MTU"; else nok "no frame above the link MTU" "$big"; fi
if [ "$clear" -eq 0 ] && [ "$(cap_count wire esp)" -ge 100 ]; then ok "only ESP between A and B"
else nok "only ESP between A and B" "$(cap_show wire 'icmp or tcp')"; fi
clear6=$(cap_count wire6 'icmp6 and ip6[40] < 128 or tcp')
if [ "$clear6" -eq 0 ] && [ "$(cap_count wire6 'ip6 proto 50 or ip6 proto 44')" -ge 100 ]; then
	ok "IPv6: only ESP between A and B"
else nok "IPv6: only ESP between A and B" "$(cap_show wire6 'icmp6 or tcp')"; fi

for r in a b; do
	agent_stop $r && ok "agent $r stops" || nok "agent $r stops"
done
if grep -E 'ERROR: AddressSanitizer|runtime error:' "$NT_DIR"/*/agent.log; then
	nok "no sanitizer reports"
else ok "no sanitizer reports"; fi
