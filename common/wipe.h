/*
 * Freeing heap memory that may have held record plaintext: every byte the
 * allocator gave the block is wiped before it goes back. Used by proto/ for
 * protobuf-c and the record arena, and by jansson once a program's main
 * has called record_wipe_on_free (proto/record.h).
 */
#ifndef COMMON_WIPE_H
#define COMMON_WIPE_H

/*
 * Wipes the whole of p (malloc_usable_size bytes, which may be more than
 * were asked for) with sodium_memzero, then frees it. p must come from
 * malloc, calloc, realloc or strdup; NULL is a no-op.
 */
void wipe_free(void *p);

#endif
