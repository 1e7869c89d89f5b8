#!/bin/bash
# The trap path end to end (issue 4): host A runs oe-agent, host B runs nothing, a DNS host runs
# NSD with signed reverse zones. Every outcome that needs no IKE: clear, block (ICMP
# admin-prohibited, nothing on B's wire), private-or-clear / private without a key, DNS down,
# a DNSSEC-bogus key record, IPv6, a flood of forged destinations, reload, SIGKILL and
# restart, shunt expiry, SIGTERM.
#
#   A 192.0.2.1 2001:db8::1 ──┐           ┌── B 192.0.2.2 and one address per case:
#     oe-agent (trap)         ├─ br0 (lan)┤     .10 clear       .20 block     .30-.35 p-o-c
#   DNS 192.0.2.53 ───────────┘           │     .40/.41 private .50 p-o-c/.51 private (DNS down)
#     2001:db8::53 nsd                    │     .60 p-o-c/.61 private: bogus IPSECKEY
#                                         │     2001:db8::10 clear, ::20 block, ::40 private
#                                         └     2001:db8:f::/48 (routed via B): the flood
# B's addresses get their group from A's policy files; every case uses its own address so the
# shunts of one case never decide another. tcpdump on B's eth0 proves what crossed the wire;
# /proc/net/netfilter/nfnetlink_queue in A proves what reached the trap queue.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/netns/lib.sh

nt_init trap
nt_need nsd ldns-keygen ldns-signzone ldns-key2ds tcpdump ping nft iptables-save python3

A4=192.0.2.1
A6=2001:db8::1
LOOKUP_S=2 # dns-lookup-timeout
MAXFLOWS=256 # low enough for the flood to hit them
MAXLOOKUPS=64

net_lan
net_host a $A4 $A6
net_host b 192.0.2.2 2001:db8::2
for i in 10 20 30 31 32 33 34 35 36 40 41 50 51 60 61; do net_addr b 192.0.2.$i; done
net_addr b 2001:db8::10 2001:db8::20 2001:db8::40
net_host dns 192.0.2.53 2001:db8::53
ip -n "$(ns a)" -6 route add 2001:db8:f::/48 via 2001:db8::2 dev eth0 # forged destinations

# --- DNS: signed reverse zones; .60 and .61 publish a key whose record is altered after signing
key_new b
{
	key_ipseckey b 192.0.2.60
	key_ipseckey b 192.0.2.61
} | dns_zone 2.0.192.in-addr.arpa
dns_sign 2.0.192.in-addr.arpa
sed -i 's/\(IPSECKEY[[:space:]]*\)10 0 4/\111 0 4/' "$(dns_zonefile 2.0.192.in-addr.arpa)"
dns_zone 8.b.d.0.1.0.0.2.ip6.arpa </dev/null
dns_sign 8.b.d.0.1.0.0.2.ip6.arpa
dns_start dns 192.0.2.53 2001:db8::53

# --- A's agent -----------------------------------------------------------------------------------
conf_a() {
	agent_conf a nameservers=192.0.2.53 "dnssec-anchors=$(dns_anchors)" dnssec-rootkey-file=none \
		dns-timeout=500ms maxflows=$MAXFLOWS maxlookups=$MAXLOOKUPS \
		dns-lookup-timeout=${LOOKUP_S}s "$@"
}
conf_a
printf '192.0.2.10\n2001:db8::10\n' | agent_policy a clear
printf '192.0.2.20\n2001:db8::20\n192.0.2.36 udp 0 7\n' | agent_policy a block
printf '# everyone else on the LAN\n192.0.2.0/24\n2001:db8::/64\n# the flood\n2001:db8:f::/48\n' |
	agent_policy a private-or-clear
printf '192.0.2.40\n192.0.2.41\n192.0.2.51\n192.0.2.61\n2001:db8::40\n' | agent_policy a private
: | agent_policy a clear-or-private

