/*
 * session.h: a client's API key and its retry/pacing state, shared by
 * paddle.core (which creates sessions) and paddle.curl (which sends the
 * key). The struct lives in a Lua userdata; the Authorization line and the
 * pacing ring are malloc'd into it and freed by its __gc.
 *
 * Two shared objects read this struct, so it carries an ABI number at a
 * fixed place: paddle.curl checks it before touching anything else, and a
 * paddle.curl built against another layout fails clearly instead of
 * misreading memory. Change PADDLE_SESSION_ABI whenever the struct changes.
 */
#ifndef PADDLE_SESSION_H
#define PADDLE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#define PADDLE_SESSION_MT "paddle.Session"
#define PADDLE_SESSION_ABI 0x70640002u /* "pd", layout 2 */
#define PADDLE_AUTH_PREFIX "Authorization: Bearer "

/* Bounds C enforces on session options (checked before any cast). */
#define PADDLE_MAX_RETRIES_MAX 1000
#define PADDLE_RATE_REQUESTS_MAX 100000
#define PADDLE_SECONDS_MAX 86400.0

typedef struct paddle_session {
  uint32_t abi;         /* PADDLE_SESSION_ABI; first, whatever the layout */
  /* The one copy of the key: the whole header line "Authorization: Bearer
   * <key>", NUL-terminated, made when the session is; the libcurl transport
   * hands this line itself to libcurl. Wiped before free. */
  char *auth_line;
  size_t auth_len;
  const char *key;      /* the key inside auth_line; NULL once closed */
  size_t key_len;
  int max_retries;      /* retries after the first attempt */
  double max_retry_wait;/* longest wait (s) a retry or a 429 block may cost */
  double backoff_base;  /* first backoff ceiling (s); doubles per attempt */
  int rate_requests;    /* pacing: at most this many sends ... */
  double rate_per;      /* ... in any window of this many seconds; 0 = off */
  double *sent_at;      /* ring of the last rate_requests send times */
  int sent_count;
  int sent_next;
  double blocked_until; /* after a 429: no send before this time */
  uint64_t rng;         /* xorshift state for backoff jitter */
} paddle_session;

#endif
