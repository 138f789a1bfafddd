/*
 * core.h: what the parts of the paddle.core module share. Nothing here is
 * exported from the shared object (-fvisibility=hidden); each part adds its
 * functions to the module table on top of the stack.
 */
#ifndef PADDLE_CORE_H
#define PADDLE_CORE_H

#include "compat.h"

#define PADDLE_VERSION "0.1.0"

/* Hidden even when a build (LuaRocks' builtin) omits -fvisibility=hidden. */
#define PADDLE_INTERNAL __attribute__((visibility("hidden")))

PADDLE_INTERNAL void paddle_open_encoding(lua_State *L); /* encoding.c: hex, percent-encoding */
PADDLE_INTERNAL void paddle_open_ids(lua_State *L);      /* ids.c: Paddle id syntax */
PADDLE_INTERNAL void paddle_open_json_decode(lua_State *L); /* json_decode.c: JSON text to Lua values */
PADDLE_INTERNAL void paddle_open_session(lua_State *L);  /* session.c: key, retry policy, pacing */
PADDLE_INTERNAL void paddle_open_webhook(lua_State *L);  /* webhook.c: Paddle-Signature, HMAC */
PADDLE_INTERNAL void paddle_open_http_head(lua_State *L); /* http_head.c: HTTP/1.1 heads for cosockets */
PADDLE_INTERNAL void paddle_open_limiter_file(lua_State *L); /* limiter_file.c: file: store */
PADDLE_INTERNAL void paddle_open_resp(lua_State *L);     /* resp.c: blocking Redis client */

#endif
