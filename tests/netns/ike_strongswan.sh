#!/bin/bash
# The IKEv2 mechanics (oe-agent/ike codec + crypto) against another implementation: strongSwan's
# charon as responder; test_ike_wire's initiator sends IKE_SA_INIT and IKE_AUTH made only from
# our codec and crypto, decrypts charon's answer with our keys and verifies charon's AUTH; charon
# must accept ours (no AUTHENTICATION_FAILED) and show the IKE SA as ESTABLISHED. One run per
# host-key kind and one with RSA method 1 (no SIGNATURE_HASH_ALGORITHMS), spread over the DH
# groups (X25519, P-256, MODP-2048), PRFs (HMAC-SHA2-256/512) and AES-GCM-16 key sizes (256,
# 128); raw public keys, IDs = addresses. (AUTH_NULL is not checked here: charon 5.9.8's vici
# refuses "auth = null"; test_ike_wire's "null" option is there for a peer that takes it.)
# Then the other way: charon initiates (its default proposals, one of ours, and a refused first
# proposal) and test_ike_wire answers as responder, choosing from what it is offered.
# Charon's Child SA fails at its kernel install (no ESP in this kernel) after selecting our ESP
# proposal; the IKE SA stays ESTABLISHED, which is what is checked.
#
#   +---------------------------+          +-------------------------------+
#   | oet-ikess-$$-a            |          | oet-ikess-$$-b                |
#   |  test_ike_wire initiator, |  UDP 500 |  charon (swanctl, vici)       |
#   |  then responder           |          |                               |
#   |  192.0.2.1 .3 .4 .5       +----------+  192.0.2.2                    |
#   +---------------------------+  (LAN)   +-------------------------------+
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/netns/lib.sh

CHARON=/usr/lib/ipsec/charon
T=$PWD/${B:-build}/tests/test_ike_wire

nt_init ikess
nt_need openssl swanctl
[ -x "$CHARON" ] || { nok "charon missing (tools/deps.sh)"; exit 1; }
[ -x "$T" ] || { nok "$T not built"; exit 1; }

net_lan
net_host a 192.0.2.1 192.0.2.3 192.0.2.4 192.0.2.5
net_host b 192.0.2.2

d=$NT_DIR/ss
mkdir -p "$d/swanctl/private" "$d/swanctl/pubkey" "$d/run"
# keys: one per kind for each side; charon's private keys in swanctl/private
gen() { # gen NAME ALG...
	openssl genpkey "${@:2}" -out "$d/$1.key" 2>/dev/null &&
		openssl pkey -in "$d/$1.key" -pubout -out "$d/$1.pub" 2>/dev/null
}
for k in rsa ecdsa ed25519; do
	case $k in
	rsa) alg=(-algorithm RSA -pkeyopt rsa_keygen_bits:2048) ;;
	ecdsa) alg=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256) ;;
	ed25519) alg=(-algorithm ED25519) ;;
	esac
	gen "i-$k" "${alg[@]}" && gen "r-$k" "${alg[@]}" || { nok "key generation ($k)"; exit 1; }
	cp "$d/r-$k.key" "$d/swanctl/private/r-$k.pem"
	cp "$d/r-$k.pub" "$d/i-$k.pub" "$d/swanctl/pubkey/"
done

conn() { # conn NAME INITIATOR-ADDR [KIND]
	local k=${3:-$1}
	cat <<EOF
	$1 {
		local_addrs = 192.0.2.2
		remote_addrs = $2
		proposals = aes256gcm16-aes128gcm16-prfsha256-prfsha512-x25519-ecp256-modp2048
		local { auth = pubkey
			pubkeys = r-$k.pub
			id = 192.0.2.2 }
		remote { auth = pubkey
			pubkeys = i-$k.pub
			id = $2 }
		children { $1 { esp_proposals = aes256gcm16-aes128gcm16
			local_ts = 192.0.2.2/32
			remote_ts = $2/32 } }
	}
EOF
}
out() { # out KIND RESPONDER-ADDR IKE-PROPOSALS: charon initiates to test_ike_wire
	cat <<EOF
	out-$1 {
		local_addrs = 192.0.2.2
		remote_addrs = $2
		proposals = $3
		local { auth = pubkey
			pubkeys = r-$1.pub
			id = 192.0.2.2 }
		remote { auth = pubkey
			pubkeys = i-$1.pub
			id = $2 }
		children { out-$1 { esp_proposals = default
			local_ts = 192.0.2.2/32
			remote_ts = $2/32 } }
	}
EOF
}
{
	echo "connections {"
	conn rsa 192.0.2.1
	conn ecdsa 192.0.2.3
	conn ed25519 192.0.2.4
	conn rsa1 192.0.2.5 rsa
	# charon's default proposals (AEAD and not), one of ours, and a first proposal we refuse
	out rsa 192.0.2.1 default
	out ecdsa 192.0.2.3 aes128gcm16-prfsha512-ecp256
	out ed25519 192.0.2.4 "aes256-sha256-x25519, aes256gcm16-prfsha256-modp2048-x25519"
	echo "}"
} >"$d/swanctl/swanctl.conf"

# no kernel-libipsec: its TUN device would swallow the answers (PEERS.md)
charon_start b "$d" || exit 1
check "swanctl loads keys and connections" in_ns b swanctl --load-all --noprompt

for c in rsa ecdsa ed25519 rsa1; do
	k=${c%1} m=
	case $c in
	rsa) a=192.0.2.1 ;;
	ecdsa) a=192.0.2.3 m="p256 sha512 aes128" ;;
	ed25519) a=192.0.2.4 m=modp2048 ;;
	rsa1) a=192.0.2.5 m=method1 ;;
	esac
	# shellcheck disable=SC2086
	out=$(in_ns a ${IKESS_WRAP:-} "$T" initiator "$a" 192.0.2.2 "$d/i-$k.key" "$d/r-$k.pub" \
		$m 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && in_ns b swanctl --list-sas --ike "$c" 2>/dev/null | grep -q ESTABLISHED
	then
		ok "$c ${m:-x25519}: IKE_SA_INIT + IKE_AUTH with charon (${out#OK })"
	else
		nok "$c: IKE_SA_INIT + IKE_AUTH with charon" "$out"$'\n'"$(
			grep -E "$a|authentication|AUTH|signature" "$d/charon.log" | tail -15)"
	fi
done

# charon initiates; test_ike_wire answers as responder from the proposals it is offered
for k in rsa ecdsa ed25519; do
	case $k in rsa) a=192.0.2.1 ;; ecdsa) a=192.0.2.3 ;; ed25519) a=192.0.2.4 ;; esac
	nt_bg in_ns b swanctl --initiate --ike "out-$k" --child "out-$k" --timeout 10 \
		>/dev/null 2>&1
	out=$(in_ns a "$T" responder "$a" "$d/i-$k.key" "$d/r-$k.pub" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && wait_for 5 sh -c \
		"ip netns exec $(ns b) swanctl --list-sas --ike out-$k | grep -q ESTABLISHED"; then
		ok "charon initiates, $k: (${out#OK })"
	else
		nok "charon initiates, $k" "$out"$'\n'"$(
			grep -E "$a|authentication|AUTH|signature|proposal" "$d/charon.log" |
				tail -15)"
	fi
done
exit 0
