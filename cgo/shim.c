// Batched C shims over rustls-ffi: see include/gorustls_shim.h.
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "gorustls_shim.h"

// A source of ciphertext for read_tls: copies from in[off:len].
typedef struct gr_src {
	const uint8_t *p;
	size_t len;
	size_t off;
} gr_src;

// A sink for write_tls: copies into p[len:cap].
typedef struct gr_dst {
	uint8_t *p;
	size_t cap;
	size_t len;
} gr_dst;

static rustls_io_result gr_src_read(void *ud, uint8_t *buf, size_t n, size_t *out_n) {
	gr_src *s = (gr_src *)ud;
	size_t k = s->len - s->off;
	if (k > n) k = n;
	if (k == 0) {
		// Reporting 0 would mean transport EOF: callers never call us empty.
		*out_n = 0;
		return EAGAIN;
	}
	memcpy(buf, s->p + s->off, k);
	s->off += k;
	*out_n = k;
	return 0;
}

static rustls_io_result gr_eof_read(void *ud, uint8_t *buf, size_t n, size_t *out_n) {
	(void)ud; (void)buf; (void)n;
	*out_n = 0; // transport EOF
	return 0;
}

static rustls_io_result gr_dst_write(void *ud, const uint8_t *buf, size_t n, size_t *out_n) {
	gr_dst *d = (gr_dst *)ud;
	size_t k = d->cap - d->len;
	if (k > n) k = n;
	if (k == 0) {
		*out_n = 0;
		return EAGAIN;
	}
	memcpy(d->p + d->len, buf, k);
	d->len += k;
	*out_n = k;
	return 0;
}

static uint32_t gr_flags(const struct rustls_connection *conn) {
	uint32_t f = 0;
	if (rustls_connection_wants_write(conn)) f |= GR_WANTS_WRITE;
	if (rustls_connection_is_handshaking(conn)) f |= GR_HANDSHAKING;
	if (rustls_connection_wants_read(conn)) f |= GR_WANTS_READ;
	return f;
}

// Feeds one read_tls worth of ciphertext (or the EOF) and processes it.
// Returns RUSTLS_RESULT_OK, a rustls error, or RUSTLS_RESULT_IO with errno set.
static uint32_t gr_feed_once(struct rustls_connection *conn, gr_src *src, int *eof, gr_io *r) {
	size_t got = 0;
	rustls_io_result e;
	if (src->off < src->len) {
		e = rustls_connection_read_tls(conn, gr_src_read, src, &got);
	} else if (*eof) {
		e = rustls_connection_read_tls(conn, gr_eof_read, NULL, &got);
		*eof = 0;
	} else {
		return RUSTLS_RESULT_PLAINTEXT_EMPTY;
	}
	if (e != 0) {
		r->io_errno = e;
		return RUSTLS_RESULT_IO;
	}
	return rustls_connection_process_new_packets(conn);
}

static size_t gr_drain_into(struct rustls_connection *conn, gr_dst *d, gr_io *r) {
	size_t total = 0;
	while (d->len < d->cap && rustls_connection_wants_write(conn)) {
		size_t k = 0;
		rustls_io_result e = rustls_connection_write_tls(conn, gr_dst_write, d, &k);
		if (e != 0 && e != EAGAIN) {
			r->io_errno = e;
			break;
		}
		if (k == 0) break;
		total += k;
	}
	return total;
}

