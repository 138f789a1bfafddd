/*
 * Session: one client's API key, retry policy and request pacing.
 *
 * The retry/pacing policy lives here so that both transports (libcurl and
 * OpenResty cosockets) follow exactly the same rules: the transport performs
 * one HTTP exchange, asks the session what to do next, and sleeps with its
 * own sleep function. Times are seconds as doubles on the caller's clock
 * (core.monotonic() or ngx.now()), so the policy itself never sleeps.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "interrupt.h"
#include "session.h"
#include "udata.h"

/* Pacing waits a little longer than the window (1% of it, plus 50 ms) so
 * that network and scheduling jitter cannot squeeze one request too many
 * into the server's window. */
#define PACING_MARGIN 0.01
#define PACING_MARGIN_MIN 0.05

/* How long Paddle blocks an IP after a 429 that has no Retry-After. */
#define PADDLE_BLOCK_DEFAULT 60

static paddle_session *check_session(lua_State *L, int idx) {
  paddle_session *s = (paddle_session *)luaL_checkudata(L, idx, PADDLE_SESSION_MT);
  if (s->key == NULL) luaL_argerror(L, idx, "session is closed");
  return s;
}

static void session_release(paddle_session *s) {
  if (s->auth_line != NULL) {
    paddle_wipe(s->auth_line, s->auth_len); /* don't leave the key in freed memory */
    free(s->auth_line);
    s->auth_line = NULL;
  }
  s->key = NULL;
  s->key_len = s->auth_len = 0;
  free(s->sent_at);
  s->sent_at = NULL;
}

static int l_session_close(lua_State *L) {
  session_release((paddle_session *)luaL_checkudata(L, 1, PADDLE_SESSION_MT));
  return 0;
}

static int l_session_tostring(lua_State *L) {
  paddle_session *s = (paddle_session *)luaL_checkudata(L, 1, PADDLE_SESSION_MT);
  lua_pushfstring(L, "paddle.Session (%s)", s->key ? "key redacted" : "closed");
  return 1;
}

/* A number option in [min, max]; integer options must be whole. Checked
 * before any cast: a double out of an int's range is undefined behaviour. */
static double number_field(lua_State *L, int t, const char *name, double def, double min,
                           double max, int integer) {
  double v;
  lua_getfield(L, t, name);
  if (lua_isnil(L, -1)) v = def;
  else if (lua_type(L, -1) != LUA_TNUMBER)
    return luaL_error(L, "session option '%s' must be a number, got %s", name, luaL_typename(L, -1));
  else v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (!(v >= min && v <= max)) /* also rejects NaN */
    return luaL_error(L, "session option '%s' must be in %d..%d", name, (int)min, (int)max);
  if (integer && v != (double)(long)v)
    return luaL_error(L, "session option '%s' must be an integer", name);
  return v;
}

/* core.session{ api_key=, max_retries=, max_retry_wait=, backoff_base=,
 *               rate_requests=, rate_per= } -> session */
static int l_session_new(lua_State *L) {
  paddle_session *s;
  const char *key;
  size_t key_len, prefix_len = sizeof PADDLE_AUTH_PREFIX - 1;

  luaL_checktype(L, 1, LUA_TTABLE);
  s = (paddle_session *)paddle_newudata(L, sizeof *s, PADDLE_SESSION_MT);
  s->abi = PADDLE_SESSION_ABI;

  s->max_retries = (int)number_field(L, 1, "max_retries", 3, 0, PADDLE_MAX_RETRIES_MAX, 1);
  s->max_retry_wait = number_field(L, 1, "max_retry_wait", 60, 0, PADDLE_SECONDS_MAX, 0);
  s->backoff_base = number_field(L, 1, "backoff_base", 0.5, 0, PADDLE_SECONDS_MAX, 0);
  s->rate_requests = (int)number_field(L, 1, "rate_requests", 0, 0, PADDLE_RATE_REQUESTS_MAX, 1);
  s->rate_per = number_field(L, 1, "rate_per", 0, 0, PADDLE_SECONDS_MAX, 0);

  lua_getfield(L, 1, "api_key");
  key = lua_tolstring(L, -1, &key_len);
  if (lua_type(L, -1) != LUA_TSTRING || key_len == 0)
    return luaL_error(L, "session option 'api_key' must be a non-empty string");
  if (strlen(key) != key_len || strpbrk(key, "\r\n") != NULL)
    return luaL_error(L, "session option 'api_key' contains a NUL, CR or LF byte");
  if (key_len > 4096) return luaL_error(L, "session option 'api_key' is too long");
  /* Everything that can raise is checked: from here the key is copied. */
  s->auth_len = prefix_len + key_len;
  s->auth_line = (char *)malloc(s->auth_len + 1);
  if (s->auth_line == NULL) return luaL_error(L, "out of memory");
  memcpy(s->auth_line, PADDLE_AUTH_PREFIX, prefix_len);
  memcpy(s->auth_line + prefix_len, key, key_len + 1);
  s->key = s->auth_line + prefix_len;
  s->key_len = key_len;
  lua_pop(L, 1);

  if (s->rate_requests > 0 && s->rate_per > 0) {
    s->sent_at = (double *)calloc((size_t)s->rate_requests, sizeof *s->sent_at);
    if (s->sent_at == NULL) return luaL_error(L, "out of memory");
  }
  s->rng = (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)s << 16) ^ 0x9e3779b97f4a7c15ULL;
  if (s->rng == 0) s->rng = 1;
  return 1;
}

