/* The dnskeys codecs on whole DNS answers. Without arguments: unit tests that build answer
 * messages (with name compression, as servers send them) and decode their IPSECKEY, TXT and
 * KEY records. With "--packet FILE" (a `drill -w FILE` hex dump): prints each IPSECKEY, TXT
 * and KEY answer decoded by our codecs in presentation form, or why it was rejected; exit
 * status 1 if any record failed or none was found. tests/netns/dnskeys_records.sh uses that
 * to check that what NSD serves from our records decodes back to the same records. */
#include <openssl/evp.h>

#include "dnskeys.h"
#include "oe_cursor.h"
#include "t.h"

#define T_TXT 16
#define T_KEY 25
#define T_IPSECKEY 45

/* Skips a possibly compressed name (RFC 1035 §4.1.4): labels, ended by 0 or a pointer. */
static bool skip_name(struct oe_cur *c)
{
	uint8_t l;

	for (;;) {
		if (!oe_cur_u8(c, &l))
			return false;
		if (l == 0)
			return true;
		if ((l & 0xc0) == 0xc0)
			return oe_cur_skip(c, 1);
		if (l > 63 || !oe_cur_skip(c, l))
			return false;
	}
}

/* Decodes one record's rdata and appends "TYPE presentation" (or "TYPE error: why"). */
static enum dk_status decode_rr(uint16_t type, const uint8_t *rd, size_t n, struct oe_buf *out)
{
	struct dk_ipseckey ik;
	struct dk_txt txt;
	struct dk_keyrr kr;
	enum dk_status st;

	if (type == T_IPSECKEY) {
		oe_buf_puts(out, "IPSECKEY ");
		st = dk_ipseckey_decode(rd, n, &ik);
		if (st == DK_OK)
			st = dk_ipseckey_format(&ik, out);
		dk_ipseckey_clear(&ik);
	} else if (type == T_TXT) {
		oe_buf_puts(out, "TXT ");
		st = dk_txt_decode_rdata(rd, n, &txt);
		if (st == DK_OK)
			st = dk_txt_format(&txt, out);
		dk_txt_clear(&txt);
	} else {
		oe_buf_puts(out, "KEY ");
		st = dk_keyrr_decode(rd, n, &kr);
		if (st == DK_OK)
			st = dk_keyrr_format(&kr.key, out);
		dk_keyrr_clear(&kr);
	}
	if (st != DK_OK)
		oe_buf_printf(out, "error: %s", dk_strerror(st));
	oe_buf_puts(out, "\n");
	return st;
}

/* RFC 1035 §4.1: header, questions, then answer RRs (name type class ttl rdlength rdata).
 * Returns the number of our records decoded, -1 on a malformed message or a rejected one. */
