#!/bin/bash
# The outcome matrix of DESIGN.md §5, every cell, end to end (issue 6): local group × remote
# group × key published, for clear, clear-or-private, private-or-clear, private and block.
#
# Groups and keys are per address, so one set of four agents holds all 100 cells: L1 and R1
# have a host key and publish an IPSECKEY at each of their addresses' reverse names; L0 and R0
# have no host key (they initiate with AUTH_NULL and cannot respond) and publish nothing. Each
# host has five addresses: L's policy gives R's five addresses the five groups, R's policy gives
# L's five addresses the five groups. Cell (row: L's group for R, L key; column: R's group for
# L, R key) is `ping -I <L's address that R puts in that column's group> <R's address that L
# puts in that row's group>` from the L host of that key to the R host of that key. All of it
# twice: over IPv4 and over IPv6 (2001:db8::11-15, ::21-25, ::31-35, ::41-45), 200 cells.
#
#   L1 192.0.2.11-15 (key) ──┐              ┌── R1 192.0.2.31-35 (key), tcpdump on eth0
#   L0 192.0.2.21-25 (none) ─┼─ br0 (lan) ──┼── R0 192.0.2.41-45 (none), tcpdump on eth0
#   DNS 192.0.2.53 2001:db8::53 (nsd: signed 2.0.192.in-addr.arpa, 8.b.d.0.1.0.0.2.ip6.arpa) ──┘
#   address .x1 / ::x1 clear, .x2 clear-or-private, .x3 private-or-clear, .x4 private, .x5 block
#
# Every cell's first ping runs at once (12 s to answer: DNS, IKE, or the 8 s hold time), then
# two retries each. A cell's observed symbol: F never answered; C answered, no ESP; E answered
# first, ESP, no cleartext echo either way; CE answered first, ESP, exactly the first request
# in the clear; E* first unanswered, retry answered, ESP, no cleartext reply. E, CE and E*
# also need L's tunnel eroute for the pair. Where L puts R in `private`, no cleartext echo from
# L's address to R's may ever be on the wire.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/netns/lib.sh

nt_init matrix
nt_need nsd ldns-keygen ldns-signzone ldns-key2ds tcpdump ping nft iptables-save python3

GRP=(clear clear-or-private private-or-clear private block)
declare -A BASE=([l1]=192.0.2.1 [l0]=192.0.2.2 [r1]=192.0.2.3 [r0]=192.0.2.4)
# addr HOST G [6]: HOST's address (IPv4, or IPv6 with 6) that the other side puts in group
# index G (0..4)
addr() {
	if [ "${3:-}" = 6 ]; then echo "2001:db8::${BASE[$1]##*.}$(($2 + 1))"
	else echo "${BASE[$1]}$(($2 + 1))"; fi
}
addrs() { local g; for g in 0 1 2 3 4; do addr "$1" $g; addr "$1" $g 6; done; }

# DESIGN.md §5, rows (L's group for R, L key y/n), columns (R's group for L, R key y/n)
EXPECT=(
	"C C C C C C F F F F"
	"C C C C C C F F F F"
	"C C C C CE CE E* E* F F"
	"C C C C C C F F F F"
	"C C E C E CE E E* F F"
	"C C E C E C E F F F"
	"F F E F E F E F F F"
	"F F E F E F E F F F"
	"F F F F F F F F F F"
	"F F F F F F F F F F"
)

net_lan
for h in l1 l0 r1 r0; do
	# shellcheck disable=SC2046
	net_host $h $(addrs $h)
done
net_host dns 192.0.2.53 2001:db8::53

key_new l1
key_new r1
{
	for a in $(addrs l1); do key_ipseckey l1 "$a"; done
	for a in $(addrs r1); do key_ipseckey r1 "$a"; done
} >"$NT_DIR/ipseckeys"
grep -v ip6.arpa "$NT_DIR/ipseckeys" | dns_zone 2.0.192.in-addr.arpa
grep ip6.arpa "$NT_DIR/ipseckeys" | dns_zone 8.b.d.0.1.0.0.2.ip6.arpa
dns_sign 2.0.192.in-addr.arpa
dns_sign 8.b.d.0.1.0.0.2.ip6.arpa
dns_start dns 192.0.2.53 2001:db8::53