# fw_shape: what of A's netfilter state is not iptables' empty built-in tables: other nft
# tables, the agent's chains and set definitions (not their elements or counters), and
# iptables rules that jump to its chains or queue
fw_shape() {
	{
		in_ns a nft list tables | grep -Ev '^table (ip|ip6) (filter|mangle|raw|nat|security)$'
		in_ns a nft list table inet oe_agent | grep -E '^[[:space:]]*(chain|type|set) '
		in_ns a iptables-save
		in_ns a ip6tables-save
	} 2>/dev/null | grep -v '^#' | sed 's/ \[[0-9]*:[0-9]*\]$//' |
		grep -Ev '^(\*|:(INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) |COMMIT$)'
}
fw_base=$(fw_shape)

agent_start a || exit 1
ok "agent starts in A"
fw_run=$(fw_shape)
if [ "$fw_run" != "$fw_base" ] && in_ns a iptables-save | grep -q -- '-j NFQUEUE'; then
	ok "the agent installs its rules (an NFQUEUE trap)"
else nok "the agent installs its rules (an NFQUEUE trap)" "$fw_run"; fi
if grep -Eq 'native nft queue|NFQUEUE target' "$(agent_log a)"; then ok "the log says which trap was chosen"
else nok "the log says which trap was chosen" "$(tail -n 20 "$(agent_log a)")"; fi

# expect_pass NAME ADDR: the first ping is answered through the trap and the pair becomes
# %pass; later packets never reach the queue and are counted on the shunt.
expect_pass() {
	local name=$1 d=$2 src=$A4 q0 q1 q2 n
	case $d in *:*) src=$A6 ;; esac
	q0=$(nfq_seq a)
	if ping_ok a "$d" 1 5; then ok "$name: the first ping to $d is answered"; else
		nok "$name: the first ping to $d is answered" "$(tail -n 20 "$(agent_log a)")"; fi
	q1=$(nfq_seq a)
	if [ "$q1" -gt "$q0" ]; then ok "$name: the first packet went through the trap queue"; else
		nok "$name: the first packet went through the trap queue" "queue id_sequence $q0 -> $q1"; fi
	if wait_for 5 eroute_has a $src "$d" %pass; then ok "$name: ipsec eroute shows $src -> $d %pass"
	else nok "$name: ipsec eroute shows $src -> $d %pass" "$(agent_ipsec a eroute 2>&1)"; fi
	ping_ok a "$d" 3 2 || nok "$name: later pings to $d answered"
	q2=$(nfq_seq a)
	if [ "$q2" -eq "$q1" ]; then ok "$name: after the decision nothing more reaches the queue"; else
		nok "$name: after the decision nothing more reaches the queue" "$q1 -> $q2"; fi
	n=$(eroute_count a $src "$d")
	if [ "${n:-0}" -ge 3 ]; then ok "$name: the %pass shunt counts the later packets ($n)"; else
		nok "$name: the %pass shunt counts the later packets" "count '$n'"; fi
}

# expect_drop NAME ADDR [PINGWAIT]: no ping answered, the pair becomes %drop, nothing to ADDR
# on B's wire, and after the decision nothing more reaches the queue.
expect_drop() {
	local name=$1 d=$2 w=${3:-3} src=$A4 q1 q2 ipv=ip
	case $d in *:*) src=$A6 ipv=ip6 ;; esac
	cap_start b "drop-$d" $ipv and dst host "$d" || return
	if ping_ok a "$d" 1 "$w"; then nok "$name: a ping to $d is not answered"; else
		ok "$name: a ping to $d is not answered"; fi
	if wait_for 5 eroute_has a $src "$d" %drop; then ok "$name: ipsec eroute shows $src -> $d %drop"
	else nok "$name: ipsec eroute shows $src -> $d %drop" "$(agent_ipsec a eroute 2>&1)"; fi
	q1=$(nfq_seq a)
	ping_ok a "$d" 2 1 && nok "$name: later pings to $d not answered"
	q2=$(nfq_seq a)
	if [ "$q2" -eq "$q1" ]; then ok "$name: after the decision nothing more reaches the queue"; else
		nok "$name: after the decision nothing more reaches the queue" "$q1 -> $q2"; fi
	cap_stop "drop-$d"
	n=$(cap_count "drop-$d")
	if [ "$n" -eq 0 ]; then ok "$name: nothing to $d reached B (tcpdump)"; else
		nok "$name: nothing to $d reached B (tcpdump)" "$(cap_show "drop-$d")"; fi
}

