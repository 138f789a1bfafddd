/*
 * interrupt.h: noticing Ctrl-C in a blocking C call without installing a
 * signal handler of our own.
 *
 * The standalone interpreters (lua.c, luajit.c) handle SIGINT by setting a
 * debug hook on the main Lua thread; the hook raises "interrupted!" at the
 * next Lua call or return. A C function that blocks takes a snapshot of the
 * main thread's hook before it waits and compares while it waits (at least
 * every PADDLE_INTERRUPT_POLL_MS): a changed hook means the interpreter (or
 * a debugger) wants control back, so the call returns early and the hook
 * does the rest. No handler is installed or replaced. In nginx nothing
 * changes: nginx owns signals and never sets such a hook.
 */
#ifndef PADDLE_INTERRUPT_H
#define PADDLE_INTERRUPT_H

#include "compat.h"

#define PADDLE_INTERRUPT_POLL_MS 100

typedef struct {
  lua_State *main;
  lua_Hook hook;
  int mask;
} paddle_hook_snapshot;

/* Lua 5.2+ keeps hooks per thread (lua.c sets it on the main thread); in
 * LuaJIT hooks are global, so any thread shows them. */
static inline lua_State *paddle_main_thread(lua_State *L) {
#if LUA_VERSION_NUM >= 502
  lua_State *main;
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  main = lua_tothread(L, -1);
  lua_pop(L, 1);
  return main != NULL ? main : L;
#else
  return L;
#endif
}

static inline void paddle_hook_snap(lua_State *L, paddle_hook_snapshot *snap) {
  snap->main = paddle_main_thread(L);
  snap->hook = lua_gethook(snap->main);
  snap->mask = lua_gethookmask(snap->main);
}

static inline int paddle_interrupted(const paddle_hook_snapshot *snap) {
  return lua_gethook(snap->main) != snap->hook || lua_gethookmask(snap->main) != snap->mask;
}

#endif
