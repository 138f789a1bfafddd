/*
 * webhook.c: Lua bindings for Paddle-Signature verification (signature.c
 * does the work). Registered into the paddle.core table:
 *
 *   core.webhook_bind(make_error) -> {
 *     verify(body, header, secrets[, opts]),      -- paddle.webhooks.verify
 *     verify_for_parse(body, header, secrets[, opts]),
 *     verifier(secrets) -> paddle.webhooks.Verifier,
 *     methods,  -- the verifier's method table (verify, close), to which
 *               -- paddle.webhooks adds parse
 *     method_verify_for_parse(verifier, body, header[, opts]),
 *   }
 *   core.hmac_sha256_hex(key, data) -> lowercase hex
 *   core.webhook_default_tolerance -> 5
 *
 * Every verify answers true | nil, err, where err = make_error{ type =
 * "webhook_error", code =, detail = } (code: missing_signature,
 * malformed_signature, signature_mismatch, timestamp_out_of_tolerance,
 * internal_error; detail never contains a secret). Misuse raises "bad
 * argument #n to 'verify'" at the caller's line; the *_for_parse variants
 * name 'parse' and blame the caller of the Lua function that calls them.
 *
 * Each secret is held as a keyed HMAC context (signature.h), so a verify
 * skips the key schedule. A verifier owns its contexts and wipes them on
 * close, __gc and __close. The functional verify keeps a context per
 * secret string (at most VERIFY_CACHE_MAX) in a weak-valued table: each is
 * wiped when the garbage collector next finds it unused.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "signature.h"
#include "udata.h"

#define VERIFIER_MT "paddle.webhooks.Verifier"
#define VERIFIER_MAX_SECRETS 16
/* Keyed contexts the functional verify keeps; beyond, it starts afresh. */
#define VERIFY_CACHE_MAX 32

/* Upvalues of the verify closures. */
enum { UV_MAKE_ERROR = 1, UV_LEVEL, UV_NAME, UV_CACHE };

typedef struct {
  int n;      /* live keys; 0 once closed */
  int closed;
  paddle_sig_key *keys[VERIFIER_MAX_SECRETS];
} verifier;

/* Arguments as the caller counts them: 1 body, 2 header, 3 secrets or opts. */
typedef struct {
  const char *body, *header;
  size_t body_len, header_len;
  int header_is_table;
  double now, tolerance;
} verify_args;

static const char *status_code(paddle_sig_status st) {
  switch (st) {
    case PADDLE_SIG_MISSING: return "missing_signature";
    case PADDLE_SIG_MALFORMED: return "malformed_signature";
    case PADDLE_SIG_TIME: return "timestamp_out_of_tolerance";
    case PADDLE_SIG_MISMATCH: return "signature_mismatch";
    default: return "internal_error";
  }
}

/* Misuse: raises at the caller of this closure's public name (UV_LEVEL). */
static int arg_error(lua_State *L, int arg, const char *msg, int idx) {
  const char *got = luaL_typename(L, idx);
  luaL_where(L, (int)lua_tointeger(L, lua_upvalueindex(UV_LEVEL)));
  lua_pushfstring(L, "bad argument #%d to '%s' (%s, got %s)", arg,
                  lua_tostring(L, lua_upvalueindex(UV_NAME)), msg, got);
  lua_concat(L, 2);
  return lua_error(L);
}

