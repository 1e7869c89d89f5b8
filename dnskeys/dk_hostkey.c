/* The host's own key: generation (RSA, ECDSA P-256, Ed25519 via libcrypto), writing it as an
 * unencrypted PKCS#8 PEM file atomically with mode 0600, and loading it back with errors an
 * administrator can act on. System-facing: functions return 0 or -errno. */
#include "dk_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

int dk_hostkey_generate(enum dk_keytype type, unsigned bits, EVP_PKEY **out)
{
	*out = NULL;
	switch (type) {
	case DK_KT_RSA:
		if (bits == 0)
			bits = DK_RSA_BITS_DEFAULT;
		if (bits < DK_RSA_BITS_MIN || bits > DK_RSA_BITS_MAX)
			return -EINVAL;
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
		break;
	case DK_KT_ECDSA_P256:
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case DK_KT_ED25519:
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	default:
		return -EINVAL;
	}
	if (!*out) {
		ERR_clear_error();
		return -ENOMEM;
	}
	return 0;
}

/* mkdir -p with mode 0700 for the components that are missing (the key directory must not
 * be readable by others; existing directories are left as they are). */
static int make_dirs(const char *dir)
{
	char tmp[PATH_MAX];
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof(tmp))
		return n ? -ENAMETOOLONG : 0;
	memcpy(tmp, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -errno;
		tmp[i] = i < n ? '/' : '\0';
	}
	return 0;
}

static int write_pem(int fd, EVP_PKEY *pk)
{
	BIO *bio = BIO_new_fd(fd, BIO_NOCLOSE);
	int rc = -EIO;

	if (!bio)
		return -ENOMEM;
	/* PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY"); no cipher: the file is
	 * protected by its mode, and the daemon must start unattended. */
	if (PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) == 1 &&
	    BIO_flush(bio) == 1)
		rc = 0;
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

int dk_hostkey_write(const char *path, EVP_PKEY *pk, bool force)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd = -1, rc;

	if (strlen(path) + 8 >= sizeof(tmp))
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	if (slash == path)
		strcpy(dir, "/");
	rc = make_dirs(dir);
	if (rc < 0)
		return rc;
	if (!force && access(path, F_OK) == 0)
		return -EEXIST;
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	fd = mkstemp(tmp); /* created 0600 in the target directory, so rename is atomic */
	if (fd < 0)
		return -errno;
	rc = fchmod(fd, 0600) < 0 ? -errno : write_pem(fd, pk);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && !force)
		rc = link(tmp, path) < 0 ? -errno : 0; /* fails with EEXIST if someone raced us */
	else if (rc == 0)
		rc = rename(tmp, path) < 0 ? -errno : 0;
	if (rc < 0 || !force)
		unlink(tmp);
	if (rc == 0) {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY);

		if (dfd >= 0) {
			fsync(dfd); /* make the new name durable too */
			close(dfd);
		}
	}
	return rc;
}

/* No passphrase prompts: an encrypted key file is reported, not asked about. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

int dk_hostkey_load(const char *path, EVP_PKEY **out, struct oe_diag *d)
{
	struct oe_diag quiet = { 0 };
	struct stat sb;
	BIO *bio = NULL;
	int fd, rc = -EINVAL;

	*out = NULL;
	if (!d)
		d = &quiet;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		oe_diag_error(d, path, 0, "cannot open host key: %s%s", strerror(errno),
			      errno == ENOENT ? " (create one with 'ipsec newhostkey')" : "");
		return rc;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		oe_diag_error(d, path, 0, "host key is not a regular file");
		goto out;
	}
	if (sb.st_mode & 077)
		oe_diag_warn(d, path, 0, "host key is accessible by group or others (mode %04o); "
			     "run 'chmod 600 %s'", (unsigned)(sb.st_mode & 07777), path);
	bio = BIO_new_fd(fd, BIO_NOCLOSE);
	if (!bio) {
		rc = -ENOMEM;
		goto out;
	}
	*out = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (!*out) {
		oe_diag_error(d, path, 0, "not an unencrypted PEM private key "
			      "(expected PKCS#8 '-----BEGIN PRIVATE KEY-----')");
		goto out;
	}
	if (dk_pkey_type(*out) == 0) {
		oe_diag_error(d, path, 0, "key type '%s' not supported (use RSA, ECDSA P-256 or "
			      "Ed25519)", EVP_PKEY_get0_type_name(*out));
		EVP_PKEY_free(*out);
		*out = NULL;
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	BIO_free(bio);
	close(fd);
	return rc;
}