for h in l1 l0 r1 r0; do
	kv=()
	[ -f "$NT_DIR/keys/$h.pem" ] && kv=("hostkey=$NT_DIR/keys/$h.pem")
	agent_conf $h nameservers=192.0.2.53 "dnssec-anchors=$(dns_anchors)" \
		dnssec-rootkey-file=none dns-timeout=500ms dns-lookup-timeout=3s "${kv[@]}"
	case $h in l*) peers="r1 r0" ;; *) peers="l1 l0" ;; esac
	for g in 0 1 2 3 4; do
		for p in $peers; do addr $p $g; addr $p $g 6; done | agent_policy $h "${GRP[g]}"
	done
done
for h in l1 l0 r1 r0; do agent_start $h || exit 1; done
ok "four agents start (L1, R1 with host keys; L0, R0 without)"

for h in r1 r0; do cap_start $h $h icmp or esp or icmp6 or ip6 proto 50 || exit 1; done

# cells: "family row col lhost src rhost dst", rows and columns in the order of EXPECT
CELLS=()
for f in 4 6; do
	for gl in 0 1 2 3 4; do
		for kl in 1 0; do
			for gr in 0 1 2 3 4; do
				for kr in 1 0; do
					CELLS+=("$f $((gl * 2 + 1 - kl)) $((gr * 2 + 1 - kr)) l$kl \
$(addr l$kl "$gr" $f) r$kr $(addr r$kr "$gl" $f)")
				done
			done
		done
	done
done

# 1. every cell's first ping at once; 2. two retries per cell, all cells at once
mkdir -p "$NT_DIR/first" "$NT_DIR/retry"
t0=$(date +%s%N)
pids=()
for c in "${CELLS[@]}"; do
	read -r _ _ _ lh src _ dst <<<"$c"
	(ip netns exec "$(ns "$lh")" timeout 20 ping -n -q -c 1 -W 12 -I "$src" "$dst" \
		>/dev/null 2>&1; echo $? >"$NT_DIR/first/$src-$dst") &
	pids+=($!)
done
wait "${pids[@]}"
note "first pings of ${#CELLS[@]} cells done in $(elapsed_ms "$t0") ms"
pids=()
for c in "${CELLS[@]}"; do
	read -r _ _ _ lh src _ dst <<<"$c"
	(ip netns exec "$(ns "$lh")" timeout 20 ping -n -q -c 2 -i 0.5 -W 2 -I "$src" "$dst" \
		>/dev/null 2>&1; echo $? >"$NT_DIR/retry/$src-$dst") &
	pids+=($!)
done
wait "${pids[@]}"
note "retries done after $(elapsed_ms "$t0") ms"
for h in l1 l0; do agent_ipsec $h eroute >"$NT_DIR/eroute.$h" 2>&1; done
# E*: the inbound cleartext that R's kernel showed its agent (rate-limited, OE_TRAPIN)
for h in r1 r0; do
	n=$(agent_ipsec $h status | sed -n 's/.*(shown to the agent \([0-9]*\)).*/\1/p')
	if [ "${n:-0}" -gt 0 ]; then ok "$h: inbound cleartext from private peers reached the agent ($n)"
	else nok "$h: inbound cleartext from private peers reached the agent" \
		"$(agent_ipsec $h status 2>&1 | grep -A1 queue-full)"; fi
done
for h in r1 r0; do cap_stop $h; done

