// C entry points for config-level callbacks. Each forwards to a Go export
// with plain (non-const) types, so that cgo's generated prototypes and the
// rustls callback types never meet in one declaration.
#include "gorustls_shim.h"

extern uint32_t grVerifyServerCert(uintptr_t userdata, uint8_t *ee, size_t ee_len,
                                   struct rustls_slice_slice_bytes *inter, char *name, size_t name_len,
                                   uint8_t *ocsp, size_t ocsp_len);
extern void grLog(uintptr_t userdata, size_t level, char *msg, size_t msg_len);
extern uint32_t grSessionGet(uintptr_t userdata, uint8_t *key, size_t key_len, int remove_after,
                             uint8_t *buf, size_t count, size_t *out_n);
extern uint32_t grSessionPut(uintptr_t userdata, uint8_t *key, size_t key_len, uint8_t *val, size_t val_len);
extern struct rustls_certified_key *grHello(uintptr_t userdata, char *name, size_t name_len,
                                            uint16_t *sigs, size_t sigs_len, struct rustls_slice_slice_bytes *alpn);

uint32_t gr_verify_server_cert_cb(void *userdata, const struct rustls_verify_server_cert_params *p) {
	return grVerifyServerCert((uintptr_t)userdata, (uint8_t *)p->end_entity_cert_der.data, p->end_entity_cert_der.len,
	                          (struct rustls_slice_slice_bytes *)p->intermediate_certs_der,
	                          (char *)p->server_name.data, p->server_name.len,
	                          (uint8_t *)p->ocsp_response.data, p->ocsp_response.len);
}

void gr_log_cb(void *userdata, const struct rustls_log_params *p) {
	grLog((uintptr_t)userdata, p->level, (char *)p->message.data, p->message.len);
}

uint32_t gr_session_get_cb(void *userdata, const struct rustls_slice_bytes *key, int remove_after,
                           uint8_t *buf, size_t count, size_t *out_n) {
	return grSessionGet((uintptr_t)userdata, (uint8_t *)key->data, key->len, remove_after, buf, count, out_n);
}

uint32_t gr_session_put_cb(void *userdata, const struct rustls_slice_bytes *key,
                           const struct rustls_slice_bytes *val) {
	return grSessionPut((uintptr_t)userdata, (uint8_t *)key->data, key->len, (uint8_t *)val->data, val->len);
}

uint32_t gr_session_none_get_cb(void *userdata, const struct rustls_slice_bytes *key, int remove_after,
                                uint8_t *buf, size_t count, size_t *out_n) {
	(void)userdata, (void)key, (void)remove_after, (void)buf, (void)count, (void)out_n;
	return RUSTLS_RESULT_NOT_FOUND;
}

uint32_t gr_session_none_put_cb(void *userdata, const struct rustls_slice_bytes *key,
                                const struct rustls_slice_bytes *val) {
	(void)userdata, (void)key, (void)val;
	return RUSTLS_RESULT_NOT_FOUND; /* not stored */
}

const struct rustls_certified_key *gr_hello_cb(void *userdata, const struct rustls_client_hello *h) {
	return grHello((uintptr_t)userdata, (char *)h->server_name.data, h->server_name.len,
	               (uint16_t *)h->signature_schemes.data, h->signature_schemes.len,
	               (struct rustls_slice_slice_bytes *)h->alpn);
}
