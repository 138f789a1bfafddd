/*
 * paddle.curl: the libcurl transport. Kept apart from paddle.core so that
 * OpenResty, which talks HTTP over cosockets, never loads libcurl.
 *
 * A handle owns one CURL easy handle, reused for every request of a client
 * so that connections stay alive between calls. It performs exactly one
 * HTTP exchange per call; retries and pacing are the session's business.
 * Callbacks never raise: they record a failure and make libcurl abort, and
 * everything they allocate belongs to the handle userdata (freed by __gc).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core.h"
#include "session.h"

#define HANDLE_MT "paddle.curl.Handle"
#define MAX_BODY_DEFAULT (64 * 1024 * 1024)
#define MAX_HEAD (256 * 1024)

PADDLE_EXPORT int luaopen_paddle_curl(lua_State *L);

typedef struct {
  char *data;
  size_t len, cap, limit;
  int overflow; /* the limit was hit or memory ran out */
} byte_buffer;

typedef struct {
  CURL *easy;
  struct curl_slist *request_headers;
  byte_buffer body;
  byte_buffer head; /* header block of the last response only */
  char errbuf[CURL_ERROR_SIZE];
} curl_handle;

/* curl_global_init is not thread-safe and must run once per process. */
static int curl_ready = 0;

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

/* Header lists hold the Authorization line: wipe before freeing. */
static void free_request_headers(curl_handle *h) {
  struct curl_slist *n;
  for (n = h->request_headers; n != NULL; n = n->next) memset(n->data, 0, strlen(n->data));
  curl_slist_free_all(h->request_headers);
  h->request_headers = NULL;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  curl_handle *h = (curl_handle *)ud;
  return buffer_append(&h->body, p, size * n) ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  curl_handle *h = (curl_handle *)ud;
  if (size * n >= 5 && memcmp(p, "HTTP/", 5) == 0) h->head.len = 0; /* a new response */
  return buffer_append(&h->head, p, size * n) ? size * n : 0;
}

static curl_handle *check_handle(lua_State *L, int idx) {
  curl_handle *h = (curl_handle *)luaL_checkudata(L, idx, HANDLE_MT);
  if (h->easy == NULL) luaL_argerror(L, idx, "handle is closed");
  return h;
}

static int l_handle_close(lua_State *L) {
  curl_handle *h = (curl_handle *)luaL_checkudata(L, 1, HANDLE_MT);
  free_request_headers(h);
  if (h->easy != NULL) curl_easy_cleanup(h->easy);
  h->easy = NULL;
  buffer_free(&h->body);
  buffer_free(&h->head);
  return 0;
}

static long opt_ms_field(lua_State *L, int t, const char *name, double def) {
  double secs;
  lua_getfield(L, t, name);
  secs = luaL_optnumber(L, -1, def);
  lua_pop(L, 1);
  if (!(secs > 0) || secs > 86400) luaL_error(L, "option '%s' must be > 0 and <= 86400 seconds", name);
  return (long)(secs * 1000 + 0.5);
}

static const char *opt_string_field(lua_State *L, int t, const char *name) {
  const char *v;
  lua_getfield(L, t, name);
  if (lua_isnil(L, -1)) v = NULL;
  else if (lua_type(L, -1) == LUA_TSTRING) v = lua_tostring(L, -1);
  else {
    luaL_error(L, "option '%s' must be a string", name);
    return NULL;
  }
  lua_pop(L, 1); /* the option table still anchors the string */
  return v;
}

static int set_string_option(curl_handle *h, CURLoption opt, const char *v) {
  return v == NULL || curl_easy_setopt(h->easy, opt, v) == CURLE_OK;
}

/* curl.new{ timeout=, connect_timeout=, ca_file=, ca_path=, proxy=,
 *           user_agent=, max_body= } -> handle */
