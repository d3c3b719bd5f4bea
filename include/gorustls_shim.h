/*
 * gorustls C shims over rustls-ffi 0.15.x.
 *
 * Batched calls that let the Go side drive a rustls_connection with at most
 * one cgo call per Read or Write. Every read/write callback here copies to or
 * from a (pointer, length) descriptor that lives on the C stack for the
 * duration of one call: no Go callback and no Go pointer is ever stored.
 */
#ifndef GORUSTLS_SHIM_H
#define GORUSTLS_SHIM_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <rustls.h>

#if !defined(RUSTLS_VERSION_MAJOR) || !defined(RUSTLS_VERSION_MINOR)
#error "gorustls: rustls.h defines no RUSTLS_VERSION_MAJOR/MINOR; gorustls needs rustls-ffi 0.15.x"
#elif RUSTLS_VERSION_MAJOR != 0 || RUSTLS_VERSION_MINOR != 15
#error "gorustls: this rustls.h is not rustls-ffi 0.15.x; gorustls is written against the 0.15 C ABI"
#endif

/* 1 when librustls was built with rustls's certificate compression (brotli
 * and zlib, RFC 8879): build/librustls.sh puts the define in rustls.pc's
 * Cflags. rustls-ffi itself has no way to tell. */
#if defined(GORUSTLS_LIBRUSTLS_CERT_COMPRESSION)
#define GR_CERT_COMPRESSION 1
#else
#define GR_CERT_COMPRESSION 0
#endif

/* Flags reported by every connection shim (gr_io.flags). */
#define GR_WANTS_WRITE   0x01u /* ciphertext is waiting in rustls's outgoing buffer */
#define GR_HANDSHAKING   0x02u /* the handshake is not complete yet */
#define GR_CLOSE_NOTIFY  0x04u /* the peer's close_notify was received (clean EOF) */
#define GR_MORE_PLAIN    0x08u /* call again before reading the transport: the caller's buffer
                                 filled, or a close_notify or error follows the data returned */
#define GR_WANTS_READ    0x10u
#define GR_NEW_OUTPUT    0x20u /* gr_conn_read: the call queued records (alerts, KeyUpdate
                                 replies, tickets) while nothing was queued before */

/* Result of one batched connection call, returned by value so that the Go
 * side takes no address of its locals (which would make them escape). */
typedef struct gr_io {
	uint32_t result;   /* rustls_result, RUSTLS_RESULT_OK (7000) when fine */
	uint32_t flags;    /* GR_* flags, sampled after the call */
	int32_t  io_errno; /* errno from read_tls/write_tls, 0 when none */
	uint32_t _pad;
	size_t   n;        /* plaintext bytes read or accepted */
	size_t   consumed; /* ciphertext bytes consumed from the input */
	size_t   out;      /* ciphertext bytes written into the output buffer */
} gr_io;

/* Feeds ciphertext (and, when eof is set and all input is consumed, the
 * transport's EOF) and reads up to cap bytes of plaintext into buf (count in
 * n). When buf fills, further plaintext rustls already holds goes into
 * spill[0:spill_cap] (count in out), so that GR_MORE_PLAIN is set only when
 * rustls may still hold plaintext (or has a close_notify or error to report)
 * and the caller never needs a second call to find out.
 *
 * When a record fails to process, result is that error and n/out carry the
 * plaintext of the records before it (GR_MORE_PLAIN: rustls holds more of
 * it); the caller delivers that plaintext, then the error. After such a
 * failure pass no more input: rustls would not report the error again
 * unless process_new_packets ran. RUSTLS_RESULT_IO (read_tls failed) may
 * also come with plaintext. */
gr_io gr_conn_read(struct rustls_connection *conn, uint8_t *buf, size_t cap,
                   uint8_t *spill, size_t spill_cap,
                   const uint8_t *in, size_t in_len, int eof);

/* Feeds ciphertext while the connection is handshaking, without reading
 * plaintext; stops feeding once the handshake completes. */
gr_io gr_conn_feed(struct rustls_connection *conn, const uint8_t *in, size_t in_len, int eof);

/* Output. Ciphertext rustls queues is moved out in one of two ways. With
 * fd < 0 it is copied into out[0:out_cap] (count in out) for the caller to
 * write. With fd a connected, non-blocking stream socket it is first sent
 * straight from rustls's own buffers to fd (one send, or one sendmsg when
 * several records are queued, with MSG_NOSIGNAL, through
 * rustls_connection_write_tls_vectored;
 * count in consumed); once the socket is full (EAGAIN) the rest is copied
 * into out as above, and nothing more is sent directly in that call, so the
 * caller writes out with its own (blocking, deadline-aware) I/O. A call
 * stops sending directly once out_cap bytes went and stops copying when out
 * is full; the caller calls again for the rest. The caller passes an fd
 * only when it has nothing of its own waiting to be written, and keeps it
 * open for the call. io_errno is a failed send's errno. */

