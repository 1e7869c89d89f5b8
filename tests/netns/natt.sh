#!/bin/bash
# NAT traversal end to end (issue 6, RFC 7296 §2.23, RFC 3948): ESP in UDP on port 4500
# between two of our agents, first without a NAT (encapsulation=yes on A: its faked
# NAT_DETECTION_SOURCE_IP makes both ends float to 4500 and encapsulate), then with a real one:
# N sits in 198.51.100.0/24 behind R, which masquerades it to 192.0.2.254 with UDP/TCP source
# ports rewritten into 40000-49999 (so IKE from 500 and from 4500 get two different, unknown
# mappings). N initiates to B: NAT detected, IKE floats to 4500, B answers at the NAT's
# mappings, ESP in UDP both ways; N sends NAT keepalives (keep-alive=2s) once it is idle.
# Each part: the first ping held during IKE is answered, 2 MB over TCP arrive with their
# sha256 (part 1 also over IPv6, 1 MB), B's capture holds ESP in UDP ("UDP-encap: ESP") and no raw ESP, no cleartext ICMP or
# TCP; eroutes and `ipsec status` show the tunnel and its ports.
#
# How B reaches N's inside address: B's Child SA with N has N's own address 198.51.100.2 as
# its traffic selector (N's IKE ID, its key at N's reverse name), while the SA's outer peer is
# the NAT's 192.0.2.254 and port. B routes 198.51.100.0/24 via R, so its packets to N leave
# through OUTPUT and postrouting, where the tunnel pair sends them to the ESP queue; they come
# out as UDP from B's 4500 to the NAT's address:port, which R maps back to N's 4500. A
# cleartext packet from B to N would cross R unchanged, so B's capture would show it.
#
#   A 192.0.2.1, 2001:db8::1 ──────┐              ┌── B 192.0.2.2, 2001:db8::2
#     oe-agent, encapsulation=yes  ├─ br0 (lan) ──┤     oe-agent, tcpdump on eth0
#   DNS 192.0.2.53 (nsd) ──────────┘              └── R 192.0.2.254 (eth0): forwards,
#                                                       nft masquerade of 198.51.100.0/24
#                                                     R 198.51.100.1 (in0)
#                                                       │ veth: N's only link
#                                                     N 198.51.100.2
#                                                       oe-agent, keep-alive=2s
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/netns/lib.sh

nt_init natt
nt_need nsd ldns-keygen ldns-signzone ldns-key2ds tcpdump ping nft iptables-save python3

A=192.0.2.1
B=192.0.2.2
A6=2001:db8::1
B6=2001:db8::2
R=192.0.2.254
N=198.51.100.2
RIN=198.51.100.1

# net_nat_inside ROLE ROUTER ADDR RADDR: ROLE's own namespace whose eth0 is a veth to ROUTER's
# in0 (not on the LAN), ADDR/24 and RADDR/24 on them, ROLE's default route via RADDR; ROUTER
# forwards and masquerades ADDR's /24 out of its eth0 with TCP/UDP ports 40000-49999.
net_nat_inside() {
	local r=$1 rt=$2 a=$3 ra=$4 n
	n=$(ns "$r")
	ip netns add "$n" || { nok "netns add $n"; exit 1; }
	NT_NS+=("$n")
	ip -n "$(ns "$rt")" link add in0 type veth peer name eth0 netns "$n" &&
		ip -n "$(ns "$rt")" addr add "$ra/24" dev in0 && ip -n "$(ns "$rt")" link set in0 up &&
		ip -n "$n" link set lo up && ip -n "$n" addr add "$a/24" dev eth0 &&
		ip -n "$n" link set eth0 up && ip -n "$n" route add default via "$ra" &&
		ip netns exec "$(ns "$rt")" sysctl -qw net.ipv4.ip_forward=1 \
			net.ipv4.conf.all.send_redirects=0 >/dev/null ||
		{ nok "inside link $r - $rt"; exit 1; }
	ip netns exec "$(ns "$rt")" nft -f - <<EOF || { nok "masquerade on $rt"; exit 1; }
table ip nat {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth0" ip saddr ${a%.*}.0/24 meta l4proto { tcp, udp } masquerade to :40000-49999
		oifname "eth0" ip saddr ${a%.*}.0/24 masquerade
	}
}
EOF
}

net_lan
net_host a $A $A6
net_host b $B $B6
net_host dns 192.0.2.53
net_host r $R
net_nat_inside n r $N $RIN
ip -n "$(ns b)" route add 198.51.100.0/24 via $R || { nok "B's route to the inside via R"; exit 1; }

