#!/bin/bash
# A peer agent restarted (issue 6): A (dpddelay=30s, the default) and B (dpddelay=2s) run
# oe-agent and have a tunnel; B's agent is killed with SIGKILL and started again, so A still
# holds its IKE and Child SAs and B has none.
#  (a) B sends first: B's traffic to A is trapped, B negotiates and its IKE_AUTH carries
#      INITIAL_CONTACT (RFC 7296 §2.4); A deletes its stale SAs. Bound: B's ping answered
#      within 10 s of the restart, and both ends list exactly one tunnel.
#  (b) only A sends: A's ESP meets no SA at B, which tells A so (an unprotected INVALID_SPI,
#      §2.21.4); A checks liveness at once instead of after 30 s of silence, B answers the
#      check with INVALID_IKE_SPI, A retransmits without backoff and gives up (both hints
#      only hasten an authenticated check, never delete by themselves), the pair returns to
#      the trap and A's next ping negotiates anew. Bound: A's pings answered again within
#      10 s of the restart (about 3 s of fast retransmissions + IKE), well under dpddelay.
# Also: liveness counts inbound ESP as a sign of life (no checks while pings flow, checks when
# quiet). Never any cleartext between A and B.
#
#   A 192.0.2.1 (oe-agent) ──┐            ┌── B 192.0.2.2 (oe-agent, killed and restarted)
#                            ├─ br0 (lan) ┤   tcpdump on B's eth0
#   DNS 192.0.2.53 (nsd) ────┘            ┘
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/netns/lib.sh

nt_init restart
nt_need nsd ldns-keygen ldns-signzone ldns-key2ds tcpdump ping python3

A=192.0.2.1
B=192.0.2.2
BOUND_A=10
BOUND_B=10

net_lan
net_host a $A
net_host b $B
net_host dns 192.0.2.53
key_new a
key_new b
{
	key_ipseckey a $A
	key_ipseckey b $B
} | dns_zone 2.0.192.in-addr.arpa
dns_sign 2.0.192.in-addr.arpa
dns_start dns 192.0.2.53

for r in a b; do
	agent_conf $r nameservers=192.0.2.53 "dnssec-anchors=$(dns_anchors)" \
		dnssec-rootkey-file=none dns-timeout=500ms dns-lookup-timeout=3s \
		"hostkey=$NT_DIR/keys/$r.pem" "dpddelay=$([ $r = a ] && echo 30s || echo 2s)"
	printf '192.0.2.0/24\n' | agent_policy $r private-or-clear
	for g in private clear clear-or-private block; do : | agent_policy $r $g; done
done
agent_start a || exit 1
agent_start b || exit 1
cap_start b wire host $A and host $B || exit 1

tun_re='tun0x[0-9a-f]+@'
# tunnels ROLE SRC DST: how many tunnel eroutes that pair has
tunnels() {
	agent_ipsec "$1" eroute | awk -v s="$2" -v d="$3" '{ split($2, x, "/"); split($4, y, "/") }
		x[1] == s && y[1] == d && $6 ~ /^tun0x/ { n++ } END { print n + 0 }'
}
# one_tunnel_each: A and B each list exactly one tunnel eroute for the pair
one_tunnel_each() { [ "$(tunnels a $A $B)" = 1 ] && [ "$(tunnels b $B $A)" = 1 ]; }
# answered_within ROLE ADDR SECONDS: pings every 0.2 s until one is answered; prints the
# milliseconds it took, fails after SECONDS
answered_within() {
	local t0 end
	t0=$(date +%s%N)
	end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do
		if ping_ok "$1" "$2" 1 1; then elapsed_ms "$t0"; return 0; fi
		sleep 0.2
	done
	return 1
}
# restart_b: SIGKILL B's agent (its SAs die with it, A's stay) and start it again
restart_b() {
	agent_kill b
	agent_start b
}

if ping_ok a $B 1 8 && wait_for 5 one_tunnel_each; then ok "A and B have a tunnel"
else nok "A and B have a tunnel" "$(tail -n 30 "$(agent_log a)")"; exit 1; fi
spi0=$(agent_ipsec a eroute | grep -oE "$tun_re" | head -1)

# liveness (B's dpddelay=2s) counts inbound ESP as a sign of life: 7 s of pings (one a second,
# so B hears ESP every second) cause no check; 5 s of silence do
ike0=$(cap_count wire udp port 500)
ping_ok a $B 7 2
ike1=$(cap_count wire udp port 500)
if [ "$ike1" -eq "$ike0" ]; then ok "busy SAs get no liveness checks (7 s of pings: no IKE datagram)"
else nok "busy SAs get no liveness checks" "$ike0 -> $ike1 IKE datagrams: $(cap_show wire udp port 500)"; fi
sleep 5
ike2=$(cap_count wire udp port 500)
if [ "$ike2" -ge $((ike1 + 2)) ]; then ok "quiet SAs are checked ($((ike2 - ike1)) IKE datagrams in 5 s of silence)"
else nok "quiet SAs are checked" "$ike1 -> $ike2 IKE datagrams"; fi

