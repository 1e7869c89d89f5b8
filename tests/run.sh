#!/bin/bash
# Runs every test `make tests` built and prints one closing line "N passed, N failed".
#   unit:  build*/tests/test_*   (each prints "ok - …" / "not ok - …" per test)
#   fuzz:  build*/fuzz/fuzz_*    (a smoke run over the committed corpus plus FUZZ_SECONDS of new
#                                 inputs; one result per harness)
#   netns: tests/netns/*.sh      (root; each prints "ok - …" / "not ok - …" lines)
#   sh:    tests/sh/*.sh         (other scripted tests, same output)
# Select with ONLY=unit|fuzz|netns|sh (comma list). Logs of failures are printed in full.
set -u
B=${B:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
ONLY=${ONLY:-unit,fuzz,netns,sh}
cd "$(dirname "$0")/.." || exit 2
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

want() { case ",$ONLY," in *",$1,"*) return 0 ;; esac; return 1; }

# count_tap NAME LOG RC: add the ok/not ok lines of LOG; a crash without "not ok" still fails.
count_tap() {
	local name=$1 log=$2 rc=$3 ok nok
	ok=$(grep -c '^ok ' "$log")
	nok=$(grep -c '^not ok ' "$log")
	pass=$((pass + ok))
	fail=$((fail + nok))
	if [ "$rc" -ne 0 ] && [ "$nok" -eq 0 ]; then
		fail=$((fail + 1))
		echo "not ok - $name: exited with status $rc"
	fi
	if [ "$rc" -ne 0 ] || [ "$nok" -ne 0 ]; then
		sed 's/^/    /' "$log"
	else
		grep -E '^(ok|#)' "$log" | sed -n '1,400p'
	fi
}

if want unit; then
	for t in "$B"/tests/test_*; do
		[ -x "$t" ] || continue
		log=$tmp/$(basename "$t").log
		timeout 600 "$t" >"$log" 2>&1
		count_tap "$(basename "$t")" "$log" $?
	done
fi

if want fuzz; then
	for f in "$B"/fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		name=$(basename "$f")
		corpus=tests/fuzz/corpus/${name#fuzz_}
		work=$tmp/corpus-$name
		mkdir -p "$work"
		log=$tmp/$name.log
		# New inputs go to a scratch directory; the committed corpus is only read.
		timeout $((FUZZ_SECONDS + 120)) "$f" -max_total_time="$FUZZ_SECONDS" \
			-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
			"$work" "$corpus" >"$log" 2>&1
		rc=$?
		if [ $rc -eq 0 ]; then
			runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
			echo "ok - fuzz: $name (${runs:-?} runs in ${FUZZ_SECONDS}s, corpus $corpus)"
			pass=$((pass + 1))
		else
			echo "not ok - fuzz: $name exited with status $rc"
			tail -n 60 "$log" | sed 's/^/    /'
			fail=$((fail + 1))
		fi
	done
fi

for kind in netns sh; do
	want $kind || continue
	for s in tests/$kind/*.sh; do
		[ -f "$s" ] || continue
		log=$tmp/$(basename "$s").log
		B=$B timeout 900 bash "$s" >"$log" 2>&1
		count_tap "$(basename "$s")" "$log" $?
	done
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