static int decode_msg(const uint8_t *msg, size_t len, struct oe_buf *out)
{
	struct oe_cur c = oe_cur_make(msg, len);
	uint16_t qd, an, type, rdlen;
	int found = 0, bad = 0;

	if (!oe_cur_skip(&c, 4) || !oe_cur_u16(&c, &qd) || !oe_cur_u16(&c, &an) ||
	    !oe_cur_skip(&c, 4))
		return -1;
	while (qd--)
		if (!skip_name(&c) || !oe_cur_skip(&c, 4))
			return -1;
	while (an--) {
		struct oe_cur rd;

		if (!skip_name(&c) || !oe_cur_u16(&c, &type) || !oe_cur_skip(&c, 6) ||
		    !oe_cur_u16(&c, &rdlen) || !oe_cur_sub(&c, rdlen, &rd))
			return -1;
		if (type != T_IPSECKEY && type != T_TXT && type != T_KEY)
			continue;
		found++;
		if (decode_rr(type, rd.p, rd.len, out) != DK_OK)
			bad++;
	}
	return bad ? -1 : found;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* drill's -w format: hex octets, ';' starts a comment to the end of the line. */
static size_t read_hexdump(FILE *f, uint8_t *out, size_t cap)
{
	int ch, hi = -1;
	bool comment = false;
	size_t n = 0;

	while ((ch = getc(f)) != EOF && n < cap) {
		if (ch == '\n')
			comment = false;
		if (ch == ';')
			comment = true;
		if (comment || hexval(ch) < 0)
			continue;
		ch = hexval(ch);
		if (hi < 0) {
			hi = ch;
		} else {
			out[n++] = (uint8_t)(hi << 4 | ch);
			hi = -1;
		}
	}
	return n;
}

static int packet_main(const char *path)
{
	static uint8_t msg[65536];
	struct oe_buf out;
	FILE *f = fopen(path, "r");
	size_t n;
	int found;

	if (!f) {
		perror(path);
		return 2;
	}
	n = read_hexdump(f, msg, sizeof(msg));
	fclose(f);
	oe_buf_init(&out);
	found = decode_msg(msg, n, &out);
	fputs(out.len ? out.p : "", stdout);
	if (found < 0)
		fprintf(stderr, "%s: malformed message or rejected record\n", path);
	oe_buf_free(&out);
	return found > 0 ? 0 : 1;
}

/* ---- unit tests ----------------------------------------------------------------------------- */

static uint8_t msg[8192];
static size_t msg_len;

/* A response header + one question for the reverse name of 192.0.2.7. */
static void msg_start(uint16_t ancount)
{
	static const uint8_t q[] = { 1, '7', 1, '2', 1, '0', 3, '1', '9', '2', 7, 'i', 'n', '-',
				     'a', 'd', 'd', 'r', 4, 'a', 'r', 'p', 'a', 0, 0, 45, 0, 1 };
	uint8_t hdr[12] = { 0x12, 0x34, 0x84, 0, 0, 1, 0, (uint8_t)ancount, 0, 0, 0, 0 };

	memcpy(msg, hdr, 12);
	memcpy(msg + 12, q, sizeof(q));
	msg_len = 12 + sizeof(q);
}

/* Appends an answer owned by a compression pointer to the question name. */
static void msg_add(uint16_t type, const uint8_t *rd, size_t n)
{
	uint8_t rr[12] = { 0xc0, 12, 0, (uint8_t)type, 0, 1, 0, 0, 1, 44, (uint8_t)(n >> 8),
			   (uint8_t)n };

	memcpy(msg + msg_len, rr, 12);
	memcpy(msg + msg_len + 12, rd, n);
	msg_len += 12 + n;
}

static void test_answer(void)
{
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct dk_ipseckey r = { .precedence = 10, .gw_type = DK_GW_NAME, .gw_name = "gw.ex" };
	struct dk_txt t = { .pref = 10 };
	uint8_t rd[3000];
	struct oe_buf out;
	size_t n;

	oe_buf_init(&out);
	msg_start(4);
	T_CHECK_INT(dk_pubkey_encode(ed, &r.key), DK_OK);
	T_CHECK_INT(dk_ipseckey_encode(&r, rd, sizeof(rd), &n), DK_OK);
	msg_add(T_IPSECKEY, rd, n);
	T_CHECK_INT(dk_pubkey_encode(rsa, &t.key), DK_OK);
	oe_addr_parse(&t.gw_addr, "192.0.2.7", 9);
	T_CHECK_INT(dk_txt_encode(&t, rd, sizeof(rd), &n), DK_OK);
	msg_add(T_TXT, rd, n);
	T_CHECK_INT(dk_keyrr_encode(&t.key, rd, sizeof(rd), &n), DK_OK);
	msg_add(T_KEY, rd, n);
	msg_add(1, (const uint8_t *)"\xc0\x00\x02\x07", 4); /* an A record: skipped */
	T_CHECK_INT(decode_msg(msg, msg_len, &out), 3);
	T_CHECK(strncmp(out.p, "IPSECKEY 10 3 4 gw.ex. ", 23) == 0);
	T_CHECK(strstr(out.p, "\nTXT \"X-IPsec-Server(10)=192.0.2.7 AwEAA") != NULL);
	T_CHECK(strstr(out.p, "\nKEY 16896 4 1 AwEAA") != NULL);
	/* A truncated message, and a rejected record. */
	T_CHECK_INT(decode_msg(msg, msg_len - 1, &out), -1);
	msg_start(1);
	msg_add(T_KEY, (const uint8_t *)"\x42\x00\x03\x01", 4);
	oe_buf_reset(&out);
	T_CHECK_INT(decode_msg(msg, msg_len, &out), -1);
	T_CHECK_STR(out.p, "KEY error: KEY record protocol is not 4 (IPsec)\n");
	oe_buf_free(&out);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
}

static void test_hexdump(void)
{
	static const char dump[] = "; 0  1  2\n;-- -- --\n c1 02 85 00\t;\t   1-  20\n0a0B\n";
	uint8_t out[16];
	FILE *f = fmemopen((void *)dump, sizeof(dump) - 1, "r");

	T_CHECK_INT(read_hexdump(f, out, sizeof(out)), 6);
	T_CHECK(out[0] == 0xc1 && out[3] == 0 && out[4] == 0x0a && out[5] == 0x0b);
	fclose(f);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--packet") == 0)
		return packet_main(argv[2]);
	T_RUN(test_answer);
	T_RUN(test_hexdump);
	return t_done();
}
