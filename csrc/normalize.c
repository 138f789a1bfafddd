/*
 * normalize.c: core.normalize(value[, keep_null]) -> value
 *
 * One pass over what lua-cjson decoded, in place:
 *   - cjson.null (a NULL light userdata) becomes nil, unless keep_null: the
 *     key is removed from objects; in arrays the position becomes a hole
 *     (later elements keep their index, so #t may stop at the hole);
 *   - under Lua 5.4, floats holding a whole number within +-2^53 become
 *     integers (200.0 -> 200); larger or fractional numbers stay floats.
 *     LuaJIT has one number type: numbers are left alone there.
 * A top-level null answers nil (or the null itself with keep_null).
 * Under LuaJIT the walk is Lua code compiled from this file at load: its
 * JIT-compiled pairs() loop costs half of what lua_next through the C API
 * does there, and with keep_null there is nothing to do at all.
 * Tables nested deeper than NORMALIZE_MAX_DEPTH (cjson's own default limit)
 * are left as they are, and a table met again on its own path (a cycle,
 * which cjson never produces) is not entered twice. Never raises on a value
 * cjson produced; other values pass through unchanged.
 */
#include "core.h"

#define NORMALIZE_MAX_DEPTH 1000

#if LUA_VERSION_NUM >= 503
#  define HAS_INTEGERS 1
#endif

#ifdef HAS_INTEGERS
typedef struct {
  int keep_null;
  int depth;
  const void *path[NORMALIZE_MAX_DEPTH]; /* tables being walked, outermost first */
} walk;

static int is_null(lua_State *L, int idx) {
  return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL;
}

/* Replaces the float at the top with an integer when it is a whole one. */
static int integer_of(lua_State *L, int idx, lua_Integer *out) {
  lua_Number f;
  if (lua_isinteger(L, idx)) return 0;
  f = lua_tonumber(L, idx);
  /* 2^53: beyond it a float no longer counts integers one by one. */
  if (!(f >= -9007199254740992.0 && f <= 9007199254740992.0)) return 0; /* also NaN */
  *out = (lua_Integer)f;
  return (lua_Number)*out == f;
}

static int on_path(const walk *w, const void *t) {
  int i;
  for (i = 0; i < w->depth; i++)
    if (w->path[i] == t) return 1;
  return 0;
}

static void walk_table(lua_State *L, int t, walk *w);

/* The value at the top of the stack, whose key is just below it, in table t. */
static void walk_entry(lua_State *L, int t, walk *w) {
  int type = lua_type(L, -1);
  if (type == LUA_TTABLE) {
    walk_table(L, lua_gettop(L), w);
  } else if (type == LUA_TLIGHTUSERDATA) {
    if (!w->keep_null && is_null(L, -1)) {
      /* Assigning nil to an existing field is allowed during lua_next. */
      lua_pushvalue(L, -2);
      lua_pushnil(L);
      lua_rawset(L, t);
    }
  } else if (type == LUA_TNUMBER) {
    lua_Integer i;
    if (integer_of(L, -1, &i)) {
      lua_pushvalue(L, -2);
      lua_pushinteger(L, i);
      lua_rawset(L, t);
    }
  }
}

static void walk_table(lua_State *L, int t, walk *w) {
  const void *self = lua_topointer(L, t);
  if (w->depth >= NORMALIZE_MAX_DEPTH || on_path(w, self) || !lua_checkstack(L, 4)) return;
  w->path[w->depth++] = self;
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    walk_entry(L, t, w);
    lua_pop(L, 1);
  }
  w->depth--;
}

static int l_normalize(lua_State *L) {
  walk w; /* 8 KiB of path on the C stack: no allocation, nothing to leak */
  lua_settop(L, 2);
  if (is_null(L, 1)) {
    if (!lua_toboolean(L, 2)) lua_pushnil(L);
    else lua_pushvalue(L, 1);
    return 1;
  }
  if (lua_type(L, 1) == LUA_TNUMBER) {
    lua_Integer i;
    if (integer_of(L, 1, &i)) lua_pushinteger(L, i);
    else lua_pushvalue(L, 1);
    return 1;
  }
  if (lua_type(L, 1) == LUA_TTABLE) {
    w.keep_null = lua_toboolean(L, 2);
    w.depth = 0;
    walk_table(L, 1, &w);
  }
  lua_pushvalue(L, 1);
  return 1;
}

void paddle_open_normalize(lua_State *L) {
  lua_pushcfunction(L, l_normalize);
  lua_setfield(L, -2, "normalize");
}

#else /* LuaJIT, Lua 5.1: the same walk as Lua source, run by the JIT */

/* Called with cjson.null and the depth limit; returns normalize. path holds
 * the tables being walked (cleared on the way out: it keeps nothing alive). */
static const char normalize_lua[] =
  "local null, MAX_DEPTH = ...\n"
  "local pairs, type = pairs, type\n"
  "local path = {}\n"
  "local function on_path(t, depth)\n"
  "  for i = 1, depth do if path[i] == t then return true end end\n"
  "  return false\n"
  "end\n"
  "local function walk(t, depth)\n"
  "  path[depth] = t\n"
  "  for k, v in pairs(t) do\n"
  "    if v == null then t[k] = nil\n"
  "    elseif type(v) == 'table' and depth < MAX_DEPTH and not on_path(v, depth) then\n"
  "      walk(v, depth + 1)\n"
  "    end\n"
  "  end\n"
  "  path[depth] = nil\n"
  "end\n"
  "return function(value, keep_null)\n"
  "  if value == null then if keep_null then return value end return nil end\n"
  "  if not keep_null and type(value) == 'table' then walk(value, 1) end\n"
  "  return value\n"
  "end\n";

void paddle_open_normalize(lua_State *L) {
  if (luaL_loadbuffer(L, normalize_lua, sizeof normalize_lua - 1, "=paddle.core.normalize") != 0)
    lua_error(L);
  lua_pushlightuserdata(L, NULL); /* cjson.null */
  lua_pushinteger(L, NORMALIZE_MAX_DEPTH);
  lua_call(L, 2, 1);
  lua_setfield(L, -2, "normalize");
}

#endif
