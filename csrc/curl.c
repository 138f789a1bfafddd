/*
 * paddle.curl: the libcurl transport. Kept apart from paddle.core so that
 * OpenResty, which talks HTTP over cosockets, never loads libcurl.
 *
 * A handle owns one CURL easy handle and a multi handle to drive it, reused
 * for every request of a client so that connections stay alive between
 * calls. It performs exactly one HTTP exchange per call; retries and pacing
 * are the session's business. The multi handle lets a transfer notice
 * Ctrl-C (interrupt.h) within PADDLE_INTERRUPT_POLL_MS.
 * Callbacks never raise: they record a failure and make libcurl abort, and
 * everything they allocate belongs to the handle userdata (freed by __gc).
 *
 * The key: the request header list is built by us, not by
 * curl_slist_append, and its Authorization node points at the session's own
 * line (session.h), so this file never copies the key. libcurl copies header
 * lines into its request buffers; keywipe.h makes libcurl allocate through
 * functions that zero every block they free.
 */
#define _GNU_SOURCE /* dladdr, RTLD_NODELETE (keywipe.h) */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "core.h"
#include "interrupt.h"
#include "keywipe.h"
#include "session.h"
#include "udata.h"

#if LIBCURL_VERSION_NUM < 0x074200
#  error "paddle.curl needs libcurl >= 7.66 (curl_multi_poll)"
#endif

#define HANDLE_MT "paddle.curl.Handle"
#define MAX_BODY_DEFAULT (64 * 1024 * 1024)
#define MAX_HEAD (256 * 1024)
#define MAX_HEADER_LINES 100
#define MAX_HEADER_LINE 8192
/* Nodes after the caller's lines: Accept-Encoding, the Authorization line
 * and "Expect:" (linked only when there is a body), at these offsets from
 * n_lines. */
#define ENCODING_NODE 0
#define AUTH_NODE 1
#define EXPECT_NODE 2
#define FIXED_NODES 3

PADDLE_EXPORT int luaopen_paddle_curl(lua_State *L);

typedef struct {
  char *data;
  size_t len, cap, limit;
  int overflow; /* the limit was hit or memory ran out */
} byte_buffer;

typedef struct {
  CURL *easy;
  CURLM *multi;
  /* The request header list: n_lines caller lines (malloc'd copies), then
   * FIXED_NODES; one array, linked once, re-pointed per call only at the
   * Accept-Encoding and Authorization nodes. Rebuilt by set_headers only. */
  struct curl_slist *nodes;
  char **lines;
  int n_lines;
  long timeout_ms;  /* what CURLOPT_TIMEOUT_MS says now */
  long connect_ms;  /* the connect_timeout option */
  double default_timeout;
  byte_buffer body;
  byte_buffer head; /* header block of the last response only */
  /* Where the values of the headers the loop reads lie in head (offset and
   * length; len_ -1 when absent), noted as the lines arrive. */
  size_t request_id_at, retry_after_at;
  long request_id_len, retry_after_len;
  char errbuf[CURL_ERROR_SIZE];
} curl_handle;

static char expect_line[] = "Expect:"; /* no "Expect: 100-continue" on large bodies */
/* libcurl always decodes gzip (CURLOPT_ACCEPT_ENCODING), so an answer
 * compressed unasked still reads right; it is asked for only where it pays
 * (lists): an empty "Accept-Encoding:" stops libcurl sending its own. */
static char ask_gzip[] = "Accept-Encoding: gzip";
static char ask_nothing[] = "Accept-Encoding:";

/* ---------------------------------------------------------------- buffers */

static int buffer_append(byte_buffer *b, const char *p, size_t n) {
  if (b->overflow) return 0;
  if (n > b->limit - b->len) {
    b->overflow = 1;
    return 0;
  }
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    char *grown;
    while (cap < b->len + n) cap *= 2;
    if (cap > b->limit) cap = b->limit;
    grown = (char *)realloc(b->data, cap);
    if (grown == NULL) {
      b->overflow = 1;
      return 0;
    }
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 1;
}

static void buffer_free(byte_buffer *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  curl_handle *h = (curl_handle *)ud;
  return buffer_append(&h->body, p, size * n) ? size * n : 0;
}

