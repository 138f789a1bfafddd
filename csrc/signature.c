/*
 * signature.c: parse Paddle-Signature, compute and compare HMAC-SHA256.
 * Pure C over OpenSSL's libcrypto; see signature.h.
 *
 * Grammar accepted (blanks are SP and HTAB):
 *   header = entry *( ";" entry )
 *   entry  = *blank [ key *blank "=" *blank value *blank ]
 *   key    = 1*( ALPHA / DIGIT / "_" / "-" / "." )
 * Keys are case-sensitive; "ts" must appear once (1-20 digits, at most
 * INT64_MAX), "h1" one to PADDLE_SIG_MAX_H1 times (64 hex digits, either
 * case); other keys are ignored so that Paddle can add signature versions.
 * Empty entries (";;", a trailing ";") are skipped. Only printable ASCII and
 * HTAB may appear anywhere in the header.
 */
#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "signature.h"

static const char hex_lower[] = "0123456789abcdef";

static paddle_sig_status fail(const char **why, paddle_sig_status st, const char *reason) {
  if (why != NULL) *why = reason;
  return st;
}

/*
 * Byte classes, by table: a branch per class test would mispredict on
 * random hex digits (half digits, half letters) and cost more than the rest
 * of the parse. Bytes 0x80-0xff are 0 (invalid), like controls but HTAB.
 */
enum { C_BLANK = 1, C_KEY = 2, C_DIGIT = 4, C_HEX = 8, C_VALUE = 16 };

static const unsigned char byte_class[256] = {
  /* 0x00-0x7f. 17: SP, HTAB; 16: other printable; 18: key punctuation and
   * letters; 26: hex letters; 30: digits; 0: controls, ';' and DEL. */
   0,  0,  0,  0,  0,  0,  0,  0,  0, 17,  0,  0,  0,  0,  0,  0,
   0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
  17, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 18, 18, 16,
  30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 16,  0, 16, 16, 16, 16,
  16, 26, 26, 26, 26, 26, 26, 18, 18, 18, 18, 18, 18, 18, 18, 18,
  18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 16, 16, 16, 16, 18,
  16, 26, 26, 26, 26, 26, 26, 18, 18, 18, 18, 18, 18, 18, 18, 18,
  18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 16, 16, 16, 16,  0,
};

static int is_blank(unsigned char c) { return byte_class[c] & C_BLANK; }
static int is_digit(unsigned char c) { return byte_class[c] & C_DIGIT; }
static int is_key(unsigned char c) { return byte_class[c] & C_KEY; }
static int is_value(unsigned char c) { return byte_class[c] & C_VALUE; }

#define SKIP(p, end, pred) \
  while ((p) < (end) && pred(*(p))) (p)++

static int is_invalid_at(const unsigned char *p, const unsigned char *end) {
  return p < end && !is_value(*p) && *p != ';';
}

static int is_key_lit(const unsigned char *k, size_t len, char a, char b) {
  return len == 2 && k[0] == (unsigned char)a && k[1] == (unsigned char)b;
}

/* ts: 1-20 digits, no sign, at most INT64_MAX; kept as sent (it is signed). */
static int take_ts(const unsigned char *v, size_t len, paddle_sig *sig) {
  uint64_t n = 0;
  size_t i;
  if (len == 0 || len > PADDLE_SIG_MAX_TS) return 0;
  for (i = 0; i < len; i++) {
    uint64_t d = (uint64_t)(v[i] - '0');
    if (n > ((uint64_t)INT64_MAX - d) / 10) return 0;
    n = n * 10 + d;
  }
  sig->ts = (int64_t)n;
  memcpy(sig->ts_text, v, len);
  sig->ts_text[len] = '\0';
  sig->ts_len = len;
  return 1;
}

/*
 * h1: exactly 64 hex digits, stored lowercased ('A'-'F' | 0x20) into the
 * next slot; returns the end of the digits, or NULL when p does not start
 * with 64 of them (the caller rejects whatever follows but blanks and ';').
 * The loop has no data-dependent branch.
 */