# expect_block NAME ADDR: ICMP administratively prohibited, nothing on B's wire
expect_block() {
	local name=$1 d=$2 src=$A4 out ipv=ip
	case $d in *:*) src=$A6 ipv=ip6 ;; esac
	cap_start b "block-$d" $ipv and dst host "$d" || return
	out=$(ping_out a "$d" 2 2)
	if printf '%s\n' "$out" | grep -Eq 'Packet filtered|Administratively prohibited'; then
		ok "$name: ping $d gets ICMP administratively prohibited"
	else nok "$name: ping $d gets ICMP administratively prohibited" "$out"; fi
	if eroute_has a $src "$d" %reject; then ok "$name: ipsec eroute shows $src -> $d %reject"
	else nok "$name: ipsec eroute shows $src -> $d %reject" "$(agent_ipsec a eroute 2>&1)"; fi
	cap_stop "block-$d"
	n=$(cap_count "block-$d")
	if [ "$n" -eq 0 ]; then ok "$name: nothing to $d reached B (tcpdump)"; else
		nok "$name: nothing to $d reached B (tcpdump)" "$(cap_show "block-$d")"; fi
}

# --- clear: enforced in the kernel ------------------------------------------------------------------
q0=$(nfq_seq a)
check "clear: ping 192.0.2.10 works" ping_ok a 192.0.2.10 1 3
q1=$(nfq_seq a)
check "clear: later pings work" ping_ok a 192.0.2.10 3 2
q2=$(nfq_seq a)
if [ "$q2" -eq "$q1" ] && [ $((q1 - q0)) -le 1 ]; then
	ok "clear: after the first packet nothing reaches the queue ($((q1 - q0)) then 0)"
else nok "clear: after the first packet nothing reaches the queue" "$q0 -> $q1 -> $q2"; fi
if eroute_has a $A4 192.0.2.10 %pass; then ok "clear: ipsec eroute shows $A4 -> 192.0.2.10 %pass"
else nok "clear: ipsec eroute shows $A4 -> 192.0.2.10 %pass" "$(agent_ipsec a eroute 2>&1)"; fi

# --- block ---------------------------------------------------------------------------------------
expect_block block 192.0.2.20

# --- a block rule with a port: the range traps, the agent rejects that flow with ICMP ------------
cap_start b "reject-36" ip and dst host 192.0.2.36 and udp || true
out=$(udp_probe a 192.0.2.36 7)
if [ "$out" = EHOSTUNREACH ]; then
	ok "block udp port 7: the held datagram is answered with ICMP admin-prohibited (EHOSTUNREACH)"
else nok "block udp port 7: the held datagram is answered with ICMP admin-prohibited" "$out"; fi
if wait_for 5 eval 'agent_ipsec a eroute | grep -Eq "^[0-9]+ +192\.0\.2\.1/32:[0-9]+ +-> +192\.0\.2\.36/32:7 +=> %reject:17$"'
then ok "block udp port 7: ipsec eroute shows the port-keyed %reject shunt"
else nok "block udp port 7: ipsec eroute shows the port-keyed %reject shunt" \
	"$(agent_ipsec a eroute 2>&1)"; fi
check "block udp port 7: ping 192.0.2.36 (ICMP, private-or-clear) still works" ping_ok a 192.0.2.36 1 5
cap_stop "reject-36"
n=$(cap_count "reject-36")
if [ "$n" -eq 0 ]; then ok "block udp port 7: no datagram to 192.0.2.36 reached B (tcpdump)"; else
	nok "block udp port 7: no datagram to 192.0.2.36 reached B" "$(cap_show "reject-36")"; fi

# --- private-or-clear, no key: held, then released; %pass ---------------------------------------
expect_pass "private-or-clear without key" 192.0.2.30
# A burst to a new destination: one decision, every held packet released.
out=$(in_ns a ping -n -c 5 -i 0.01 -w 8 192.0.2.33 2>&1)
if printf '%s\n' "$out" | grep -q ' 5 received'; then
	ok "private-or-clear burst: 5 pings to a new destination all answered"
