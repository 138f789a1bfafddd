/*
 * Session: the API key, retry policy and pacing (filled in by the C core work).
 */
#include "core.h"

void paddle_open_session(lua_State *L) {
  (void)L;
}
