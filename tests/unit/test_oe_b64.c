/* Unit tests for lib/oe_b64: RFC 4648 §10 vectors, strictness, whitespace skipping. */
#include "oe_b64.h"
#include "t.h"

static const char *const vec[][2] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
};

static bool dec(const char *s, bool ws, uint8_t *out, size_t cap, size_t *n)
{
	return oe_b64_decode(s, strlen(s), ws, out, cap, n);
}

static void test_vectors(void)
{
	char enc[64];
	uint8_t out[64];
	size_t i, n;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		T_CHECK_INT(oe_b64_encode((const uint8_t *)vec[i][0], strlen(vec[i][0]), enc),
			    strlen(vec[i][1]));
		T_CHECK_STR(enc, vec[i][1]);
		T_CHECK(dec(vec[i][1], false, out, sizeof(out), &n));
		T_CHECK_INT(n, strlen(vec[i][0]));
		T_CHECK(memcmp(out, vec[i][0], n) == 0);
	}
}

static void test_all_bytes(void)
{
	uint8_t in[256], out[256];
	char enc[OE_B64_LEN(256) + 1];
	size_t i, n;

	for (i = 0; i < 256; i++)
		in[i] = (uint8_t)(255 - i);
	for (i = 0; i <= 256; i += 37) {
		oe_b64_encode(in, i, enc);
		T_CHECK(dec(enc, false, out, sizeof(out), &n));
		T_CHECK(n == i && memcmp(in, out, n) == 0);
	}
}

static void test_rejects(void)
{
	static const char *const bad[] = {
		"Zg",       /* partial group: padding required */
		"Zg=",      /* partial padding */
		"Zh==",     /* leftover bits not zero */
		"Zm9=",     /* leftover bits not zero (2-byte group) */
		"Z===",     /* too much padding */
		"=Zg=",     /* padding first */
		"Zg==Zg==", /* data after padding */
		"Zm9v!A==", /* bad character */
		"Zm9v YmFy", /* space without skip_ws */
		"Zm9-",     /* URL-safe alphabet is not accepted */
	};
	uint8_t out[16];
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (dec(bad[i], false, out, sizeof(out), &n)) {
			printf("#   accepted '%s'\n", bad[i]);
			T_CHECK(0);
		}
	}
	T_CHECK(!dec("Zm9vYmFy", false, out, 5, &n)); /* does not fit */
	T_CHECK(dec("Zm9vYmFy", false, out, 6, &n) && n == 6);
}

static void test_whitespace(void)
{
	uint8_t out[16];
	size_t n;

	T_CHECK(dec(" Zm9v\tYm\r\nFy ", true, out, sizeof(out), &n));
	T_CHECK(n == 6 && memcmp(out, "foobar", 6) == 0);
	T_CHECK(dec("Zm 8 =", true, out, sizeof(out), &n) && n == 2);
	T_CHECK(!dec("Zm9v\vYmFy", true, out, sizeof(out), &n)); /* only SP HT CR LF */
}

int main(void)
{
	T_RUN(test_vectors);
	T_RUN(test_all_bytes);
	T_RUN(test_rejects);
	T_RUN(test_whitespace);
	return t_done();
}
