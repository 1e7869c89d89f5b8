#!/bin/sh
# The dependency step used by `make check`, `make demo` and .ci/run: on Debian as root it
# installs exactly the missing packages (one quiet apt-get update first); otherwise it prints
# the one apt-get command to run and fails.
set -u

PKGS="gcc make pkg-config libssl-dev libc-ares-dev libldns-dev libnetfilter-queue-dev
libmnl-dev libnftables-dev libnftables1 clang libclang-rt-14-dev iproute2 nftables iptables
tcpdump procps iputils-ping groff-base
nsd ldnsutils python3
strongswan-charon strongswan-swanctl libstrongswan-standard-plugins libstrongswan-extra-plugins"

# OE_DEPS_ASSUME_MISSING="pkg ...": treat these as not installed (tests/sh/deps.sh uses it to
# reach the install and the not-root branches on a machine that has everything).
missing=""
for p in $PKGS; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
	case " ${OE_DEPS_ASSUME_MISSING:-} " in *" $p "*) s=assumed-missing ;; esac
	[ "$s" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null &&
		apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		{ echo "deps: apt-get install failed for:$missing" >&2; exit 1; }
	exit 0
fi
echo "deps: missing packages; run as root:" >&2
echo "  apt-get update && apt-get install -y$missing" >&2
exit 1
