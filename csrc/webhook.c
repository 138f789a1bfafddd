/*
 * webhook.c: Lua bindings for Paddle-Signature verification (signature.c
 * does the work). Registered into the paddle.core table:
 *
 *   core.webhook_verify(body, header, secrets[, { now =, tolerance = }])
 *     -> true | nil, code, detail | false, argn, message
 *   core.hmac_sha256_hex(key, data) -> lowercase hex
 *   core.webhook_default_tolerance -> 5
 *
 * secrets is a string or an array of strings. Failures return a code
 * (missing_signature, malformed_signature, signature_mismatch,
 * timestamp_out_of_tolerance, internal_error) and a detail that never
 * contains a secret.
 */
#include <stdio.h>
#include <time.h>

#include "core.h"
#include "signature.h"

/* `ts ":" body` up to this size is built on the C stack, larger in a userdata. */
#define MESSAGE_STACK_SIZE 16384

static const char *status_code(paddle_sig_status st) {
  switch (st) {
    case PADDLE_SIG_MISSING: return "missing_signature";
    case PADDLE_SIG_MALFORMED: return "malformed_signature";
    case PADDLE_SIG_TIME: return "timestamp_out_of_tolerance";
    case PADDLE_SIG_MISMATCH: return "signature_mismatch";
    default: return "internal_error";
  }
}

static int push_failure(lua_State *L, paddle_sig_status st, const char *detail) {
  lua_pushnil(L);
  lua_pushstring(L, status_code(st));
  lua_pushstring(L, detail);
  return 3;
}

/* Misuse: false, the argument number in paddle.webhooks terms, a message. */
static int push_misuse(lua_State *L, int arg, const char *msg, int idx) {
  const char *got = luaL_typename(L, idx);
  lua_pushboolean(L, 0);
  lua_pushinteger(L, arg);
  lua_pushfstring(L, "%s, got %s", msg, got);
  return 3;
}

static int is_secret(lua_State *L, int idx) {
  return lua_type(L, idx) == LUA_TSTRING && paddle_rawlen(L, idx) > 0;
}

/* Number of secrets at arg (a string or an array of them), 0 on misuse. */
static int count_secrets(lua_State *L, int arg) {
  int n, i, ok = 1;
  if (lua_type(L, arg) == LUA_TSTRING) return is_secret(L, arg);
  if (lua_type(L, arg) != LUA_TTABLE) return 0;
  n = (int)paddle_rawlen(L, arg);
  for (i = 1; i <= n && ok; i++) {
    lua_rawgeti(L, arg, i);
    ok = is_secret(L, -1);
    lua_pop(L, 1);
  }
  return ok ? n : 0;
}

/* Secret number i (1-based) of arg; the table keeps the string alive. */
static const char *get_secret(lua_State *L, int arg, int i, size_t *len) {
  const char *s;
  if (lua_type(L, arg) == LUA_TSTRING) return lua_tolstring(L, arg, len);
  lua_rawgeti(L, arg, i);
  s = lua_tolstring(L, -1, len);
  lua_pop(L, 1);
  return s;
}

/* Whether any secret signs msg as one of sig's h1; -1 if OpenSSL failed. */
static int any_secret_matches(lua_State *L, int arg, int n, const paddle_sig *sig,
                              const unsigned char *msg, size_t msg_len) {
  char hex[PADDLE_SIG_HEX_LEN];
  int i;
  for (i = 1; i <= n; i++) {
    size_t key_len;
    const char *key = get_secret(L, arg, i, &key_len);
    if (!paddle_sig_hmac_hex(key, key_len, msg, msg_len, hex)) return -1;
    if (paddle_sig_matches(sig, hex)) return 1;
  }
  return 0;
}

static int push_time_failure(lua_State *L, double age, double tolerance) {
  char buf[128];
  /* age is a whole number of seconds; %g keeps a fractional tolerance. */
  snprintf(buf, sizeof buf, "signed %.15g s %s, tolerance is %.15g s", age >= 0 ? age : -age,
           age >= 0 ? "ago" : "in the future", tolerance);
  lua_pushnil(L);
  lua_pushstring(L, status_code(PADDLE_SIG_TIME));
  lua_pushstring(L, buf);
  return 3;
}

/* now: nil (the system clock), a number, or a function returning one. */
static int get_now(lua_State *L, int idx, double *now) {
  if (lua_isnoneornil(L, idx)) {
    *now = (double)time(NULL);
    return 1;
  }
  if (lua_type(L, idx) == LUA_TFUNCTION) {
    lua_pushvalue(L, idx);
    lua_call(L, 0, 1);
    lua_replace(L, idx);
  }
  if (lua_type(L, idx) != LUA_TNUMBER) return 0;
  *now = (double)lua_tonumber(L, idx);
  return *now == *now; /* not NaN */
}