gr_io gr_conn_read(struct rustls_connection *conn, uint8_t *buf, size_t cap,
                   uint8_t *spill, size_t spill_cap,
                   const uint8_t *in, size_t in_len, int eof) {
	gr_io r = {0};
	gr_src src = {in, in_len, 0};
	size_t total = 0;
	// A record that failed to process. rustls keeps the plaintext of the
	// records before it readable, but re-reports the (sticky) error only
	// from process_new_packets, which needs input to run: so the error is
	// returned together with that plaintext, and no more input is fed.
	uint32_t failed = RUSTLS_RESULT_OK;
	int queued = rustls_connection_wants_write(conn);
	r.result = RUSTLS_RESULT_OK;
	while (total < cap) {
		size_t n = 0;
		rustls_result rr = rustls_connection_read(conn, buf + total, cap - total, &n);
		if (rr == RUSTLS_RESULT_OK) {
			if (n == 0) {
				// With plaintext in hand, report the close_notify on the
				// next call (GR_MORE_PLAIN makes the caller come back).
				if (total == 0) r.flags |= GR_CLOSE_NOTIFY;
				else r.flags |= GR_MORE_PLAIN;
				break;
			}
			total += n;
			continue;
		}
		if (rr != RUSTLS_RESULT_PLAINTEXT_EMPTY) {
			// Hand back the plaintext we have; the error repeats next call
			// (GR_MORE_PLAIN makes the caller come back for it).
			if (total == 0) r.result = rr;
			else r.flags |= GR_MORE_PLAIN;
			break;
		}
		if (failed != RUSTLS_RESULT_OK) break; // all plaintext before the bad record is out
		rr = gr_feed_once(conn, &src, &eof, &r);
		if (rr == RUSTLS_RESULT_PLAINTEXT_EMPTY) {
			if (total == 0) r.result = rr;
			break;
		}
		if (rr == RUSTLS_RESULT_IO) {
			r.result = rr;
			break;
		}
		if (rr != RUSTLS_RESULT_OK) failed = rr; // read out what came before it first
	}
	if (total == cap) {
		// buf is full and rustls may hold more plaintext: move it into
		// spill (without feeding more input), so that the caller learns
		// whether rustls is empty and need not probe it with another call.
		size_t sp = 0;
		int more = 1;
		while (sp < spill_cap) {
			size_t n = 0;
			rustls_result rr = rustls_connection_read(conn, spill + sp, spill_cap - sp, &n);
			if (rr == RUSTLS_RESULT_OK && n > 0) {
				sp += n;
				continue;
			}
			// PLAINTEXT_EMPTY: nothing left. A close_notify (OK, 0) or an
			// error is reported by the next call (GR_MORE_PLAIN).
			if (rr == RUSTLS_RESULT_PLAINTEXT_EMPTY) more = 0;
			break;
		}
		r.out = sp;
		if (more) r.flags |= GR_MORE_PLAIN;
	}
	if (failed != RUSTLS_RESULT_OK) r.result = failed;
	r.n = total;
	r.consumed = src.off;
	r.flags |= gr_flags(conn);
	if (!queued && (r.flags & GR_WANTS_WRITE)) r.flags |= GR_NEW_OUTPUT;
	return r;
}

gr_io gr_conn_feed(struct rustls_connection *conn, const uint8_t *in, size_t in_len, int eof) {
	gr_io r = {0};
	gr_src src = {in, in_len, 0};
	r.result = RUSTLS_RESULT_OK;
	while (rustls_connection_is_handshaking(conn)) {
		uint32_t rr = gr_feed_once(conn, &src, &eof, &r);
		if (rr == RUSTLS_RESULT_PLAINTEXT_EMPTY) break; // input used up
		if (rr != RUSTLS_RESULT_OK) {
			r.result = rr;
			break;
		}
	}
	r.consumed = src.off;
	r.flags = gr_flags(conn);
	return r;
}

// The most iovecs one sendmsg takes here (rustls passes at most 64).
#define GR_MAX_IOV 64

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 // not on every platform; Go ignores SIGPIPE on sockets anyway
#endif

// write_tls_vectored callback: sends the records straight to the socket fd
// points at. MSG_NOSIGNAL: a reset peer gives EPIPE, not a SIGPIPE. One
// buffer (one record queued: every small write) goes with send(), which
// spares the kernel copying in and checking a msghdr and an iovec array
// (about a tenth of a small send's system-call cost in perf here); several
// go with one sendmsg.
static rustls_io_result gr_fd_sendv(void *ud, const struct rustls_iovec *iov, size_t count, size_t *out_n) {
	int fd = *(const int *)ud;
	struct msghdr msg;
	// rustls_iovec is struct iovec on Unix (rustls.h says to cast).
	const struct iovec *v = (const struct iovec *)iov;
	if (count != 1) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = (struct iovec *)v;
		msg.msg_iovlen = count < GR_MAX_IOV ? count : GR_MAX_IOV;
	}
	for (;;) {
		ssize_t n = count == 1 ? send(fd, v[0].iov_base, v[0].iov_len, MSG_NOSIGNAL | MSG_DONTWAIT)
		                       : sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0) {
			*out_n = (size_t)n;
			return 0;
		}
		if (errno != EINTR) {
			*out_n = 0;
			return errno == EWOULDBLOCK ? EAGAIN : errno;
		}
	}
}

