/*
 * json_decode.c: core.json_decode(text[, keep_null[, array_mt]])
 *   -> value | nil, message
 *
 * core.json_null: what null reads as with keep_null.
 *
 * RFC 8259 JSON straight to Lua values, in one pass over the text:
 *   - null is nil (an object's field is left out; in an array the position
 *     stays a hole, so later elements keep their index), or with keep_null
 *     the NULL light userdata that lua-cjson calls cjson.null;
 *   - under Lua 5.4 a whole number within +-2^63 written without fraction or
 *     exponent is an integer, and so is any other whole number within +-2^53
 *     (200.0, 2e2); the rest are floats. LuaJIT has one number type;
 *   - with array_mt (a table), every array, empty ones included, gets it as
 *     its metatable, so [] and {} stay apart;
 *   - a number beyond a double's range, a lone surrogate, a raw control
 *     character in a string, nesting deeper than 1000 or anything after the
 *     value is refused with a message naming the byte where it was found.
 * Strings without escapes go to Lua directly from the text. Nothing is
 * allocated outside Lua, so an out-of-memory raise leaks nothing.
 *
 * It exists because lua-cjson 2.1.0 (Debian's) decodes every number as a
 * float and null as a sentinel; converting its result took a second walk
 * over every table, which cost more than the decode's own 10% budget.
 */
#include "core.h"

#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 1000

#if LUA_VERSION_NUM >= 503
#  define HAS_INTEGERS 1
#endif

enum { FAILED = -1, SKIPPED_NULL = 0, PUSHED = 1 };

typedef struct {
  lua_State *L;
  const char *p;     /* next byte to read; the text ends with a '\0' at end */
  const char *text;
  const char *end;
  int keep_null;
  int array_mt;      /* stack index of the arrays' metatable, or 0 */
  int depth;
  const char *why;   /* a static message once something failed */
  const char *where;
} parser;

static int fail(parser *s, const char *why, const char *where) {
  s->why = why;
  s->where = where;
  return FAILED;
}

static void skip_space(parser *s) {
  const char *p = s->p;
  while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
  s->p = p;
}

