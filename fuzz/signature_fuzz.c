/*
 * libFuzzer target for the Paddle-Signature parser (csrc/signature.c).
 * Any input must parse or be rejected without a crash, a sanitizer report
 * or a read outside the input; an accepted header must satisfy the
 * invariants below, and verifying a body against it must be consistent.
 * Built and run by fuzz/run (clang -fsanitize=fuzzer,address,undefined).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signature.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond) {
  if (!cond) abort();
}

static void check_parsed(const paddle_sig *sig) {
  int i;
  size_t j;
  check(sig->n_h1 >= 1 && sig->n_h1 <= PADDLE_SIG_MAX_H1);
  check(sig->ts_len >= 1 && sig->ts_len <= PADDLE_SIG_MAX_TS);
  check(strlen(sig->ts_text) == sig->ts_len);
  check(sig->ts >= 0);
  for (j = 0; j < sig->ts_len; j++) check(sig->ts_text[j] >= '0' && sig->ts_text[j] <= '9');
  for (i = 0; i < sig->n_h1; i++)
    for (j = 0; j < PADDLE_SIG_HEX_LEN; j++) {
      char c = sig->h1[i][j];
      check((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    }
}

/*
 * Signing the body with the header's own ts and checking it back must agree,
 * and the keyed context (reused across inputs, as a verifier reuses it) must
 * give the one-shot HMAC's digest.
 */
static void check_verify(const paddle_sig *sig, const uint8_t *body, size_t body_len) {
  static const char key[] = "fuzz-secret";
  static paddle_sig_key *keyed = NULL; /* reachable until exit: not a leak */
  size_t msg_len = paddle_sig_message_size(sig, body_len);
  unsigned char *msg = malloc(msg_len);
  char hex[PADDLE_SIG_HEX_LEN], keyed_hex[PADDLE_SIG_HEX_LEN];
  paddle_sig copy = *sig;
  double age;
  check(msg != NULL);
  paddle_sig_message(sig, body, body_len, msg);
  check(memcmp(msg, sig->ts_text, sig->ts_len) == 0 && msg[sig->ts_len] == ':');
  check(paddle_sig_hmac_hex(key, sizeof key - 1, msg, msg_len, hex));
  if (keyed == NULL) keyed = paddle_sig_key_new(key, sizeof key - 1);
  check(keyed != NULL && paddle_sig_key_hex(keyed, sig, body, body_len, keyed_hex));
  check(memcmp(hex, keyed_hex, sizeof hex) == 0);
  (void)paddle_sig_matches(sig, hex);
  memcpy(copy.h1[0], hex, sizeof hex);
  check(paddle_sig_matches(&copy, hex));
  if (sig->ts < ((int64_t)1 << 53)) /* exact as a double */
    check(paddle_sig_check_time(sig, (double)sig->ts, 0, &age) == PADDLE_SIG_OK && age == 0);
  free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  paddle_sig sig;
  const char *why = NULL;
  /* The header is the input up to the first newline, the body what follows. */
  const uint8_t *nl = memchr(data, '\n', size);
  size_t header_len = nl != NULL ? (size_t)(nl - data) : size;
  /* A private copy, so that ASan catches any read past the header's end. */
  char *header = malloc(header_len ? header_len : 1);
  paddle_sig_status st;
  check(header != NULL);
  if (header_len) memcpy(header, data, header_len);
  st = paddle_sig_parse(header, header_len, &sig, &why);
  if (st == PADDLE_SIG_OK) {
    check_parsed(&sig);
    check(header_len <= PADDLE_SIG_MAX_HEADER);
    if (nl != NULL) check_verify(&sig, nl + 1, size - header_len - 1);
    else check_verify(&sig, data, 0);
  } else {
    check(st == PADDLE_SIG_MISSING || st == PADDLE_SIG_MALFORMED);
    check(why != NULL && strlen(why) > 0);
  }
  free(header);
  return 0;
}
