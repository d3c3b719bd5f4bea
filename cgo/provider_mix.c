// Crypto-provider set-up: the process default when librustls carries both
// aws-lc-rs and ring, and the aws-lc-rs provider with ring's AES-GCM.
#include "gorustls_shim.h"

// rustls.h declares ring's constructor only when the build selects ring
// (DEFINE_RING). The bundled aws-lc-rs librustls carries ring too, and its
// rustls.pc says so (GORUSTLS_LIBRUSTLS_HAS_RING): declare it plainly then,
// so the link always pulls it in. For any other librustls (a system
// install) declare it weak: it resolves to NULL when that library lacks it
// (or when the linker does not pull in the archive member that defines it),
// and RingAESGCMProvider then reports that it is unavailable.
#if defined(DEFINE_AWS_LC_RS) && !defined(DEFINE_RING)
#if defined(GORUSTLS_LIBRUSTLS_HAS_RING)
const struct rustls_crypto_provider *rustls_ring_crypto_provider(void);
#else
const struct rustls_crypto_provider *rustls_ring_crypto_provider(void) __attribute__((weak));
#endif
#endif

int gr_provider_has_ring_aes_gcm(void) {
#if defined(DEFINE_AWS_LC_RS) && defined(GORUSTLS_LIBRUSTLS_HAS_RING)
	return 1;
#elif defined(DEFINE_AWS_LC_RS)
	return rustls_ring_crypto_provider != NULL;
#else
	return 0; // the ring build has no aws-lc-rs
#endif
}

uint32_t gr_provider_install_default(void) {
	// rustls-ffi picks a process default from its crate features only when
	// exactly one provider is compiled in; with both it has none. Install
	// aws-lc-rs unless a default is already set.
#if defined(DEFINE_AWS_LC_RS)
	// Whether or not ring is there: with aws-lc-rs alone this is the
	// provider rustls-ffi would install on first use anyway.
	const struct rustls_crypto_provider *cur = rustls_crypto_provider_default();
	if (cur != NULL) {
		rustls_crypto_provider_free(cur);
		return RUSTLS_RESULT_OK;
	}
	const struct rustls_crypto_provider *aws = rustls_aws_lc_rs_crypto_provider();
	struct rustls_crypto_provider_builder *b = rustls_crypto_provider_builder_new_with_base(aws);
	rustls_crypto_provider_free(aws); // the builder holds its own reference
	if (b == NULL) return RUSTLS_RESULT_GENERAL;
	uint32_t r = rustls_crypto_provider_builder_build_as_default(b);
	rustls_crypto_provider_builder_free(b);
	if (r == RUSTLS_RESULT_ALREADY_USED) r = RUSTLS_RESULT_OK; // another caller won
	return r;
#else
	return RUSTLS_RESULT_OK;
#endif
}

static int gr_is_aes_gcm(uint16_t id) {
	switch (id) {
	case 0x1301: // TLS13_AES_128_GCM_SHA256
	case 0x1302: // TLS13_AES_256_GCM_SHA384
	case 0xc02b: // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
	case 0xc02c: // TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
	case 0xc02f: // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
	case 0xc030: // TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
		return 1;
	}
	return 0;
}

#define GR_MAX_SUITES 64

uint32_t gr_provider_ring_aes_gcm(const struct rustls_crypto_provider **out, size_t *replaced) {
	*out = NULL;
	*replaced = 0;
#if defined(DEFINE_AWS_LC_RS)
	if (!gr_provider_has_ring_aes_gcm()) return RUSTLS_RESULT_NOT_FOUND;
	// aws-lc-rs by name (with post-quantum key exchange preferred, as the
	// default), whatever the process default is.
	const struct rustls_crypto_provider *base = rustls_aws_lc_rs_crypto_provider();
	const struct rustls_crypto_provider *ring = rustls_ring_crypto_provider();
	const struct rustls_supported_ciphersuite *suites[GR_MAX_SUITES];
	size_t n = rustls_crypto_provider_ciphersuites_len(base), k = 0;
	size_t rn = rustls_crypto_provider_ciphersuites_len(ring);
	for (size_t i = 0; i < n && k < GR_MAX_SUITES; i++) {
		const struct rustls_supported_ciphersuite *s = rustls_crypto_provider_ciphersuites_get(base, i);
		if (s == NULL) continue;
		uint16_t id = rustls_supported_ciphersuite_get_suite(s);
		if (gr_is_aes_gcm(id)) {
			for (size_t j = 0; j < rn; j++) {
				const struct rustls_supported_ciphersuite *t = rustls_crypto_provider_ciphersuites_get(ring, j);
				if (t != NULL && rustls_supported_ciphersuite_get_suite(t) == id) {
					s = t;
					(*replaced)++;
					break;
				}
			}
		}
		suites[k++] = s;
	}
	uint32_t r = RUSTLS_RESULT_GENERAL;
	struct rustls_crypto_provider_builder *b = rustls_crypto_provider_builder_new_with_base(base);
	if (b != NULL) {
		// The builder copies the suites: base and ring may be freed after.
		r = rustls_crypto_provider_builder_set_cipher_suites(b, suites, k);
		if (r == RUSTLS_RESULT_OK) r = rustls_crypto_provider_builder_build(b, out);
		rustls_crypto_provider_builder_free(b);
	}
	rustls_crypto_provider_free(ring);
	rustls_crypto_provider_free(base);
	return r;
#else
	return RUSTLS_RESULT_NOT_FOUND;
#endif
}