static int get_tolerance(lua_State *L, int idx, double *tolerance) {
  if (lua_isnoneornil(L, idx)) {
    *tolerance = PADDLE_SIG_DEFAULT_TOLERANCE;
    return 1;
  }
  if (lua_type(L, idx) != LUA_TNUMBER) return 0;
  *tolerance = (double)lua_tonumber(L, idx);
  return *tolerance >= 0; /* also false for NaN */
}

/* Signature check proper, once the arguments are known to be sane. */
static int verify_checked(lua_State *L, const char *body, size_t body_len, const char *header,
                          size_t header_len, int n_secrets, double now, double tolerance) {
  unsigned char stack_msg[MESSAGE_STACK_SIZE];
  unsigned char *msg = stack_msg;
  const char *why = NULL;
  size_t msg_len;
  double age;
  paddle_sig sig;
  paddle_sig_status st;
  int found;

  st = paddle_sig_parse(header, header_len, &sig, &why);
  if (st != PADDLE_SIG_OK) return push_failure(L, st, why);
  msg_len = paddle_sig_message_size(&sig, body_len);
  if (msg_len == 0) return luaL_error(L, "webhook body too large");
  if (msg_len > sizeof stack_msg) msg = (unsigned char *)lua_newuserdata(L, msg_len);
  paddle_sig_message(&sig, body, body_len, msg);
  found = any_secret_matches(L, 3, n_secrets, &sig, msg, msg_len);
  if (found < 0) return push_failure(L, PADDLE_SIG_INTERNAL, "HMAC-SHA256 failed in OpenSSL");
  if (!found)
    return push_failure(L, PADDLE_SIG_MISMATCH, "no h1 signature matches the body and secret");
  if (paddle_sig_check_time(&sig, now, tolerance, &age) != PADDLE_SIG_OK)
    return push_time_failure(L, age, tolerance);
  lua_pushboolean(L, 1);
  return 1;
}

/*
 * core.webhook_verify(body, header, secrets[, opts])
 *   -> true | nil, code, detail | false, argn, message (misuse)
 * opts: nil or { now = number|function, tolerance = number }. Misuse is
 * returned, not raised, so that paddle.webhooks raises it at its own caller
 * without checking any argument in Lua (the hot path); argn counts
 * paddle.webhooks.verify's arguments.
 */
static int l_webhook_verify(lua_State *L) {
  size_t body_len, header_len = 0;
  const char *body, *header = NULL;
  int n_secrets, header_type = lua_type(L, 2);
  double now, tolerance;

  lua_settop(L, 4);
  if (lua_type(L, 1) != LUA_TSTRING) return push_misuse(L, 1, "raw body string expected", 1);
  body = lua_tolstring(L, 1, &body_len);
  if (header_type == LUA_TTABLE) /* ngx.req.get_headers() for a repeated header */
    return push_failure(L, PADDLE_SIG_MALFORMED, "several Paddle-Signature headers");
  if (header_type == LUA_TSTRING)
    header = lua_tolstring(L, 2, &header_len);
  else if (header_type != LUA_TNIL)
    return push_misuse(L, 2, "signature header string or nil expected", 2);
  if (lua_type(L, 4) == LUA_TTABLE) { /* 5: opts.now, 6: opts.tolerance */
    lua_getfield(L, 4, "now");
    lua_getfield(L, 4, "tolerance");
  } else if (lua_isnil(L, 4)) {
    lua_settop(L, 6);
  } else {
    return push_misuse(L, 4, "options table expected", 4);
  }
  if (!get_tolerance(L, 6, &tolerance))
    return push_misuse(L, 4, "tolerance must be a number of seconds >= 0", 6);
  if (!get_now(L, 5, &now)) /* may run Lua: before the secrets are counted */
    return push_misuse(L, 4, "now must be a number or a function returning one", 5);
  n_secrets = count_secrets(L, 3);
  if (n_secrets == 0)
    return push_misuse(L, 3, "non-empty secret string or array of them expected", 3);
  return verify_checked(L, body, body_len, header, header_len, n_secrets, now, tolerance);
}

static int l_hmac_sha256_hex(lua_State *L) {
  size_t key_len, data_len;
  const char *key = luaL_checklstring(L, 1, &key_len);
  const char *data = luaL_checklstring(L, 2, &data_len);
  char hex[PADDLE_SIG_HEX_LEN];
  if (!paddle_sig_hmac_hex(key, key_len, data, data_len, hex))
    return luaL_error(L, "HMAC-SHA256 failed in OpenSSL");
  lua_pushlstring(L, hex, sizeof hex);
  return 1;
}

static const luaL_Reg webhook_funcs[] = {
  {"webhook_verify", l_webhook_verify},
  {"hmac_sha256_hex", l_hmac_sha256_hex},
  {NULL, NULL}
};

void paddle_open_webhook(lua_State *L) {
  luaL_setfuncs(L, webhook_funcs, 0);
  lua_pushinteger(L, PADDLE_SIG_DEFAULT_TOLERANCE);
  lua_setfield(L, -2, "webhook_default_tolerance");
}
