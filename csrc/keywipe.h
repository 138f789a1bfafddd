/*
 * keywipe.h: libcurl's memory goes through allocators that zero every block
 * they free, so the copies libcurl makes of the Authorization line (request
 * buffers, header lists) do not outlive their use. Included by curl.c only.
 *
 * curl_global_init_mem installs them only if nobody initialised libcurl
 * before us; otherwise it succeeds and keeps the system allocator. So after
 * initialising we ask libcurl to allocate once and see whether our
 * allocator served it: paddle_keywipe_init() returns 1 (our allocator is in
 * use), 0 (another library initialised libcurl first: no wipe of libcurl's
 * copies; paddle.curl.key_wipe says so) or -1 (init failed).
 *
 * libcurl keeps pointers to these functions for the life of the process, so
 * paddle.curl pins itself in memory (RTLD_NODELETE): a lua_close that
 * unloads C modules must not leave libcurl calling into unmapped code.
 */
#ifndef PADDLE_KEYWIPE_H
#define PADDLE_KEYWIPE_H

#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "udata.h"

/* Each block starts with its size, padded to keep malloc's alignment. */
typedef union {
  size_t size;
  long double align_ld; /* C99 has no max_align_t */
  long long align_ll;
  void *align_p;
} wipe_header;

static unsigned long wipe_allocations = 0; /* how often libcurl used us */
static int wipe_state = -2;                /* not initialised yet */

static void *wipe_malloc(size_t n) {
  wipe_header *h;
  if (n > SIZE_MAX - sizeof *h) return NULL;
  h = (wipe_header *)malloc(sizeof *h + n);
  if (h == NULL) return NULL;
  h->size = n;
  __atomic_fetch_add(&wipe_allocations, 1, __ATOMIC_RELAXED); /* the threaded resolver allocates too */
  return h + 1;
}

static void wipe_free(void *p) {
  wipe_header *h;
  if (p == NULL) return;
  h = (wipe_header *)p - 1;
  paddle_wipe(p, h->size);
  free(h);
}

/* Never grows in place: the old block is wiped whatever happens. */
static void *wipe_realloc(void *p, size_t n) {
  void *q;
  size_t old;
  if (p == NULL) return wipe_malloc(n);
  q = wipe_malloc(n);
  if (q == NULL) return NULL; /* p stays valid, as realloc promises */
  old = ((wipe_header *)p - 1)->size;
  memcpy(q, p, old < n ? old : n);
  wipe_free(p);
  return q;
}

static char *wipe_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = (char *)wipe_malloc(n);
  if (p != NULL) memcpy(p, s, n);
  return p;
}

static void *wipe_calloc(size_t count, size_t size) {
  void *p;
  if (size != 0 && count > SIZE_MAX / size) return NULL;
  p = wipe_malloc(count * size);
  if (p != NULL) memset(p, 0, count * size);
  return p;
}

static void pin_this_module(void) {
  Dl_info info;
  if (dladdr(&wipe_allocations, &info) != 0 && info.dli_fname != NULL)
    (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

/* Once per process (curl_global_init is not thread-safe either). */
static int paddle_keywipe_init(void) {
  struct curl_slist *probe;
  unsigned long before;
  if (wipe_state != -2) return wipe_state;
  pin_this_module();
  if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, wipe_malloc, wipe_free, wipe_realloc,
                           wipe_strdup, wipe_calloc) != CURLE_OK)
    return -1;
  before = wipe_allocations;
  probe = curl_slist_append(NULL, "probe");
  if (probe == NULL) return -1;
  wipe_state = wipe_allocations != before;
  curl_slist_free_all(probe);
  return wipe_state;
}

#endif
