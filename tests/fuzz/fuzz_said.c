/* libFuzzer harness for kern_said_parse (kernel/kern_said.c). Property: whatever parses
 * formats to text that parses again to the same SAID, and that text is canonical (formatting
 * it once more gives the same bytes). */
#include "kernel.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kern_said a, b;
	char t1[KERN_SAIDSTRLEN], t2[KERN_SAIDSTRLEN];

	if (!kern_said_parse((const char *)data, size, &a))
		return 0;
	kern_said_str(&a, t1);
	if (!kern_said_parse(t1, strlen(t1), &b) || !kern_said_eq(&a, &b))
		abort();
	if (strcmp(kern_said_str(&b, t2), t1) != 0)
		abort();
	return 0;
}