/* When the line is "name: value" (name lowercase, with its colon), notes
 * where its trimmed value will lie in the head block, from offset `at`. */
static void note_header(const char *p, size_t len, const char *name, size_t name_len, size_t at,
                        size_t *value_at, long *value_len) {
  const char *v = p + name_len, *vend = p + len;
  if (*value_len >= 0 || len < name_len || strncasecmp(p, name, name_len) != 0) return;
  while (v < vend && (*v == ' ' || *v == '\t')) v++;
  while (vend > v && (vend[-1] == '\r' || vend[-1] == '\n' || vend[-1] == ' ' || vend[-1] == '\t')) vend--;
  *value_at = at + (size_t)(v - p);
  *value_len = (long)(vend - v);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  curl_handle *h = (curl_handle *)ud;
  size_t len = size * n, at;
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* a new response */
    h->head.len = 0;
    h->request_id_len = h->retry_after_len = -1;
  }
  at = h->head.len;
  if (!buffer_append(&h->head, p, len)) return 0;
  if (len > 0 && (*p == 'r' || *p == 'R')) { /* the first of each is kept, as before */
    note_header(p, len, "request-id:", 11, at, &h->request_id_at, &h->request_id_len);
    note_header(p, len, "retry-after:", 12, at, &h->retry_after_at, &h->retry_after_len);
  }
  return len;
}

/* ---------------------------------------------------------- header list */

static void free_lines(char **lines, int n) {
  int i;
  for (i = 0; i < n; i++) free(lines[i]);
  free(lines);
}

/* Links n_lines caller lines and the fixed nodes into one list. */
static void link_nodes(struct curl_slist *nodes, char **lines, int n_lines) {
  int i, total = n_lines + FIXED_NODES;
  for (i = 0; i < n_lines; i++) nodes[i].data = lines[i];
  nodes[n_lines + ENCODING_NODE].data = ask_nothing; /* set per call */
  nodes[n_lines + AUTH_NODE].data = NULL;            /* set per call */
  nodes[n_lines + EXPECT_NODE].data = expect_line;   /* linked per call */
  for (i = 0; i < total; i++) nodes[i].next = i + 1 < total ? &nodes[i + 1] : NULL;
}

/* Replaces the handle's list; returns 0 (changing nothing) when out of memory. */
static int install_lines(curl_handle *h, char **lines, int n_lines) {
  struct curl_slist *nodes =
    (struct curl_slist *)calloc((size_t)(n_lines + FIXED_NODES), sizeof *nodes);
  if (nodes == NULL) return 0;
  link_nodes(nodes, lines, n_lines);
  free(h->nodes);
  free_lines(h->lines, h->n_lines);
  h->nodes = nodes;
  h->lines = lines;
  h->n_lines = n_lines;
  return 1;
}

/* ---------------------------------------------------------------- handle */

static curl_handle *check_handle(lua_State *L, int idx) {
  curl_handle *h = (curl_handle *)luaL_checkudata(L, idx, HANDLE_MT);
  if (h->easy == NULL) luaL_argerror(L, idx, "handle is closed");
  return h;
}

/* A session from paddle.core, built with the same struct layout. */
static paddle_session *check_session(lua_State *L, int idx) {
  paddle_session *s = (paddle_session *)luaL_checkudata(L, idx, PADDLE_SESSION_MT);
  if (s->abi != PADDLE_SESSION_ABI)
    luaL_argerror(L, idx, "session from a paddle.core build that does not match paddle.curl "
                          "(rebuild both)");
  if (s->key == NULL) luaL_argerror(L, idx, "session is closed");
  return s;
}

static int l_handle_close(lua_State *L) {
  curl_handle *h = (curl_handle *)luaL_checkudata(L, 1, HANDLE_MT);
  if (h->multi != NULL) {
    if (h->easy != NULL) curl_multi_remove_handle(h->multi, h->easy);
    curl_multi_cleanup(h->multi);
    h->multi = NULL;
  }
  if (h->easy != NULL) curl_easy_cleanup(h->easy);
  h->easy = NULL;
  free(h->nodes);
  h->nodes = NULL;
  free_lines(h->lines, h->n_lines);
  h->lines = NULL;
  h->n_lines = 0;
  buffer_free(&h->body);
  buffer_free(&h->head);
  return 0;
}

