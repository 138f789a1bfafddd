/*
 * raw-hmac: the floor of bench-webhook. OpenSSL's one-shot HMAC() over a
 * prebuilt `ts:body` message in a C loop, as a verifier without any state
 * would call it; prints verifications per CPU second.
 *   raw-hmac SECRET BODY_FILE SECONDS TS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  static unsigned char msg[1 << 16];
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len;
  double seconds, start, elapsed;
  size_t ts_len, body_len, key_len;
  long n = 0, i;
  FILE *f;
  if (argc != 5) return 2;
  key_len = strlen(argv[1]);
  seconds = atof(argv[3]);
  ts_len = strlen(argv[4]);
  if (ts_len > 32 || (f = fopen(argv[2], "rb")) == NULL) return 2;
  memcpy(msg, argv[4], ts_len);
  msg[ts_len] = ':';
  body_len = fread(msg + ts_len + 1, 1, sizeof msg - ts_len - 1, f);
  fclose(f);
  start = cpu_now();
  do {
    for (i = 0; i < 10000; i++)
      if (HMAC(EVP_sha256(), argv[1], (int)key_len, msg, ts_len + 1 + body_len, md, &md_len) == NULL)
        return 1;
    n += 10000;
    elapsed = cpu_now() - start;
  } while (elapsed < seconds);
  printf("%.0f\n", (double)n / elapsed);
  return 0;
}