// Sends what rustls has queued to fd, until the queue is empty, at least
// budget bytes went, or the socket refuses (io_errno EAGAIN) or fails.
// Returns the bytes sent.
static size_t gr_drain_fd(struct rustls_connection *conn, int fd, size_t budget, gr_io *r) {
	size_t total = 0;
	while (total < budget && rustls_connection_wants_write(conn)) {
		size_t k = 0;
		rustls_io_result e = rustls_connection_write_tls_vectored(conn, gr_fd_sendv, &fd, &k);
		if (e != 0) {
			r->io_errno = e;
			break;
		}
		if (k == 0) {
			// A stream socket that accepts 0 bytes of a non-empty write:
			// report it as full rather than spin.
			r->io_errno = EAGAIN;
			break;
		}
		total += k;
	}
	return total;
}

// Moves queued ciphertext out of rustls: straight to fd while the socket
// takes it (*direct set; never when fd < 0), then, once it is full, by copying into d for the
// caller to write. Nothing is sent directly after bytes went into d, so the
// stream keeps its order. Direct sends stop once d->cap bytes went (checked
// between write_tls_vectored calls, each of which sends what rustls has
// queued, at most its buffer limit); copying stops when d is full. So one
// call moves at most about twice d->cap with the default buffer limit, and
// the C call, and the locks its caller holds, stay short whatever the
// write size. Returns the bytes moved either way.
static size_t gr_send_or_copy(struct rustls_connection *conn, int fd, int *direct, gr_dst *d, gr_io *r) {
	size_t moved = 0;
	if (*direct && d->len == 0) {
		size_t budget = r->consumed < d->cap ? d->cap - r->consumed : 0;
		size_t k = gr_drain_fd(conn, fd, budget, r);
		moved += k;
		r->consumed += k;
		if (r->io_errno != EAGAIN) return moved; // queue empty, budget spent, or a socket error
		r->io_errno = 0;
	}
	*direct = 0;
	moved += gr_drain_into(conn, d, r);
	return moved;
}

// gr_spent reports whether a call has moved its share (see gr_send_or_copy).
static int gr_spent(const gr_io *r, const gr_dst *d) {
	return r->consumed + d->len >= d->cap;
}

gr_io gr_conn_write(struct rustls_connection *conn, const uint8_t *buf, size_t len, int fd,
                    uint8_t *out, size_t out_cap, int drain) {
	gr_io r = {0};
	gr_dst d = {out, out_cap, 0};
	size_t acc = 0;
	int direct = fd >= 0;
	r.result = RUSTLS_RESULT_OK;
	for (;;) {
		size_t n = 0;
		if (acc < len) {
			rustls_result rr = rustls_connection_write(conn, buf + acc, len - acc, &n);
			if (rr != RUSTLS_RESULT_OK) {
				r.result = rr;
				break;
			}
			acc += n;
		}
		if (acc == len && !drain) break;
		size_t moved = gr_send_or_copy(conn, fd, &direct, &d, &r);
		if (r.io_errno) break;
		// The caller comes back for the rest (its loop, or Flush's).
		if (gr_spent(&r, &d)) break;
		if (acc == len) {
			if (!rustls_connection_wants_write(conn)) break;
			continue;
		}
		// rustls refused plaintext and nothing moved: stop.
		if (n == 0 && moved == 0) break;
	}
	r.n = acc;
	r.out = d.len;
	r.flags = gr_flags(conn);
	return r;
}

