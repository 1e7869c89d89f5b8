#!/bin/bash
# End-to-end test of oe-agent and `ipsec` in a network namespace (root only).
#
#   +-------------------------------+            +---------------------------+
#   | oet-agent-$$-a                |  LAN (lib) | oet-agent-$$-b            |
#   |   oe-agent -f --config T/conf | 192.0.2.1  | 192.0.2.2                 |
#   |   ipsec eroute/status/...     |------------| 2001:db8::2               |
#   |                               | 2001:db8::1|                           |
#   +-------------------------------+            +---------------------------+
#
# Checks the group eroutes, --json, ipsec policy with and without the agent, reload (good and
# broken), SIGHUP, hostile control clients, the pid file lock, and a clean SIGTERM.
# Prints "ok - ..." / "not ok - ..." per check.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/netns/lib.sh # namespaces, reporting, bounded waits, clean-up of what we started
AGENT=$NT_AGENT
IPSEC=$NT_IPSEC
nt_init agent
T=$NT_DIR
NS=$(ns a)
PID=
# ipsec ARGS...: the ipsec command in the agent's namespace with the test config
ipsec() { in_ns a "$IPSEC" --config "$T/ipsec.conf" "$@"; }

# --- network ----------------------------------------------------------------------------------
net_lan
net_host a 192.0.2.1 2001:db8::1
net_host b 192.0.2.2 2001:db8::2

# --- config and policy ------------------------------------------------------------------------
mkdir -p "$T/policies"
cat >"$T/ipsec.conf" <<EOF
# oe-agent netns test
version 2

config setup
	ipsecdir=$T
	ctlsocket=$T/run/ctl
	pidfile=$T/run/pid
	nameservers=192.0.2.53
	logfile=stderr
	loglevel=debug

conn clear-or-private
	auto=ondemand
EOF
printf '# never encrypt\n198.51.100.0/24\n' >"$T/policies/clear"
printf '203.0.113.0/25\n' >"$T/policies/clear-or-private"
printf '# try OE\n192.0.2.0/24\n2001:db8::/32\n' >"$T/policies/private-or-clear"
printf '192.0.2.128/25\n203.0.113.7 tcp 0 22\n' >"$T/policies/private"
printf '203.0.113.200/32\n' >"$T/policies/block"

# --- command lines -----------------------------------------------------------------------------
check "oe-agent --version" sh -c "'$AGENT' --version | grep -q '^oe-agent [0-9]'"
check "ipsec --version" sh -c "'$IPSEC' --version | grep -q '^ipsec (oe-agent) [0-9]'"
check "ipsec help reload" sh -c "'$IPSEC' help reload | grep -q '^usage: ipsec reload'"
out=$("$IPSEC" frobnicate 2>&1)
rc=$?
if [ $rc -eq 2 ] && [ "$out" = "ipsec: unknown command 'frobnicate' (see 'ipsec --help')" ]; then
	ok "ipsec with an unknown command exits 2"; else nok "ipsec with an unknown command exits 2" "rc=$rc $out"; fi
out=$("$AGENT" -f --config "$T/missing.conf" 2>&1)
rc=$?
if [ $rc -eq 1 ] && [ "$out" = "error: $T/missing.conf: cannot read: No such file or directory" ]; then
	ok "oe-agent with a missing --config file fails"; else
	nok "oe-agent with a missing --config file fails" "rc=$rc $out"; fi

# --- ipsec policy without an agent ------------------------------------------------------------
out=$(ipsec policy 192.0.2.7 192.0.2.200 203.0.113.7 tcp 22 8.8.8.8 127.0.0.1 2>&1)
want="192.0.2.7 private-or-clear $T/policies/private-or-clear:2
192.0.2.200 private $T/policies/private:1
203.0.113.7 tcp 22 private $T/policies/private:2
8.8.8.8 clear default
127.0.0.1 clear implicit (loopback)"
if [ "$out" = "$want" ]; then ok "ipsec policy without an agent"; else
	nok "ipsec policy without an agent" "$out"; fi
out=$(ipsec status 2>&1)
rc=$?
if [ $rc -eq 1 ] && [ "$out" = "ipsec: cannot reach oe-agent at $T/run/ctl: No such file or directory (is it running?)" ]; then
	ok "ipsec status without an agent says so"
else nok "ipsec status without an agent says so" "rc=$rc $out"; fi

# --- start ----------------------------------------------------------------------------------------
nt_bg ip netns exec "$NS" "$AGENT" -f --config "$T/ipsec.conf" 2>"$T/agent.log"
PID=$NT_BG
if wait_for 10 test -S "$T/run/ctl" && wait_for 5 ipsec status; then ok "agent starts"; else
	nok "agent starts" "$(cat "$T/agent.log")"; fi
check "pid file holds the agent's pid" test "$(cat "$T/run/pid" 2>/dev/null)" = "$PID"
check "control socket is 0600" test "$(stat -c %a "$T/run/ctl")" = 600
check "control directory is 0700" test "$(stat -c %a "$T/run")" = 700

