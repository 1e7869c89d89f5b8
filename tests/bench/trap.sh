#!/bin/bash
# Driver of build/bench/trap (which `make bench` runs and which execs this script): the trap
# path measured side by side in one run, between namespaces A (oe-agent) and B (answers for
# all of 2001:db8:1::/48, "AnyIP"), on the LAN of tests/netns/lib.sh:
#   1. decisions per second: one UDP datagram to each of N new destinations in a `clear` range
#      that a port rule in `private` forces through the trap (the agent decides every pair
#      %pass without DNS); then the same N again: queue hits after the decision (bar: 0);
#   2. first-packet latency: ping round trip of the first packet to a new destination vs later;
#   3. packets/s through one decided %pass pair vs the same without any agent.
set -u
cd "$(dirname "$0")/../.." || exit 2
TOOL=${TRAP_TOOL:-$PWD/${B:-build}/bench/trap}
N=${TRAP_N:-30000}
WINDOW=${TRAP_WINDOW:-256}
SECS=${TRAP_SECS:-2}
if [ "$(id -u)" != 0 ]; then echo "trap: needs root (network namespaces); not run"; exit 0; fi
. tests/netns/lib.sh
nt_init trapbench
nt_need ping nft

net_lan
net_host a 2001:db8::1 192.0.2.1
net_host b 2001:db8::2 192.0.2.2
ip -n "$(ns a)" -6 route add 2001:db8:1::/48 via 2001:db8::2 dev eth0 || exit 1
ip -n "$(ns b)" -6 route add local 2001:db8:1::/48 dev lo || exit 1
agent_conf a nameservers=192.0.2.53 dnssec-rootkey-file=none loglevel=info
printf '2001:db8:1::/48\n' | agent_policy a clear
printf '# makes the clear range above depend on ports: the kernel must trap it\n2001:db8:1::/48 tcp 0 22\n' |
	agent_policy a private
: | agent_policy a private-or-clear

# kv OUTPUT KEY: the value of KEY=... in OUTPUT
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
# rtts ROLE ADDR COUNT: ping's time= values in microseconds, one a line
rtts() {
	in_ns "$1" ping -n -c "$3" -i 0.05 -W 2 "$2" 2>/dev/null |
		sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | awk '{ printf "%d\n", $1 * 1000 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "?" }'; }
blast() { timeout 60 "$TOOL" blast "$(ns a)" "$(ns b)" "$1" "$SECS"; }

# --- without an agent ----------------------------------------------------------------------------
ping_ok a 2001:db8:1::1 1 2 || { echo "trap: no route to B"; exit 1; }
base1=$(blast 2001:db8:1::1)

# --- with the agent --------------------------------------------------------------------------------
agent_start a || exit 1
q0=$(nfq_seq a)
first=$(timeout 300 "$TOOL" decide "$(ns a)" "$(ns b)" 2001:db8:1:: "$N" "$WINDOW" first)
q1=$(nfq_seq a)
again=$(timeout 300 "$TOOL" decide "$(ns a)" "$(ns b)" 2001:db8:1:: "$N" "$WINDOW" again)
q2=$(nfq_seq a)
shunts=$(agent_ipsec a eroute | grep -c '=> %pass$')

lat_first=() lat_later=()
for i in $(seq 1 20); do
	mapfile -t r < <(rtts a "2001:db8:1::2:$i" 5)
	[ ${#r[@]} -ge 2 ] || continue
	lat_first+=("${r[0]}")
	lat_later+=("${r[@]:1}")
done
lf=$(printf '%s\n' "${lat_first[@]}" | median)
ll=$(printf '%s\n' "${lat_later[@]}" | median)

pass1=$(blast 2001:db8:1::1)
qb=$(nfq_seq a)
agent_stop a
base2=$(blast 2001:db8:1::1)

# --- figures ---------------------------------------------------------------------------------------
echo "trap: decisions through the trap, clear path (new destinations, window $WINDOW):"
printf '  %s of %s arrived in %s s = %s decisions/s (lost %s; bar >= 100000/s)\n' \
	"$(kv "$first" first_arrived)" "$N" "$(kv "$first" first_seconds)" \
	"$(kv "$first" first_per_s)" "$(kv "$first" first_lost)"
printf '  queue hits: %s for the first pass, %s when the same %s destinations are sent again (bar: 0)\n' \
	$((q1 - q0)) $((q2 - q1)) "$N"
printf '  second pass, kernel only: %s datagrams/s; %%pass shunts listed by ipsec eroute: %s\n' \
	"$(kv "$again" again_per_s)" "$shunts"
echo "trap: first-packet latency (ping, 20 new destinations x 5 packets, medians):"
printf '  first packet %s us, later packets %s us, added %s us\n' "$lf" "$ll" \
	"$( [ "$lf" != "?" ] && [ "$ll" != "?" ] && echo $((lf - ll)) || echo "?")"
echo "trap: UDP through one decided %pass pair vs no agent (one sender thread, ${SECS} s each):"
printf '  no agent (before): sent %s/s arrived %s/s\n' "$(kv "$base1" blast_sent_per_s)" \
	"$(kv "$base1" blast_arrived_per_s)"
printf '  agent, %%pass pair: sent %s/s arrived %s/s (queue hits during it: %s)\n' \
	"$(kv "$pass1" blast_sent_per_s)" "$(kv "$pass1" blast_arrived_per_s)" $((qb - q2))
printf '  no agent (after):  sent %s/s arrived %s/s\n' "$(kv "$base2" blast_sent_per_s)" \
	"$(kv "$base2" blast_arrived_per_s)"
a=$(kv "$pass1" blast_arrived_per_s)
b1=$(kv "$base1" blast_arrived_per_s)
b2=$(kv "$base2" blast_arrived_per_s)
[ -n "$a" ] && [ -n "$b1" ] && [ -n "$b2" ] &&
	awk -v a="$a" -v b="$b1" -v c="$b2" 'BEGIN { m = (b + c) / 2;
		if (m > 0) printf "  ratio %%pass / no agent: %.2f\n", a / m }'
exit 0
