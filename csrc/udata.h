/*
 * udata.h: how every C type of lua-paddle is made (shared by paddle.core and
 * paddle.curl, so it is all static inline).
 *
 * paddle_newudata is luaossl's prepudata: the userdata exists, zeroed and
 * with its metatable (so its __gc will run), before the caller mallocs
 * anything into it. A __gc written for such a type must accept the all-zero
 * state. paddle_register_type builds that metatable once per Lua state.
 * paddle_wipe is how such a type zeroes a secret before freeing it.
 */
#ifndef PADDLE_UDATA_H
#define PADDLE_UDATA_H

#include <string.h>

#include "compat.h"

static inline void *paddle_newudata(lua_State *L, size_t size, const char *tname) {
  void *p = lua_newuserdata(L, size);
  memset(p, 0, size);
  luaL_setmetatable(L, tname);
  return p;
}

/* The metatable of a C type: methods under __index, `release` as __gc (and
 * __close on 5.4), __tostring (unless NULL), __name; getmetatable() reveals
 * nothing. */
static inline void paddle_register_type(lua_State *L, const char *tname, const luaL_Reg *methods,
                                        lua_CFunction release, lua_CFunction tostring) {
  if (luaL_newmetatable(L, tname)) {
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, release);
    lua_setfield(L, -2, "__gc");
#ifdef PADDLE_HAS_CLOSE
    lua_pushcfunction(L, release);
    lua_setfield(L, -2, "__close");
#endif
    if (tostring != NULL) {
      lua_pushcfunction(L, tostring);
      lua_setfield(L, -2, "__tostring");
    }
    lua_pushstring(L, tname);
    lua_setfield(L, -2, "__name");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
  }
  lua_pop(L, 1);
}

/* Zeroes memory that held a secret; unlike memset, never optimised away. */
static inline void paddle_wipe(void *p, size_t n) {
  if (p != NULL && n > 0) explicit_bzero(p, n);
}

#endif
