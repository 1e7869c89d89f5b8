/* The mock kern_ops backend: keeps installed Child SAs in an array, counts every call and can
 * be told to fail the next call of an operation. The IKE engine's tests check what it would
 * have handed the kernel through it; nothing here touches the system. */
#include "kernel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

struct kern_mock_sa {
	struct kern_child_sa sa;
	struct kern_sa_counters ctr;
};

struct kern_mock {
	struct kern_mock_sa *sas;
	size_t n, cap;
	unsigned calls[KERN_MOCK_NOPS];
	int fail[KERN_MOCK_NOPS]; /* next call of op returns this when non-zero */
};

static const char *const op_names[KERN_MOCK_NOPS] = {
	[KERN_MOCK_INSTALL] = "install",
	[KERN_MOCK_UPDATE] = "update",
	[KERN_MOCK_REMOVE] = "remove",
	[KERN_MOCK_QUERY] = "query",
};

const char *kern_mock_op_name(enum kern_mock_op op)
{
	return (unsigned)op < KERN_MOCK_NOPS ? op_names[op] : "?";
}

struct kern_mock *kern_mock_new(void)
{
	return calloc(1, sizeof(struct kern_mock));
}

void kern_mock_free(struct kern_mock *m)
{
	if (!m)
		return;
	if (m->sas)
		OPENSSL_cleanse(m->sas, m->cap * sizeof(*m->sas));
	free(m->sas);
	free(m);
}

static struct kern_mock_sa *mock_find(const struct kern_mock *m, uint32_t spi_in)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->sas[i].sa.spi_in == spi_in)
			return &m->sas[i];
	return NULL;
}

/* Counts the call and returns the injected failure, if any. */
static int mock_enter(struct kern_mock *m, enum kern_mock_op op)
{
	int err = m->fail[op];

	m->calls[op]++;
	m->fail[op] = 0;
	return err;
}

static int mock_add(struct kern_mock *m, const struct kern_child_sa *sa)
{
	if (mock_find(m, sa->spi_in))
		return -EEXIST;
	if (m->n == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 8;
		struct kern_mock_sa *p = calloc(ncap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		if (m->sas) {
			memcpy(p, m->sas, m->n * sizeof(*p));
			OPENSSL_cleanse(m->sas, m->cap * sizeof(*m->sas));
		}
		free(m->sas);
		m->sas = p;
		m->cap = ncap;
	}
	memset(&m->sas[m->n], 0, sizeof(m->sas[m->n]));
	m->sas[m->n++].sa = *sa;
	return 0;
}

static int mock_install(void *arg, const struct kern_child_sa *sa)
{
	struct kern_mock *m = arg;
	int err = mock_enter(m, KERN_MOCK_INSTALL);

	return err ? err : mock_add(m, sa);
}

static int mock_update(void *arg, const struct kern_child_sa *old, const struct kern_child_sa *nsa)
{
	struct kern_mock *m = arg;
	int err = mock_enter(m, KERN_MOCK_UPDATE);

	if (err)
		return err;
	if (!mock_find(m, old->spi_in))
		return -ENOENT;
	return mock_add(m, nsa);
}

static int mock_remove(void *arg, const struct kern_child_sa *sa)
{
	struct kern_mock *m = arg;
	int err = mock_enter(m, KERN_MOCK_REMOVE);
	struct kern_mock_sa *e;

	if (err)
		return err;
	e = mock_find(m, sa->spi_in);
	if (!e)
		return -ENOENT;
	*e = m->sas[m->n - 1];
	OPENSSL_cleanse(&m->sas[m->n - 1], sizeof(m->sas[0]));
	m->n--;
	return 0;
}

static int mock_query(void *arg, const struct kern_child_sa *sa, struct kern_sa_counters *out)
{
	struct kern_mock *m = arg;
	int err = mock_enter(m, KERN_MOCK_QUERY);
	struct kern_mock_sa *e;

	if (err)
		return err;
	e = mock_find(m, sa->spi_in);
	if (!e)
		return -ENOENT;
	*out = e->ctr;
	return 0;
}

const struct kern_ops kern_mock_ops = {
	.name = "mock",
	.install = mock_install,
	.update = mock_update,
	.remove = mock_remove,
	.query = mock_query,
};

unsigned kern_mock_calls(const struct kern_mock *m, enum kern_mock_op op)
{
	return (unsigned)op < KERN_MOCK_NOPS ? m->calls[op] : 0;
}

size_t kern_mock_installed(const struct kern_mock *m)
{
	return m->n;
}

const struct kern_child_sa *kern_mock_find(const struct kern_mock *m, uint32_t spi_in)
{
	struct kern_mock_sa *e = mock_find(m, spi_in);

	return e ? &e->sa : NULL;
}

const struct kern_child_sa *kern_mock_at(const struct kern_mock *m, size_t i)
{
	return i < m->n ? &m->sas[i].sa : NULL;
}

void kern_mock_fail_next(struct kern_mock *m, enum kern_mock_op op, int err)
{
	if ((unsigned)op < KERN_MOCK_NOPS)
		m->fail[op] = err;
}

void kern_mock_set_counters(struct kern_mock *m, uint32_t spi_in, const struct kern_sa_counters *c)
{
	struct kern_mock_sa *e = mock_find(m, spi_in);

	if (e)
		e->ctr = *c;
}
