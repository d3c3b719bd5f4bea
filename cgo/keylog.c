// Key-log trampolines: rustls-ffi gives key-log callbacks no userdata, so each
// config that logs keys is given one of these distinct functions, and the
// function tells Go its slot number. The list is written out by macro.
#include "gorustls_shim.h"

extern void grKeylog(int slot, char *label, size_t label_len, uint8_t *cr, size_t cr_len,
                     uint8_t *secret, size_t secret_len);

#define GR_KL(N) \
	static void gr_keylog_##N(struct rustls_str label, const uint8_t *cr, size_t crl, const uint8_t *s, size_t sl) { \
		grKeylog(N, (char *)label.data, label.len, (uint8_t *)cr, crl, (uint8_t *)s, sl); \
	}

#define GR_KL16(H) GR_KL(H##0) GR_KL(H##1) GR_KL(H##2) GR_KL(H##3) GR_KL(H##4) GR_KL(H##5) GR_KL(H##6) GR_KL(H##7) \
	GR_KL(H##8) GR_KL(H##9) GR_KL(H##a) GR_KL(H##b) GR_KL(H##c) GR_KL(H##d) GR_KL(H##e) GR_KL(H##f)
#define GR_KLP16(H) gr_keylog_##H##0, gr_keylog_##H##1, gr_keylog_##H##2, gr_keylog_##H##3, gr_keylog_##H##4, \
	gr_keylog_##H##5, gr_keylog_##H##6, gr_keylog_##H##7, gr_keylog_##H##8, gr_keylog_##H##9, gr_keylog_##H##a, \
	gr_keylog_##H##b, gr_keylog_##H##c, gr_keylog_##H##d, gr_keylog_##H##e, gr_keylog_##H##f

GR_KL16(0x0) GR_KL16(0x1) GR_KL16(0x2) GR_KL16(0x3) GR_KL16(0x4) GR_KL16(0x5) GR_KL16(0x6) GR_KL16(0x7) GR_KL16(0x8) GR_KL16(0x9) GR_KL16(0xa) GR_KL16(0xb) GR_KL16(0xc) GR_KL16(0xd) GR_KL16(0xe) GR_KL16(0xf)

static const rustls_keylog_log_callback gr_keylog_table[GR_KEYLOG_SLOTS] = {
	GR_KLP16(0x0),
	GR_KLP16(0x1),
	GR_KLP16(0x2),
	GR_KLP16(0x3),
	GR_KLP16(0x4),
	GR_KLP16(0x5),
	GR_KLP16(0x6),
	GR_KLP16(0x7),
	GR_KLP16(0x8),
	GR_KLP16(0x9),
	GR_KLP16(0xa),
	GR_KLP16(0xb),
	GR_KLP16(0xc),
	GR_KLP16(0xd),
	GR_KLP16(0xe),
	GR_KLP16(0xf),
};

rustls_keylog_log_callback gr_keylog_slot(int slot) {
	if (slot < 0 || slot >= GR_KEYLOG_SLOTS) return NULL;
	return gr_keylog_table[slot];
}