/* A time or duration from Lua: a finite number (NaN and inf would poison
 * the pacing ring and every comparison after them). */
static double check_finite(lua_State *L, int idx) {
  double v = luaL_checknumber(L, idx);
  luaL_argcheck(L, v - v == 0, idx, "must be a finite number");
  return v;
}

/* ---------------------------------------------------------------- pacing */

/* The sliding window shared by per-client pacing and the cross-worker
 * limiter of OpenResty (which keeps the ring in an ngx.shared dict): returns 0
 * and records the send when one may go now, else the seconds to wait. */
static double window_take(double *ring, int size, int *count, int *next, double per,
                          double now) {
  if (*count == size) {
    /* The ring is full: its oldest entry is the one about to be replaced. */
    double ready = ring[*next] + per * (1 + PACING_MARGIN) + PACING_MARGIN_MIN;
    if (now < ready) return ready - now;
  } else {
    (*count)++;
  }
  ring[*next] = now;
  *next = (*next + 1) % size;
  return 0;
}

/* s:share_block(seconds): nothing to do. The session keeps its own 429
 * block (decide() sets it), so it can be the request loop's limiter itself
 * when no store is shared: one C call per send, no Lua wrapper. */
static int l_session_share_block(lua_State *L) {
  check_session(L, 1);
  return 0;
}

/* s:acquire(now) -> 0 when the caller may send now (the send is recorded),
 * or the seconds to wait and why ("blocked" after a 429, else "pacing"). */
static int l_session_acquire(lua_State *L) {
  paddle_session *s = check_session(L, 1);
  double now = check_finite(L, 2);
  double wait = 0;
  if (now < s->blocked_until) {
    lua_pushnumber(L, s->blocked_until - now);
    lua_pushliteral(L, "blocked");
    return 2;
  }
  if (s->sent_at != NULL)
    wait = window_take(s->sent_at, s->rate_requests, &s->sent_count, &s->sent_next, s->rate_per, now);
  lua_pushnumber(L, wait);
  if (wait == 0) return 1;
  lua_pushliteral(L, "pacing");
  return 2;
}

/* s:blocked_until([t]) -> the time before which no request may go (after a
 * 429); with t, extends the block to t (a block learnt from another worker). */
static int l_session_blocked_until(lua_State *L) {
  paddle_session *s = check_session(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    double t = check_finite(L, 2);
    if (t > s->blocked_until) s->blocked_until = t;
  }
  lua_pushnumber(L, s->blocked_until);
  return 1;
}

/* core.window_acquire(state, requests, per, now) -> wait, new_state
 * The same window over a packed state string (nil = empty), for limiters
 * whose state lives outside the process's heap. */
typedef struct {
  int count, next;
} window_header;

static int l_window_acquire(lua_State *L) {
  size_t len;
  const char *state = luaL_optlstring(L, 1, NULL, &len);
  lua_Integer requests = luaL_checkinteger(L, 2);
  double per = check_finite(L, 3);
  double now = check_finite(L, 4);
  size_t size;
  window_header *h;
  double wait;
  luaL_argcheck(L, requests >= 1 && requests <= 100000, 2, "must be in 1..100000");
  luaL_argcheck(L, per > 0, 3, "must be > 0");
  size = sizeof(window_header) + (size_t)requests * sizeof(double);
  /* Scratch memory owned by Lua: nothing to free if an error unwinds. */
  h = (window_header *)lua_newuserdata(L, size);
  if (state != NULL && len == size) {
    memcpy(h, state, size);
    if (h->count < 0 || h->count > requests || h->next < 0 || h->next >= requests)
      memset(h, 0, size);
  } else {
    memset(h, 0, size); /* no state yet, or the limit changed: start afresh */
  }
  wait = window_take((double *)(h + 1), (int)requests, &h->count, &h->next, per, now);
  lua_pushnumber(L, wait);
  lua_pushlstring(L, (const char *)h, size);
  return 2;
}

