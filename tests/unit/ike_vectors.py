#!/usr/bin/env python3
# Independent derivation (python hashlib/hmac) of the IKEv2 key-derivation and AUTH values that
# tests/unit/test_ike_crypto.c checks: SKEYSEED/prf+/KEYMAT (RFC 7296 2.13-2.18) for
# PRF_HMAC_SHA2_256/512, signed-octets and NULL AUTH (RFC 7619). The inputs are those of a
# published SHA-1 vector (Libreswan's ikev2 CAVS tool comment, NIST CAVP format); the first two
# lines printed must equal it (SKEYSEED a9a7b2..., DKM a14293...), which checks this script.
import hmac, hashlib
def prf(h,k,d): return hmac.new(k,d,h).digest()
def prfplus(h,k,s,n):
    out=b'';t=b'';i=1
    while len(out)<n:
        t=prf(h,k,t+s+bytes([i])); out+=t; i+=1
    return out[:n]
H=bytes.fromhex
gir=H('4b2c1f971981a8ad8d0abeafabf38cf75fc8349c148142465ed9c8b516b8be52')
girnew=H('863f3c9d06efd39d2b907b97f8699e5dd5251ef64a2a176f36ee40c87d4f9330')
ni=H('32b50d5f4a3763f3'); nr=H('9206a04b26564cb1'); spii=H('34c9e7c188868785'); spir=H('3ff77d760d2b2199')
# check sha1 against the published libreswan output
s=prf(hashlib.sha1,ni+nr,gir); print('sha1 skeyseed',s.hex())
d=prfplus(hashlib.sha1,s,ni+nr+spii+spir,132); print('sha1 dkm',d.hex()[:80])
for name,h in (('sha256',hashlib.sha256),('sha512',hashlib.sha512)):
    hl=h().digest_size
    s=prf(h,ni+nr,gir); print(name,'skeyseed',s.hex())
    d=prfplus(h,s,ni+nr+spii+spir,3*hl+2*36); print(name,'dkm',d.hex())
    skd=d[:hl]
    print(name,'child',prfplus(h,skd,ni+nr,72).hex())
    print(name,'childdh',prfplus(h,skd,girnew+ni+nr,72).hex())
    print(name,'rekey',prf(h,skd,girnew+ni+nr).hex())
# AUTH
msg=bytes(range(0x40)); nonce=bytes([0xa5])*32; skpi=bytes(range(0x80,0xa0))
idbody=bytes([1,0,0,0,192,0,2,1])
oct_=msg+nonce+prf(hashlib.sha256,skpi,idbody)
print('octets tail',prf(hashlib.sha256,skpi,idbody).hex())
print('null auth',prf(hashlib.sha256,prf(hashlib.sha256,skpi,b'Key Pad for IKEv2'),oct_).hex())
