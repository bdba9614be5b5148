/*
 * wipe_free: free(3) that first wipes the block, so that a plaintext freed
 * is not left in the heap for a later reader (a core, /proc/PID/mem, a
 * read past the end of some other buffer) to find.
 */
#include <malloc.h>
#include <stdlib.h>

#include <sodium.h>

#include "common/wipe.h"

void
wipe_free(void *p)
{
	if (p == NULL)
		return;
	/* Under AddressSanitizer this is the size asked for: exactly the
	 * bytes it lets us write. */
	sodium_memzero(p, malloc_usable_size(p));
	free(p);
}