static int l_handle_tostring(lua_State *L) {
  curl_handle *h = (curl_handle *)luaL_checkudata(L, 1, HANDLE_MT);
  lua_pushfstring(L, "paddle.curl.Handle (%s)", h->easy ? "open" : "closed");
  return 1;
}

/* Seconds in (0, 86400], from a number option or argument. */
static int valid_seconds(double secs) {
  return secs > 0 && secs <= PADDLE_SECONDS_MAX; /* also rejects NaN */
}

/* At least 1 ms: 0 would mean "no timeout" to libcurl. */
static long to_ms(double secs) {
  long ms = (long)(secs * 1000 + 0.5);
  return ms > 0 ? ms : 1;
}

static double seconds_field(lua_State *L, int t, const char *name, double def) {
  double secs = def;
  lua_getfield(L, t, name);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TNUMBER)
      luaL_error(L, "option '%s' must be a number, got %s", name, luaL_typename(L, -1));
    secs = lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  if (!valid_seconds(secs)) luaL_error(L, "option '%s' must be > 0 and <= 86400 seconds", name);
  return secs;
}

/* A string option without NUL, CR or LF (they would cut or split what
 * libcurl sends); the option table anchors the string. */
static const char *string_field(lua_State *L, int t, const char *name) {
  const char *v = NULL;
  size_t len;
  lua_getfield(L, t, name);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "option '%s' must be a string, got %s", name, luaL_typename(L, -1));
    v = lua_tolstring(L, -1, &len);
    if (strlen(v) != len || strpbrk(v, "\r\n") != NULL)
      luaL_error(L, "option '%s' contains a NUL, CR or LF byte", name);
  }
  lua_pop(L, 1);
  return v;
}

/* Every curl_easy_setopt that can fail goes through here. */
#define SETOPT(h, opt, v) \
  do { \
    CURLcode setopt_rc_ = curl_easy_setopt((h)->easy, opt, v); \
    if (setopt_rc_ != CURLE_OK) return setopt_error(L, #opt, setopt_rc_); \
  } while (0)

static int setopt_error(lua_State *L, const char *opt, CURLcode rc) {
  return luaL_error(L, "paddle.curl: libcurl refused %s: %s", opt, curl_easy_strerror(rc));
}

static int configure_easy(lua_State *L, curl_handle *h, const char *ca_file, const char *ca_path,
                          const char *proxy, const char *user_agent) {
  SETOPT(h, CURLOPT_NOSIGNAL, 1L);
  SETOPT(h, CURLOPT_ERRORBUFFER, h->errbuf);
  SETOPT(h, CURLOPT_WRITEFUNCTION, on_body);
  SETOPT(h, CURLOPT_WRITEDATA, h);
  SETOPT(h, CURLOPT_HEADERFUNCTION, on_header);
  SETOPT(h, CURLOPT_HEADERDATA, h);
  SETOPT(h, CURLOPT_TIMEOUT_MS, h->timeout_ms);
  SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, h->connect_ms);
  SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
  SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
  SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
  SETOPT(h, CURLOPT_TCP_KEEPALIVE, 1L);
  SETOPT(h, CURLOPT_HTTPHEADER, h->nodes);
  SETOPT(h, CURLOPT_ACCEPT_ENCODING, "gzip");
#if LIBCURL_VERSION_NUM >= 0x075500
  SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  if (ca_file != NULL) SETOPT(h, CURLOPT_CAINFO, ca_file);
  if (ca_path != NULL) SETOPT(h, CURLOPT_CAPATH, ca_path);
  if (proxy != NULL) SETOPT(h, CURLOPT_PROXY, proxy);
  if (user_agent != NULL) SETOPT(h, CURLOPT_USERAGENT, user_agent);
  return 0;
}

/* curl.new{ timeout=, connect_timeout=, ca_file=, ca_path=, proxy=,
 *           user_agent=, max_body= } -> handle
 * timeout is the per-call default when perform is given none. */
