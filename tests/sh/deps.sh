#!/bin/bash
# tools/deps.sh, the dependency step of `make check`, `make demo` and .ci/run: silent when
# everything is installed; as root, one quiet `apt-get update` and an install of exactly the
# missing packages (apt-get replaced by a recorder here: no network); not root, the one
# apt-get command to run and a failure. Packages are faked missing with OE_DEPS_ASSUME_MISSING.
set -u
cd "$(dirname "$0")/../.." || exit 2
T=$(mktemp -d /tmp/oet-deps.XXXXXX)
trap 'rm -rf "$T"' EXIT

ok() { echo "ok - deps: $1"; }
nok() { echo "not ok - deps: $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/#   /'; }
# run OUT ERR CMD...: runs CMD, stdout/stderr to files; returns its status
run() {
	local o=$1 e=$2
	shift 2
	timeout 60 "$@" >"$o" 2>"$e"
}

run "$T/o" "$T/e" tools/deps.sh
rc=$?
if [ $rc = 0 ] && [ ! -s "$T/o" ] && [ ! -s "$T/e" ]; then
	ok "everything installed: no output, exit 0"
else nok "everything installed: no output, exit 0" "rc=$rc $(cat "$T/o" "$T/e")"; fi

# Not root: the one command, on stderr, exit 1.
chmod 0755 "$T"
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	run "$T/o" "$T/e" env OE_DEPS_ASSUME_MISSING="nsd tcpdump" \
		setpriv --reuid=65534 --regid=65534 --clear-groups tools/deps.sh
	rc=$?
	want="deps: missing packages; run as root:
  apt-get update && apt-get install -y tcpdump nsd"
	if [ $rc = 1 ] && [ ! -s "$T/o" ] && [ "$(cat "$T/e")" = "$want" ]; then
		ok "not root: prints the one apt-get command, exit 1"
	else nok "not root: prints the one apt-get command, exit 1" "rc=$rc $(cat "$T/o" "$T/e")"; fi
else
	nok "not root: prints the one apt-get command" "needs root and setpriv to drop to nobody"
fi

# Root: apt-get (a recorder first on PATH) sees one update, then one install of exactly the
# missing packages, both quiet and non-interactive.
if [ "$(id -u)" = 0 ]; then
	mkdir "$T/bin"
	cat >"$T/bin/apt-get" <<EOF
#!/bin/sh
echo "\$DEBIAN_FRONTEND \$*" >>"$T/apt.log"
EOF
	chmod +x "$T/bin/apt-get"
	run "$T/o" "$T/e" env PATH="$T/bin:$PATH" OE_DEPS_ASSUME_MISSING="nsd tcpdump" tools/deps.sh
	rc=$?
	want="noninteractive update -qq
noninteractive install -y -qq --no-install-recommends tcpdump nsd"
	if [ $rc = 0 ] && [ "$(cat "$T/apt.log")" = "$want" ] && [ ! -s "$T/e" ] &&
		[ "$(cat "$T/o")" = "deps: installing: tcpdump nsd" ]; then
		ok "root: one apt-get update, then exactly the missing packages"
	else nok "root: one apt-get update, then exactly the missing packages" \
		"rc=$rc $(cat "$T/o" "$T/e" "$T/apt.log")"; fi
	printf '#!/bin/sh\nexit 100\n' >"$T/bin/apt-get"
	run "$T/o" "$T/e" env PATH="$T/bin:$PATH" OE_DEPS_ASSUME_MISSING="nsd" tools/deps.sh
	rc=$?
	if [ $rc = 1 ] && grep -q "^deps: apt-get install failed for: nsd$" "$T/e"; then
		ok "root: a failing apt-get is reported, exit 1"
	else nok "root: a failing apt-get is reported, exit 1" "rc=$rc $(cat "$T/o" "$T/e")"; fi
else
	nok "root: installs the missing packages" "needs root"
fi
exit 0