static int l_handle_new(lua_State *L) {
  curl_handle *h;
  long timeout_ms, connect_ms;
  const char *ca_file, *ca_path, *proxy, *user_agent;
  double max_body;

  if (lua_isnoneornil(L, 1)) lua_newtable(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  timeout_ms = opt_ms_field(L, 1, "timeout", 60);
  connect_ms = opt_ms_field(L, 1, "connect_timeout", 10);
  ca_file = opt_string_field(L, 1, "ca_file");
  ca_path = opt_string_field(L, 1, "ca_path");
  proxy = opt_string_field(L, 1, "proxy");
  user_agent = opt_string_field(L, 1, "user_agent");
  lua_getfield(L, 1, "max_body");
  max_body = luaL_optnumber(L, -1, MAX_BODY_DEFAULT);
  lua_pop(L, 1);
  if (!(max_body >= 1)) return luaL_error(L, "option 'max_body' must be >= 1");

  h = (curl_handle *)lua_newuserdata(L, sizeof *h);
  memset(h, 0, sizeof *h);
  luaL_setmetatable(L, HANDLE_MT);
  h->body.limit = (size_t)max_body;
  h->head.limit = MAX_HEAD;
  h->easy = curl_easy_init();
  if (h->easy == NULL) return luaL_error(L, "curl_easy_init failed");

  curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, h->errbuf);
  curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, h);
  curl_easy_setopt(h->easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h->easy, CURLOPT_HEADERDATA, h);
  curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
  curl_easy_setopt(h->easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h->easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h->easy, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h->easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h->easy, CURLOPT_ACCEPT_ENCODING, "");
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(h->easy, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  if (!set_string_option(h, CURLOPT_CAINFO, ca_file) ||
      !set_string_option(h, CURLOPT_CAPATH, ca_path) ||
      !set_string_option(h, CURLOPT_PROXY, proxy) ||
      !set_string_option(h, CURLOPT_USERAGENT, user_agent))
    return luaL_error(L, "libcurl refused an option (ca_file, ca_path, proxy or user_agent)");
  return 1;
}

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