static int l_handle_new(lua_State *L) {
  curl_handle *h;
  double timeout, connect, max_body;
  const char *ca_file, *ca_path, *proxy, *user_agent;

  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  timeout = seconds_field(L, 1, "timeout", 60);
  connect = seconds_field(L, 1, "connect_timeout", 10);
  ca_file = string_field(L, 1, "ca_file");
  ca_path = string_field(L, 1, "ca_path");
  proxy = string_field(L, 1, "proxy");
  user_agent = string_field(L, 1, "user_agent");
  lua_getfield(L, 1, "max_body");
  if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TNUMBER)
    return luaL_error(L, "option 'max_body' must be a number");
  max_body = luaL_optnumber(L, -1, MAX_BODY_DEFAULT);
  lua_pop(L, 1);
  if (!(max_body >= 1 && max_body <= 1e12)) /* also NaN; checked before the cast */
    return luaL_error(L, "option 'max_body' must be in 1..1e12 bytes");

  h = (curl_handle *)paddle_newudata(L, sizeof *h, HANDLE_MT);
  h->body.limit = (size_t)max_body;
  h->head.limit = MAX_HEAD;
  h->default_timeout = timeout;
  h->timeout_ms = to_ms(timeout);
  h->connect_ms = to_ms(connect);
  if (!install_lines(h, NULL, 0)) return luaL_error(L, "out of memory");
  h->easy = curl_easy_init();
  h->multi = curl_multi_init();
  if (h->easy == NULL || h->multi == NULL) return luaL_error(L, "paddle.curl: libcurl init failed");
  configure_easy(L, h, ca_file, ca_path, proxy, user_agent); /* raises on a refusal */
  return 1;
}

/* h:set_headers(lines): the request's header lines ("Name: value", no
 * Authorization: the session's line is added per call). Sent by every
 * perform until the next set_headers. */
static int l_handle_set_headers(lua_State *L) {
  curl_handle *h = check_handle(L, 1);
  size_t i, n, len;
  char **lines;
  luaL_checktype(L, 2, LUA_TTABLE);
  n = paddle_rawlen(L, 2);
  if (n > MAX_HEADER_LINES) return luaL_argerror(L, 2, "too many header lines");
  for (i = 1; i <= n; i++) { /* check every line before allocating anything */
    const char *line, *colon;
    lua_rawgeti(L, 2, (int)i);
    if (lua_type(L, -1) != LUA_TSTRING)
      return luaL_error(L, "header line %d must be a string, got %s", (int)i, luaL_typename(L, -1));
    line = lua_tolstring(L, -1, &len);
    colon = strchr(line, ':');
    if (strlen(line) != len || len > MAX_HEADER_LINE || strpbrk(line, "\r\n") != NULL ||
        colon == NULL || colon == line)
      return luaL_error(L, "header line %d must be 'Name: value' without NUL, CR or LF", (int)i);
    if (colon - line == 13 && strncasecmp(line, "authorization", 13) == 0)
      return luaL_error(L, "header line %d: the Authorization line comes from the session", (int)i);
    lua_pop(L, 1);
  }
  lines = (char **)calloc(n ? n : 1, sizeof *lines);
  if (lines == NULL) return luaL_error(L, "out of memory");
  for (i = 0; i < n; i++) {
    const char *line;
    lua_rawgeti(L, 2, (int)i + 1);
    line = lua_tolstring(L, -1, &len);
    lines[i] = (char *)malloc(len + 1);
    lua_pop(L, 1);
    if (lines[i] == NULL) break;
    memcpy(lines[i], line, len + 1);
  }
  if (i < n || !install_lines(h, lines, (int)n)) {
    free_lines(lines, (int)n); /* calloc'd: untouched entries are NULL */
    return luaL_error(L, "out of memory");
  }
  SETOPT(h, CURLOPT_HTTPHEADER, h->nodes);
  return 0;
}

/* ---------------------------------------------------------------- perform */