gr_io gr_conn_drain(struct rustls_connection *conn, int fd, uint8_t *out, size_t out_cap, int what) {
	gr_io r = {0};
	gr_dst d = {out, out_cap, 0};
	int direct = fd >= 0;
	r.result = RUSTLS_RESULT_OK;
	switch (what) {
	case GR_QUEUE_CLOSE_NOTIFY:
		rustls_connection_send_close_notify(conn);
		break;
	case GR_QUEUE_KEY_UPDATE:
		r.result = rustls_connection_refresh_traffic_keys(conn);
		break;
	}
	gr_send_or_copy(conn, fd, &direct, &d, &r);
	r.out = d.len;
	r.flags = gr_flags(conn);
	return r;
}

static size_t gr_copy_str(struct rustls_str s, void *dst, size_t cap) {
	size_t n = s.len < cap ? s.len : cap;
	if (n && s.data) memcpy(dst, s.data, n);
	return n;
}

void gr_conn_state(const struct rustls_connection *conn, int server, gr_state *st) {
	memset(st, 0, sizeof(*st));
	st->version = rustls_connection_get_protocol_version(conn);
	st->suite = rustls_connection_get_negotiated_ciphersuite(conn);
	st->group = rustls_connection_get_negotiated_key_exchange_group(conn);
	st->handshake_kind = (uint16_t)rustls_connection_handshake_kind(conn);
	const uint8_t *alpn = NULL;
	size_t alpn_len = 0;
	rustls_connection_get_alpn_protocol(conn, &alpn, &alpn_len);
	if (alpn && alpn_len <= sizeof(st->alpn)) {
		memcpy(st->alpn, alpn, alpn_len);
		st->alpn_len = alpn_len;
	}
	if (server) {
		st->sni_len = gr_copy_str(rustls_server_connection_get_server_name(conn), st->sni, sizeof(st->sni));
	}
	st->suite_name_len = gr_copy_str(rustls_connection_get_negotiated_ciphersuite_name(conn),
	                                 st->suite_name, sizeof(st->suite_name));
	st->group_name_len = gr_copy_str(rustls_connection_get_negotiated_key_exchange_group_name(conn),
	                                 st->group_name, sizeof(st->group_name));
}

size_t gr_conn_peer_cert(const struct rustls_connection *conn, size_t i, uint8_t *out, size_t cap) {
	const struct rustls_certificate *c = rustls_connection_get_peer_certificate(conn, i);
	if (!c) return 0;
	const uint8_t *der = NULL;
	size_t len = 0;
	if (rustls_certificate_get_der(c, &der, &len) != RUSTLS_RESULT_OK || !der) return 0;
	if (out && len <= cap) memcpy(out, der, len);
	return len;
}

gr_io gr_acceptor_feed(struct rustls_acceptor *acc, const uint8_t *in, size_t in_len, int eof) {
	gr_io r = {0};
	gr_src src = {in, in_len, 0};
	size_t got = 0;
	rustls_io_result e = 0;
	r.result = RUSTLS_RESULT_OK;
	if (in_len > 0) {
		e = rustls_acceptor_read_tls(acc, gr_src_read, &src, &got);
	} else if (eof) {
		e = rustls_acceptor_read_tls(acc, gr_eof_read, NULL, &got);
	}
	if (e != 0) {
		r.io_errno = e;
		r.result = RUSTLS_RESULT_IO;
	}
	r.consumed = src.off;
	return r;
}

gr_io gr_alert_drain(struct rustls_accepted_alert *alert, uint8_t *out, size_t out_cap) {
	gr_io r = {0};
	gr_dst d = {out, out_cap, 0};
	r.result = RUSTLS_RESULT_OK;
	for (;;) {
		size_t k = 0;
		rustls_io_result e = rustls_accepted_alert_write_tls(alert, gr_dst_write, &d, &k);
		if (e != 0 || k == 0) break;
	}
	r.out = d.len;
	return r;
}


void gr_conn_set_userdata(struct rustls_connection *conn, uintptr_t handle) {
	// An integer handle into Go's cgo.Handle table, never a Go pointer.
	rustls_connection_set_userdata(conn, (void *)handle);
}
