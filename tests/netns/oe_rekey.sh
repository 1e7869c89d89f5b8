#!/bin/bash
# Child SA rekeys under a running transfer (issue 6): two agents as in oe.sh, salifetime=12s
# (the original initiator rekeys at 90%, about every 10.8 s; PFS on, the default). While a
# ping every 20 ms runs for 30 s and a paced 24 MB TCP transfer runs for about 24 s, the
# Child SA is replaced by CREATE_CHILD_SA at least twice: no echo request is lost, the
# transfer's sha256 matches, the SPIs of the tunnel eroute change at least twice, the eroute
# listing never shows two tunnels for the pair, and nothing crosses the wire in the clear.
# Meanwhile B floods A with pings (ping -f, thousands a second, so ESP is in flight whenever a
# rekey switches SAs): neither datapath ever meets ESP without an SA or fails to decrypt
# (uesp's no-sa and errors stay 0: old SAs are kept until in-flight ESP is through, and ESP on
# the new SA that overtakes the CREATE_CHILD_SA answer waits for it).
#
#   A 192.0.2.1 (oe-agent) ──┐            ┌── B 192.0.2.2 (oe-agent)
#                            ├─ br0 (lan) ┤   tcpdump on B's eth0
#   DNS 192.0.2.53 (nsd) ────┘            ┘
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/netns/lib.sh

nt_init rekey
nt_need nsd ldns-keygen ldns-signzone ldns-key2ds tcpdump ping python3

A=192.0.2.1
B=192.0.2.2

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
		"hostkey=$NT_DIR/keys/$r.pem" salifetime=12s
	printf '192.0.2.0/24\n' | agent_policy $r private-or-clear
	for g in private clear clear-or-private block; do : | agent_policy $r $g; done
done
agent_start a || exit 1
agent_start b || exit 1
cap_start b wire host $A and host $B || exit 1

if ping_ok a $B 1 8; then ok "the first ping from A to B is answered (tunnel up)"
else nok "the first ping from A to B is answered" "$(tail -n 30 "$(agent_log a)")"; exit 1; fi

# tun_spis ROLE SRC DST: the SAIDs of that pair's tunnel eroutes, one a line
tun_spis() {
	agent_ipsec "$1" eroute | awk -v s="$2" -v d="$3" '{ split($2, a, "/"); split($4, b, "/") }
		a[1] == s && b[1] == d && $6 ~ /^tun0x/ { print $6 }'
}

# the SAIDs both ends list, sampled every 0.3 s while traffic runs
sample() {
	while :; do
		echo "a $(tun_spis a $A $B | tr '\n' ' ')"
		echo "b $(tun_spis b $B $A | tr '\n' ' ')"
		sleep 0.3
	done
}
sample >"$NT_DIR/spis" 2>/dev/null &
spid=$!
NT_PIDS+=($spid)

cat >"$NT_DIR/recv.py" <<'EOF'
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5001)); s.listen(1); s.settimeout(60)
c, _ = s.accept(); c.settimeout(60); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    h.update(b); n += len(b)
print(n, h.hexdigest())
EOF
# paced: about 1 MB/s, so the transfer spans two rekeys
cat >"$NT_DIR/send.py" <<'EOF'
import hashlib, socket, sys, time
data = open(sys.argv[2], 'rb').read()
rate = float(sys.argv[3])
for i in range(50):
    try:
        s = socket.create_connection((sys.argv[1], 5001), timeout=60); break
    except OSError: time.sleep(0.1)
t0 = time.time()
for off in range(0, len(data), 65536):
    s.sendall(data[off:off + 65536])
    ahead = (off + 65536) / rate - (time.time() - t0)
    if ahead > 0: time.sleep(ahead)
s.close()
print(len(data), hashlib.sha256(data).hexdigest())
EOF
head -c 24000000 /dev/urandom >"$NT_DIR/data"
ip netns exec "$(ns b)" timeout 90 python3 "$NT_DIR/recv.py" $B >"$NT_DIR/recv.out" 2>&1 &
rpid=$!
NT_PIDS+=($rpid)
ip netns exec "$(ns a)" timeout 60 ping -n -q -i 0.02 -c 1500 -W 1 $B >"$NT_DIR/ping.out" 2>&1 &
ppid=$!
NT_PIDS+=($ppid)
ip netns exec "$(ns b)" timeout 60 ping -n -q -f -w 26 $A >"$NT_DIR/flood.out" 2>&1 &
fpid=$!
NT_PIDS+=($fpid)
t0=$(date +%s%N)
sent=$(ip netns exec "$(ns a)" timeout 80 python3 "$NT_DIR/send.py" $B "$NT_DIR/data" 1000000 2>&1)
wait $rpid
note "24 MB paced at 1 MB/s in $(elapsed_ms $t0) ms"
wait $ppid
wait $fpid
kill $spid 2>/dev/null