else nok "private-or-clear burst: 5 pings to a new destination all answered" "$out"; fi
seqs=$(printf '%s\n' "$out" | sed -n 's/.*icmp_seq=\([0-9]*\) .*/\1/p' | tr '\n' ' ')
if [ "$seqs" = "1 2 3 4 5 " ]; then ok "private-or-clear burst: held packets released in order"
else nok "private-or-clear burst: held packets released in order" "replies: $seqs"; fi
n=$(grep -c -- '-> 192\.0\.2\.33: TRAPPED -> HOLD(lookup)' "$(agent_log a)")
if [ "$n" -eq 1 ]; then ok "private-or-clear burst: one decision for the burst (one lookup logged)"
else nok "private-or-clear burst: one decision for the burst" "$n TRAPPED -> HOLD(lookup) lines"; fi
if agent_ipsec a eroute --json | python3 -c '
import json, sys
e = [x for x in json.load(sys.stdin) if x["dst"] == "192.0.2.30/32" and x["said"] == "%pass"]
sys.exit(0 if e and e[0]["reason"] and 0 < e[0]["expires_in_s"] <= 900 else 1)'; then
	ok "ipsec eroute --json: the %pass shunt has a reason and the time left"
else nok "ipsec eroute --json: the %pass shunt has a reason and the time left" \
	"$(agent_ipsec a eroute --json 2>&1 | grep 192.0.2.30)"; fi

# --- private, no key: %drop, never on the wire ----------------------------------------------------
expect_drop "private without key" 192.0.2.40

# --- inbound cleartext from a private address is dropped and counted -----------------------------
cnt_in() { agent_ipsec a status | sed -n 's/.*inbound-cleartext-dropped \([0-9]*\).*/\1/p'; }
c0=$(cnt_in)
if in_ns b ping -n -q -c 2 -W 1 -I 192.0.2.40 $A4 >/dev/null 2>&1; then
	nok "inbound: a ping from private 192.0.2.40 to A is not answered"
else ok "inbound: a ping from private 192.0.2.40 to A is not answered"; fi
c1=$(cnt_in)
if [ "${c1:-0}" -ge $((${c0:-0} + 2)) ]; then
	ok "inbound: the cleartext packets are counted (inbound-cleartext-dropped ${c0:-?} -> $c1)"
else nok "inbound: the cleartext packets are counted" "${c0:-?} -> ${c1:-?}"; fi
check "inbound: a ping from private-or-clear 192.0.2.2 to A is answered" \
	in_ns b ping -n -q -c 1 -W 2 -I 192.0.2.2 $A4

# --- DNS unreachable ------------------------------------------------------------------------------
net_link dns down
in_ns a ping -n -c 1 -W $((LOOKUP_S + 6)) 192.0.2.50 >"$NT_DIR/ping50.out" 2>&1 &
pingp=$!
status_has() { agent_ipsec a status | grep -q "$1"; }
if wait_for $((LOOKUP_S + 2)) status_has '192\.0\.2\.50\b'; then
	ok "DNS down: ipsec status shows the flow to 192.0.2.50 in progress"
else nok "DNS down: ipsec status shows the flow to 192.0.2.50 in progress" \
	"$(agent_ipsec a status 2>&1)"; fi
wait $pingp
rc=$?
ms=$(sed -n 's/.*time=\([0-9]*\).* ms.*/\1/p' "$NT_DIR/ping50.out")
if [ $rc -eq 0 ] && [ -n "$ms" ] && [ "$ms" -le $(((LOOKUP_S + 2) * 1000)) ]; then
	ok "DNS down: private-or-clear passes within the lookup timeout (${ms} ms, timeout ${LOOKUP_S} s)"
else nok "DNS down: private-or-clear passes within the lookup timeout" \
	"ping rc $rc: $(cat "$NT_DIR/ping50.out")"; fi
if wait_for 5 eroute_has a $A4 192.0.2.50 %pass; then ok "DNS down: 192.0.2.50 is %pass"
else nok "DNS down: 192.0.2.50 is %pass" "$(agent_ipsec a eroute 2>&1)"; fi
expect_drop "DNS down, private" 192.0.2.51 $((LOOKUP_S + 3))
net_link dns up