want_eroutes='0          192.0.2.1/32       -> 127.0.0.0/8        => %pass
0          192.0.2.1/32       -> 169.254.0.0/16     => %pass
0          192.0.2.1/32       -> 192.0.2.0/24       => %trap
0          192.0.2.1/32       -> 192.0.2.53/32      => %pass
0          192.0.2.1/32       -> 192.0.2.128/25     => %trap
0          192.0.2.1/32       -> 198.51.100.0/24    => %pass
0          192.0.2.1/32       -> 203.0.113.0/25     => %pass
0          192.0.2.1/32       -> 203.0.113.7/32:22  => %trap:6
0          192.0.2.1/32       -> 203.0.113.200/32   => %reject
0          192.0.2.1/32       -> 224.0.0.0/4        => %pass
0          192.0.2.1/32       -> 255.255.255.255/32 => %pass
0          2001:db8::1/128    -> ::1/128            => %pass
0          2001:db8::1/128    -> 2001:db8::/32      => %trap
0          2001:db8::1/128    -> fe80::/10          => %pass
0          2001:db8::1/128    -> ff00::/8           => %pass'
# eroute_is WANT: the listing, sorted (order within the listing is kern/'s business)
eroute_is() { [ "$(ipsec eroute | sort)" = "$(printf '%s\n' "$1" | sort)" ]; }
if eroute_is "$want_eroutes"; then ok "ipsec eroute lists the group eroutes"; else
	nok "ipsec eroute lists the group eroutes" "$(ipsec eroute 2>&1)"; fi
if ipsec eroute --json | python3 -m json.tool >/dev/null 2>&1 &&
	[ "$(ipsec eroute --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 15 ]; then
	ok "ipsec eroute --json parses, 15 entries"
else nok "ipsec eroute --json parses" "$(ipsec eroute --json 2>&1 | head -5)"; fi
if ipsec status | grep -q "^oe-agent .*, pid $PID, up" && ipsec status | grep -q '^eroutes: 15$' &&
	ipsec status | grep -q '^  private  *2$'; then ok "ipsec status"; else
	nok "ipsec status" "$(ipsec status 2>&1)"; fi
out=$(ipsec policy --agent 192.0.2.200 2001:db8::9 2>&1)
want="192.0.2.200 private $T/policies/private:1
2001:db8::9 private-or-clear $T/policies/private-or-clear:3"
if [ "$out" = "$want" ]; then ok "ipsec policy --agent asks the agent"; else
	nok "ipsec policy --agent asks the agent" "$out"; fi
out=$(ipsec policy 192.0.2.200 2>&1)
if [ "$out" = "192.0.2.200 private $T/policies/private:1" ]; then
	ok "ipsec policy with the agent running"; else nok "ipsec policy with the agent running" "$out"; fi

# --- reload -----------------------------------------------------------------------------------
printf '203.0.113.200/32\n203.0.113.201/32\n' >"$T/policies/block"
if out=$(ipsec reload 2>&1) && ipsec eroute | grep -q '203.0.113.201/32   => %reject'; then
	ok "ipsec reload picks up an edited file"; else nok "ipsec reload picks up an edited file" "$out"; fi
want_eroutes="$want_eroutes
0          192.0.2.1/32       -> 203.0.113.201/32   => %reject"
printf '203.0.113.200/32\n203.0.113.201/32\n203.0.113.300/32\n' >"$T/policies/block"
out=$(ipsec reload 2>&1)
rc=$?
if [ $rc -eq 1 ] && printf '%s\n' "$out" | grep -q "^error: $T/policies/block:3: .*'203.0.113.300"; then
	ok "ipsec reload with a broken file exits 1 with path:line"
else nok "ipsec reload with a broken file exits 1 with path:line" "rc=$rc $out"; fi
if eroute_is "$want_eroutes"; then ok "the old policy stays after a rejected reload"; else
	nok "the old policy stays after a rejected reload" "$(ipsec eroute 2>&1)"; fi
check "ipsec status reports the failed reload" sh -c "'$IPSEC' --config '$T/ipsec.conf' status 2>&1 | grep -q '^last reload: failed at'"
cp "$T/ipsec.conf" "$T/ipsec.conf.good"
printf 'conn block\n\tbogus line\n' >>"$T/ipsec.conf"
out=$(ipsec reload 2>&1)
rc=$?
if [ $rc -eq 1 ] && printf '%s\n' "$out" | grep -q "^error: $T/ipsec.conf:[0-9]*: "; then
	ok "ipsec reload with a broken ipsec.conf exits 1"; else
	nok "ipsec reload with a broken ipsec.conf exits 1" "rc=$rc $out"; fi
mv "$T/ipsec.conf.good" "$T/ipsec.conf"

# --- SIGHUP -----------------------------------------------------------------------------------
printf '203.0.113.200/32\n' >"$T/policies/block"
kill -HUP "$PID"
if wait_for 5 sh -c "! '$IPSEC' --config '$T/ipsec.conf' eroute | grep -q 203.0.113.201"; then
	ok "SIGHUP reloads"; else nok "SIGHUP reloads" "$(ipsec eroute 2>&1; tail -5 "$T/agent.log")"; fi

# --- hostile control clients ------------------------------------------------------------------
# raw_client PAYLOAD_PYTHON_EXPR: sends the bytes, prints the reply (or EOF) within 8 s
raw_client() {
	in_ns a python3 - "$T/run/ctl" "$1" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(8)
s.connect(sys.argv[1])
payload = eval(sys.argv[2])
if payload is not None:
    s.sendall(payload)
start = time.time()
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.decode(errors="replace").split("\n")[0] if data else "EOF", round(time.time() - start))
EOF
}
for case in "garbage:b'garbage!'" "zero length:b'\\0\\0\\0\\0'" "1 MB length claim:b'\\0\\x10\\0\\0'" \
	"unknown command:b'\\0\\0\\0\\x05hello'" "NUL in request:b'\\0\\0\\0\\x03a\\0b'"; do
	name=${case%%:*}
	out=$(raw_client "${case#*:}" 2>&1)
	case $out in
	ERR*) ok "control request '$name' gets an error reply" ;;
	*) nok "control request '$name' gets an error reply" "$out" ;;
	esac
