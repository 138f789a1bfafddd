/*
 * paddle.core: the part of lua-paddle that needs C but not libcurl, so that
 * OpenResty can load it without pulling libcurl into nginx.
 */
#include <openssl/crypto.h>

#include "core.h"

PADDLE_EXPORT int luaopen_paddle_core(lua_State *L);

int luaopen_paddle_core(lua_State *L) {
  lua_newtable(L);
  lua_pushliteral(L, PADDLE_VERSION);
  lua_setfield(L, -2, "_VERSION");
  lua_pushstring(L, OpenSSL_version(OPENSSL_VERSION));
  lua_setfield(L, -2, "openssl_version");
  lua_pushliteral(L, LUA_VERSION);
  lua_setfield(L, -2, "lua_version");
  paddle_open_encoding(L);
  paddle_open_ids(L);
  paddle_open_json_decode(L);
  paddle_open_session(L);
  paddle_open_webhook(L);
  paddle_open_http_head(L);
  paddle_open_limiter_file(L);
  paddle_open_resp(L);
  return 1;
}