/* The error code the session's retry policy understands. */
static const char *failure_code(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return "connect_error";
    case CURLE_OPERATION_TIMEDOUT:
      return "timeout";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      return "connection_reset";
    case CURLE_PARTIAL_FILE:
    case CURLE_BAD_CONTENT_ENCODING:
      return "truncated_body";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
      return "tls_error";
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return "protocol_error";
    case CURLE_WRITE_ERROR:
      return "response_too_large";
    default:
      return "transport_failure";
  }
}

/* Failure before anything was sent: nil, code, detail, false. */
static int push_unsent(lua_State *L, const char *code, const char *detail) {
  lua_pushnil(L);
  lua_pushstring(L, code);
  lua_pushstring(L, detail);
  lua_pushboolean(L, 0);
  return 4;
}

static int is_token(const char *s) { /* an HTTP method: letters only, short */
  size_t i;
  for (i = 0; s[i] != '\0'; i++)
    if (i >= 16 || !isupper((unsigned char)s[i])) return 0;
  return i > 0;
}

/* For the per-call options: a refusal becomes the failure code
 * "transport_failure" with the detail in h->errbuf, never a raise. */
#define TRY_SETOPT(h, opt, v) \
  do { \
    CURLcode try_rc_ = curl_easy_setopt((h)->easy, opt, v); \
    if (try_rc_ != CURLE_OK) { \
      snprintf((h)->errbuf, sizeof (h)->errbuf, "libcurl refused " #opt ": %s", \
               curl_easy_strerror(try_rc_)); \
      return "transport_failure"; \
    } \
  } while (0)

/* Method and body; NULL when set, else a failure code. */
static const char *set_method(curl_handle *h, const char *method, const char *body,
                              size_t body_len) {
  int is_get = strcmp(method, "GET") == 0, is_post = strcmp(method, "POST") == 0;
  /* A POST/PUT/PATCH without a body still says Content-Length: 0. */
  if (body == NULL && (is_post || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0))
    body = "";
  if (body != NULL) {
    TRY_SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    TRY_SETOPT(h, CURLOPT_POSTFIELDS, body); /* not copied: cleared after the exchange */
  } else {
    TRY_SETOPT(h, CURLOPT_HTTPGET, 1L); /* also clears POST state */
  }
  TRY_SETOPT(h, CURLOPT_CUSTOMREQUEST,
             (is_get && body == NULL) || (is_post && body != NULL) ? NULL : method);
  /* libcurl silently resends a request whose reused connection died before
   * answering. Paddle may have created the customer by then: a POST always
   * goes on a fresh connection, so it is sent exactly once. */
  TRY_SETOPT(h, CURLOPT_FRESH_CONNECT, is_post ? 1L : 0L);
  return NULL;
}

/* The options of one exchange. Returns NULL when ready, else the failure
 * code (the detail is in h->errbuf); raises only on misuse. */
static const char *prepare(lua_State *L, curl_handle *h, const paddle_session *s) {
  const char *method = luaL_checkstring(L, 3);
  size_t url_len, body_len = 0;
  const char *url = luaL_checklstring(L, 4, &url_len);
  const char *body = luaL_optlstring(L, 5, NULL, &body_len);
  double timeout = luaL_optnumber(L, 6, h->default_timeout);
  int compressed = lua_toboolean(L, 7);
  long timeout_ms;
  CURLcode rc;

  luaL_argcheck(L, is_token(method), 3, "not an HTTP method");
  luaL_argcheck(L, strlen(url) == url_len, 4, "URL contains a NUL byte");
  luaL_argcheck(L, valid_seconds(timeout), 6, "timeout must be > 0 and <= 86400 seconds");

  h->body.len = h->head.len = 0;
  h->body.overflow = h->head.overflow = 0;
  h->request_id_len = h->retry_after_len = -1;
  h->errbuf[0] = '\0';
  h->nodes[h->n_lines + AUTH_NODE].data = s->auth_line;
  h->nodes[h->n_lines + ENCODING_NODE].data = compressed ? ask_gzip : ask_nothing;
  /* "Expect:" only matters with a body (libcurl's 100-continue). */
  h->nodes[h->n_lines + AUTH_NODE].next = body != NULL ? &h->nodes[h->n_lines + EXPECT_NODE] : NULL;

  rc = curl_easy_setopt(h->easy, CURLOPT_URL, url);
  if (rc != CURLE_OK) {
    /* libcurl refuses strings over 8 MB (CURL_MAX_INPUT_LENGTH). */
    snprintf(h->errbuf, sizeof h->errbuf, "libcurl refused the URL (%lu bytes): %s",
             (unsigned long)url_len, curl_easy_strerror(rc));
    return rc == CURLE_BAD_FUNCTION_ARGUMENT ? "request_too_large" : "transport_failure";
  }
  timeout_ms = to_ms(timeout);
  if (timeout_ms != h->timeout_ms) {
    TRY_SETOPT(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    TRY_SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, h->connect_ms < timeout_ms ? h->connect_ms : timeout_ms);
    h->timeout_ms = timeout_ms;
  }
  return set_method(h, method, body, body_len);
}