static const unsigned char *take_h1(const unsigned char *p, const unsigned char *end,
                                    paddle_sig *sig) {
  char *out = sig->h1[sig->n_h1];
  unsigned all = C_HEX;
  size_t i;
  if ((size_t)(end - p) < PADDLE_SIG_HEX_LEN) return NULL;
  for (i = 0; i < PADDLE_SIG_HEX_LEN; i++) {
    all &= byte_class[p[i]];
    out[i] = (char)(p[i] | 0x20);
  }
  if (!all) return NULL;
  sig->n_h1++;
  return p + PADDLE_SIG_HEX_LEN;
}

static int at_separator(const unsigned char *p, const unsigned char *end) {
  return p == end || *p == ';';
}

/* The reason for a bad entry: an invalid byte at p trumps the usual one. */
static const char *reason_at(const unsigned char *p, const unsigned char *end,
                             const char *usual) {
  return is_invalid_at(p, end) ? "control or non-ASCII byte in header" : usual;
}

paddle_sig_status paddle_sig_parse(const char *header, size_t len, paddle_sig *sig,
                                   const char **why) {
  const unsigned char *p = (const unsigned char *)header, *end, *key, *val, *val_end;
  size_t key_len;
  int have_ts = 0;
  sig->ts = 0;
  sig->ts_len = 0;
  sig->ts_text[0] = '\0';
  sig->n_h1 = 0;
  if (header == NULL) return fail(why, PADDLE_SIG_MISSING, "no Paddle-Signature header");
  if (len > PADDLE_SIG_MAX_HEADER)
    return fail(why, PADDLE_SIG_MALFORMED, "header longer than 4096 bytes");
  end = p + len;
  SKIP(p, end, is_blank);
  if (p == end) return fail(why, PADDLE_SIG_MISSING, "empty Paddle-Signature header");
  while (p < end) {
    SKIP(p, end, is_blank);
    if (p == end) break;
    if (*p == ';') { /* empty entry */
      p++;
      continue;
    }
    key = p;
    SKIP(p, end, is_key);
    key_len = (size_t)(p - key);
    SKIP(p, end, is_blank);
    if (p == end || *p != '=')
      return fail(why, PADDLE_SIG_MALFORMED,
                  reason_at(p, end, at_separator(p, end) ? "entry without '='"
                                                         : "invalid character in a key"));
    if (key_len == 0) return fail(why, PADDLE_SIG_MALFORMED, "entry without a key");
    p++;
    SKIP(p, end, is_blank);
    val = p;
    if (is_key_lit(key, key_len, 't', 's')) {
      if (have_ts) return fail(why, PADDLE_SIG_MALFORMED, "duplicate ts");
      SKIP(p, end, is_digit);
      val_end = p;
      SKIP(p, end, is_blank);
      if (!at_separator(p, end) || !take_ts(val, (size_t)(val_end - val), sig))
        return fail(why, PADDLE_SIG_MALFORMED,
                    reason_at(p, end, "ts is not an unsigned integer of at most 20 digits"));
      have_ts = 1;
    } else if (is_key_lit(key, key_len, 'h', '1')) {
      if (sig->n_h1 == PADDLE_SIG_MAX_H1)
        return fail(why, PADDLE_SIG_MALFORMED, "too many h1 signatures");
      val_end = take_h1(p, end, sig);
      if (val_end != NULL) {
        p = val_end;
        SKIP(p, end, is_blank);
      }
      if (val_end == NULL || !at_separator(p, end))
        return fail(why, PADDLE_SIG_MALFORMED, reason_at(p, end, "h1 is not 64 hex digits"));
    } else { /* ignored, for future signature versions */
      SKIP(p, end, is_value);
      if (!at_separator(p, end))
        return fail(why, PADDLE_SIG_MALFORMED, "control or non-ASCII byte in header");
    }
    if (p < end) p++; /* the ';' */
  }
  if (!have_ts) return fail(why, PADDLE_SIG_MALFORMED, "no ts");
  if (sig->n_h1 == 0) return fail(why, PADDLE_SIG_MALFORMED, "no h1 signature");
  return PADDLE_SIG_OK;
}

size_t paddle_sig_message_size(const paddle_sig *sig, size_t body_len) {
  size_t head = sig->ts_len + 1;
  if (body_len > SIZE_MAX - head) return 0;
  return head + body_len;
}

void paddle_sig_message(const paddle_sig *sig, const void *body, size_t body_len,
                        unsigned char *buf) {
  memcpy(buf, sig->ts_text, sig->ts_len);
  buf[sig->ts_len] = ':';
  if (body_len > 0) memcpy(buf + sig->ts_len + 1, body, body_len);
}

