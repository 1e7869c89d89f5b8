#!/bin/bash
# The man pages against the code: every page formats without a groff warning, ipsec.conf(5)
# documents every `config setup` key of conf.c's table, ipsec(8) every command of
# `ipsec --help`, oe-agent(8) every option of `oe-agent --help`, and the README's links to the
# pages resolve. Catches a key, command or option added without its documentation.
set -u
cd "$(dirname "$0")/../.." || exit 2
B=${B:-build}
ok() { echo "ok - man: $1"; }
nok() { echo "not ok - man: $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/#   /'; }
# text PAGE: the page's source with groff's escaped hyphens and font changes undone
text() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$1"; }
# tags PAGE: the tag lines of its .TP paragraphs (where options, keys and commands are named)
tags() { text "$1" | awk 'tp { print; tp = 0 } /^\.TP/ { tp = 1 }'; }

if ! command -v groff >/dev/null; then
	nok "groff missing (tools/deps.sh)"
	exit 1
fi
for m in man/*.[58]; do
	out=$(groff -man -ww -z "$m" 2>&1)
	if [ -z "$out" ]; then ok "${m#man/} formats without warnings"; else nok "${m#man/}" "$out"; fi
done

missing=
for k in $(sed -n 's/^\t{ "\([a-z0-9-]*\)", set_[a-z_]* },$/\1/p' oe-agent/conf.c); do
	tags man/ipsec.conf.5 | grep -q "[ \"]$k=" || missing="$missing $k"
done
n=$(sed -n 's/^\t{ "\([a-z0-9-]*\)", set_[a-z_]* },$/\1/p' oe-agent/conf.c | wc -l)
if [ "$n" -gt 10 ] && [ -z "$missing" ]; then ok "ipsec.conf(5) documents all $n config setup keys"
else nok "ipsec.conf(5) documents every config setup key" "n=$n, undocumented:$missing"; fi

missing=
cmds=$("$B/ipsec" --help | sed -n '/^commands:/,/^$/s/^  \([a-z]*\).*/\1/p')
for c in $cmds; do
	tags man/ipsec.8 | grep -Eq "^\.BR? (.*[ \"])?$c([ \"]|$)" || missing="$missing $c"
done
if [ -n "$cmds" ] && [ -z "$missing" ]; then ok "ipsec(8) documents every command of ipsec --help"
else nok "ipsec(8) documents every command of ipsec --help" "undocumented:$missing"; fi

missing=
opts=$("$B/oe-agent" --help | grep -o -- '--[a-z]*' | sort -u)
for o in $opts; do text man/oe-agent.8 | grep -q -- "$o" || missing="$missing $o"; done
if [ -n "$opts" ] && [ -z "$missing" ]; then ok "oe-agent(8) documents every option of oe-agent --help"
else nok "oe-agent(8) documents every option of oe-agent --help" "undocumented:$missing"; fi

missing=
for l in $(grep -o '](man/[^)]*)' README.md | sed 's/^](//; s/)$//'); do
	[ -f "$l" ] || missing="$missing $l"
done
for m in man/*.[58]; do grep -q "]($m)" README.md || missing="$missing (not linked: $m)"; done
if [ -z "$missing" ]; then ok "README.md links every man page, and only existing ones"
else nok "README.md links every man page, and only existing ones" "$missing"; fi