key_new a
key_new b
key_new n
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
key_ipseckey n $N | dns_zone 100.51.198.in-addr.arpa
dns_sign 100.51.198.in-addr.arpa
dns_start dns 192.0.2.53

# agent_natt ROLE [KEY=VALUE...]: the agent of oe.sh (DNS, key, our ranges in
# private-or-clear) with the extra config setup keys
agent_natt() {
	local r=$1 g
	shift
	agent_conf $r nameservers=192.0.2.53 "dnssec-anchors=$(dns_anchors)" \
		dnssec-rootkey-file=none dns-timeout=500ms dns-lookup-timeout=3s \
		"hostkey=$NT_DIR/keys/$r.pem" "$@"
	printf '192.0.2.0/24\n198.51.100.0/24\n2001:db8::/64\n' | agent_policy $r private-or-clear
	for g in private clear clear-or-private block; do : | agent_policy $r $g; done
	agent_start $r
}
agent_natt a encapsulation=yes || exit 1
agent_natt b || exit 1
agent_natt n keep-alive=2s || exit 1
ok "agents start in A (encapsulation=yes), B and N (behind R's NAT, keep-alive=2s)"

cap_start b wire host $A and host $B || exit 1
cap_start b wire6 ip6 and host $A6 and host $B6 || exit 1
cap_start b wiren host $R and host $B || exit 1
cap_start b inside net 198.51.100.0/24 || exit 1

# first_ping FROM TO WHAT: the first echo request, held during IKE, is answered
first_ping() {
	if ping_ok "$1" "$2" 1 8; then ok "$3: the first ping from $1 to $2 is answered"
	else nok "$3: the first ping from $1 to $2 is answered" \
		"$(tail -n 30 "$(agent_log "$1")"; echo ---; tail -n 20 "$(agent_log b)")"; fi
}

# transfer FROM ADDR WHAT [MB]: MB (2) MB over TCP from FROM to ADDR in B, checksum intact
transfer() {
	local out mb=${4:-2}
	if out=$(tcp_sha "$1" b "$2" $((mb * 1000000))); then
		ok "$3: $mb MB over TCP from $1 to B arrive intact ($out)"
	else nok "$3: $mb MB over TCP from $1 to B arrive intact" "$out"; fi
}

# wire_check CAP WHAT: ESP in UDP 4500 only between the two, no raw ESP, no cleartext (ICMP
# echoes or TCP; neighbour discovery is below IPsec)
wire_check() {
	local udp raw clear text
	udp=$(cap_count "$1" udp port 4500 and not udp[4:2] == 9)
	raw=$(cap_count "$1" ip proto 50 or ip6 proto 50)
	clear=$(cap_count "$1" icmp or tcp or icmp6[0] == 128 or icmp6[0] == 129)
	text=$(cap_show "$1" udp port 4500)
	if [ "$udp" -ge 20 ] && grep -q 'UDP-encap: ESP' <<<"$text"; then
		ok "$2: B's capture shows ESP in UDP 4500 ($udp datagrams)"
	else nok "$2: B's capture shows ESP in UDP 4500" "$udp: $(cap_show "$1")"; fi
	if [ "$raw" -eq 0 ]; then ok "$2: no raw ESP"
	else nok "$2: no raw ESP" "$(cap_show "$1" ip proto 50 or ip6 proto 50)"; fi
	if [ "$clear" -eq 0 ]; then ok "$2: no cleartext ICMP or TCP"
	else nok "$2: no cleartext ICMP or TCP" "$(cap_show "$1" icmp or tcp or icmp6)"; fi
}

tun_re='tun0x[0-9a-f]+@'

# 1. no NAT, encapsulation=yes on A
first_ping a $B "encapsulation=yes"
ping_ok b $A 3 2 && ok "encapsulation=yes: B pings A through the same Child SA" ||
	nok "encapsulation=yes: B pings A through the same Child SA"
transfer a $B "encapsulation=yes"
if wait_for 5 eroute_has a $A $B "$tun_re${B//./\\.}" &&
	wait_for 5 eroute_has b $B $A "$tun_re${A//./\\.}"; then
	ok "encapsulation=yes: tunnel eroutes on both ends"
else nok "encapsulation=yes: tunnel eroutes on both ends" \
	"$(agent_ipsec a eroute 2>&1; agent_ipsec b eroute 2>&1)"; fi
