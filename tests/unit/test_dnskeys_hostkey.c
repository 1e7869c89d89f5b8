/* Unit tests for dnskeys/dk_hostkey.c: generation of each key type, atomic 0600 writes into a
 * directory created 0700, refusal to overwrite, loading back, and the load errors. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dnskeys.h"
#include "t.h"

static char dir[64];

static void collect(void *ctx, enum oe_diag_sev sev, const char *msg)
{
	snprintf(ctx, 512, "%s", msg);
}

static void test_generate(void)
{
	EVP_PKEY *pk = NULL;

	T_CHECK_INT(dk_hostkey_generate(DK_KT_RSA, 1024, &pk), -EINVAL);
	T_CHECK_INT(dk_hostkey_generate(DK_KT_RSA, 8200, &pk), -EINVAL);
	T_CHECK_INT(dk_hostkey_generate(0, 0, &pk), -EINVAL);
	T_CHECK_INT(dk_hostkey_generate(DK_KT_RSA, 2048, &pk), 0);
	T_CHECK(pk && dk_pkey_type(pk) == DK_KT_RSA && dk_pkey_bits(pk) == 2048);
	EVP_PKEY_free(pk);
	T_CHECK_INT(dk_hostkey_generate(DK_KT_ECDSA_P256, 0, &pk), 0);
	T_CHECK(pk && dk_pkey_type(pk) == DK_KT_ECDSA_P256 && dk_pkey_bits(pk) == 256);
	EVP_PKEY_free(pk);
	T_CHECK_INT(dk_hostkey_generate(DK_KT_ED25519, 0, &pk), 0);
	T_CHECK(pk && dk_pkey_type(pk) == DK_KT_ED25519);
	EVP_PKEY_free(pk);
}

static void roundtrip(enum dk_keytype type, const char *name)
{
	char path[256], msg[512] = "";
	struct oe_diag d = { collect, msg, 0, 0 };
	EVP_PKEY *pk = NULL, *back = NULL, *other = NULL;
	struct stat sb;

	snprintf(path, sizeof(path), "%s/new/sub/%s.pem", dir, name);
	T_CHECK_INT(dk_hostkey_generate(type, 2048, &pk), 0);
	T_CHECK_INT(dk_hostkey_write(path, pk, false), 0);
	T_CHECK(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0600);
	snprintf(path, sizeof(path), "%s/new/sub", dir);
	T_CHECK(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0700);
	snprintf(path, sizeof(path), "%s/new/sub/%s.pem", dir, name);
	T_CHECK_INT(dk_hostkey_load(path, &back, &d), 0);
	T_CHECK(back && EVP_PKEY_eq(pk, back) == 1);
	T_CHECK_INT(d.errors + d.warnings, 0);
	/* No overwrite without force; with force the new key replaces the old. */
	T_CHECK_INT(dk_hostkey_generate(type, 2048, &other), 0);
	T_CHECK_INT(dk_hostkey_write(path, other, false), -EEXIST);
	T_CHECK_INT(dk_hostkey_write(path, other, true), 0);
	EVP_PKEY_free(back);
	back = NULL;
	T_CHECK_INT(dk_hostkey_load(path, &back, &d), 0);
	T_CHECK(back && EVP_PKEY_eq(other, back) == 1);
	T_CHECK(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0600);
	EVP_PKEY_free(pk);
	EVP_PKEY_free(back);
	EVP_PKEY_free(other);
}

static void test_write_load(void)
{
	roundtrip(DK_KT_RSA, "rsa");
	roundtrip(DK_KT_ECDSA_P256, "ecdsa");
	roundtrip(DK_KT_ED25519, "ed25519");
}

static void test_load_errors(void)
{
	char path[256], msg[512] = "";
	struct oe_diag d = { collect, msg, 0, 0 };
	EVP_PKEY *pk = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/missing.pem", dir);
	T_CHECK_INT(dk_hostkey_load(path, &pk, &d), -ENOENT);
	T_CHECK(strstr(msg, "missing.pem: cannot open host key") != NULL);
	T_CHECK(strstr(msg, "ipsec newhostkey") != NULL);
	snprintf(path, sizeof(path), "%s/junk.pem", dir);
	f = fopen(path, "w");
	fputs("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", f);
	fclose(f);
	chmod(path, 0600);
	T_CHECK_INT(dk_hostkey_load(path, &pk, &d), -EINVAL);
	T_CHECK(strstr(msg, "not an unencrypted PEM private key") != NULL);
	T_CHECK_INT(dk_hostkey_load(dir, &pk, &d), -EINVAL);
	T_CHECK(strstr(msg, "not a regular file") != NULL);
	T_CHECK(pk == NULL);
	/* Loose permissions load, with a warning. */
	snprintf(path, sizeof(path), "%s/new/sub/ed25519.pem", dir);
	chmod(path, 0644);
	d.warnings = 0;
	T_CHECK_INT(dk_hostkey_load(path, &pk, &d), 0);
	T_CHECK_INT(d.warnings, 1);
	T_CHECK(strstr(msg, "accessible by group or others (mode 0644)") != NULL);
	EVP_PKEY_free(pk);
	/* An unsupported key type (P-384) is refused by name. */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	snprintf(path, sizeof(path), "%s/p384.pem", dir);
	T_CHECK_INT(dk_hostkey_write(path, pk, false), 0);
	EVP_PKEY_free(pk);
	pk = NULL;
	T_CHECK_INT(dk_hostkey_load(path, &pk, &d), -EINVAL);
	T_CHECK(strstr(msg, "key type 'EC' not supported") != NULL);
}

int main(void)
{
	int rc;

	snprintf(dir, sizeof(dir), "/tmp/oet-hostkey-XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	T_RUN(test_generate);
	T_RUN(test_write_load);
	T_RUN(test_load_errors);
	rc = t_done();
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			rc = 1;
	}
	return rc;
}
