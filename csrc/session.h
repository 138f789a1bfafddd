/*
 * session.h: a client's API key and its retry/pacing state, shared by
 * paddle.core (which creates sessions) and paddle.curl (which reads the key
 * to send it). The struct lives in a Lua userdata; the key and the pacing
 * ring are malloc'd into it and freed by its __gc.
 */
#ifndef PADDLE_SESSION_H
#define PADDLE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#define PADDLE_SESSION_MT "paddle.Session"

typedef struct paddle_session {
  char *key;            /* API key bytes, NUL-terminated; wiped before free */
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
