/*
 * signature.h: the Paddle-Signature header, without Lua.
 *
 *   Paddle-Signature: ts=1671552777;h1=eb4d0dc8...;h1=...
 *
 * Paddle signs `ts ":" raw_body` with HMAC-SHA256 keyed by the notification
 * destination's secret and sends the digest as lowercase hex in h1 (several
 * h1 while a secret is being rotated). This file parses the header into a
 * fixed-size struct (no allocation; oversized headers are rejected as
 * malformed), and computes and compares digests. It links alone with
 * -lcrypto, so the fuzz target and the Lua binding share exactly this code.
 */
#ifndef PADDLE_SIGNATURE_H
#define PADDLE_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

/* Not exported from paddle.core, even by builds without -fvisibility=hidden. */
#pragma GCC visibility push(hidden)

#define PADDLE_SIG_MAX_HEADER 4096 /* longer headers are malformed */
#define PADDLE_SIG_MAX_H1 8        /* more h1 entries are malformed */
#define PADDLE_SIG_MAX_TS 20       /* digits; INT64_MAX has 19 */
#define PADDLE_SIG_HEX_LEN 64      /* HMAC-SHA256 as hex */
#define PADDLE_SIG_DEFAULT_TOLERANCE 5 /* seconds, both directions */

typedef enum {
  PADDLE_SIG_OK = 0,
  PADDLE_SIG_MISSING,   /* header absent, empty or only blanks */
  PADDLE_SIG_MALFORMED, /* not ts=<digits>;h1=<64 hex>[;h1=...] */
  PADDLE_SIG_TIME,      /* authentic, but ts too far from now */
  PADDLE_SIG_MISMATCH,  /* no h1 matches any secret */
  PADDLE_SIG_INTERNAL   /* OpenSSL failed */
} paddle_sig_status;

typedef struct {
  int64_t ts;
  size_t ts_len;                       /* ts exactly as sent: it is signed */
  char ts_text[PADDLE_SIG_MAX_TS + 1]; /* NUL-terminated */
  int n_h1;
  char h1[PADDLE_SIG_MAX_H1][PADDLE_SIG_HEX_LEN]; /* lowercased, no NUL */
} paddle_sig;

/* Parses header[0..len). On failure *why (if not NULL) gets a static reason. */
paddle_sig_status paddle_sig_parse(const char *header, size_t len, paddle_sig *sig,
                                   const char **why);

/* Bytes of the signed message `ts ":" body`, or 0 when that overflows size_t. */
size_t paddle_sig_message_size(const paddle_sig *sig, size_t body_len);

/* Writes `ts ":" body` into buf (paddle_sig_message_size bytes). */
void paddle_sig_message(const paddle_sig *sig, const void *body, size_t body_len,
                        unsigned char *buf);

/* HMAC-SHA256(key, msg) as lowercase hex (no NUL). Returns 0 if OpenSSL fails. */
int paddle_sig_hmac_hex(const void *key, size_t key_len, const void *msg, size_t msg_len,
                        char hex[PADDLE_SIG_HEX_LEN]);

/*
 * A keyed HMAC-SHA256 context: the key schedule runs once, in
 * paddle_sig_key_new, and each paddle_sig_key_hex restarts from the keyed
 * state (2x faster than the one-shot HMAC for a 1 KiB body). It holds
 * secret-derived state: free it with paddle_sig_key_free, which wipes it.
 * Not for concurrent use from several threads.
 */
typedef struct paddle_sig_key paddle_sig_key;

/* NULL when OpenSSL fails (or key_len is absurd). */
paddle_sig_key *paddle_sig_key_new(const void *key, size_t key_len);

/* Wipes and frees; NULL is a no-op. */
void paddle_sig_key_free(paddle_sig_key *k);

/* HMAC-SHA256(key, sig->ts_text ":" body) as lowercase hex, without building
 * the message. Returns 0 if OpenSSL fails. */
int paddle_sig_key_hex(paddle_sig_key *k, const paddle_sig *sig, const void *body, size_t body_len,
                       char hex[PADDLE_SIG_HEX_LEN]);

/* 1 when any h1 equals hex; every h1 is compared in constant time. */
int paddle_sig_matches(const paddle_sig *sig, const char hex[PADDLE_SIG_HEX_LEN]);

/*
 * PADDLE_SIG_OK when floor(now) is within tolerance seconds of ts in either
 * direction (both bounds included), PADDLE_SIG_TIME otherwise. *age gets
 * floor(now) - ts (negative for a future timestamp).
 */
paddle_sig_status paddle_sig_check_time(const paddle_sig *sig, double now, double tolerance,
                                        double *age);

#pragma GCC visibility pop

#endif
