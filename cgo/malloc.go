package cgo

/*
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

// C heap bytes in use (glibc: small blocks plus mmapped ones), or -1 when
// the C library cannot tell.
static long long gr_malloc_in_use(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	struct mallinfo2 mi = mallinfo2();
	return (long long)(mi.uordblks + mi.hblkhd);
#else
	return -1;
#endif
}

static void gr_malloc_trim(void) {
#if defined(__GLIBC__)
	malloc_trim(0);
#endif
}
*/
import "C"

// MallocInUse returns the bytes the C heap (librustls, the crypto
// provider, these shims) has allocated and not freed, process-wide, or -1
// when the C library does not report it (not glibc 2.33 or later). It
// walks the allocator's arenas: call it for measurements, not per request.
func MallocInUse() int64 { return int64(C.gr_malloc_in_use()) }

// MallocTrim returns the C heap's free memory to the operating system
// (glibc malloc_trim; a no-op elsewhere), as debug.FreeOSMemory does for
// the Go heap.
func MallocTrim() { C.gr_malloc_trim() }