got=$(cat "$NT_DIR/recv.out")
if [ -n "$sent" ] && [ "$sent" = "$got" ]; then ok "24 MB over TCP arrive intact across the rekeys ($got)"
else nok "24 MB over TCP arrive intact across the rekeys" "sent '$sent' got '$got'"; fi
loss=$(grep -o '[0-9.]*% packet loss' "$NT_DIR/ping.out")
note "ping every 20 ms for 30 s: $(grep -E 'transmitted' "$NT_DIR/ping.out")"
if grep -q ' 1500 received, 0% packet loss' "$NT_DIR/ping.out"; then ok "1500 pings across the rekeys: none lost"
else nok "1500 pings across the rekeys: none lost (${loss:-no summary})" \
	"$(cat "$NT_DIR/ping.out"; agent_ipsec a status; agent_ipsec b status)"; fi

spis_a=$(awk '$1 == "a" { for (i = 2; i <= NF; i++) print $i }' "$NT_DIR/spis" | awk '!s[$0]++')
na=$(printf '%s\n' "$spis_a" | grep -c tun0x)
note "A's tunnel SAIDs over time: $(echo $spis_a)"
if [ "$na" -ge 3 ]; then ok "A's tunnel eroute changed SPI at least twice ($na SAIDs)"
else nok "A's tunnel eroute changed SPI at least twice" "$(cat "$NT_DIR/spis" | uniq)"; fi
nb=$(awk '$1 == "b" { for (i = 2; i <= NF; i++) print $i }' "$NT_DIR/spis" | sort -u | grep -c tun0x)
if [ "$nb" -ge 3 ]; then ok "B's tunnel eroute changed SPI at least twice ($nb SAIDs)"
else nok "B's tunnel eroute changed SPI at least twice" "$(cat "$NT_DIR/spis" | uniq)"; fi
two=$(awk 'NF > 2' "$NT_DIR/spis" | head -5)
if [ -z "$two" ]; then ok "the eroute listings never showed two tunnels for the pair"
else nok "the eroute listings never showed two tunnels for the pair" "$two"; fi

nrk=$(grep -c 'INSTALLED -> REKEYING' "$(agent_log a)")
nrk_b=$(grep -c 'INSTALLED -> REKEYING' "$(agent_log b)")
if [ "$((nrk + nrk_b))" -ge 2 ]; then ok "the logs show CREATE_CHILD_SA rekeys (A started $nrk, B $nrk_b)"
else nok "the logs show CREATE_CHILD_SA rekeys" "$(grep -i rekey "$(agent_log a)" | tail)"; fi
if grep -q 'rekey of Child SA .* failed' "$NT_DIR"/a/agent.log "$NT_DIR"/b/agent.log; then
	nok "no failed rekey" "$(grep -h 'rekey of Child SA' "$NT_DIR"/a/agent.log "$NT_DIR"/b/agent.log)"
else ok "no failed rekey"; fi
note "B's ping flood: $(grep transmitted "$NT_DIR/flood.out")"
for r in a b; do
	s=$(agent_ipsec $r status | grep '^esp:')
	note "$r: $s"
	if grep -q 'no-sa 0, errors 0,' <<<"$s"; then ok "$r: no ESP met a missing SA or failed to decrypt"
	else nok "$r: no ESP met a missing SA or failed to decrypt" "$s"; fi
done

sleep 1
for r in a b; do
	if [ $r = a ]; then n=$(tun_spis a $A $B | wc -l); else n=$(tun_spis b $B $A | wc -l); fi
	if [ "$n" -eq 1 ]; then ok "$r: one tunnel eroute for the pair at the end"
	else nok "$r: one tunnel eroute for the pair at the end" "$(agent_ipsec $r eroute)"; fi
done
ping_ok a $B 3 2 && ok "pings still work after the rekeys" || nok "pings still work after the rekeys"

cap_stop wire
esp=$(cap_count wire esp)
ike=$(cap_count wire udp port 500)
clear=$(cap_count wire icmp or tcp)
if [ "$esp" -ge 3000 ] && [ "$ike" -ge 8 ]; then ok "the capture shows ESP ($esp) and IKE ($ike, with the rekeys)"
else nok "the capture shows ESP and IKE" "esp $esp ike $ike"; fi
if [ "$clear" -eq 0 ]; then ok "no cleartext ICMP or TCP between A and B"
else nok "no cleartext ICMP or TCP between A and B" "$(cap_show wire icmp or tcp)"; fi

for r in a b; do
	agent_stop $r && ok "agent $r stops" || nok "agent $r stops"
done
if grep -E 'ERROR: AddressSanitizer|runtime error:' "$NT_DIR"/*/agent.log; then
	nok "no sanitizer reports"
else ok "no sanitizer reports"; fi