/* Runs the exchange on the multi handle, checking for Ctrl-C between polls.
 * Returns the transfer's result; *interrupted tells an abort for Ctrl-C. */
static CURLcode run_transfer(lua_State *L, curl_handle *h, int *interrupted) {
  paddle_hook_snapshot snap;
  CURLcode result = CURLE_OK;
  CURLMcode mc;
  CURLMsg *msg;
  int running = 1, queued;

  *interrupted = 0;
  paddle_hook_snap(L, &snap);
  mc = curl_multi_add_handle(h->multi, h->easy);
  if (mc != CURLM_OK) {
    snprintf(h->errbuf, sizeof h->errbuf, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
    return CURLE_FAILED_INIT;
  }
  for (;;) {
    mc = curl_multi_perform(h->multi, &running);
    if (mc != CURLM_OK || running == 0) break;
    if (paddle_interrupted(&snap)) {
      *interrupted = 1;
      break;
    }
    mc = curl_multi_poll(h->multi, NULL, 0, PADDLE_INTERRUPT_POLL_MS, NULL);
    if (mc != CURLM_OK && !paddle_interrupted(&snap)) break;
  }
  if (mc != CURLM_OK && !*interrupted) {
    snprintf(h->errbuf, sizeof h->errbuf, "libcurl multi: %s", curl_multi_strerror(mc));
    result = CURLE_RECV_ERROR;
  }
  while ((msg = curl_multi_info_read(h->multi, &queued)) != NULL)
    if (msg->msg == CURLMSG_DONE && msg->easy_handle == h->easy) result = msg->data.result;
  curl_multi_remove_handle(h->multi, h->easy); /* aborts an interrupted transfer */
  return result;
}

static void push_header_or_nil(lua_State *L, const byte_buffer *head, size_t at, long len) {
  if (len >= 0 && head->data != NULL) lua_pushlstring(L, head->data + at, (size_t)len);
  else lua_pushnil(L);
}

/* The results of a finished exchange (see l_handle_perform). */
static int push_response(lua_State *L, curl_handle *h, CURLcode rc, int interrupted) {
  long status = 0, request_size = 0;
  curl_easy_getinfo(h->easy, CURLINFO_REQUEST_SIZE, &request_size);
  if (interrupted || rc != CURLE_OK) {
    const char *code = interrupted ? "interrupted"
                       : h->body.overflow ? "response_too_large" : failure_code(rc);
    lua_pushnil(L);
    lua_pushstring(L, code);
    if (interrupted) lua_pushliteral(L, "interrupted (SIGINT) during the request");
    else lua_pushstring(L, h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
    lua_pushboolean(L, request_size > 0 && strcmp(code, "connect_error") != 0);
    return 4;
  }
  curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
  lua_pushinteger(L, (lua_Integer)status);
  lua_pushlstring(L, h->body.data ? h->body.data : "", h->body.len);
  push_header_or_nil(L, &h->head, h->request_id_at, h->request_id_len);
  push_header_or_nil(L, &h->head, h->retry_after_at, h->retry_after_len);
  return 4;
}

/* h:perform(session, method, url, body_or_nil, timeout_seconds, compressed)
 *   -> status, body, request_id | nil, retry_after | nil
 *   -> nil, code, detail, sent
 * compressed asks for gzip (lists); timeout_seconds bounds this exchange. */
static int l_handle_perform(lua_State *L) {
  curl_handle *h = check_handle(L, 1);
  paddle_session *s = check_session(L, 2);
  const char *failure = prepare(L, h, s);
  int interrupted = 0;
  CURLcode rc = CURLE_OK;
  if (failure == NULL) rc = run_transfer(L, h, &interrupted);
  /* Neither the body nor the session's line may be used after this call:
   * libcurl copies neither. */
  curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, NULL);
  h->nodes[h->n_lines + AUTH_NODE].data = NULL;
  if (failure != NULL) {
    lua_pushstring(L, h->errbuf); /* copy before errbuf is reused */
    return push_unsent(L, failure, lua_tostring(L, -1));
  }
  return push_response(L, h, rc, interrupted);
}

/* h:headers() -> table of the last response's headers: lowercased names,
 * repeats joined with ", ". Parsed on demand from the kept head block. */
static int l_handle_headers(lua_State *L) {
  curl_handle *h = check_handle(L, 1);
  const char *p = h->head.data, *end = h->head.data + h->head.len;
  lua_newtable(L);
  while (p != NULL && p < end) {
    const char *eol = (const char *)memchr(p, '\n', (size_t)(end - p));
    const char *line_end = eol ? eol : end;
    const char *colon = (const char *)memchr(p, ':', (size_t)(line_end - p));
    if (colon != NULL && colon > p && !(line_end - p >= 5 && memcmp(p, "HTTP/", 5) == 0)) {
      const char *v = colon + 1, *vend = line_end, *c;
      luaL_Buffer name;
      while (v < vend && (*v == ' ' || *v == '\t')) v++;
      while (vend > v && (vend[-1] == '\r' || vend[-1] == ' ' || vend[-1] == '\t')) vend--;
      luaL_buffinit(L, &name);
      for (c = p; c < colon; c++) luaL_addchar(&name, (char)tolower((unsigned char)*c));
      luaL_pushresult(&name);
      lua_pushvalue(L, -1);
      lua_rawget(L, -3);
      if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushlstring(L, v, (size_t)(vend - v));
      } else {
        lua_pushliteral(L, ", ");
        lua_pushlstring(L, v, (size_t)(vend - v));
        lua_concat(L, 3);
      }
      lua_rawset(L, -3);
    }
    p = eol ? eol + 1 : NULL;
  }
  return 1;
}

