#!/bin/bash
# Idle teardown and `ipsec status` (issue 6): two agents as in oe.sh with inactivity=4s. A ping
# from A to B brings a tunnel up; `ipsec status` shows the Child SA with its algorithm, byte and
# packet counts that grow with traffic, its lifetime and rekey time. Then nothing is sent: within
# 15 s both ends drop the tunnel (the end whose check comes first deletes it through an
# INFORMATIONAL DELETE, the other's log shows the DELETE received), the eroutes, the Child SAs (text and --json) and the kernel's tunnel
# set elements are gone on both ends, and the pair is back to the trap: the next ping from A
# negotiates a new tunnel with new SPIs; after the next idle teardown B, the responder so
# far, starts the third. The capture shows the INFORMATIONAL exchanges and never a cleartext
# packet between A and B. About 15 s.
#
#   A 192.0.2.1 (oe-agent) ──┐            ┌── B 192.0.2.2 (oe-agent)
#                            ├─ br0 (lan) ┤   tcpdump on B's eth0
#   DNS 192.0.2.53 (nsd) ────┘            ┘
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/netns/lib.sh

nt_init idle
nt_need nsd ldns-keygen ldns-signzone ldns-key2ds tcpdump ping python3

A=192.0.2.1
B=192.0.2.2
IDLE_S=4
tun_re='tun0x[0-9a-f]+@'

oe_pair_setup inactivity=${IDLE_S}s || exit 1
ok "agents start in A and B (inactivity=${IDLE_S}s)"
cap_start b wire host $A and host $B || exit 1

# tun_said ROLE SRC DST: the SAID of that pair's tunnel eroute (empty if none)
tun_said() {
	agent_ipsec "$1" eroute | awk -v s="$2" -v d="$3" '{ split($2, a, "/"); split($4, b, "/") }
		a[1] == s && b[1] == d && $6 ~ /^tun0x/ { print $6; exit }'
}
# child_out_packets ROLE: outbound packets of the first Child SA in `ipsec status`
child_out_packets() {
	agent_ipsec "$1" status | grep -oE 'out [0-9]+ bytes [0-9]+ packets' | head -1 |
		awk '{ print $4 }'
}
# child_sas ROLE: Child SA entries in `ipsec status`
child_sas() { agent_ipsec "$1" status | grep -c '^  Child SA '; }
# tun_elem ROLE SRC DST: the pair's element in the kernel's tunnel set (what sends its packets
# to the ESP queue instead of the trap)
tun_elem() { in_ns "$1" nft list set inet oe_agent tun4 | grep -q "${2//./\\.} \\. ${3//./\\.}"; }
# both_idle: neither end lists a tunnel eroute for the pair any more
both_idle() { [ -z "$(tun_said a $A $B)" ] && [ -z "$(tun_said b $B $A)" ]; }

# 1. a tunnel, and what `ipsec status` says about it
if ping_ok a $B 1 8; then ok "the first ping from A to B is answered (tunnel up)"
else nok "the first ping from A to B is answered" "$(tail -n 30 "$(agent_log a)")"; exit 1; fi
if wait_for 5 eroute_has a $A $B "$tun_re${B//./\\.}" &&
	wait_for 5 eroute_has b $B $A "$tun_re${A//./\\.}"; then
	ok "tunnel eroutes on both ends"
else nok "tunnel eroutes on both ends" "$(agent_ipsec a eroute; agent_ipsec b eroute)"; fi
if tun_elem a $A $B && tun_elem b $B $A; then ok "the pair is in both kernels' tunnel sets"
else nok "the pair is in both kernels' tunnel sets" "$(in_ns a nft list set inet oe_agent tun4)"; fi
said1=$(tun_said a $A $B)
st=$(agent_ipsec a status 2>&1)
note "A's ipsec status:"
sed -n '/^IKE SA /,$p' <<<"$st" | sed 's/^/#   /'
re_ike='^IKE SA [0-9a-f]{16}_i [0-9a-f]{16}_r ESTABLISHED, initiator, 192\.0\.2\.1\[500\] -> 192\.0\.2\.2\[500\]$'
if grep -Eq "$re_ike" <<<"$st" &&
	grep -Eq '^    ids 192\.0\.2\.1 -> 192\.0\.2\.2, peer auth [A-Z_]+, [A-Z0-9_]+/PRF_[A-Z0-9_]+/AES_GCM_16-(128|256)$' <<<"$st" &&
	grep -Eq '^    age [0-9]+s, rekey in [0-9]+s, 1 Child SA$' <<<"$st"; then
	ok "ipsec status: the IKE SA with its IDs, auth, algorithms, age and rekey time"
