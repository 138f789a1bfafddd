/*
 * paddle.curl: the libcurl transport. Kept apart from paddle.core so that
 * OpenResty, which talks HTTP over cosockets, never loads libcurl.
 */
#include <curl/curl.h>

#include "core.h"

PADDLE_EXPORT int luaopen_paddle_curl(lua_State *L);

/* curl_global_init is not thread-safe and must run once per process. */
static int curl_ready = 0;

int luaopen_paddle_curl(lua_State *L) {
  const curl_version_info_data *info;
  if (!curl_ready) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      return luaL_error(L, "paddle.curl: curl_global_init failed");
    curl_ready = 1;
  }
  info = curl_version_info(CURLVERSION_NOW);
  lua_newtable(L);
  lua_pushstring(L, info->version);
  lua_setfield(L, -2, "version");
  lua_pushstring(L, info->ssl_version ? info->ssl_version : "none");
  lua_setfield(L, -2, "ssl_version");
  return 1;
}