/* The handle's perform as a plain function: h:sender() -> send(session, ...),
 * the handle an upvalue, so the request loop calls C without a Lua wrapper. */
static int l_bound_perform(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  return l_handle_perform(L);
}

static int l_handle_sender(lua_State *L) {
  check_handle(L, 1);
  lua_settop(L, 1);
  lua_pushcclosure(L, l_bound_perform, 1);
  return 1;
}

static const luaL_Reg handle_methods[] = {
  {"set_headers", l_handle_set_headers},
  {"perform", l_handle_perform},
  {"sender", l_handle_sender},
  {"headers", l_handle_headers},
  {"close", l_handle_close},
  {NULL, NULL}
};

static const luaL_Reg curl_funcs[] = {
  {"new", l_handle_new},
  {NULL, NULL}
};

int luaopen_paddle_curl(lua_State *L) {
  const curl_version_info_data *info;
  int key_wipe = paddle_keywipe_init();
  if (key_wipe < 0) return luaL_error(L, "paddle.curl: curl_global_init failed");
  paddle_register_type(L, HANDLE_MT, handle_methods, l_handle_close, l_handle_tostring);
  info = curl_version_info(CURLVERSION_NOW);
  luaL_newlib(L, curl_funcs);
  lua_pushstring(L, info->version);
  lua_setfield(L, -2, "version");
  lua_pushstring(L, info->ssl_version ? info->ssl_version : "none");
  lua_setfield(L, -2, "ssl_version");
  /* false when another library initialised libcurl before us: its copies
   * of header lines are then freed without being wiped (docs/api-key.md). */
  lua_pushboolean(L, key_wipe);
  lua_setfield(L, -2, "key_wipe");
  return 1;
}
