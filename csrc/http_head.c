/*
 * HTTP/1.1 heads for the cosocket transport (paddle.ngx.http): parsing a
 * response head and building a request head. In C because on the OpenResty
 * path these ran as Lua pattern calls that cost ~30 us per call and kept the
 * LuaJIT trace compiler out of the request loop (pattern functions are not
 * compiled); paddle.core is loaded in nginx anyway.
 *
 * core.http_head(rest) -> status, framing, length, keepalive, request_id, retry_after
 *                       | nil, message
 *   rest: the response head after its first 5 bytes ("HTTP/"), without the
 *   blank line that ends it. framing: "length" (length = Content-Length),
 *   "chunked", "chunked+length" (both framings: read chunked, never reuse) or
 *   "close" (read to the end). keepalive: HTTP/1.1 and no "Connection: close".
 * core.http_headers(rest) -> headers, reason | nil, message
 *   the same head as a table: lowercased names, repeated names joined with
 *   ", ", obsolete line folding joined with a space.
 * core.http_request_head(session_or_nil, method, target, fixed, body_length_or_nil)
 *   -> "METHOD target HTTP/1.1\r\n" [Authorization: Bearer <key>] fixed
 *      [Content-Length] "\r\n"; fixed = pre-built header lines (Host, ...).
 *   Raises when target holds a space or control character.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "session.h"

typedef struct {
  const char *p;
  size_t n;
} span;

/* A header line split into trimmed name and value; fold = continuation line. */
typedef struct {
  span name, value;
  int fold;
} header_line;

/* What the transport needs to know about a head. */
typedef struct {
  int status;
  int minor;
  span reason;
  int te_seen, te_chunked;
  int cl_seen, cl_bad;
  long long cl;
  int conn_close;
  span request_id, retry_after;
  int rid_count, ra_count;
  int folded; /* some line was folded: values must be joined, use the table path */
} head_info;