else nok "ipsec status: the IKE SA with its IDs, auth, algorithms, age and rekey time" "$st"; fi
if grep -Eq '^  Child SA [0-9a-f]{8}_in [0-9a-f]{8}_out INSTALLED, tunnel, raw ESP, AES_GCM_16-(128|256), (no )?ESN, reqid [0-9]+$' <<<"$st" &&
	grep -Eq '^    in [0-9]+ bytes [0-9]+ packets, out [0-9]+ bytes [0-9]+ packets, idle [0-9]+s' <<<"$st" &&
	grep -Eq '^    age [0-9]+s, rekey in [0-9]+s, expires in [0-9]+s$' <<<"$st"; then
	ok "ipsec status: the Child SA with SPIs, mode, encap, algorithm, counts, lifetime and rekey time"
else nok "ipsec status: the Child SA with SPIs, mode, encap, algorithm, counts, lifetime and rekey time" "$st"; fi
js=$(agent_ipsec a status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
i = d["ike_sas"][0]; c = i["child_sas"][0]
ok = (i["state"] == "ESTABLISHED" and i["initiator"] and i["remote"] == "192.0.2.2" and
      i["nchild"] == 1 and i["rekey_in_s"] > 0 and c["state"] == "INSTALLED" and
      c["encap"] == "none" and c["packets_out"] >= 1 and c["packets_in"] >= 1 and
      c["expires_in_s"] > c["rekey_in_s"] > 0 and d["esp"]["encrypted"] >= 1)
print("ok" if ok else json.dumps(d))' 2>&1)
if [ "$js" = ok ]; then ok "ipsec status --json: the same SAs as a JSON object"
else nok "ipsec status --json: the same SAs as a JSON object" "$js"; fi
p1=$(child_out_packets a)
ping_ok a $B 3 2 && ok "more pings (the SA is not idle meanwhile)" || nok "more pings"
p2=$(child_out_packets a)
if [ "${p2:-0}" -ge $((${p1:-0} + 3)) ]; then ok "ipsec status: the Child SA's packet count grows ($p1 -> $p2)"
else nok "ipsec status: the Child SA's packet count grows" "'$p1' -> '$p2'"; fi
if [ "$(tun_said a $A $B)" = "$said1" ]; then ok "still the same Child SA after 3 s of traffic"
else nok "still the same Child SA after 3 s of traffic" "$said1 -> $(tun_said a $A $B)"; fi

# 2. idle: both ends let it go within 15 s, the pair goes back to the trap
t0=$(date +%s%N)
if wait_for 15 both_idle; then
	ok "the tunnel eroutes leave both listings ($(elapsed_ms $t0) ms after the last ping)"
else nok "the tunnel eroutes leave both listings" "$(agent_ipsec a eroute; agent_ipsec b eroute)"; fi
note "idle teardown $(elapsed_ms $t0) ms after the last ping (inactivity ${IDLE_S} s, checked every 1 s)"
if ! tun_elem a $A $B && ! tun_elem b $B $A; then ok "the pair left both kernels' tunnel sets"
else nok "the pair left both kernels' tunnel sets" "$(in_ns a nft list set inet oe_agent tun4; in_ns b nft list set inet oe_agent tun4)"; fi
# whichever end's check came first deletes (both when their DELETEs cross, RFC 7296 §1.4.1)
by=a
grep -Eq "idle for [0-9]+ s, deleting it" "$(agent_log a)" || by=b
peer=$([ $by = a ] && echo b || echo a)
if grep -Eq "idle for [0-9]+ s, deleting it" "$(agent_log $by)"; then
	ok "${by^^}'s log says why: $(grep -Eo 'idle for [0-9]+ s, deleting it[a-zA-Z ]*' "$(agent_log $by)" | head -1)"
else nok "one end's log says the SA was idle" "$(tail -n 20 "$(agent_log a)"; tail -n 20 "$(agent_log b)")"; fi
if grep -q "DELETE from the peer" "$(agent_log $peer)"; then
	ok "${peer^^}'s log shows the DELETE received$(grep -q 'crossed ours' "$(agent_log $peer)" && echo ' (the DELETEs crossed)')"
else nok "${peer^^}'s log shows the DELETE received" "$(tail -n 20 "$(agent_log $peer)")"; fi
ca=$(child_sas a)
cb=$(child_sas b)
nj=$(agent_ipsec b status --json | python3 -c '
import json, sys
print(sum(len(i["child_sas"]) for i in json.load(sys.stdin)["ike_sas"]))' 2>&1)
if [ "$ca" = 0 ] && [ "$cb" = 0 ] && [ "$nj" = 0 ] &&
	agent_ipsec a status | grep -q ', 0 Child SAs$'; then
	ok "ipsec status on both ends: no Child SA left"
else nok "ipsec status on both ends: no Child SA left" "$(agent_ipsec a status; agent_ipsec b status)"; fi

# 3. the next packet traps and negotiates again: a new tunnel with new SPIs
if ping_ok a $B 1 8; then ok "after the teardown a new ping is answered"
else nok "after the teardown a new ping is answered" "$(tail -n 30 "$(agent_log a)")"; fi
said2=$(tun_said a $A $B)
if [ -n "$said2" ] && [ "$said2" != "$said1" ]; then ok "a new tunnel with a new SPI ($said1 -> $said2)"
else nok "a new tunnel with a new SPI" "'$said1' -> '$said2'"; fi
if wait_for 5 eroute_has b $B $A "$tun_re${A//./\\.}"; then ok "B lists the new tunnel too"
else nok "B lists the new tunnel too" "$(agent_ipsec b eroute)"; fi

# 4. idle again; now B, the responder so far, starts the next tunnel: its side of the pair
# went back to the trap as well
if wait_for 15 both_idle; then ok "the second tunnel leaves both listings when idle too"
else nok "the second tunnel leaves both listings when idle too" "$(agent_ipsec a eroute; agent_ipsec b eroute)"; fi
if ping_ok b $A 1 8; then ok "then a ping from B to A is answered"
else nok "then a ping from B to A is answered" "$(tail -n 30 "$(agent_log b)")"; fi
said3=$(tun_said b $B $A)
if [ -n "$said3" ] && tun_elem b $B $A; then ok "B negotiated a third tunnel ($said3)"
else nok "B negotiated a third tunnel" "$(agent_ipsec b eroute)"; fi

# 5. the wire: the DELETEs went as INFORMATIONAL exchanges (IKE header octet 18: 37), the
# tunnel was negotiated three times, and nothing went in the clear
# tcpdump writes each packet as it comes (-U): wait for the last IKE_AUTH to reach the file
# rather than stop it while the newest packets may still be in its ring
auths() { cap_count wire udp port 500 and 'udp[26] = 35'; }
wait_for 5 eval '[ "$(auths)" -ge 6 ]'
cap_stop wire
info=$(cap_count wire udp port 500 and 'udp[26] = 37')
auth=$(cap_count wire udp port 500 and 'udp[26] = 35')
clear=$(cap_count wire icmp or tcp)
if [ "$info" -ge 4 ]; then ok "the capture shows the INFORMATIONAL exchanges on UDP 500 ($info datagrams)"
else nok "the capture shows the INFORMATIONAL exchanges on UDP 500" "$(cap_show wire udp port 500)"; fi
if [ "$auth" -ge 6 ]; then ok "the capture shows three IKE_AUTH exchanges ($auth datagrams)"
else nok "the capture shows three IKE_AUTH exchanges" "$(cap_show wire udp port 500)"; fi
if [ "$clear" -eq 0 ]; then ok "no cleartext ICMP or TCP between A and B at any point"
else nok "no cleartext ICMP or TCP between A and B at any point" "$(cap_show wire icmp or tcp)"; fi

for r in a b; do
	agent_stop $r && ok "agent $r stops" || nok "agent $r stops"
done
if grep -E 'ERROR: AddressSanitizer|runtime error:' "$NT_DIR"/*/agent.log; then
	nok "no sanitizer reports"
else ok "no sanitizer reports"; fi