static void to_hex(const unsigned char *md, char hex[PADDLE_SIG_HEX_LEN]) {
  int i;
  for (i = 0; i < PADDLE_SIG_HEX_LEN / 2; i++) {
    hex[2 * i] = hex_lower[md[i] >> 4];
    hex[2 * i + 1] = hex_lower[md[i] & 15];
  }
}

int paddle_sig_hmac_hex(const void *key, size_t key_len, const void *msg, size_t msg_len,
                        char hex[PADDLE_SIG_HEX_LEN]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  static const unsigned char empty = 0;
  if (key_len > INT_MAX) return 0;
  /* OpenSSL wants non-NULL pointers even for empty inputs. */
  if (key == NULL) key = &empty;
  if (msg == NULL) msg = &empty;
  if (HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, md, &md_len) == NULL ||
      md_len * 2 != PADDLE_SIG_HEX_LEN)
    return 0;
  to_hex(md, hex);
  return 1;
}

/* The struct is only a name for OpenSSL's context: no copy of the key here. */
struct paddle_sig_key {
  EVP_MAC_CTX *ctx;
};

paddle_sig_key *paddle_sig_key_new(const void *key, size_t key_len) {
  static const unsigned char empty = 0;
  OSSL_PARAM params[2];
  EVP_MAC *mac;
  paddle_sig_key *k;
  if (key_len > INT_MAX) return NULL;
  if (key == NULL) key = &empty;
  k = (paddle_sig_key *)OPENSSL_zalloc(sizeof *k);
  mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  if (k != NULL && mac != NULL) k->ctx = EVP_MAC_CTX_new(mac);
  EVP_MAC_free(mac); /* the context keeps its own reference */
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
  params[1] = OSSL_PARAM_construct_end();
  if (k == NULL || k->ctx == NULL ||
      !EVP_MAC_init(k->ctx, (const unsigned char *)key, key_len, params)) {
    paddle_sig_key_free(k);
    return NULL;
  }
  return k;
}

void paddle_sig_key_free(paddle_sig_key *k) {
  if (k == NULL) return;
  EVP_MAC_CTX_free(k->ctx); /* OpenSSL clears the key and hash states it frees */
  OPENSSL_free(k);
}

int paddle_sig_key_hex(paddle_sig_key *k, const paddle_sig *sig, const void *body, size_t body_len,
                       char hex[PADDLE_SIG_HEX_LEN]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  size_t md_len = 0;
  /* A NULL key restarts from the keyed (ipad/opad) state set by _new. */
  if (!EVP_MAC_init(k->ctx, NULL, 0, NULL) ||
      !EVP_MAC_update(k->ctx, (const unsigned char *)sig->ts_text, sig->ts_len) ||
      !EVP_MAC_update(k->ctx, (const unsigned char *)":", 1) ||
      (body_len > 0 && !EVP_MAC_update(k->ctx, (const unsigned char *)body, body_len)) ||
      !EVP_MAC_final(k->ctx, md, &md_len, sizeof md) || md_len * 2 != PADDLE_SIG_HEX_LEN)
    return 0;
  to_hex(md, hex);
  return 1;
}

int paddle_sig_matches(const paddle_sig *sig, const char hex[PADDLE_SIG_HEX_LEN]) {
  int i, found = 0;
  for (i = 0; i < sig->n_h1; i++)
    found |= CRYPTO_memcmp(sig->h1[i], hex, PADDLE_SIG_HEX_LEN) == 0;
  return found;
}

paddle_sig_status paddle_sig_check_time(const paddle_sig *sig, double now, double tolerance,
                                        double *age) {
  double whole, diff;
  *age = 0;
  /* Also false for NaN; the bound keeps the cast to int64_t defined. */
  if (!(now > -9.0e18 && now < 9.0e18)) return PADDLE_SIG_TIME;
  whole = (double)(int64_t)now;
  if (whole > now) whole -= 1; /* floor without libm */
  diff = whole - (double)sig->ts;
  *age = diff;
  if (!(diff <= tolerance && -diff <= tolerance)) return PADDLE_SIG_TIME;
  return PADDLE_SIG_OK;
}