# --- DNSSEC-bogus key record: dropped in both groups -------------------------------------------
expect_drop "bogus key, private-or-clear" 192.0.2.60
expect_drop "bogus key, private" 192.0.2.61
if grep -qi 'bogus' "$(agent_log a)"; then ok "bogus key: the agent logs it"; else
	nok "bogus key: the agent logs it"; fi

# --- IPv6 ----------------------------------------------------------------------------------------
check "IPv6 clear: ping 2001:db8::10 works" ping_ok a 2001:db8::10 2 3
if eroute_has a $A6 2001:db8::10 %pass; then ok "IPv6 clear: ipsec eroute shows %pass"
else nok "IPv6 clear: ipsec eroute shows %pass" "$(agent_ipsec a eroute 2>&1)"; fi
expect_block "IPv6 block" 2001:db8::20
expect_drop "IPv6 private" 2001:db8::40

# --- a flood of new destinations: bounded, and a real flow is still decided -------------------
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$(agent_pid a)/status" 2>/dev/null; }
rss0=$(rss_kb)
in_ns a python3 - <<'EOF' >"$NT_DIR/flood.out" 2>&1 &
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
n = 0
for i in range(1, 20001):  # 20000 forged destinations in private-or-clear
    try:
        s.sendto(b"flood", ("2001:db8:f::%x:%x" % (i >> 16, i & 0xffff), 9))
        n += 1
    except OSError:
        pass
print("sent", n)
EOF
floodp=$!
in_ns a ping -n -q -c 10 -i 0.5 -w 15 192.0.2.31 >"$NT_DIR/flood-ping.out" 2>&1 &
pingp=$!
# "flows in progress: N (lookups N, held N packets, N bytes)", sampled while it lasts
for _ in $(seq 20); do
	agent_ipsec a status 2>/dev/null | sed -n 's/^ *flows in progress: \([0-9]*\) (lookups \([0-9]*\), held [0-9]* packets, \([0-9]*\) bytes).*/\1 \2 \3/p'
	sleep 0.2
done >"$NT_DIR/flood-status.out"
wait $floodp
wait $pingp
if grep -Eq ' [1-9][0-9]* received' "$NT_DIR/flood-ping.out"; then
	ok "flood: a real flow to 192.0.2.31 is decided during a flood of 20000 new destinations"
