/*
 * raw-curl: the floor of bench-client. N keep-alive GETs of one URL through
 * one libcurl easy handle, the body collected into a buffer and the status
 * checked: the least a libcurl client can do per call. Prints the CPU and
 * wall seconds of the loop (the handle's setup excluded).
 *   raw-curl URL N API_KEY     ->  "cpu=<s> wall=<s> requests=<n>"
 *   raw-curl URL walk API_KEY  follows meta.pagination.next from URL while
 *                              has_more is true (no JSON decoding: the
 *                              transport's share of a walk)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

typedef struct {
  char *data;
  size_t len, cap;
} buffer;

static size_t on_body(char *p, size_t size, size_t n, void *userdata) {
  buffer *b = (buffer *)userdata;
  size_t add = size * n;
  if (b->len + add > b->cap) {
    size_t cap = (b->len + add) * 2;
    char *grown = (char *)realloc(b->data, cap);
    if (grown == NULL) return 0;
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, add);
  b->len += add;
  return add;
}

/* The next page's URL from a list body ("next":"..." with \/ unescaped)
 * into url, or 0 when has_more is not true. */
static int next_url(buffer *b, char *url, size_t size) {
  static const char key[] = "\"next\":\"";
  const char *p, *end;
  size_t n = 0;
  if (b->len == b->cap) { /* room for the NUL */
    char *grown = (char *)realloc(b->data, b->cap + 1);
    if (grown == NULL) return 0;
    b->data = grown;
    b->cap++;
  }
  b->data[b->len] = '\0';
  if (strstr(b->data, "\"has_more\":true") == NULL) return 0;
  p = strstr(b->data, key);
  if (p == NULL) return 0;
  for (p += sizeof key - 1, end = b->data + b->len; p < end && *p != '"' && n + 1 < size; p++) {
    if (*p == '\\') continue;
    url[n++] = *p;
  }
  url[n] = '\0';
  return n > 0;
}

static double seconds(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  CURL *h;
  struct curl_slist *headers = NULL;
  buffer body = {NULL, 0, 0};
  char auth[512], url[4096];
  long n, i, status = 0;
  int walk;
  double cpu, wall;
  if (argc != 4) {
    fprintf(stderr, "usage: raw-curl URL N API_KEY\n");
    return 2;
  }
  walk = strcmp(argv[2], "walk") == 0;
  n = walk ? 1000000 : atol(argv[2]);
  snprintf(url, sizeof url, "%s", argv[1]);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", argv[3]);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  h = curl_easy_init();
  headers = curl_slist_append(headers, auth);
  headers = curl_slist_append(headers, "Accept: application/json");
  if (h == NULL || headers == NULL) return 1;
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "raw-curl");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  cpu = seconds(CLOCK_PROCESS_CPUTIME_ID);
  wall = seconds(CLOCK_MONOTONIC);
  for (i = 0; i < n; i++) {
    body.len = 0;
    if (walk || i == 0) curl_easy_setopt(h, CURLOPT_URL, url);
    if (curl_easy_perform(h) != CURLE_OK) return 1;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200 || body.len == 0) return 1;
    if (walk && !next_url(&body, url, sizeof url)) {
      i++;
      break;
    }
  }
  cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu;
  wall = seconds(CLOCK_MONOTONIC) - wall;
  printf("cpu=%.4f wall=%.4f requests=%ld\n", cpu, wall, i);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  free(body.data);
  curl_global_cleanup();
  return 0;
}