st=$(agent_ipsec a status 2>&1)
if grep -Eq "${A//./\\.}\[4500\] -> ${B//./\\.}\[4500\]" <<<"$st" &&
	grep -q 'ESP in UDP 4500' <<<"$st"; then
	ok "encapsulation=yes: A's ipsec status: IKE between the 4500s, Child SA ESP in UDP"
else nok "encapsulation=yes: A's ipsec status: IKE between the 4500s, Child SA ESP in UDP" "$st"; fi
first_ping a $B6 "encapsulation=yes, IPv6"
transfer a $B6 "encapsulation=yes, IPv6" 1
grep -q 'UDP encapsulation forced (encapsulation=yes)' "$(agent_log a)" &&
	ok "encapsulation=yes: A's log says it forced UDP encapsulation" ||
	nok "encapsulation=yes: A's log says it forced UDP encapsulation"

# 2. N behind R's NAT
first_ping n $B "NAT"
ping_ok b $N 3 2 && ok "NAT: B pings N's inside address through the Child SA" ||
	nok "NAT: B pings N's inside address through the Child SA" "$(agent_ipsec b status 2>&1)"
transfer n $B "NAT"
grep -q 'NAT detected in front of us' "$(agent_log n)" && ok "NAT: N's log: NAT detected in front of us" ||
	nok "NAT: N's log: NAT detected in front of us" "$(grep -i nat "$(agent_log n)" | tail -n 5)"
grep -Eq 'floating to port 4500, peer 192\.0\.2\.2:4500' "$(agent_log n)" &&
	ok "NAT: N floats IKE to 4500" || nok "NAT: N floats IKE to 4500"
st=$(agent_ipsec b status 2>&1)
if grep -Eq "${B//./\\.}\[4500\] <- ${R//./\\.}\[4[0-9]{4}\]" <<<"$st" &&
	grep -Eq 'ESP in UDP 4[0-9]{4}' <<<"$st"; then
	ok "NAT: B's ipsec status: IKE on 4500 from the NAT's mapping, Child SA ESP in UDP to it"
else nok "NAT: B's ipsec status: IKE on 4500 from the NAT's mapping, Child SA ESP in UDP to it" "$st"; fi
if wait_for 5 eroute_has b $B $N "$tun_re${R//./\\.}" &&
	wait_for 5 eroute_has n $N $B "$tun_re${B//./\\.}"; then
	ok "NAT: eroutes $B -> $N => tun0x…@$R on B and $N -> $B => tun0x…@$B on N"
else nok "NAT: eroutes on B and N" "$(agent_ipsec b eroute 2>&1; agent_ipsec n eroute 2>&1)"; fi

# 3. idle: N keeps the NAT's mapping with keepalives (one 0xff octet, UDP length 9)
sleep 7
ping_ok b $N 2 2 && ok "NAT: after 7 s idle B still reaches N" ||
	nok "NAT: after 7 s idle B still reaches N"

cap_stop wire
cap_stop wire6
cap_stop wiren
cap_stop inside
wire_check wire "encapsulation=yes"
wire_check wire6 "encapsulation=yes, IPv6"
wire_check wiren "NAT"
ka=$(cap_count wiren src host $R and udp port 4500 and udp[4:2] == 9)
if [ "$ka" -ge 1 ]; then ok "NAT: N's keepalives on the wire during the idle time ($ka)"
else nok "NAT: N's keepalives on the wire during the idle time" "$(cap_show wiren udp port 4500 | tail -n 10)"; fi
kb=$(cap_count wiren src host $B and udp[4:2] == 9)
[ "$kb" -eq 0 ] && ok "NAT: B, not behind a NAT, sends no keepalives" ||
	nok "NAT: B, not behind a NAT, sends no keepalives" "$kb"
ka=$(cap_count wire udp[4:2] == 9)
[ "$ka" -eq 0 ] && ok "encapsulation=yes: no keepalives without a real NAT" ||
	nok "encapsulation=yes: no keepalives without a real NAT" "$ka"
inside=$(cap_count inside)
[ "$inside" -eq 0 ] && ok "NAT: nothing with N's inside address on B's wire" ||
	nok "NAT: nothing with N's inside address on B's wire" "$(cap_show inside)"

for r in a b n; do
	agent_stop $r && ok "agent $r stops" || nok "agent $r stops"
done
if grep -E 'ERROR: AddressSanitizer|runtime error:' "$NT_DIR"/*/agent.log; then
	nok "no sanitizer reports"
else ok "no sanitizer reports"; fi