/* Hands plaintext to rustls. When rustls refuses more (its buffer limit) or
 * drain is set, moves ciphertext out. Stops when all plaintext is accepted
 * (and, with drain, moved out) or the call has moved its share. */
gr_io gr_conn_write(struct rustls_connection *conn, const uint8_t *buf, size_t len, int fd,
                    uint8_t *out, size_t out_cap, int drain);

#define GR_QUEUE_NONE         0
#define GR_QUEUE_CLOSE_NOTIFY 1
#define GR_QUEUE_KEY_UPDATE   2 /* TLS 1.3 only: result reports a refusal */

/* Queues what (a GR_QUEUE_* record), then moves out what rustls holds. */
gr_io gr_conn_drain(struct rustls_connection *conn, int fd, uint8_t *out, size_t out_cap, int what);

/* Sets the connection's userdata to an integer handle. */
void gr_conn_set_userdata(struct rustls_connection *conn, uintptr_t handle);

/* Snapshot of the negotiated parameters, copied out in one call. */
typedef struct gr_state {
	uint16_t version;
	uint16_t suite;
	uint16_t group;
	uint16_t handshake_kind;
	size_t   alpn_len;
	size_t   sni_len;
	size_t   suite_name_len;
	size_t   group_name_len;
	uint8_t  alpn[256];
	uint8_t  sni[256];
	char     suite_name[96];
	char     group_name[64];
} gr_state;

void gr_conn_state(const struct rustls_connection *conn, int server, gr_state *st);

/* Copies the DER of peer certificate i into out (if it fits). Returns its
 * length, or 0 when there is no certificate i. */
size_t gr_conn_peer_cert(const struct rustls_connection *conn, size_t i, uint8_t *out, size_t cap);

/* The ClientHello path: feed, then try to accept. */
gr_io gr_acceptor_feed(struct rustls_acceptor *acc, const uint8_t *in, size_t in_len, int eof);
/* Writes an accepted_alert's bytes into out. */
gr_io gr_alert_drain(struct rustls_accepted_alert *alert, uint8_t *out, size_t out_cap);

/* Providers (cgo/provider_mix.c). When librustls carries both aws-lc-rs
 * and ring (the bundled default build), rustls-ffi has no default provider
 * of its own: gr_provider_install_default installs aws-lc-rs (a no-op
 * otherwise). gr_provider_ring_aes_gcm builds the default provider with
 * each AES-GCM suite replaced by ring's implementation of the same suite
 * (count in *replaced); RUSTLS_RESULT_NOT_FOUND when librustls lacks one of
 * the two providers. */
int gr_provider_has_ring_aes_gcm(void);
uint32_t gr_provider_install_default(void);
uint32_t gr_provider_ring_aes_gcm(const struct rustls_crypto_provider **out, size_t *replaced);

/* Key-log trampolines: rustls-ffi passes no userdata to key-log callbacks, so
 * every config that logs keys gets one of GR_KEYLOG_SLOTS distinct C
 * functions, each of which forwards its slot number to Go. */
#define GR_KEYLOG_SLOTS 256
rustls_keylog_log_callback gr_keylog_slot(int slot);

/* Callbacks into Go, installed by the config builders. */
uint32_t gr_verify_server_cert_cb(void *userdata, const struct rustls_verify_server_cert_params *params);
void gr_log_cb(void *userdata, const struct rustls_log_params *params);
uint32_t gr_session_get_cb(void *userdata, const struct rustls_slice_bytes *key, int remove_after,
                           uint8_t *buf, size_t count, size_t *out_n);
uint32_t gr_session_put_cb(void *userdata, const struct rustls_slice_bytes *key,
                           const struct rustls_slice_bytes *val);
const struct rustls_certified_key *gr_hello_cb(void *userdata, const struct rustls_client_hello *hello);

/* Session persistence that keeps nothing (ServerOptions.SessionTicketsDisabled):
 * plain C, no call into Go. get finds nothing; put stores nothing. */
uint32_t gr_session_none_get_cb(void *userdata, const struct rustls_slice_bytes *key, int remove_after,
                                uint8_t *buf, size_t count, size_t *out_n);
uint32_t gr_session_none_put_cb(void *userdata, const struct rustls_slice_bytes *key,
                                const struct rustls_slice_bytes *val);

#endif
