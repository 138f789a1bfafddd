/*
 * compat.h: the one place that papers over Lua 5.1/LuaJIT vs 5.4 differences.
 * LuaJIT 2.1 already has luaL_setfuncs, luaL_testudata and luaL_setmetatable;
 * plain Lua 5.1 gets private shims.
 */
#ifndef PADDLE_COMPAT_H
#define PADDLE_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
#  define paddle_rawlen(L, i) lua_objlen(L, (i))
/* LuaJIT 2.1 defines luaL_newlib (and has the 5.2 auxiliary functions). */
#  if !defined(luaL_newlib)
static inline void paddle_compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  luaL_checkstack(L, nup + 1, "too many upvalues");
  for (; l->name != NULL; l++) {
    int i;
    for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}
static inline void *paddle_compat_testudata(lua_State *L, int ud, const char *tname) {
  void *p = lua_touserdata(L, ud);
  if (p == NULL || !lua_getmetatable(L, ud)) return NULL;
  luaL_getmetatable(L, tname);
  if (!lua_rawequal(L, -1, -2)) p = NULL;
  lua_pop(L, 2);
  return p;
}
#    define luaL_setfuncs paddle_compat_setfuncs
#    define luaL_testudata paddle_compat_testudata
#    define luaL_setmetatable(L, t) (luaL_getmetatable(L, t), lua_setmetatable(L, -2))
#    define luaL_newlib(L, l) (lua_newtable(L), luaL_setfuncs(L, l, 0))
#  endif
#else
#  define paddle_rawlen(L, i) lua_rawlen(L, (i))
#endif

/* To-be-closed variables (__close) exist from Lua 5.4 on. */
#if LUA_VERSION_NUM >= 504
#  define PADDLE_HAS_CLOSE 1
#endif

/* Built with -fvisibility=hidden: only luaopen_* carry this. */
#define PADDLE_EXPORT __attribute__((visibility("default")))

#endif