# (a) B speaks first after its restart: INITIAL_CONTACT clears A's stale SAs
flaps0=$(grep -c "$A -> $B: TUNNEL -> TRAPPED" "$(agent_log a)")
restart_b || exit 1
if ms=$(answered_within b $A $BOUND_A); then ok "(a) B's ping to A is answered ${ms} ms after B's restart (bound ${BOUND_A} s)"
else nok "(a) B's ping to A is answered within ${BOUND_A} s after B's restart" \
	"$(tail -n 20 "$(agent_log a)"; echo ---; tail -n 20 "$(agent_log b)")"; fi
if grep -q 'replaced after INITIAL_CONTACT' "$(agent_log a)"; then ok "(a) A deleted its stale IKE SA on INITIAL_CONTACT"
else nok "(a) A deleted its stale IKE SA on INITIAL_CONTACT" "$(grep -i 'initial' "$(agent_log a)")"; fi
flaps1=$(grep -c "$A -> $B: TUNNEL -> TRAPPED" "$(agent_log a)")
if [ "$flaps1" -eq "$flaps0" ]; then ok "(a) A's pair kept its tunnel through the replacement (never back to the trap)"
else nok "(a) A's pair kept its tunnel through the replacement" "$(grep -E 'FLOW|INITIAL' "$(agent_log a)" | tail)"; fi
ping_ok a $B 3 2 && ok "(a) A's pings to B work again" || nok "(a) A's pings to B work again"
if wait_for 5 one_tunnel_each; then ok "(a) one tunnel eroute each, A's with a new SPI"
else nok "(a) one tunnel eroute each" "$(agent_ipsec a eroute; agent_ipsec b eroute)"; fi
spi1=$(agent_ipsec a eroute | grep -oE "$tun_re" | head -1)
[ -n "$spi1" ] && [ "$spi1" != "$spi0" ] && ok "(a) A's tunnel SPI changed ($spi0 -> $spi1)" ||
	nok "(a) A's tunnel SPI changed" "'$spi0' -> '$spi1'"
st=$(agent_ipsec a status)
n=$(grep -c '^IKE SA [0-9a-f]' <<<"$st")
[ "$n" -eq 1 ] && ok "(a) A holds one IKE SA" || nok "(a) A holds one IKE SA" "$st"

# (b) only A sends: liveness finds B's state gone
restart_b || exit 1
if ms=$(answered_within a $B $BOUND_B); then ok "(b) A's pings to B recover ${ms} ms after B's restart (bound ${BOUND_B} s)"
else nok "(b) A's pings to B recover within ${BOUND_B} s after B's restart" \
	"$(grep -E 'IKE SA|liveness|INVALID|trap|TUNNEL' "$(agent_log a)" | tail -n 30)"; fi
if grep -q 'the peer has no SA .* liveness check now' "$(agent_log a)" &&
	grep -q 'INVALID_IKE_SPI to liveness' "$(agent_log a)" &&
	grep -qE 'no answer to liveness|peer stopped answering' "$(agent_log a)"; then
	ok "(b) B's INVALID_SPI started A's liveness check, B's INVALID_IKE_SPI hastened it, it gave up"
else nok "(b) INVALID_SPI, then INVALID_IKE_SPI, then A's check gave up" "$(grep -iE 'liveness|INVALID' "$(agent_log a)" | tail)"; fi
if wait_for 5 one_tunnel_each; then ok "(b) one tunnel eroute each"
else nok "(b) one tunnel eroute each" "$(agent_ipsec a eroute; agent_ipsec b eroute)"; fi
ping_ok b $A 3 2 && ok "(b) B's pings to A work" || nok "(b) B's pings to A work"

cap_stop wire
clear=$(cap_count wire icmp or tcp)
esp=$(cap_count wire esp)
if [ "$clear" -eq 0 ] && [ "$esp" -gt 0 ]; then ok "only ESP and IKE between A and B ($esp ESP packets, no cleartext)"
else nok "only ESP and IKE between A and B" "esp $esp; $(cap_show wire icmp or tcp)"; fi

for r in a b; do
	agent_stop $r && ok "agent $r stops" || nok "agent $r stops"
done
if grep -E 'ERROR: AddressSanitizer|runtime error:' "$NT_DIR"/*/agent.log; then
	nok "no sanitizer reports"
else ok "no sanitizer reports"; fi