done
# A client that connects and sends nothing: others are still served, it is dropped after 5 s.
raw_client None >"$T/silent.out" 2>&1 &
silent=$!
sleep 0.5
check "the agent answers while a silent client is connected" ipsec status
wait "$silent"
out=$(cat "$T/silent.out")
case $out in
"EOF 4" | "EOF 5" | "EOF 6") ok "a silent client is dropped after its deadline" ;;
*) nok "a silent client is dropped after its deadline" "$out" ;;
esac
# A peer that is neither root nor the agent's uid (the socket opened up on purpose to reach
# the SO_PEERCRED check).
if command -v setpriv >/dev/null; then
	chmod 0755 "$T" "$T/run"
	chmod 0777 "$T/run/ctl"
	out=$(in_ns a setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c "
import socket
s = socket.socket(socket.AF_UNIX); s.settimeout(8); s.connect('$T/run/ctl')
s.sendall(b'\0\0\0\x06status'); print(s.recv(200).decode().split(chr(10))[0])" 2>&1)
	chmod 0600 "$T/run/ctl"
	chmod 0700 "$T/run"
	case $out in
	"ERR permission denied: uid 65534"*) ok "a non-root peer is refused" ;;
	*) nok "a non-root peer is refused" "$out" ;;
	esac
else
	nok "a non-root peer is refused" "setpriv missing"
fi
check "the agent still answers after hostile clients" ipsec status
if kill -0 "$PID" 2>/dev/null; then ok "the agent survived"; else nok "the agent survived"; fi

# --- pid file lock ------------------------------------------------------------------------------
out=$(in_ns a "$AGENT" -f --config "$T/ipsec.conf" 2>&1)
rc=$?
if [ $rc -ne 0 ] && printf '%s\n' "$out" | grep -q "already running, pid $PID"; then
	ok "a second agent with the same pid file refuses to start"
else nok "a second agent with the same pid file refuses to start" "rc=$rc $out"; fi
check "the first agent still answers" ipsec status

# --- SIGTERM ----------------------------------------------------------------------------------
kill -TERM "$PID"
if wait_for 5 sh -c "! kill -0 $PID 2>/dev/null"; then
	wait "$PID"
	rc=$?
	PID=
	if [ $rc -eq 0 ]; then ok "SIGTERM: exit status 0"; else nok "SIGTERM: exit status 0" "rc=$rc"; fi
else
	nok "SIGTERM: exit status 0" "still running"
fi
check "SIGTERM removes the pid file" test ! -e "$T/run/pid"
check "SIGTERM removes the control socket" test ! -e "$T/run/ctl"
out=$(ipsec policy 203.0.113.200 2>&1)
if [ "$out" = "203.0.113.200 block $T/policies/block:1" ]; then
	ok "ipsec policy after the agent stopped"; else nok "ipsec policy after the agent stopped" "$out"; fi

# --- a stale pid file is replaced; daemon mode ---------------------------------------------------
echo 999999 >"$T/run/pid"
if in_ns a "$AGENT" --config "$T/ipsec.conf" 2>"$T/daemon.err" && wait_for 5 ipsec status; then
	ok "daemon mode starts over a stale pid file"
	dpid=$(cat "$T/run/pid")
	NT_PIDS+=("$dpid") # killed at exit should a check below fail
	[ "$dpid" != 999999 ] && kill -0 "$dpid" 2>/dev/null && ok "daemon pid file is current" ||
		nok "daemon pid file is current" "$dpid"
	kill -TERM "$dpid"
	if wait_for 5 sh -c "! kill -0 $dpid 2>/dev/null" && [ ! -e "$T/run/ctl" ]; then
		ok "daemon stops on SIGTERM"; else nok "daemon stops on SIGTERM"; fi
else
	nok "daemon mode starts over a stale pid file" "$(cat "$T/daemon.err")"
fi
exit 0
