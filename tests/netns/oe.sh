#!/bin/bash
# Opportunistic encryption end to end (issue 6): two hosts both run oe-agent, both publish an
# IPSECKEY in the signed reverse zone, both put the LAN in private-or-clear. A ping from A is
# held while IKEv2 runs, then leaves as ESP; B's capture shows IKE and ESP only (no cleartext
# ICMP or TCP between A and B); `ipsec eroute` on both ends shows the tunnel eroutes with
# growing counts; `ipsec status` lists the SAs; a 12 MB TCP transfer arrives with its checksum.
# The same over IPv6 (ping and a 2 MB transfer). C publishes a key but runs no agent: A puts
# it in `private`, so nothing reaches C in the clear and, once the hold time runs out while
# IKE still retransmits (dns-lookup-timeout + 5 s = 8 s here), the pair is %drop with a short
# lifetime (60 s instead of shuntlifetime: RFC 4322's shorter shunt for an unresponsive peer).
#
#   A 192.0.2.1 2001:db8::1 ──┐            ┌── B 192.0.2.2 2001:db8::2 (oe-agent)
#     oe-agent                ├─ br0 (lan) ┤   tcpdump on B's eth0
#   DNS 192.0.2.53 (nsd) ─────┘            └── C 192.0.2.3 (key published, no agent)
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/netns/lib.sh

nt_init oe
nt_need nsd ldns-keygen ldns-signzone ldns-key2ds tcpdump ping nft iptables-save python3

A=192.0.2.1
B=192.0.2.2
C=192.0.2.3
A6=2001:db8::1
B6=2001:db8::2

net_lan
net_host a $A $A6
net_host b $B $B6
net_host c $C
net_host dns 192.0.2.53 2001:db8::53

