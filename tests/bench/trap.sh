#!/bin/bash
# Driver of build/bench/trap (which `make bench` runs and which execs this script): the trap
# path measured side by side in one run, between namespaces A (oe-agent) and B (answers for
# all of 2001:db8:1::/48, "AnyIP"), on the LAN of tests/netns/lib.sh:
#   1. decisions per second: one UDP datagram to each of N new destinations in a `clear` range
#      that a port rule in `private` forces through the trap (the agent decides every pair
#      %pass without DNS); then the same N again: queue hits after the decision (bar: 0);
#   2. first-packet latency: ping round trip of the first packet to a new destination vs later;
#   3. packets/s through one decided %pass pair vs the same without any agent, alternating
#      three rounds (the VM is noisy: compare medians of one run).
# TRAP_N, TRAP_WINDOW (datagrams not yet arrived at B), TRAP_SECS tune it.
set -u
cd "$(dirname "$0")/../.." || exit 2
TOOL=${TRAP_TOOL:-$PWD/${B:-build}/bench/trap}
N=${TRAP_N:-30000}
WINDOW=${TRAP_WINDOW:-1024}
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
# cpu_ticks PID: user + system clock ticks the process has used
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)

# --- decisions, latency (agent running) --------------------------------------------------------------
ping_ok a 2001:db8:1::1 1 2 || { echo "trap: no route to B"; exit 1; }
agent_start a || exit 1
q0=$(nfq_seq a)
c0=$(cpu_ticks "$(agent_pid a)")
first=$(timeout 300 "$TOOL" decide "$(ns a)" "$(ns b)" 2001:db8:1:: "$N" "$WINDOW" first)
c1=$(cpu_ticks "$(agent_pid a)")
q1=$(nfq_seq a)
again=$(timeout 300 "$TOOL" decide "$(ns a)" "$(ns b)" 2001:db8:1:: "$N" "$WINDOW" again)
q2=$(nfq_seq a)
shunts=$(agent_ipsec a eroute | grep -Ec '=> %pass(:[0-9]+)?$')
over=$(agent_ipsec a status | sed -n 's/.*over-limit \([0-9]*\).*/\1/p')

lat_first=() lat_later=()
for i in $(seq 1 20); do
	mapfile -t r < <(rtts a "2001:db8:1::2:$i" 5)
	[ ${#r[@]} -ge 2 ] || continue
	lat_first+=("${r[0]}")
	lat_later+=("${r[@]:1}")
done
lf=$(printf '%s\n' "${lat_first[@]}" | median)
ll=$(printf '%s\n' "${lat_later[@]}" | median)
agent_stop a

# --- one decided %pass pair vs no agent, alternating (the VM is noisy) --------------------------
none=() pass=() qhits=()
for _ in 1 2 3; do
	none+=("$(kv "$(blast 2001:db8:1::1)" blast_arrived_per_s)")
	agent_start a || exit 1
	# decide the pair (same source port as the blast) before measuring
	timeout 60 "$TOOL" decide "$(ns a)" "$(ns b)" 2001:db8:1:: 1 1 prime >/dev/null
	qa=$(nfq_seq a)
	pass+=("$(kv "$(blast 2001:db8:1::1)" blast_arrived_per_s)")
	qhits+=($(($(nfq_seq a) - qa)))
	agent_stop a
done

# --- figures ---------------------------------------------------------------------------------------
echo "trap: decisions through the trap, clear path (new destinations, window $WINDOW):"
printf '  %s of %s arrived in %s s = %s decisions/s (lost %s; bar >= 100000/s)\n' \
	"$(kv "$first" first_arrived)" "$N" "$(kv "$first" first_seconds)" \
	"$(kv "$first" first_per_s)" "$(kv "$first" first_lost)"
awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="$N" -v s="$(kv "$first" first_seconds)" 'BEGIN {
	printf "  agent CPU: %.2f s of %.2f s (%.0f%%), %.1f us per decision\n", t / hz, s,
		(s > 0 ? 100 * t / hz / s : 0), 1e6 * t / hz / n }'
printf '  queue hits: %s for the first pass, %s when the same %s flows are sent again (bar: 0)\n' \
	$((q1 - q0)) $((q2 - q1)) "$N"
printf '  second pass, kernel only: %s datagrams/s; %%pass shunts in ipsec eroute: %s; over-limit %s\n' \
	"$(kv "$again" again_per_s)" "$shunts" "${over:-?}"
echo "trap: first-packet latency (ping, 20 new destinations x 5 packets, medians):"
printf '  first packet %s us, later packets %s us, added %s us\n' "$lf" "$ll" \
	"$( [ "$lf" != "?" ] && [ "$ll" != "?" ] && echo $((lf - ll)) || echo "?")"
echo "trap: UDP datagrams/s arriving at B from one sender thread, ${SECS} s each, 3 rounds:"
printf '  no agent:                %s\n' "${none[*]}"
printf '  agent, decided %%pass pair: %s (queue hits during them: %s)\n' "${pass[*]}" "${qhits[*]}"
mn=$(printf '%s\n' "${none[@]}" | median)
mp=$(printf '%s\n' "${pass[@]}" | median)
awk -v p="$mp" -v n="$mn" 'BEGIN { if (n > 0) printf "  medians: %d vs %d, ratio %.2f\n", p, n, p / n }'
exit 0