# per pair on the wire: "src dst kind" (req / rep / esp) counted over both captures
for h in r1 r0; do tcpdump -n -r "$NT_DIR/$h.pcap" 2>/dev/null; done | awk '
	($2 == "IP" || $2 == "IP6") && $4 == ">" {
		s = $3; d = $5; sub(/:$/, "", d)
		if ($0 ~ /ICMP echo request|ICMP6, echo request/) k = "req"
		else if ($0 ~ /ICMP echo reply|ICMP6, echo reply/) k = "rep"
		else if ($0 ~ /ESP\(/) k = "esp"
		else next
		n[s " " d " " k]++
	}
	END { for (x in n) print x, n[x] }' >"$NT_DIR/wire"

# wire SRC DST KIND: packets of that kind from SRC to DST
wire() { awk -v k="$1 $2 $3" '$1 " " $2 " " $3 == k { print $4; f = 1 } END { if (!f) print 0 }' \
	"$NT_DIR/wire"; }

# observe LHOST SRC DST: the cell's symbol, from its pings, the wire and L's eroutes
observe() {
	local lh=$1 s=$2 d=$3 first retry req rep esp tun=0
	first=$(cat "$NT_DIR/first/$s-$d")
	retry=$(cat "$NT_DIR/retry/$s-$d")
	req=$(wire "$s" "$d" req)
	rep=$(wire "$d" "$s" rep)
	esp=$(($(wire "$s" "$d" esp) + $(wire "$d" "$s" esp)))
	grep -Eq "^[0-9]+ +${s//./\\.}/[0-9]+ +-> +${d//./\\.}/[0-9]+ +=> +tun0x" "$NT_DIR/eroute.$lh" &&
		tun=1
	if [ "$first" != 0 ] && [ "$retry" != 0 ]; then echo F
	elif [ "$esp" -eq 0 ] && [ "$tun" -eq 0 ]; then
		if [ "$first" = 0 ] && [ "$retry" = 0 ] && [ "$req" -gt 0 ]; then echo C
		else echo "C?($first/$retry,req$req)"; fi
	elif [ "$esp" -eq 0 ] || [ "$tun" -eq 0 ] || [ "$rep" -gt 0 ]; then
		echo "?(esp$esp,tun$tun,req$req,rep$rep)"
	elif [ "$first" = 0 ] && [ "$req" -eq 0 ]; then echo E
	elif [ "$first" = 0 ] && [ "$req" -eq 1 ]; then echo CE
	elif [ "$retry" = 0 ] && [ "$req" -eq 1 ]; then echo 'E*'
	else echo "?($first/$retry,req$req)"; fi
}

declare -A OBS
for c in "${CELLS[@]}"; do
	read -r f row col lh src _ dst <<<"$c"
	OBS[$f,$row,$col]=$(observe "$lh" "$src" "$dst")
done

# the observed matrix in DESIGN.md's layout, then one result per row naming differing cells
yn() { [ $(($1 % 2)) = 0 ] && echo y || echo n; }
hdr="| L's group for R / L key |"
for g in "${GRP[@]}"; do hdr+=" $g y | $g n |"; done
for f in 4 6; do
	note "IPv$f, observed (expected after '!' where they differ):"
	note "$hdr"
	for row in $(seq 0 9); do
		read -ra exp <<<"${EXPECT[row]}"
		line="| ${GRP[row / 2]} $(yn $row) |"
		bad=
		for col in $(seq 0 9); do
			o=${OBS[$f,$row,$col]}
			if [ "$o" = "${exp[col]}" ]; then line+=" $o |"
			else
				line+=" $o!${exp[col]} |"
				bad+=" [${GRP[col / 2]} $(yn $col): $o, want ${exp[col]}]"
			fi
		done
		note "$line"
		name="IPv$f matrix row '${GRP[row / 2]} $(yn $row)'"
		if [ -z "$bad" ]; then ok "$name: as DESIGN.md §5"; else nok "$name:$bad"; fi
	done
done

# never cleartext to a private destination: L's addresses to R's .x4 addresses
leak=
for c in "${CELLS[@]}"; do
	read -r f row _ _ s _ d <<<"$c"
	[ $((row / 2)) = 3 ] || continue
	n=$(wire "$s" "$d" req)
	[ "$n" -gt 0 ] && leak+=" $s->$d ($n)"
done
if [ -z "$leak" ]; then ok "no cleartext echo request ever reaches a private destination"
else nok "no cleartext echo request ever reaches a private destination" "$leak"; fi

for h in l1 l0 r1 r0; do agent_stop $h || nok "agent $h stops"; done
if grep -E 'ERROR: AddressSanitizer|runtime error:' "$NT_DIR"/*/agent.log; then
	nok "no sanitizer reports"
else ok "no sanitizer reports"; fi