static int is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int lower_ascii(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

static int span_ieq(span s, const char *lit) {
  size_t i, n = strlen(lit);
  if (s.n != n) return 0;
  for (i = 0; i < n; i++)
    if (lower_ascii((unsigned char)s.p[i]) != lit[i]) return 0;
  return 1;
}

static span trim(const char *p, size_t n) {
  span s;
  while (n > 0 && (*p == ' ' || *p == '\t')) p++, n--;
  while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
  s.p = p;
  s.n = n;
  return s;
}

/* Lines end in CRLF; a bare CR or LF anywhere is an error. */
static const char *check_line_breaks(const char *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r')) return "bare CR or LF in the response head";
    if (p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n')) return "bare CR or LF in the response head";
  }
  return NULL;
}

/* "1.1 200 OK" (after "HTTP/"): fills status, minor, reason. */
static const char *parse_status_line(const char *p, size_t n, head_info *h) {
  size_t k;
  if (n < 7 || p[0] != '1' || p[1] != '.' || p[2] < '0' || p[2] > '9' || p[3] != ' ')
    return "invalid status line";
  for (k = 4; k < 7; k++)
    if (p[k] < '0' || p[k] > '9') return "invalid status line";
  if (n > 7 && p[7] != ' ') return "invalid status line";
  h->minor = p[2] - '0';
  h->status = (p[4] - '0') * 100 + (p[5] - '0') * 10 + (p[6] - '0');
  h->reason.p = p + (n > 7 ? 8 : 7);
  h->reason.n = n > 7 ? n - 8 : 0;
  return NULL;
}

static const char *parse_header_line(const char *p, size_t n, int have_prev, header_line *out) {
  size_t i = 0;
  if (n > 0 && (p[0] == ' ' || p[0] == '\t')) {
    if (!have_prev) return "continuation line before any header";
    out->fold = 1;
    out->name.p = NULL;
    out->name.n = 0;
    out->value = trim(p, n);
  } else {
    while (i < n && is_tchar((unsigned char)p[i])) i++;
    if (i == 0 || i == n || p[i] != ':') return "malformed header line";
    out->fold = 0;
    out->name.p = p;
    out->name.n = i;
    out->value = trim(p + i + 1, n - i - 1);
  }
  if (out->value.n > 0 && memchr(out->value.p, '\0', out->value.n) != NULL)
    return "NUL byte in a header value";
  return NULL;
}

/* The next comma-separated item of v, trimmed of spaces and tabs; advances v. */
static span next_item(span *v) {
  const char *comma = v->n ? memchr(v->p, ',', v->n) : NULL;
  size_t len = comma ? (size_t)(comma - v->p) : v->n;
  span item = trim(v->p, len);
  v->p += comma ? len + 1 : len;
  v->n -= comma ? len + 1 : len;
  return item;
}

/* Content-Length: every item digits, all equal (repeats may be joined). */
static void note_content_length(head_info *h, span v) {
  h->cl_seen = 1;
  do {
    span item = next_item(&v);
    long long x = 0;
    size_t i;
    if (item.n == 0 || item.n > 15) {
      h->cl_bad = 1;
      return;
    }
    for (i = 0; i < item.n; i++) {
      if (item.p[i] < '0' || item.p[i] > '9') {
        h->cl_bad = 1;
        return;
      }
      x = x * 10 + (item.p[i] - '0');
    }
    if (h->cl >= 0 && h->cl != x) h->cl_bad = 1;
    h->cl = x;
  } while (v.n > 0);
}

/* Transfer-Encoding: chunked when the last coding (the run of characters
 * other than comma and space that ends the value) is "chunked". */
static void note_transfer_encoding(head_info *h, span v) {
  size_t end = v.n, start;
  h->te_seen = 1;
  while (end > 0 && (v.p[end - 1] == ' ' || v.p[end - 1] == '\t')) end--;
  start = end;
  while (start > 0 && v.p[start - 1] != ',' && v.p[start - 1] != ' ' && v.p[start - 1] != '\t') start--;
  v.p += start;
  v.n = end - start;
  h->te_chunked = span_ieq(v, "chunked");
}

static void note_connection(head_info *h, span v) {
  while (v.n > 0)
    if (span_ieq(next_item(&v), "close")) h->conn_close = 1;
}

static void note_header(head_info *h, span name, span value) {
  if (span_ieq(name, "content-length")) {
    note_content_length(h, value);
  } else if (span_ieq(name, "transfer-encoding")) {
    note_transfer_encoding(h, value);
  } else if (span_ieq(name, "connection")) {
    note_connection(h, value);
  } else if (span_ieq(name, "request-id")) {
    h->request_id = value;
    h->rid_count++;
  } else if (span_ieq(name, "retry-after")) {
    h->retry_after = value;
    h->ra_count++;
  }
}

/*
 * Walks the head: status line, then each header line. With L, pushes a table
 * of the headers (on top of the stack); without, fills h from each line.
 * Returns NULL or an error message (the stack then holds what it pushed).
 */
static const char *walk_head(lua_State *L, const char *p, size_t n, head_info *h) {
  const char *end = p + n, *eol;
  const char *err = check_line_breaks(p, n);
  int have_prev = 0;
  if (err) return err;
  eol = n ? memchr(p, '\r', n) : NULL;
  if (!eol) eol = end;
  err = parse_status_line(p, (size_t)(eol - p), h);
  if (err) return err;
  if (L) lua_newtable(L);
  p = eol;
  while (p < end) {
    header_line line;
    p += 2; /* CRLF */
    eol = memchr(p, '\r', (size_t)(end - p));
    if (!eol) eol = end;
    err = parse_header_line(p, (size_t)(eol - p), have_prev, &line);
    if (err) return err;
    if (line.fold) h->folded = 1;
    if (L && line.fold) {
      /* t[last] = t[last] .. " " .. value; the last name is at -1 */
      lua_pushvalue(L, -1);
      lua_pushvalue(L, -1);
      lua_rawget(L, -4);
      lua_pushliteral(L, " ");
      lua_pushlstring(L, line.value.p, line.value.n);
      lua_concat(L, 3);
      lua_rawset(L, -4);
    } else if (L) {
      luaL_Buffer b;
      size_t i;
      if (have_prev) lua_pop(L, 1); /* the previous name */
      luaL_buffinit(L, &b);
      for (i = 0; i < line.name.n; i++) luaL_addchar(&b, (char)lower_ascii((unsigned char)line.name.p[i]));
      luaL_pushresult(&b);
      lua_pushvalue(L, -1);
      lua_pushvalue(L, -1);
      lua_rawget(L, -4);
      if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushlstring(L, line.value.p, line.value.n);
      } else {
        lua_pushliteral(L, ", ");
        lua_pushlstring(L, line.value.p, line.value.n);
        lua_concat(L, 3);
      }
      lua_rawset(L, -4);
    } else if (!line.fold) {
      note_header(h, line.name, line.value);
    }
    have_prev = 1;
    p = eol;
  }
  if (L && have_prev) lua_pop(L, 1); /* the last name */
  return NULL;
}

static void head_info_init(head_info *h) {
  memset(h, 0, sizeof *h);
  h->cl = -1;
}

/* Recomputes h from the joined values of a headers table at idx (folded heads). */
static void info_from_table(lua_State *L, int idx, head_info *h) {
  static const char *const names[] = {"content-length", "transfer-encoding", "connection",
                                      "request-id", "retry-after"};
  size_t i;
  for (i = 0; i < sizeof names / sizeof names[0]; i++) {
    span name, value;
    lua_getfield(L, idx, names[i]);
    if (!lua_isnil(L, -1)) {
      name.p = names[i];
      name.n = strlen(names[i]);
      value.p = lua_tolstring(L, -1, &value.n);
      note_header(h, name, value); /* the string stays referenced by the table */
    }
    lua_pop(L, 1);
  }
}

