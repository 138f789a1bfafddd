/*
 * Byte encodings the rest of the library needs: lowercase hex, and the
 * percent-encoding of query values (RFC 3986 unreserved characters kept,
 * everything else %XX with uppercase hex, exactly what curl_easy_escape does).
 */
#include <stddef.h>

#include "core.h"

static const char hexdigits_lower[] = "0123456789abcdef";
static const char hexdigits_upper[] = "0123456789ABCDEF";

static int is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

/* core.hex(bytes) -> lowercase hex string */
static int l_hex(lua_State *L) {
  size_t len, i;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (i = 0; i < len; i++) {
    luaL_addchar(&b, hexdigits_lower[s[i] >> 4]);
    luaL_addchar(&b, hexdigits_lower[s[i] & 15]);
  }
  luaL_pushresult(&b);
  return 1;
}

/* core.escape(string) -> percent-encoded string */
static int l_escape(lua_State *L) {
  size_t len, i;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (i = 0; i < len; i++) {
    if (is_unreserved(s[i])) {
      luaL_addchar(&b, (char)s[i]);
    } else {
      luaL_addchar(&b, '%');
      luaL_addchar(&b, hexdigits_upper[s[i] >> 4]);
      luaL_addchar(&b, hexdigits_upper[s[i] & 15]);
    }
  }
  luaL_pushresult(&b);
  return 1;
}

static const luaL_Reg encoding_funcs[] = {
  {"hex", l_hex},
  {"escape", l_escape},
  {NULL, NULL}
};

void paddle_open_encoding(lua_State *L) {
  luaL_setfuncs(L, encoding_funcs, 0);
}