else nok "flood: a real flow to 192.0.2.31 is decided during a flood" "$(cat "$NT_DIR/flood-ping.out")"; fi
read -r mf ml mb < <(awk '$1 > f { f = $1 } $2 > l { l = $2 } $3 > b { b = $3 }
	END { print f + 0, l + 0, b + 0 }' "$NT_DIR/flood-status.out")
if [ "$(wc -l <"$NT_DIR/flood-status.out")" -ge 5 ] && [ "$mf" -le $MAXFLOWS ] &&
	[ "$ml" -le $MAXLOOKUPS ] && [ "$mb" -le 16777216 ]; then
	ok "flood: within maxflows=$MAXFLOWS, maxlookups=$MAXLOOKUPS, maxheldbytes (peaks: $mf flows, $ml lookups, $mb bytes)"
else nok "flood: within maxflows, maxlookups, maxheldbytes" "$(cat "$NT_DIR/flood-status.out")"; fi
n=$(agent_ipsec a status | sed -n 's/.*over-limit \([0-9]*\).*/\1/p')
if [ "${n:-0}" -gt 0 ]; then ok "flood: packets over the limits are dropped and counted (over-limit $n)"
else nok "flood: packets over the limits are dropped and counted" "$(agent_ipsec a status 2>&1)"; fi
check "flood: the agent still answers ipsec status" agent_ipsec a status
# Bounded memory; AddressSanitizer's quarantine alone may hold 256 MB of freed blocks.
rss1=$(rss_kb)
max_kb=65536
grep -q __asan_init "$NT_AGENT" && max_kb=$((320 * 1024))
if [ -n "$rss1" ] && [ "$rss1" -lt $((${rss0:-0} + max_kb)) ]; then
	ok "flood: the agent's memory stays bounded (RSS ${rss0} -> ${rss1} kB)"
else nok "flood: the agent's memory stays bounded" "RSS ${rss0:-?} -> ${rss1:-gone} kB"; fi

# --- reload: a live shunt whose group changed is re-decided; others stay ------------------------
ping_ok a 192.0.2.32 1 5 && wait_for 5 eroute_has a $A4 192.0.2.32 %pass ||
	nok "reload: 192.0.2.32 becomes %pass first"
printf '192.0.2.30\n' >>"$NT_DIR/a/policies/private"
check "reload: ipsec reload after moving 192.0.2.30 to private" agent_ipsec a reload
if eroute_has a $A4 192.0.2.32 %pass; then ok "reload: the unchanged shunt 192.0.2.32 stays"
else nok "reload: the unchanged shunt 192.0.2.32 stays" "$(agent_ipsec a eroute 2>&1)"; fi
expect_drop "reload, 192.0.2.30 now private" 192.0.2.30

# --- SIGKILL: fail closed; restart cleans up ----------------------------------------------------
agent_kill a
cap_start b crash ip and '(' dst host 192.0.2.40 or dst host 192.0.2.41 or dst host 192.0.2.34 ')'
for d in 192.0.2.40 192.0.2.41 192.0.2.34; do
	if ping_ok a $d 1 2; then nok "agent killed: ping $d not answered"; else
		ok "agent killed: ping $d not answered"; fi
done
cap_stop crash
n=$(cap_count crash)
if [ "$n" -eq 0 ]; then ok "agent killed: nothing private or undecided sent in the clear (tcpdump)"
else nok "agent killed: nothing private or undecided sent in the clear" "$(cap_show crash)"; fi

SHUNT_S=12 # long enough for the checks after the restart, short enough to wait for
conf_a shuntlifetime=${SHUNT_S}s
agent_start a && ok "restart after SIGKILL"
fw_re=$(fw_shape)
if [ "$fw_re" = "$fw_run" ]; then ok "restart: the leftovers were cleaned (one set of rules)"; else
	nok "restart: the leftovers were cleaned (one set of rules)" \
		"$(diff <(echo "$fw_run") <(echo "$fw_re"))"; fi
expect_pass "after restart" 192.0.2.35
expect_drop "after restart, private" 192.0.2.41

# --- shunt expiry --------------------------------------------------------------------------------
if wait_for $((SHUNT_S + 10)) eval '! eroute_has a $A4 192.0.2.35 %pass'; then
	ok "expiry: the %pass shunt to 192.0.2.35 is gone after shuntlifetime=${SHUNT_S}s"
else nok "expiry: the %pass shunt to 192.0.2.35 is gone after shuntlifetime=${SHUNT_S}s" \
	"$(agent_ipsec a eroute 2>&1)"; fi
sleep 1 # margin: the kernel element was added just after the agent's decision
q0=$(nfq_seq a)
check "expiry: ping 192.0.2.35 works again" ping_ok a 192.0.2.35 1 5
q1=$(nfq_seq a)
if [ "$q1" -gt "$q0" ]; then ok "expiry: the pair went back to trap (queue $q0 -> $q1)"; else
	nok "expiry: the pair went back to trap" "queue $q0 -> $q1"; fi
if wait_for 5 eroute_has a $A4 192.0.2.35 %pass; then ok "expiry: decided %pass again"; else
	nok "expiry: decided %pass again" "$(agent_ipsec a eroute 2>&1)"; fi
printf '192.0.2.35\n' >>"$NT_DIR/a/policies/block"
check "expiry: reload moving 192.0.2.35 to block" agent_ipsec a reload
expect_block "after reload, 192.0.2.35 now block" 192.0.2.35

# --- SIGTERM: everything removed -------------------------------------------------------------------
agent_stop a
rc=$?
result "SIGTERM: exit status 0" $rc "rc=$rc"
fw_end=$(fw_shape)
if [ "$fw_end" = "$fw_base" ]; then ok "SIGTERM: the agent's rules and sets are removed"; else
	nok "SIGTERM: the agent's rules and sets are removed" "$fw_end"; fi
if grep -Eq 'AddressSanitizer|runtime error' "$(agent_log a)"; then
	nok "no sanitizer reports in the agent's log" "$(grep -E -A5 'Sanitizer|runtime error' "$(agent_log a)")"
else ok "no sanitizer reports in the agent's log"; fi
exit 0
