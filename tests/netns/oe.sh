#!/bin/bash
# Opportunistic encryption end to end (issue 6): two hosts both run oe-agent, both publish an
# IPSECKEY in the signed reverse zone, both put the LAN in private-or-clear. A ping from A is
# held while IKEv2 runs, then leaves as ESP; B's capture shows IKE and ESP only (no cleartext
# ICMP or TCP between A and B); `ipsec eroute` on both ends shows the tunnel eroutes with
# growing counts; `ipsec status` lists the SAs; a 12 MB TCP transfer arrives with its checksum.
#
#   A 192.0.2.1 ──┐            ┌── B 192.0.2.2
#     oe-agent    ├─ br0 (lan) ┤     oe-agent      tcpdump on B's eth0
#   DNS 192.0.2.53 (nsd) ──────┘
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/netns/lib.sh

nt_init oe
nt_need nsd ldns-keygen ldns-signzone ldns-key2ds tcpdump ping nft iptables-save python3

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
		"hostkey=$NT_DIR/keys/$r.pem"
	printf '192.0.2.0/24\n' | agent_policy $r private-or-clear
	: | agent_policy $r private
	: | agent_policy $r clear
	: | agent_policy $r clear-or-private
	: | agent_policy $r block
done
agent_start a || exit 1
agent_start b || exit 1
ok "agents start in A and B"

cap_start b wire host $A and host $B || exit 1

# 1. ping: the first echo request is held during IKE, then everything is ESP
if ping_ok a $B 1 8; then ok "the first ping from A to B is answered (held during IKE)"
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
sent=$(in_ns a python3 "$NT_DIR/send.py" $B "$NT_DIR/data" 2>&1)
wait $rpid
got=$(cat "$NT_DIR/recv.out")
if [ -n "$sent" ] && [ "$sent" = "$got" ]; then ok "12 MB over TCP arrive intact through the tunnel ($got)"
else nok "12 MB over TCP arrive intact through the tunnel" "sent '$sent' got '$got'"; fi

# 3. the wire: IKE and ESP, never cleartext
cap_stop wire
ike=$(cap_count wire udp port 500)
esp=$(cap_count wire esp)
clear=$(cap_count wire icmp or tcp)
if [ "$ike" -ge 4 ]; then ok "the capture shows IKE ($ike datagrams)"; else nok "the capture shows IKE" "$(cap_show wire)"; fi
if [ "$esp" -ge 20 ]; then ok "the capture shows ESP ($esp packets)"; else nok "the capture shows ESP" "$(cap_show wire)"; fi
if [ "$clear" -eq 0 ]; then ok "no cleartext ICMP or TCP between A and B"
else nok "no cleartext ICMP or TCP between A and B" "$(cap_show wire icmp or tcp)"; fi
in_ns b nft list counter inet oe_agent cleartext_in >/dev/null 2>&1 &&
	ok "B's cleartext-in counter is there" || nok "B's cleartext-in counter is there"

for r in a b; do
	agent_stop $r && ok "agent $r stops" || nok "agent $r stops"
done
if grep -E 'ERROR: AddressSanitizer|runtime error:' "$NT_DIR"/*/agent.log; then
	nok "no sanitizer reports"
else ok "no sanitizer reports"; fi
