/* ESP anti-replay (RFC 4303 §3.4.3, Appendix A): a 1024-bit sliding bitmap window and the
 * inference of the high half of extended sequence numbers (Appendix A2.2). The check is pure;
 * the window moves only through esp_replay_update, after the ICV verified. */
#include "kern_esp_int.h"

#include <string.h>

#define W ((uint64_t)ESP_REPLAY_BITS)

/* Appendix A2.2: the receiver knows Th:Tl (top); the low half seql of the packet is placed
 * in the 2^32-sized block that puts it nearest the window: case A when the window lies
 * within one block (Tl >= W - 1), case B when it straddles a block boundary. */
uint64_t esp_replay_infer(const struct esp_replay *w, bool esn, uint32_t seql)
{
	uint32_t tl = (uint32_t)w->top, th = (uint32_t)(w->top >> 32);
	uint32_t bottom = tl - (uint32_t)(W - 1); /* mod 2^32 */
	uint32_t sh;

	if (!esn)
		return seql;
	if (tl >= W - 1)
		sh = seql >= bottom ? th : th + 1;
	else if (seql >= bottom && th == 0)
		return 0; /* before the first block: never valid, rejected as too old */
	else if (seql >= bottom)
		sh = th - 1;
	else
		sh = th;
	return (uint64_t)sh << 32 | seql;
}

enum kern_esp_status esp_replay_check(const struct esp_replay *w, uint64_t seq)
{
	if (seq == 0)
		return KERN_ESP_TOO_OLD; /* §3.3.3: the first packet sent carries 1 */
	if (seq > w->top)
		return KERN_ESP_OK;
	if (w->top - seq >= W)
		return KERN_ESP_TOO_OLD;
	if (w->bits[(seq % W) / 64] >> (seq % 64) & 1)
		return KERN_ESP_REPLAY;
	return KERN_ESP_OK;
}

void esp_replay_update(struct esp_replay *w, uint64_t seq)
{
	if (seq > w->top) {
		uint64_t d = seq - w->top;

		if (d >= W) {
			memset(w->bits, 0, sizeof(w->bits));
		} else {
			/* clear the slots that now stand for the new numbers top+1 .. seq */
			for (uint64_t s = w->top + 1; s != seq + 1; s++)
				w->bits[(s % W) / 64] &= ~((uint64_t)1 << (s % 64));
		}
		w->top = seq;
	}
	w->bits[(seq % W) / 64] |= (uint64_t)1 << (seq % 64);
}