static int push_fail(lua_State *L, const char *msg) {
  lua_pushnil(L);
  lua_pushstring(L, msg);
  return 2;
}

static void push_span_or_nil(lua_State *L, span s, int count) {
  if (count == 0) lua_pushnil(L);
  else lua_pushlstring(L, s.p, s.n);
}

static int l_http_head(lua_State *L) {
  size_t n;
  const char *p = luaL_checklstring(L, 1, &n);
  head_info h;
  const char *err;
  int base = lua_gettop(L);
  head_info_init(&h);
  err = walk_head(NULL, p, n, &h);
  if (err) return push_fail(L, err);
  if (h.folded || h.rid_count > 1 || h.ra_count > 1) {
    /* rare: let the table join the values, then read them from it */
    head_info joined;
    head_info_init(&joined);
    walk_head(L, p, n, &joined);
    joined.status = h.status;
    joined.minor = h.minor;
    info_from_table(L, base + 1, &joined);
    h = joined;
    h.rid_count = h.rid_count > 0;
    h.ra_count = h.ra_count > 0;
  }
  if (h.cl_seen && h.cl_bad && !h.te_seen) return push_fail(L, "invalid Content-Length");
  lua_pushinteger(L, h.status);
  if (h.te_seen) {
    if (!h.te_chunked) lua_pushliteral(L, "close");
    else if (h.cl_seen) lua_pushliteral(L, "chunked+length");
    else lua_pushliteral(L, "chunked");
  } else if (h.cl_seen) {
    lua_pushliteral(L, "length");
  } else {
    lua_pushliteral(L, "close");
  }
  lua_pushinteger(L, h.cl_seen && !h.cl_bad ? (lua_Integer)h.cl : -1);
  lua_pushboolean(L, h.minor >= 1 && !h.conn_close);
  push_span_or_nil(L, h.request_id, h.rid_count);
  push_span_or_nil(L, h.retry_after, h.ra_count);
  return 6;
}

static int l_http_headers(lua_State *L) {
  size_t n;
  const char *p = luaL_checklstring(L, 1, &n);
  head_info h;
  const char *err;
  head_info_init(&h);
  err = walk_head(L, p, n, &h);
  if (err) return push_fail(L, err);
  lua_pushlstring(L, h.reason.p, h.reason.n);
  return 2;
}

static int l_http_request_head(lua_State *L) {
  size_t method_len, target_len, fixed_len, i;
  const paddle_session *s = NULL;
  const char *method, *target, *fixed;
  long long length = -1; /* none: no Content-Length line */
  luaL_Buffer b;
  if (!lua_isnil(L, 1)) {
    s = (const paddle_session *)luaL_checkudata(L, 1, PADDLE_SESSION_MT);
    if (s->key == NULL) luaL_argerror(L, 1, "session is closed");
  }
  method = luaL_checklstring(L, 2, &method_len);
  target = luaL_checklstring(L, 3, &target_len);
  fixed = luaL_checklstring(L, 4, &fixed_len);
  if (!lua_isnoneornil(L, 5)) {
    length = (long long)luaL_checkinteger(L, 5);
    luaL_argcheck(L, length >= 0, 5, "negative length");
  }
  for (i = 0; i < target_len; i++) {
    unsigned char c = (unsigned char)target[i];
    if (c <= ' ' || c == 127) luaL_argerror(L, 3, "spaces or control characters in the request target");
  }
  luaL_buffinit(L, &b);
  luaL_addlstring(&b, method, method_len);
  luaL_addchar(&b, ' ');
  luaL_addlstring(&b, target, target_len);
  luaL_addstring(&b, " HTTP/1.1\r\n");
  if (s != NULL) {
    luaL_addlstring(&b, s->auth_line, s->auth_len); /* the session's one line */
    luaL_addstring(&b, "\r\n");
  }
  luaL_addlstring(&b, fixed, fixed_len);
  if (length >= 0) { /* (the buffer may have pushed a value: index 5 is no longer the argument) */
    char line[48];
    int k = snprintf(line, sizeof line, "Content-Length: %lld\r\n", length);
    luaL_addlstring(&b, line, (size_t)k);
  }
  luaL_addstring(&b, "\r\n");
  luaL_pushresult(&b);
  return 1;
}

static const luaL_Reg http_head_funcs[] = {
  {"http_head", l_http_head},
  {"http_headers", l_http_headers},
  {"http_request_head", l_http_request_head},
  {NULL, NULL}
};

void paddle_open_http_head(lua_State *L) {
  luaL_setfuncs(L, http_head_funcs, 0);
}
