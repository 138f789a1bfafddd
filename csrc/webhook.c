/*
 * Paddle-Signature verification (filled in by the webhooks work).
 */
#include "core.h"

void paddle_open_webhook(lua_State *L) {
  (void)L;
}