/* nil, make_error{ type = "webhook_error", code =, detail = } */
static int push_failure(lua_State *L, paddle_sig_status st, const char *detail) {
  lua_pushvalue(L, lua_upvalueindex(UV_MAKE_ERROR));
  lua_createtable(L, 0, 3);
  lua_pushliteral(L, "webhook_error");
  lua_setfield(L, -2, "type");
  lua_pushstring(L, status_code(st));
  lua_setfield(L, -2, "code");
  lua_pushstring(L, detail);
  lua_setfield(L, -2, "detail");
  lua_call(L, 1, 1);
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

static int push_time_failure(lua_State *L, double age, double tolerance) {
  char buf[128];
  /* age is a whole number of seconds; %g keeps a fractional tolerance. */
  snprintf(buf, sizeof buf, "signed %.15g s %s, tolerance is %.15g s", age >= 0 ? age : -age,
           age >= 0 ? "ago" : "in the future", tolerance);
  return push_failure(L, PADDLE_SIG_TIME, buf);
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
  return isfinite(*now); /* NaN or infinity is no clock: "signed 0 s ago" would be a lie */
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

/*
 * Checks body (stack index base), header (base + 1) and opts (opts_idx, the
 * caller's argument opts_arg) and fills a. Leaves the stack top at opts_idx
 * + 2 (opts.now, opts.tolerance). Raises on misuse.
 */
static void check_args(lua_State *L, int base, int opts_idx, int opts_arg, verify_args *a) {
  int header_type = lua_type(L, base + 1);
  lua_settop(L, opts_idx);
  if (lua_type(L, base) != LUA_TSTRING) arg_error(L, 1, "raw body string expected", base);
  a->body = lua_tolstring(L, base, &a->body_len);
  a->header = NULL;
  a->header_len = 0;
  /* ngx.req.get_headers() gives a table for a repeated header: malformed. */
  a->header_is_table = header_type == LUA_TTABLE;
  if (header_type == LUA_TSTRING)
    a->header = lua_tolstring(L, base + 1, &a->header_len);
  else if (header_type != LUA_TNIL && header_type != LUA_TTABLE)
    arg_error(L, 2, "signature header string or nil expected", base + 1);
  if (lua_type(L, opts_idx) == LUA_TTABLE) {
    lua_getfield(L, opts_idx, "now");
    lua_getfield(L, opts_idx, "tolerance");
  } else if (lua_isnil(L, opts_idx)) {
    lua_settop(L, opts_idx + 2);
  } else {
    arg_error(L, opts_arg, "options table expected", opts_idx);
  }
  if (!get_tolerance(L, opts_idx + 2, &a->tolerance))
    arg_error(L, opts_arg, "tolerance must be a number of seconds >= 0", opts_idx + 2);
  if (!get_now(L, opts_idx + 1, &a->now))
    arg_error(L, opts_arg, "now must be a finite number of seconds or a function returning one", opts_idx + 1);
}

/* Whether any key signs sig's message as one of its h1; -1 if OpenSSL failed. */
static int any_key_matches(paddle_sig_key *const *keys, int n, const paddle_sig *sig,
                           const verify_args *a) {
  char hex[PADDLE_SIG_HEX_LEN];
  int i;
  for (i = 0; i < n; i++) {
    if (!paddle_sig_key_hex(keys[i], sig, a->body, a->body_len, hex)) return -1;
    if (paddle_sig_matches(sig, hex)) return 1;
  }
  return 0;
}

/* The signature check proper, once the arguments and keys are known. */
static int verify_with(lua_State *L, const verify_args *a, paddle_sig_key *const *keys, int n) {
  const char *why = NULL;
  double age;
  paddle_sig sig;
  paddle_sig_status st;
  int found;

  if (a->header_is_table)
    return push_failure(L, PADDLE_SIG_MALFORMED, "several Paddle-Signature headers");
  st = paddle_sig_parse(a->header, a->header_len, &sig, &why);
  if (st != PADDLE_SIG_OK) return push_failure(L, st, why);
  found = any_key_matches(keys, n, &sig, a);
  if (found < 0) return push_failure(L, PADDLE_SIG_INTERNAL, "HMAC-SHA256 failed in OpenSSL");
  if (!found)
    return push_failure(L, PADDLE_SIG_MISMATCH, "no h1 signature matches the body and secret");
  if (paddle_sig_check_time(&sig, a->now, a->tolerance, &age) != PADDLE_SIG_OK)
    return push_time_failure(L, age, a->tolerance);
  lua_pushboolean(L, 1);
  return 1;
}

static int is_secret(lua_State *L, int idx) {
  return lua_type(L, idx) == LUA_TSTRING && paddle_rawlen(L, idx) > 0;
}

/* Number of secrets at idx (a string or an array of them), 0 on misuse. */
static int count_secrets(lua_State *L, int idx) {
  int n, i, ok = 1;
  if (lua_type(L, idx) == LUA_TSTRING) return is_secret(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  n = (int)paddle_rawlen(L, idx);
  if (n > VERIFIER_MAX_SECRETS) return 0;
  for (i = 1; i <= n && ok; i++) {
    lua_rawgeti(L, idx, i);
    ok = is_secret(L, -1);
    lua_pop(L, 1);
  }
  return ok ? n : 0;
}

static const char SECRETS_EXPECTED[] = "non-empty secret string or array of at most 16 expected";
static const char SECRETS_OPTION[] = "secrets must be a non-empty string or an array of at most 16";

/* Pushes a new verifier holding one key per secret of the n at idx. */
static verifier *push_verifier(lua_State *L, int idx, int n) {
  /* The userdata exists (with its __gc) before any key is allocated. */
  verifier *v = (verifier *)paddle_newudata(L, sizeof *v, VERIFIER_MT);
  int i;
  for (i = 1; i <= n; i++) {
    size_t len;
    const char *secret;
    if (lua_type(L, idx) == LUA_TSTRING) {
      secret = lua_tolstring(L, idx, &len);
    } else {
      lua_rawgeti(L, idx, i);
      secret = lua_tolstring(L, -1, &len);
      lua_pop(L, 1); /* the table keeps the string alive */
    }
    v->keys[i - 1] = paddle_sig_key_new(secret, len);
    if (v->keys[i - 1] == NULL) luaL_error(L, "HMAC-SHA256 key setup failed in OpenSSL");
    v->n = i;
  }
  return v;
}

/*
 * Forgets every cached key once the cache holds VERIFY_CACHE_MAX (counted
 * at cache[0]), so that an application cycling through many secrets keeps a
 * few contexts, not one per secret until the next collection. Forgotten
 * keys are wiped when collected; one in use stays on the stack meanwhile.
 */
static void cache_count_one(lua_State *L, int cache) {
  lua_Integer n;
  lua_rawgeti(L, cache, 0);
  n = lua_tointeger(L, -1);
  lua_pop(L, 1);
  if (n >= VERIFY_CACHE_MAX) {
    lua_pushnil(L);
    while (lua_next(L, cache) != 0) {
      lua_pop(L, 1);
      lua_pushvalue(L, -1);
      lua_pushnil(L);
      lua_rawset(L, cache); /* clearing a field during lua_next is allowed */
    }
    n = 0;
  }
  lua_pushinteger(L, n + 1);
  lua_rawseti(L, cache, 0);
}

/*
 * The cached key for the secret string at idx, created on first use. Its
 * verifier stays pushed on the stack: the cache's weak entry alone would let
 * a GC step, run by the next allocation, free it while in use.
 */
static paddle_sig_key *cached_key(lua_State *L, int idx) {
  int cache = lua_upvalueindex(UV_CACHE);
  verifier *v;
  lua_pushvalue(L, idx);
  lua_rawget(L, cache);
  v = (verifier *)lua_touserdata(L, -1);
  if (v != NULL) return v->keys[0];
  lua_pop(L, 1);
  cache_count_one(L, cache);
  v = push_verifier(L, idx, 1);
  lua_pushvalue(L, idx);
  lua_pushvalue(L, -2);
  lua_rawset(L, cache);
  return v->keys[0];
}

/* verify(body, header, secrets[, opts]) -> true | nil, err */
static int l_verify(lua_State *L) {
  paddle_sig_key *keys[VERIFIER_MAX_SECRETS];
  verify_args a;
  int n, i;
  check_args(L, 1, 4, 4, &a); /* may run opts.now: before the secrets are read */
  n = count_secrets(L, 3);
  if (n == 0) return arg_error(L, 3, SECRETS_EXPECTED, 3);
  luaL_checkstack(L, 2 * n + 8, "too many secrets"); /* 2 per secret, a few for the cache */
  if (lua_type(L, 3) == LUA_TSTRING) {
    keys[0] = cached_key(L, 3);
  } else {
    for (i = 0; i < n; i++) {
      lua_rawgeti(L, 3, i + 1); /* stays below its verifier: the cache key */
      keys[i] = cached_key(L, lua_gettop(L));
    }
  }
  return verify_with(L, &a, keys, n);
}

static verifier *check_verifier(lua_State *L) {
  verifier *v = (verifier *)luaL_testudata(L, 1, VERIFIER_MT);
  if (v == NULL) {
    luaL_where(L, (int)lua_tointeger(L, lua_upvalueindex(UV_LEVEL)));
    lua_pushfstring(L, "calling '%s' on bad self (verifier expected, got %s)",
                    lua_tostring(L, lua_upvalueindex(UV_NAME)), luaL_typename(L, 1));
    lua_concat(L, 2);
    lua_error(L);
  }
  if (v->closed) {
    luaL_where(L, (int)lua_tointeger(L, lua_upvalueindex(UV_LEVEL)));
    lua_pushliteral(L, "verifier is closed");
    lua_concat(L, 2);
    lua_error(L);
  }
  return v;
}

/* verifier:verify(body, header[, opts]) -> true | nil, err */
static int l_verifier_verify(lua_State *L) {
  verifier *v = check_verifier(L);
  verify_args a;
  check_args(L, 2, 4, 3, &a); /* self is not counted */
  return verify_with(L, &a, v->keys, v->n);
}

/* verifier(secrets) -> verifier; raises on misuse at its caller. */
static int l_verifier_new(lua_State *L) {
  int n = count_secrets(L, 1);
  if (n == 0) return arg_error(L, 1, SECRETS_OPTION, 1);
  push_verifier(L, 1, n);
  return 1;
}

/* close, __gc and __close: frees and wipes every key; idempotent. */
static int l_verifier_close(lua_State *L) {
  verifier *v = (verifier *)luaL_checkudata(L, 1, VERIFIER_MT);
  int i;
  for (i = 0; i < v->n; i++) {
    paddle_sig_key_free(v->keys[i]);
    v->keys[i] = NULL;
  }
  v->n = 0;
  v->closed = 1;
  return 0;
}

static int l_verifier_tostring(lua_State *L) {
  verifier *v = (verifier *)luaL_checkudata(L, 1, VERIFIER_MT);
  if (v->closed)
    lua_pushliteral(L, "paddle.webhooks.Verifier (closed)");
  else
    lua_pushfstring(L, "paddle.webhooks.Verifier (%d secret%s)", v->n, v->n == 1 ? "" : "s");
  return 1;
}

/* Pushes fn as a closure over make_error (at mk), level, name[, cache]. */
static void push_closure(lua_State *L, lua_CFunction fn, int mk, int level, const char *name,
                         int cache) {
  lua_pushvalue(L, mk);
  lua_pushinteger(L, level);
  lua_pushstring(L, name);
  if (cache) lua_pushvalue(L, cache);
  lua_pushcclosure(L, fn, cache ? 4 : 3);
}

/* core.webhook_bind(make_error) -> { verify, verify_for_parse, verifier, methods } */
static int l_webhook_bind(lua_State *L) {
  int methods, cache;
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_newtable(L); /* 2: the functional cache, weak values */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  cache = 2;
  luaL_getmetatable(L, VERIFIER_MT);
  lua_getfield(L, -1, "__index");
  methods = lua_gettop(L);
  push_closure(L, l_verifier_verify, 1, 1, "verify", 0);
  lua_setfield(L, methods, "verify");

  lua_createtable(L, 0, 5);
  push_closure(L, l_verifier_verify, 1, 2, "parse", 0);
  lua_setfield(L, -2, "method_verify_for_parse");
  push_closure(L, l_verify, 1, 1, "verify", cache);
  lua_setfield(L, -2, "verify");
  push_closure(L, l_verify, 1, 2, "parse", cache);
  lua_setfield(L, -2, "verify_for_parse");
  push_closure(L, l_verifier_new, 1, 2, "verifier", 0);
  lua_setfield(L, -2, "verifier");
  lua_pushvalue(L, methods);
  lua_setfield(L, -2, "methods");
  return 1;
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
  {"webhook_bind", l_webhook_bind},
  {"hmac_sha256_hex", l_hmac_sha256_hex},
  {NULL, NULL}
};

static const luaL_Reg verifier_methods[] = {
  {"close", l_verifier_close},
  {NULL, NULL}
};

void paddle_open_webhook(lua_State *L) {
  paddle_register_type(L, VERIFIER_MT, verifier_methods, l_verifier_close, l_verifier_tostring);
  luaL_setfuncs(L, webhook_funcs, 0);
  lua_pushinteger(L, PADDLE_SIG_DEFAULT_TOLERANCE);
  lua_setfield(L, -2, "webhook_default_tolerance");
}