static int hex_digit(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The 4 hex digits at p (which has at least 4 bytes before the end), or -1. */
static long hex4(const char *p) {
  long v = 0;
  int i;
  for (i = 0; i < 4; i++) {
    int d = hex_digit((unsigned char)p[i]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

static void add_utf8(luaL_Buffer *b, unsigned long cp) {
  char out[4];
  size_t n;
  if (cp < 0x80) {
    out[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  luaL_addlstring(b, out, n);
}

/* \uXXXX at p (p at the backslash), a surrogate pair taken whole. Returns
 * the code point and sets *next, or -1 after fail(). */
static long unicode_escape(parser *s, const char *p, const char **next) {
  long hi, lo;
  if (s->end - p < 6 || (hi = hex4(p + 2)) < 0) return fail(s, "invalid \\u escape", p);
  if (hi >= 0xDC00 && hi <= 0xDFFF) return fail(s, "lone low surrogate in \\u escape", p);
  if (hi < 0xD800 || hi > 0xDBFF) {
    *next = p + 6;
    return hi;
  }
  if (s->end - p < 12 || p[6] != '\\' || p[7] != 'u' || (lo = hex4(p + 8)) < 0xDC00 || lo > 0xDFFF)
    return fail(s, "high surrogate without its low half in \\u escape", p);
  *next = p + 12;
  return 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
}

/* The rest of a string whose first escape is at p; run is the text before it. */
static int string_with_escapes(parser *s, const char *run, const char *p) {
  luaL_Buffer b;
  /* The buffer may take stack slots of its own (LuaJIT's keeps pieces there). */
  if (!lua_checkstack(s->L, LUA_MINSTACK)) return fail(s, "nested too deeply for the Lua stack", p);
  luaL_buffinit(s->L, &b);
  luaL_addlstring(&b, run, (size_t)(p - run));
  for (;;) {
    unsigned char c = (unsigned char)*p;
    if (c == '"') break;
    if (c < 0x20) {
      return fail(s, p >= s->end ? "unterminated string" : "control character in string", p);
    }
    if (c != '\\') {
      const char *from = p;
      do p++; while (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20);
      luaL_addlstring(&b, from, (size_t)(p - from));
      continue;
    }
    switch (p[1]) {
      case '"': luaL_addchar(&b, '"'); break;
      case '\\': luaL_addchar(&b, '\\'); break;
      case '/': luaL_addchar(&b, '/'); break;
      case 'b': luaL_addchar(&b, '\b'); break;
      case 'f': luaL_addchar(&b, '\f'); break;
      case 'n': luaL_addchar(&b, '\n'); break;
      case 'r': luaL_addchar(&b, '\r'); break;
      case 't': luaL_addchar(&b, '\t'); break;
      case 'u': {
        const char *next;
        long cp = unicode_escape(s, p, &next);
        if (cp < 0) return FAILED;
        add_utf8(&b, (unsigned long)cp);
        p = next;
        continue;
      }
      default:
        return fail(s, "invalid escape in string", p);
    }
    p += 2;
  }
  luaL_pushresult(&b);
  s->p = p + 1;
  return PUSHED;
}

/* A string; s->p is just after its opening quote. */
/* Bytes that end a run of plain string text: '"', '\\' and controls
 * (the text's final '\0' among them). One load per byte instead of three
 * comparisons. */
static const unsigned char ends_run[256] = {
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* '"' */
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* '\\' */
};

static int parse_string(parser *s) {
  const char *start = s->p, *p = start;
  for (;;) {
    unsigned char c;
    while (!ends_run[(unsigned char)*p]) p++;
    c = (unsigned char)*p;
    if (c == '"') break;
    if (c == '\\') return string_with_escapes(s, start, p);
    return fail(s, p >= s->end ? "unterminated string" : "control character in string", p);
  }
  lua_pushlstring(s->L, start, (size_t)(p - start));
  s->p = p + 1;
  return PUSHED;
}

/* strtod reads the C locale's '.' only when LC_NUMERIC says so: otherwise
 * the number again with the locale's decimal point (one byte or more) for
 * its '.', in a Lua userdata when it is long (pushed, then popped). */
static int to_double(lua_State *L, const char *from, const char *to, double *out) {
  char local[256], *buf = local, *end;
  const char *point;
  size_t n = (size_t)(to - from), k, i, j;
  int ok;
  *out = strtod(from, &end);
  if (end == to) return 1;
  point = localeconv()->decimal_point;
  if (point == NULL || (k = strlen(point)) == 0) return 0;
  if (n + k >= sizeof local) buf = (char *)lua_newuserdata(L, n + k); /* one '.' at most */
  for (i = j = 0; i < n; i++) {
    if (from[i] == '.') {
      memcpy(buf + j, point, k);
      j += k;
    } else {
      buf[j++] = from[i];
    }
  }
  buf[j] = '\0';
  *out = strtod(buf, &end);
  ok = end == buf + j;
  if (buf != local) lua_pop(L, 1);
  return ok;
}

static void push_double(lua_State *L, double d) {
#ifdef HAS_INTEGERS
  /* 2^53: beyond it a double no longer counts integers one by one. */
  if (d >= -9007199254740992.0 && d <= 9007199254740992.0 && d == (double)(lua_Integer)d) {
    lua_pushinteger(L, (lua_Integer)d);
    return;
  }
#endif
  lua_pushnumber(L, d);
}

static int parse_number(parser *s) {
  const char *start = s->p, *p = start;
  int negative = 0, whole = 1, digits = 0;
  uint64_t magnitude = 0;
  double d;
  if (*p == '-') {
    negative = 1;
    p++;
  }
  if (*p == '0') {
    p++;
    digits = 1;
  } else if (*p >= '1' && *p <= '9') {
    for (; *p >= '0' && *p <= '9'; p++, digits++) magnitude = magnitude * 10 + (uint64_t)(*p - '0');
  } else {
    return fail(s, "invalid number", start);
  }
  if (*p == '.') {
    whole = 0;
    if (!(*++p >= '0' && *p <= '9')) return fail(s, "invalid number", start);
    while (*p >= '0' && *p <= '9') p++;
  }
  if (*p == 'e' || *p == 'E') {
    whole = 0;
    p++;
    if (*p == '+' || *p == '-') p++;
    if (!(*p >= '0' && *p <= '9')) return fail(s, "invalid number", start);
    while (*p >= '0' && *p <= '9') p++;
  }
  s->p = p;
  /* 19 digits always fit 64 bits unsigned: the common case needs no strtod. */
  if (whole && digits <= 19 && magnitude <= (uint64_t)INT64_MAX + negative) {
#ifdef HAS_INTEGERS
    if (sizeof(lua_Integer) >= sizeof(int64_t)) {
      lua_pushinteger(s->L, negative ? (lua_Integer)(0 - magnitude) : (lua_Integer)magnitude);
      return PUSHED;
    }
#endif
    d = (double)magnitude;
    lua_pushnumber(s->L, negative ? -d : d);
    return PUSHED;
  }
  if (!to_double(s->L, start, p, &d)) return fail(s, "invalid number", start);
  if (d == HUGE_VAL || d == -HUGE_VAL) return fail(s, "number out of range", start);
  push_double(s->L, d);
  return PUSHED;
}

static int literal(parser *s, const char *word, size_t n) {
  if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
    return fail(s, "invalid value", s->p);
  s->p += n;
  return PUSHED;
}

static int parse_value(parser *s);

static int enter(parser *s) {
  if (++s->depth > JSON_MAX_DEPTH) return fail(s, "nested too deeply", s->p);
  if (!lua_checkstack(s->L, 2)) return fail(s, "nested too deeply for the Lua stack", s->p);
  return PUSHED;
}

/* Members wait on the Lua stack, up to GATHER of them, so that each table
 * is made once at its final size: filling an empty table rehashes it at 1,
 * 2, 4, 8... entries. Only the outer GATHER_DEPTH levels gather: LuaJIT
 * gives a C function at most 8000 stack slots. */
#define GATHER 32
#define GATHER_DEPTH 16

/* The table at slot (made now, sized for n more entries than it gets here,
 * if slot still holds nil) takes the n key/value pairs above it, in the
 * document's order: of duplicate keys the last wins. A nil value (a null)
 * removes an earlier duplicate and is otherwise skipped: LuaJIT would keep
 * an empty slot for it. */
static void flush_pairs(lua_State *L, int slot, int n, int more) {
  int i;
  if (lua_isnil(L, slot)) {
    lua_createtable(L, 0, n + more);
    lua_replace(L, slot);
  }
  for (i = 0; i < n; i++) {
    lua_pushvalue(L, slot + 1 + 2 * i);
    if (lua_isnil(L, slot + 2 + 2 * i)) {
      lua_rawget(L, slot);
      if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        continue;
      }
      lua_pop(L, 1);
      lua_pushvalue(L, slot + 1 + 2 * i);
    }
    lua_pushvalue(L, slot + 2 + 2 * i);
    lua_rawset(L, slot);
  }
  lua_settop(L, slot);
}

/* The same for the n items above slot, the first of them at index first;
 * a nil (a null) leaves its index empty. */
static void flush_items(parser *s, int slot, int n, lua_Integer first, int more) {
  lua_State *L = s->L;
  if (lua_isnil(L, slot)) {
    lua_createtable(L, n + more, 0);
    if (s->array_mt) {
      lua_pushvalue(L, s->array_mt);
      lua_setmetatable(L, -2);
    }
    lua_replace(L, slot);
  }
  for (; n > 0; n--) { /* from the top down: lua_rawseti pops */
    if (lua_isnil(L, -1)) lua_pop(L, 1);
    else lua_rawseti(L, slot, first + n - 1);
  }
}

/* Opens the object or array at s->p: pushes its table's place (nil until
 * the table is made) at *slot and says how many members it gathers. Returns
 * 1 when members follow, 0 when it closes at once. */
static int open_container(parser *s, char close, int *slot, int *gather) {
  if (enter(s) == FAILED) return FAILED;
  *gather = s->depth <= GATHER_DEPTH ? GATHER : 1;
  lua_pushnil(s->L);
  *slot = lua_gettop(s->L);
  s->p++;
  skip_space(s);
  if (*s->p != close) return 1;
  s->p++;
  return 0;
}

/* After a member: 1 when ',' says another follows, 0 at the closing byte. */
static int next_member(parser *s, char close, const char *expected) {
  skip_space(s);
  if (*s->p == ',') {
    s->p++;
    skip_space(s);
    return 1;
  }
  if (*s->p != close) return fail(s, expected, s->p);
  s->p++;
  return 0;
}

static int parse_object(parser *s) {
  lua_State *L = s->L;
  int slot, gather, pending = 0;
  int more = open_container(s, '}', &slot, &gather);
  while (more == 1) {
    if (pending == gather) {
      flush_pairs(L, slot, pending, pending);
      pending = 0;
    }
    /* Room for the batch's pairs and what a value needs, once per batch. */
    if (pending == 0 && !lua_checkstack(L, 2 * gather + 4))
      return fail(s, "nested too deeply for the Lua stack", s->p);
    if (*s->p != '"') return fail(s, "expected a string key", s->p);
    s->p++;
    if (parse_string(s) == FAILED) return FAILED;
    skip_space(s);
    if (*s->p != ':') return fail(s, "expected ':' after a key", s->p);
    s->p++;
    skip_space(s);
    switch (parse_value(s)) {
      case FAILED: return FAILED;
      case SKIPPED_NULL: lua_pushnil(L); break; /* no field, even over an earlier duplicate */
      default: break;
    }
    pending++;
    more = next_member(s, '}', "expected ',' or '}' in an object");
  }
  if (more == FAILED) return FAILED;
  flush_pairs(L, slot, pending, 0);
  s->depth--;
  return PUSHED;
}

static int parse_array(parser *s) {
  lua_State *L = s->L;
  lua_Integer first = 1;
  int slot, gather, pending = 0;
  int more = open_container(s, ']', &slot, &gather);
  while (more == 1) {
    if (pending == gather) {
      flush_items(s, slot, pending, first, pending);
      first += pending;
      pending = 0;
    }
    if (pending == 0 && !lua_checkstack(L, gather + 4))
      return fail(s, "nested too deeply for the Lua stack", s->p);
    switch (parse_value(s)) {
      case FAILED: return FAILED;
      case SKIPPED_NULL: lua_pushnil(L); break; /* keeps its index */
      default: break;
    }
    pending++;
    more = next_member(s, ']', "expected ',' or ']' in an array");
  }
  if (more == FAILED) return FAILED;
  flush_items(s, slot, pending, first, 0);
  s->depth--;
  return PUSHED;
}

/* One value at s->p (no space before it). */
static int parse_value(parser *s) {
  switch (*s->p) {
    case '"':
      s->p++;
      return parse_string(s);
    case '{':
      return parse_object(s);
    case '[':
      return parse_array(s);
    case 't':
      if (literal(s, "true", 4) == FAILED) return FAILED;
      lua_pushboolean(s->L, 1);
      return PUSHED;
    case 'f':
      if (literal(s, "false", 5) == FAILED) return FAILED;
      lua_pushboolean(s->L, 0);
      return PUSHED;
    case 'n':
      if (literal(s, "null", 4) == FAILED) return FAILED;
      if (!s->keep_null) return SKIPPED_NULL;
      lua_pushlightuserdata(s->L, NULL);
      return PUSHED;
    default:
      if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) return parse_number(s);
      if (s->p >= s->end) return fail(s, "unexpected end of text", s->p);
      return fail(s, "invalid value", s->p);
  }
}

static int l_json_decode(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  parser s;
  int got;
  s.L = L;
  s.p = s.text = text;
  s.end = text + len;
  s.keep_null = lua_toboolean(L, 2);
  s.array_mt = 0;
  s.depth = 0;
  s.why = NULL;
  s.where = text;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    s.array_mt = 3;
  }
  lua_settop(L, 3);
  skip_space(&s);
  got = parse_value(&s);
  if (got != FAILED) {
    skip_space(&s);
    if (s.p != s.end) got = fail(&s, "unexpected text after the value", s.p);
  }
  if (got == FAILED) {
    char at[32];
    lua_settop(L, 3);
    lua_pushnil(L);
    snprintf(at, sizeof at, "%lu", (unsigned long)(s.where - text) + 1);
    lua_pushfstring(L, "invalid JSON: %s at byte %s", s.why, at);
    return 2;
  }
  if (got == SKIPPED_NULL) lua_pushnil(L);
  return 1;
}

void paddle_open_json_decode(lua_State *L) {
  lua_pushcfunction(L, l_json_decode);
  lua_setfield(L, -2, "json_decode");
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "json_null");
}