/* Lowercased "name: value" lines into a table; repeats joined with ", ". */
static void push_response_headers(lua_State *L, const byte_buffer *head) {
  const char *p = head->data, *end = head->data + head->len;
  lua_newtable(L);
  while (p != NULL && p < end) {
    const char *eol = (const char *)memchr(p, '\n', (size_t)(end - p));
    const char *line_end = eol ? eol : end;
    const char *colon = (const char *)memchr(p, ':', (size_t)(line_end - p));
    if (colon != NULL && colon > p && memcmp(p, "HTTP/", 5) != 0) {
      const char *v = colon + 1, *vend = line_end;
      luaL_Buffer name;
      const char *c;
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
}

static int append_header(curl_handle *h, const char *line) {
  struct curl_slist *grown = curl_slist_append(h->request_headers, line);
  if (grown == NULL) return 0;
  h->request_headers = grown;
  return 1;
}

/* The Authorization line goes straight from the session into the list. */
static int append_authorization(curl_handle *h, const paddle_session *s) {
  static const char prefix[] = "Authorization: Bearer ";
  size_t n = sizeof prefix - 1 + s->key_len + 1;
  char *line = (char *)malloc(n);
  int ok;
  if (line == NULL) return 0;
  memcpy(line, prefix, sizeof prefix - 1);
  memcpy(line + sizeof prefix - 1, s->key, s->key_len + 1);
  ok = append_header(h, line);
  memset(line, 0, n);
  free(line);
  return ok;
}

/* h:perform(session, method, url, headers, body)
 *   -> status, headers, body, info
 *   -> nil, code, detail, sent */
static int l_handle_perform(lua_State *L) {
  curl_handle *h = check_handle(L, 1);
  paddle_session *s = (paddle_session *)luaL_checkudata(L, 2, PADDLE_SESSION_MT);
  const char *method = luaL_checkstring(L, 3);
  const char *url = luaL_checkstring(L, 4);
  size_t body_len = 0, i, n;
  const char *body = luaL_optlstring(L, 6, NULL, &body_len);
  CURLcode rc;
  long status = 0, request_size = 0, connects = 0;
  double total_time = 0;

  luaL_checktype(L, 5, LUA_TTABLE);
  if (s->key == NULL) return luaL_argerror(L, 2, "session is closed");
  n = paddle_rawlen(L, 5);
  for (i = 1; i <= n; i++) { /* check every line before building anything */
    lua_rawgeti(L, 5, (int)i);
    if (lua_type(L, -1) != LUA_TSTRING) return luaL_error(L, "header %d must be a string", (int)i);
    lua_pop(L, 1);
  }

  free_request_headers(h);
  h->body.len = h->head.len = 0;
  h->body.overflow = h->head.overflow = 0;
  h->errbuf[0] = '\0';
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, 5, (int)i);
    if (!append_header(h, lua_tostring(L, -1))) return luaL_error(L, "out of memory");
    lua_pop(L, 1);
  }
  /* Stop libcurl adding "Expect: 100-continue" to large bodies. */
  if (!append_header(h, "Expect:") || !append_authorization(h, s))
    return luaL_error(L, "out of memory");

  /* A POST/PUT/PATCH without a body still says Content-Length: 0. */
  if (body == NULL && (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                       strcmp(method, "PATCH") == 0))
    body = "";
  curl_easy_setopt(h->easy, CURLOPT_URL, url);
  curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, h->request_headers);
  curl_easy_setopt(h->easy, CURLOPT_NOBODY, 0L);
  if (body != NULL) {
    curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, body);
  } else {
    curl_easy_setopt(h->easy, CURLOPT_HTTPGET, 1L); /* also clears POST state */
  }
  curl_easy_setopt(h->easy, CURLOPT_CUSTOMREQUEST,
                   (strcmp(method, "GET") == 0 && body == NULL) ||
                   (strcmp(method, "POST") == 0 && body != NULL) ? NULL : method);

  /* libcurl silently resends a request whose reused connection died before
   * answering. Paddle may have created the customer by then: a POST always
   * goes on a fresh connection, so it is sent exactly once. */
  curl_easy_setopt(h->easy, CURLOPT_FRESH_CONNECT, strcmp(method, "POST") == 0 ? 1L : 0L);
  rc = curl_easy_perform(h->easy);
  /* The body pointer must not outlive this call: libcurl does not copy it. */
  curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, NULL);
  free_request_headers(h);
  curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, NULL);

  curl_easy_getinfo(h->easy, CURLINFO_REQUEST_SIZE, &request_size);
  if (rc != CURLE_OK) {
    const char *code = h->body.overflow ? "response_too_large" : failure_code(rc);
    lua_pushnil(L);
    lua_pushstring(L, code);
    lua_pushstring(L, h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
    lua_pushboolean(L, request_size > 0 && strcmp(code, "connect_error") != 0);
    return 4;
  }
  curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(h->easy, CURLINFO_NUM_CONNECTS, &connects);
  curl_easy_getinfo(h->easy, CURLINFO_TOTAL_TIME, &total_time);
  lua_pushinteger(L, (lua_Integer)status);
  push_response_headers(L, &h->head);
  lua_pushlstring(L, h->body.data ? h->body.data : "", h->body.len);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, (lua_Integer)connects);
  lua_setfield(L, -2, "new_connections");
  lua_pushnumber(L, total_time);
  lua_setfield(L, -2, "total_time");
  return 4;
}

static int l_handle_tostring(lua_State *L) {
  curl_handle *h = (curl_handle *)luaL_checkudata(L, 1, HANDLE_MT);
  lua_pushfstring(L, "paddle.curl.Handle (%s)", h->easy ? "open" : "closed");
  return 1;
}

static const luaL_Reg handle_methods[] = {
  {"perform", l_handle_perform},
  {"close", l_handle_close},
  {NULL, NULL}
};

static const luaL_Reg curl_funcs[] = {
  {"new", l_handle_new},
  {NULL, NULL}
};

int luaopen_paddle_curl(lua_State *L) {
  const curl_version_info_data *info;
  if (!curl_ready) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      return luaL_error(L, "paddle.curl: curl_global_init failed");
    curl_ready = 1;
  }
  if (luaL_newmetatable(L, HANDLE_MT)) {
    lua_newtable(L);
    luaL_setfuncs(L, handle_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_handle_close);
    lua_setfield(L, -2, "__gc");
#ifdef PADDLE_HAS_CLOSE
    lua_pushcfunction(L, l_handle_close);
    lua_setfield(L, -2, "__close");
#endif
    lua_pushcfunction(L, l_handle_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  info = curl_version_info(CURLVERSION_NOW);
  luaL_newlib(L, curl_funcs);
  lua_pushstring(L, info->version);
  lua_setfield(L, -2, "version");
  lua_pushstring(L, info->ssl_version ? info->ssl_version : "none");
  lua_setfield(L, -2, "ssl_version");
  return 1;
}