key_new a
key_new b
key_new c
{
	key_ipseckey a $A
	key_ipseckey b $B
	key_ipseckey c $C
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
	printf '%s\n' $C | agent_policy $r private
	: | agent_policy $r clear
	: | agent_policy $r clear-or-private
	: | agent_policy $r block
done
agent_start a || exit 1
agent_start b || exit 1
ok "agents start in A and B"

cap_start b wire host $A and host $B || exit 1
cap_start b wire6 ip6 and host $A6 and host $B6 and not icmp6[0] \> 127 || exit 1
cap_start c wirec host $A and host $C || exit 1

# 1. ping: the first echo request is held during IKE, then everything is ESP
first=$(ping_out a $B 1 8 | grep -o 'time=[0-9.]* ms')
note "first ping (DNS lookup + IKEv2 + ESP both ways): ${first:-no answer}"
if [ -n "$first" ]; then ok "the first ping from A to B is answered (held during IKE)"
else nok "the first ping from A to B is answered (held during IKE)" \
	"$(tail -n 40 "$(agent_log a)"; echo ---; tail -n 20 "$(agent_log b)")"; fi
ping_ok a $B 5 2 && ok "later pings are answered" || nok "later pings are answered"
ping_ok b $A 3 2 && ok "B pings A through the same Child SA" || nok "B pings A through the same Child SA"

tun_re='tun0x[0-9a-f]+@'
if wait_for 5 eroute_has a $A $B "$tun_re${B//./\\.}"; then ok "A's ipsec eroute: $A -> $B => tun0x…@$B"
else nok "A's ipsec eroute: $A -> $B => tun0x…@$B" "$(agent_ipsec a eroute 2>&1)"; fi
if wait_for 5 eroute_has b $B $A "$tun_re${A//./\\.}"; then ok "B's ipsec eroute: $B -> $A => tun0x…@$A"
else nok "B's ipsec eroute: $B -> $A => tun0x…@$A" "$(agent_ipsec b eroute 2>&1)"; fi
n1=$(eroute_count a $A $B)
m1=$(eroute_count b $B $A)
ping_ok a $B 4 2
n2=$(eroute_count a $A $B)
m2=$(eroute_count b $B $A)
if [ "${n2:-0}" -gt "${n1:-0}" ] && [ "${n2:-0}" -ge 4 ]; then ok "A's tunnel eroute counts grow ($n1 -> $n2)"
else nok "A's tunnel eroute counts grow" "'$n1' -> '$n2'"; fi
if [ "${m2:-0}" -gt "${m1:-0}" ]; then ok "B's tunnel eroute counts grow ($m1 -> $m2)"
else nok "B's tunnel eroute counts grow" "'$m1' -> '$m2'"; fi
st=$(agent_ipsec a status 2>&1)
if grep -q ESTABLISHED <<<"$st" && grep -q 'Child SA' <<<"$st"; then ok "ipsec status lists the IKE and Child SAs"
else nok "ipsec status lists the IKE and Child SAs" "$st"; fi

# 2. a TCP transfer with a checksum (python3 on both ends)
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
cat >"$NT_DIR/send.py" <<'EOF'
import hashlib, socket, sys, time
data = open(sys.argv[2], 'rb').read()
for i in range(50):
    try:
        s = socket.create_connection((sys.argv[1], 5001), timeout=60); break
    except OSError: time.sleep(0.1)
s.sendall(data); s.close()
print(len(data), hashlib.sha256(data).hexdigest())
EOF
head -c 12000000 /dev/urandom >"$NT_DIR/data"
ip netns exec "$(ns b)" timeout 90 python3 "$NT_DIR/recv.py" $B >"$NT_DIR/recv.out" 2>&1 &
rpid=$!
NT_PIDS+=($rpid)
t0=$(date +%s%N)
sent=$(in_ns a python3 "$NT_DIR/send.py" $B "$NT_DIR/data" 2>&1)
wait $rpid
note "12 MB through the tunnel in $(elapsed_ms $t0) ms (IPv4, uesp on NFQUEUE, MSS 1403)"
got=$(cat "$NT_DIR/recv.out")
if [ -n "$sent" ] && [ "$sent" = "$got" ]; then ok "12 MB over TCP arrive intact through the tunnel ($got)"
else nok "12 MB over TCP arrive intact through the tunnel" "sent '$sent' got '$got'"; fi

# 3. IPv6: ping, the tunnel eroute, 2 MB over TCP
if ping_ok a $B6 1 8; then ok "IPv6: the first ping from A to B is answered"
else nok "IPv6: the first ping from A to B is answered" "$(tail -n 30 "$(agent_log a)")"; fi
ping_ok a $B6 3 2 && ok "IPv6: later pings are answered" || nok "IPv6: later pings are answered"
if wait_for 5 eroute_has a $A6 $B6 "${tun_re}2001:db8::2"; then ok "IPv6: A's ipsec eroute: $A6 -> $B6 => tun0x…@$B6"
else nok "IPv6: A's ipsec eroute: $A6 -> $B6 => tun0x…@$B6" "$(agent_ipsec a eroute 2>&1)"; fi
head -c 2000000 /dev/urandom >"$NT_DIR/data6"
sed -i 's/socket.socket()/socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)/' "$NT_DIR/recv.py"
ip netns exec "$(ns b)" timeout 90 python3 "$NT_DIR/recv.py" $B6 >"$NT_DIR/recv6.out" 2>&1 &
rpid=$!
NT_PIDS+=($rpid)
sent=$(in_ns a python3 "$NT_DIR/send.py" $B6 "$NT_DIR/data6" 2>&1)
wait $rpid
got=$(cat "$NT_DIR/recv6.out")
if [ -n "$sent" ] && [ "$sent" = "$got" ]; then ok "IPv6: 2 MB over TCP arrive intact ($got)"
else nok "IPv6: 2 MB over TCP arrive intact" "sent '$sent' got '$got'"; fi

# 4. private towards a peer that publishes a key but never answers IKE: never in the clear
if ping_ok a $C 1 3; then nok "private, no IKE answer: the ping to C is not answered"
else ok "private, no IKE answer: the ping to C is not answered"; fi
if wait_for 30 eroute_has a $A $C %drop; then ok "private, no IKE answer: A's eroute is $A -> $C %drop after the hold time"
else nok "private, no IKE answer: A's eroute is $A -> $C %drop after the hold time" "$(agent_ipsec a eroute 2>&1)"; fi
ping_ok a $C 1 1
left=$(agent_ipsec a eroute --json | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if e.get("dst", "").startswith("192.0.2.3/") and e.get("said") == "%drop":
        print(e.get("expires_in_s"))' 2>&1)
if [ -n "$left" ] && [ "$left" != None ] && [ "$left" -le 60 ] 2>/dev/null; then
	ok "private, no IKE answer: the %drop shunt is short-lived (expires in ${left}s, RFC 4322)"
else nok "private, no IKE answer: the %drop shunt is short-lived" "expires_in_s '$left'"; fi

# 5. the wire: IKE and ESP, never cleartext
cap_stop wire
cap_stop wire6
cap_stop wirec
ike=$(cap_count wire udp port 500)
esp=$(cap_count wire esp)
clear=$(cap_count wire icmp or tcp)
if [ "$ike" -ge 4 ]; then ok "the capture shows IKE ($ike datagrams)"; else nok "the capture shows IKE" "$(cap_show wire)"; fi
if [ "$esp" -ge 20 ]; then ok "the capture shows ESP ($esp packets)"; else nok "the capture shows ESP" "$(cap_show wire)"; fi
if [ "$clear" -eq 0 ]; then ok "no cleartext ICMP or TCP between A and B"
else nok "no cleartext ICMP or TCP between A and B" "$(cap_show wire icmp or tcp)"; fi
esp6=$(cap_count wire6 ip6 proto 50)
clear6=$(cap_count wire6 icmp6 or tcp)
if [ "$esp6" -ge 10 ] && [ "$clear6" -eq 0 ]; then ok "IPv6: only ESP between A and B ($esp6 packets)"
else nok "IPv6: only ESP between A and B" "esp $esp6, clear $clear6: $(cap_show wire6)"; fi
cc=$(cap_count wirec icmp and src host $A)
ikec=$(cap_count wirec udp port 500)
if [ "$cc" -eq 0 ] && [ "$ikec" -ge 2 ]; then ok "C's wire: IKE attempts ($ikec), no cleartext ICMP"
else nok "C's wire: IKE attempts, no cleartext ICMP" "$(cap_show wirec)"; fi
in_ns b nft list counter inet oe_agent cleartext_in >/dev/null 2>&1 &&
	ok "B's cleartext-in counter is there" || nok "B's cleartext-in counter is there"

for r in a b; do
	agent_stop $r && ok "agent $r stops" || nok "agent $r stops"
done
if grep -E 'ERROR: AddressSanitizer|runtime error:' "$NT_DIR"/*/agent.log; then
	nok "no sanitizer reports"
else ok "no sanitizer reports"; fi
