#!/bin/bash
# `make install` into a DESTDIR: the programs, every man page and the default configuration
# land where README.md says, with the right modes, and a second install keeps the admin's
# edited /etc files.
set -u
cd "$(dirname "$0")/../.." || exit 2
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
n=0
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	n=$((n + 1))
	if "$@" >/dev/null 2>&1; then echo "ok - install: $what"; else echo "not ok - install: $what"; fi
}

make --no-print-directory -s install DESTDIR="$d" PREFIX=/usr SAN="${SAN:-0}" >"$d.log" 2>&1
check "make install DESTDIR=… PREFIX=/usr succeeds" test $? -eq 0
grep -v "^  " "$d.log" | sed "s/^/#   /"
rm -f "$d.log"
check "oe-agent and ipsec installed executable" test -x "$d/usr/sbin/oe-agent" -a -x "$d/usr/sbin/ipsec"
for m in man/*.[58]; do
	s=${m##*.}
	check "man page ${m#man/} installed" test -f "$d/usr/share/man/man$s/${m#man/}"
done
for g in clear clear-or-private private-or-clear private block; do
	check "policy file $g installed" cmp -s "ipsec.d/policies/$g" "$d/etc/ipsec.d/policies/$g"
done
check "ipsec.conf installed" cmp -s ipsec.d/ipsec.conf "$d/etc/ipsec.conf"
check "installed ipsec runs" "$d/usr/sbin/ipsec" --version
check "installed ipsec policy reads the installed files" bash -c \
	"'$d/usr/sbin/ipsec' policy --dir '$d/etc/ipsec.d/policies' 192.0.2.1 | grep -q 'private-or-clear'"

echo "192.0.2.0/24" >>"$d/etc/ipsec.d/policies/private"
echo "# edited" >>"$d/etc/ipsec.conf"
make --no-print-directory -s install DESTDIR="$d" PREFIX=/usr SAN="${SAN:-0}" >/dev/null 2>&1
check "a second install keeps an edited policy file" grep -q '^192.0.2.0/24' "$d/etc/ipsec.d/policies/private"
check "a second install keeps an edited ipsec.conf" grep -q '^# edited' "$d/etc/ipsec.conf"