/* ------------------------------------------------------------ Retry-After */

static const char *const month_names[] = {
  "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static int month_index(const char *m) {
  int i;
  for (i = 0; i < 12; i++)
    if (strncmp(m, month_names[i], 3) == 0) return i;
  return -1;
}

/* HTTP-date (RFC 9110 5.6.7): IMF-fixdate, obsolete RFC 850 and asctime. */
static int parse_http_date(const char *v, time_t *out) {
  struct tm tm;
  char wkday[16], mon[4];
  int day, year, hh, mm, ss, n = 0;
  memset(&tm, 0, sizeof tm);
  if (sscanf(v, "%15[A-Za-z], %2d %3s %4d %2d:%2d:%2d GMT%n",
             wkday, &day, mon, &year, &hh, &mm, &ss, &n) == 7 && n > 0) {
    /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
  } else if (sscanf(v, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d GMT%n",
                    wkday, &day, mon, &year, &hh, &mm, &ss, &n) == 7 && n > 0) {
    year += year < 70 ? 2000 : 1900; /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
  } else if (sscanf(v, "%15[A-Za-z] %3s %2d %2d:%2d:%2d %4d%n",
                    wkday, mon, &day, &hh, &mm, &ss, &year, &n) == 7 && n > 0) {
    /* asctime: Sun Nov  6 08:49:37 1994 */
  } else {
    return 0;
  }
  while (v[n] == ' ') n++;
  if (v[n] != '\0') return 0;
  tm.tm_mon = month_index(mon);
  if (tm.tm_mon < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return 0;
  tm.tm_mday = day;
  tm.tm_year = year - 1900;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  *out = timegm(&tm);
  return *out != (time_t)-1;
}

/* Seconds to wait from a Retry-After value: delay-seconds or an HTTP-date
 * (relative to wall_now). Returns -1 when the value is not understood. */
static double retry_after_seconds(const char *v, double wall_now) {
  const char *p = v;
  time_t when;
  while (*p == ' ' || *p == '\t') p++;
  if (isdigit((unsigned char)*p)) {
    double secs = 0;
    for (; isdigit((unsigned char)*p); p++) {
      secs = secs * 10 + (*p - '0');
      if (secs > 1e9) return -1;
    }
    while (*p == ' ' || *p == '\t') p++;
    return *p == '\0' ? secs : -1;
  }
  if (parse_http_date(p, &when)) {
    double d = (double)when - wall_now;
    return d > 0 ? d : 0;
  }
  return -1;
}

static double wall_clock(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* core.retry_after(value [, wall_now]) -> seconds | nil */
static int l_retry_after(lua_State *L) {
  const char *v = luaL_checkstring(L, 1);
  double d = retry_after_seconds(v, luaL_optnumber(L, 2, wall_clock()));
  if (d < 0) lua_pushnil(L);
  else lua_pushnumber(L, d);
  return 1;
}

/* ----------------------------------------------------------------- retries */

static double next_random(paddle_session *s) { /* uniform in [0, 1) */
  uint64_t x = s->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  s->rng = x;
  return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* Exponential backoff with full jitter: uniform in [0, min(cap, base*2^(n-1))]. */
static double backoff_delay(paddle_session *s, int attempt) {
  double ceiling = s->backoff_base;
  int i;
  for (i = 1; i < attempt && ceiling < s->max_retry_wait; i++) ceiling *= 2;
  if (ceiling > s->max_retry_wait) ceiling = s->max_retry_wait;
  return ceiling * next_random(s);
}

static int is_retryable_status(int status) {
  return status == 429 || status == 500 || status == 502 || status == 503 ||
         status == 504 || (status >= 520 && status <= 524);
}

/* Failures after which the same request may simply be tried again. */
static int is_transient_failure(const char *code) {
  return strcmp(code, "connect_error") == 0 || strcmp(code, "timeout") == 0 ||
         strcmp(code, "connection_reset") == 0 || strcmp(code, "truncated_body") == 0;
}

/* POST has no idempotency key at Paddle: a second send could create a second
 * customer. Every other method the API uses is safe to repeat. */
static int is_idempotent(const char *method) {
  return strcmp(method, "POST") != 0;
}

static int push_retry(lua_State *L, double wait) {
  lua_pushliteral(L, "retry");
  lua_pushnumber(L, wait);
  return 2;
}

/* s:decide(method, attempt, status, failure, sent, retry_after, now)
 *   -> "done" | "retry", wait | "give_up", retry_after
 * status is the HTTP status (nil after a transport failure); failure is the
 * transport's error code; sent tells whether any request bytes left. */
static int l_session_decide(lua_State *L) {
  paddle_session *s = check_session(L, 1);
  const char *method = luaL_checkstring(L, 2);
  lua_Integer attempt_arg = luaL_checkinteger(L, 3);
  lua_Integer status_arg = luaL_optinteger(L, 4, 0);
  const char *failure = luaL_optstring(L, 5, NULL);
  int sent = lua_toboolean(L, 6);
  const char *retry_after = luaL_optstring(L, 7, NULL);
  double now = check_finite(L, 8);
  int attempt, status, retries_left;
  double wait = -1;

  luaL_argcheck(L, attempt_arg >= 1 && attempt_arg <= PADDLE_MAX_RETRIES_MAX + 1, 3,
                "attempt out of range");
  luaL_argcheck(L, status_arg >= 0 && status_arg <= 999, 4, "not an HTTP status");
  attempt = (int)attempt_arg;
  status = (int)status_arg;
  retries_left = attempt <= s->max_retries;

  if (status == 0) { /* the exchange failed before a response arrived */
    if (failure == NULL || !is_transient_failure(failure) || !retries_left)
      goto done;
    if (!is_idempotent(method) && sent) goto done;
    return push_retry(L, backoff_delay(s, attempt));
  }

  if (!is_retryable_status(status)) goto done;
  if (retry_after != NULL) wait = retry_after_seconds(retry_after, wall_clock());
  if (status == 429) {
    /* Paddle blocks the whole IP (for 60 s, its documented block, when the
     * answer does not say): every request of this client waits. */
    if (wait < 0) wait = PADDLE_BLOCK_DEFAULT;
    if (now + wait > s->blocked_until) s->blocked_until = now + wait;
  } else if (!is_idempotent(method)) {
    goto done;
  }
  if (!retries_left) goto done;
  if (wait < 0) wait = backoff_delay(s, attempt);
  if (wait > s->max_retry_wait) {
    lua_pushliteral(L, "give_up");
    lua_pushnumber(L, wait);
    return 2;
  }
  return push_retry(L, wait);

done:
  lua_pushliteral(L, "done");
  return 1;
}

/* ------------------------------------------------------------------ clock */

/* core.monotonic() -> seconds on a clock that never jumps. */
static int l_monotonic(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (double)ts.tv_sec + ts.tv_nsec / 1e9);
  return 1;
}

/* core.sleep(seconds) -> interrupted: blocks the thread (the libcurl
 * transport's sleep). Returns true early when Ctrl-C reached a standalone
 * interpreter (see interrupt.h), whose hook then raises "interrupted!". */
static int l_sleep(lua_State *L) {
  double secs = luaL_checknumber(L, 1), now, deadline;
  paddle_hook_snapshot snap;
  struct timespec ts;
  luaL_argcheck(L, !(secs > 1e9), 1, "must be <= 1e9 seconds");
  if (!(secs > 0)) { /* also NaN */
    lua_pushboolean(L, 0);
    return 1;
  }
  paddle_hook_snap(L, &snap);
  clock_gettime(CLOCK_MONOTONIC, &ts);
  now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
  deadline = now + secs;
  while (now < deadline) {
    double slice = deadline - now;
    if (slice > PADDLE_INTERRUPT_POLL_MS / 1000.0) slice = PADDLE_INTERRUPT_POLL_MS / 1000.0;
    ts.tv_sec = (time_t)slice;
    ts.tv_nsec = (long)((slice - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL); /* a signal ends it early: checked just below */
    if (paddle_interrupted(&snap)) {
      lua_pushboolean(L, 1);
      return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
  }
  lua_pushboolean(L, 0);
  return 1;
}

static const luaL_Reg session_methods[] = {
  {"acquire", l_session_acquire},
  {"share_block", l_session_share_block},
  {"decide", l_session_decide},
  {"blocked_until", l_session_blocked_until},
  {"close", l_session_close},
  {NULL, NULL}
};

static const luaL_Reg session_funcs[] = {
  {"session", l_session_new},
  {"retry_after", l_retry_after},
  {"window_acquire", l_window_acquire},
  {"monotonic", l_monotonic},
  {"sleep", l_sleep},
  {NULL, NULL}
};

void paddle_open_session(lua_State *L) {
  paddle_register_type(L, PADDLE_SESSION_MT, session_methods, l_session_close, l_session_tostring);
  luaL_setfuncs(L, session_funcs, 0);
}
