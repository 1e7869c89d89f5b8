#!/bin/bash
# The error paths of the command lines, without an agent and without a namespace: bad
# arguments to `oe-agent` and to every `ipsec` subcommand (exit 2, a usage hint on stderr),
# missing --config files, missing and unreadable policy directories, policy and ipsec.conf
# errors and warnings as `ipsec policy` shows them, and `ipsec` commands with no agent running.
set -u
cd "$(dirname "$0")/../.." || exit 2
B=${B:-build}
IPSEC=$PWD/$B/ipsec
AGENT=$PWD/$B/oe-agent
T=$(mktemp -d /tmp/oet-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT

ok() { echo "ok - cli: $1"; }
nok() { echo "not ok - cli: $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/#   /'; }
# matches RE TEXT: TEXT (all of it, newlines included) matches the extended regex RE; an empty
# RE wants an empty TEXT. ('.' matches a newline here, so it also separates lines.)
matches() { if [ -z "$1" ]; then [ -z "$2" ]; else [[ $2 =~ ^($1)$ ]]; fi; }
# expect NAME RC STDOUT_RE STDERR_RE CMD...: ok when CMD exits RC and its stdout and stderr
# match the regexes.
expect() {
	local name=$1 rc=$2 out_re=$3 err_re=$4 got out err
	shift 4
	out=$(timeout 20 "$@" 2>"$T/err")
	got=$?
	err=$(cat "$T/err")
	if [ "$got" = "$rc" ] && matches "$out_re" "$out" && matches "$err_re" "$err"; then
		ok "$name"
	else
		nok "$name" "rc=$got (want $rc)
stdout: $out
stderr: $err"
	fi
}

for b in "$IPSEC" "$AGENT"; do
	[ -x "$b" ] || { echo "not ok - cli: $b not built"; exit 1; }
done

# --- a config whose control socket nobody listens on, and a policy directory ----------------
mkdir -p "$T/d/policies"
cat >"$T/ipsec.conf" <<EOF
config setup
	ipsecdir=$T/d
	ctlsocket=$T/run/ctl
	pidfile=$T/run/pid
	nameservers=192.0.2.53
EOF
C=(--config "$T/ipsec.conf")

# --- oe-agent's command line --------------------------------------------------------------------
U='usage: oe-agent \[-f\] \[--config FILE\].*'
expect "oe-agent --help: usage on stdout, exit 0" 0 "$U" "" "$AGENT" --help
expect "oe-agent with an unknown option: exit 2, usage" 2 "" ".*unrecognized option '--bogus'.$U" \
	"$AGENT" --bogus
expect "oe-agent --config without FILE: exit 2, usage" 2 "" ".*requires an argument.*$U" \
	"$AGENT" --config
expect "oe-agent with an extra argument: exit 2, usage" 2 "" \
	"oe-agent: unexpected argument 'extra'.$U" "$AGENT" -f extra

# --- ipsec's own command line -------------------------------------------------------------------
U='usage: ipsec \[--config FILE\] COMMAND \[ARGS...\].*'
expect "ipsec without a command: exit 2, usage on stderr" 2 "" "$U" "$IPSEC"
expect "ipsec --help: usage on stdout, exit 0" 0 "$U" "" "$IPSEC" --help
expect "ipsec --config without FILE: exit 2" 2 "" "ipsec: --config needs a FILE" "$IPSEC" --config
expect "ipsec help of an unknown command: exit 2" 2 "" "ipsec: unknown command 'nosuch'" \
	"$IPSEC" help nosuch

# --- bad arguments to every subcommand: exit 2 and a pointer to its help ----------------------
# One line per case: COMMAND ARGS... (every command of `ipsec --help` must appear).
cases="eroute x
eroute --json --json2
status x
reload x
policy
policy --bogus 192.0.2.1
policy --dir
policy --agent --dir $T/d/policies 192.0.2.1
policy not-an-address
policy 192.0.2.1 nosuchproto
policy 192.0.2.1 tcp 65536
newhostkey --keytype dsa
newhostkey --bits
newhostkey extra
showhostkey
showhostkey --bogus
lookup
lookup --timeout x 192.0.2.1
lookup 192.0.2.1 192.0.2.2
verify --bogus
verify not-an-address"
while read -r cmd args; do
	# shellcheck disable=SC2086 # ARGS are words on purpose
	expect "ipsec $cmd $args: exit 2 with a usage hint" 2 "" \
		"ipsec $cmd: .* \(see 'ipsec help $cmd'\)" "$IPSEC" "${C[@]}" $cmd $args
done <<<"$cases"
missing=
for cmd in $("$IPSEC" --help | sed -n '/^commands:/,/^$/s/^  \([a-z]*\).*/\1/p'); do
	printf '%s\n' "$cases" | grep -q "^$cmd\b" || missing="$missing $cmd"
	expect "ipsec help $cmd" 0 "usage: ipsec $cmd \[--config FILE\].*" "" "$IPSEC" help "$cmd"
	expect "ipsec $cmd --help" 0 "usage: ipsec $cmd \[--config FILE\].*" "" "$IPSEC" "$cmd" --help
done
if [ -z "$missing" ]; then ok "every ipsec command has a bad-argument case"; else
	nok "every ipsec command has a bad-argument case" "missing:$missing"; fi

# --- no agent running -------------------------------------------------------------------------
for cmd in eroute "eroute --json" status reload "policy --agent 192.0.2.1"; do
	# shellcheck disable=SC2086
	expect "ipsec $cmd without an agent: exit 1, says so" 1 "" \
		"ipsec: cannot reach oe-agent at $T/run/ctl: No such file or directory \(is it running\?\)" \
		"$IPSEC" "${C[@]}" $cmd
done

# --- a missing --config file -----------------------------------------------------------------
expect "ipsec status with a missing --config: exit 1" 1 "" \
	"ipsec: cannot read $T/none.conf: No such file or directory" \
	"$IPSEC" --config "$T/none.conf" status
expect "ipsec policy with a missing --config: exit 1" 1 "" \
	"error: $T/none.conf: cannot read: No such file or directory" \
	"$IPSEC" --config "$T/none.conf" policy 192.0.2.1
expect "oe-agent with a missing --config: exit 1" 1 "" \
	"error: $T/none.conf: cannot read: No such file or directory" \
	"$AGENT" -f --config "$T/none.conf"

# --- policy directories -----------------------------------------------------------------------
expect "ipsec policy --dir of a missing directory: exit 1" 1 "" \
	"error: $T/nodir: cannot read policy directory: No such file or directory" \
	"$IPSEC" "${C[@]}" policy --dir "$T/nodir" 192.0.2.1
sed "s|ipsecdir=.*|ipsecdir=$T/nodir|" "$T/ipsec.conf" >"$T/nodir.conf"
expect "ipsec policy, ipsecdir without policies/: exit 1" 1 "" \
	"error: $T/nodir/policies: cannot read policy directory: No such file or directory" \
	"$IPSEC" --config "$T/nodir.conf" policy 192.0.2.1
expect "oe-agent, ipsecdir without policies/: refuses to start" 1 "" \
	".*error: $T/nodir/policies: cannot read policy directory: No such file or directory.*" \
	"$AGENT" -f --config "$T/nodir.conf"
# Unreadable for the caller (root reads any mode, so ask as nobody).
mkdir -p "$T/u/policies"
echo 192.0.2.0/24 >"$T/u/policies/private"
chmod 0755 "$T" "$T/u"
chmod 0700 "$T/u/policies"
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	e="error: $T/u/policies/[a-z-]+: cannot read group file: Permission denied"
	expect "ipsec policy --dir of an unreadable directory: exit 1, names the files" 1 "" \
		"($e.){4}$e" \
		setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$IPSEC" --config "$T/ipsec.conf" policy --dir "$T/u/policies" 192.0.2.1
else
	nok "ipsec policy --dir of an unreadable directory" "needs root and setpriv"
fi
chmod 0700 "$T"

# --- policy file errors and warnings, as ipsec policy shows them -------------------------------
P=$T/d/policies
printf '10.1.2.3/24\n' >"$P/clear"
printf '# block\n10.1.2.0/24\n' >"$P/block"
expect "host bits: warning with path:line, the prefix zeroed" 0 \
	"10.1.2.9 block $P/block:2" \
	"warning: $P/clear:1: address '10.1.2.3/24' has host bits set: using 10.1.2.0/24.$(
	)warning: $P/block:2: '10.1.2.0/24' in block is also in clear at $P/clear:1: $(
	)using the stricter block" \
	"$IPSEC" "${C[@]}" policy 10.1.2.9
printf '10.0.0.0/8\n10.0.0.0/33\n10.3.0.0/16 tcp\n' >"$P/private"
expect "a policy file with errors: exit 1, path:line of each, no answer" 1 "" \
	".*error: $P/private:2: [^.]*'10.0.0.0/33'.*error: $P/private:3: incomplete selector 'tcp'.*" \
	"$IPSEC" "${C[@]}" policy 10.0.0.1
rm -f "$P/private" "$P/clear" "$P/block"

# --- ipsec.conf warnings and errors -----------------------------------------------------------
cp "$T/ipsec.conf" "$T/warn.conf"
printf '\tfrobnicate=yes\n' >>"$T/warn.conf"
expect "ipsec.conf unknown key: warning with path:line, still answers" 0 \
	"192.0.2.1 clear default" \
	"warning: $T/warn.conf:6: key 'frobnicate': unknown in config setup; ignored" \
	"$IPSEC" --config "$T/warn.conf" policy 192.0.2.1
cp "$T/ipsec.conf" "$T/bad.conf"
printf '\tnoequals\n' >>"$T/bad.conf"
expect "ipsec.conf malformed line: error with path:line, exit 1" 1 "" \
	"error: $T/bad.conf:6: line 'noequals': expected key=value" \
	"$IPSEC" --config "$T/bad.conf" policy 192.0.2.1
expect "oe-agent with a malformed ipsec.conf refuses to start" 1 "" \
	".*error: $T/bad.conf:6: line 'noequals': expected key=value.*" \
	"$AGENT" -f --config "$T/bad.conf"
exit 0
