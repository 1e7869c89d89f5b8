/* Internal helpers shared by the dnskeys/ codec files; not part of the public API. */
#ifndef DK_INT_H
#define DK_INT_H

#include "dnskeys.h"

/* Appends the base64 form of a key field to out; DK_ERR_NOMEM if the buffer failed. */
enum dk_status dk_b64_append(struct oe_buf *out, const uint8_t *p, size_t n);

/* Copies n key bytes into k->b (DK_ERR_TOO_BIG if they do not fit) and sets k->alg. */
enum dk_status dk_pubkey_set(struct dk_pubkey *k, uint8_t alg, const uint8_t *p, size_t n);

#endif
