/*
 * Paddle ids: a prefix, "_" and 26 lowercase letters or digits (Paddle's
 * OpenAPI document: ^ctm_[a-z\d]{26}$). Checked in C because it runs for
 * every id put into a URL path, and a Lua pattern costs more than the check.
 */
#include <string.h>

#include "core.h"

#define ID_TAIL_LEN 26

static int is_id(const char *prefix, size_t prefix_len, const char *s, size_t len) {
  size_t i;
  if (len != prefix_len + 1 + ID_TAIL_LEN || memcmp(s, prefix, prefix_len) != 0 ||
      s[prefix_len] != '_')
    return 0;
  for (i = prefix_len + 1; i < len; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return 0;
  }
  return 1;
}

/* core.is_id(prefix, value) -> true when value is a string "<prefix>_" and
 * 26 [a-z0-9]; false for anything else, whatever its type. */
static int l_is_id(lua_State *L) {
  size_t prefix_len, len;
  const char *prefix = luaL_checklstring(L, 1, &prefix_len);
  const char *s;
  if (lua_type(L, 2) != LUA_TSTRING) {
    lua_pushboolean(L, 0);
    return 1;
  }
  s = lua_tolstring(L, 2, &len);
  lua_pushboolean(L, is_id(prefix, prefix_len, s, len));
  return 1;
}

static const luaL_Reg ids_funcs[] = {
  {"is_id", l_is_id},
  {NULL, NULL}
};

void paddle_open_ids(lua_State *L) {
  luaL_setfuncs(L, ids_funcs, 0);
}
