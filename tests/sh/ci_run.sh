#!/bin/bash
# .ci/run's contract, with `make` and tools/deps.sh replaced by stubs (a copy of the script in
# a scratch tree): its last line is "N passed, N failed" whether the tests pass, fail (make's
# error line comes after the tests' summary) or the build fails, and its status is make's.
set -u
cd "$(dirname "$0")/../.." || exit 2
d=$(mktemp -d /tmp/oet-ci.XXXXXX)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d/.ci" "$d/tools" "$d/bin"
cp .ci/run "$d/.ci/run"
printf '#!/bin/sh\nexit 0\n' >"$d/tools/deps.sh"
chmod +x "$d/tools/deps.sh" "$d/.ci/run"
# case NAME MAKE_BODY WANT_LAST WANT_RC
case_() {
	printf '#!/bin/sh\n%s\n' "$2" >"$d/bin/make"
	chmod +x "$d/bin/make"
	out=$(PATH="$d/bin:$PATH" timeout 30 "$d/.ci/run" 2>&1)
	rc=$?
	if [ "$(printf '%s\n' "$out" | tail -n 1)" = "$3" ] && [ $rc = "$4" ]; then
		echo "ok - ci_run: $1"
	else
		echo "not ok - ci_run: $1"
		printf 'rc=%s\n%s\n' "$rc" "$out" | sed 's/^/#   /'
	fi
}
case_ "tests pass: summary last, status 0" 'echo "3 passed, 0 failed"' "3 passed, 0 failed" 0
case_ "tests fail: summary repeated after make's error, status 2" \
	'echo "2 passed, 1 failed"; echo "make: *** [Makefile:1: check] Error 1" >&2; exit 2' \
	"2 passed, 1 failed" 2
case_ "build fails: 0 passed, 1 failed, status 2" 'echo "cc: error" >&2; exit 2' \
	"0 passed, 1 failed" 2
