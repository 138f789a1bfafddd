/*
 * A small blocking Redis client (RESP2 over TCP) for standalone Lua: the
 * "redis://" limiter store and the Redis webhook deduper need a handful of
 * commands (EVALSHA/EVAL, SET NX EX, DEL, AUTH, SELECT), each bounded by a
 * timeout. OpenResty speaks the same protocol through cosockets instead
 * (lua/paddle/ngx/redis.lua).
 *
 *   local conn, err = core.redis_connect(host, port, timeout_seconds)
 *   local value, err, kind = conn:command("SET", "k", "1", "NX", "EX", "60")
 *
 * Replies: status -> string, integer -> integer, bulk -> string, nil -> false,
 * array -> table. A Redis error reply gives nil, message, "redis" (the
 * connection stays usable); an I/O failure gives nil, message, "io" and closes
 * the connection; "stale" means the connection was inherited across fork and
 * closed without sending anything (connect again).
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "udata.h"

#define REDIS_MT "paddle.RedisConnection"
#define READ_BUF 16384
#define MAX_DEPTH 8

typedef struct {
  int fd;           /* -1 once closed */
  pid_t pid;        /* the process that connected: a forked child may not share it */
  int timeout_ms;   /* per operation */
  int busy;         /* a command is between send and the end of its reply */
  size_t start, end; /* unread bytes are buf[start..end) */
  char err[160];    /* the last I/O failure */
  char buf[READ_BUF];
} redis_conn;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void conn_close(redis_conn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->start = c->end = 0;
  c->busy = 0;
}

static int fail(redis_conn *c, const char *what, int err) {
  snprintf(c->err, sizeof c->err, "redis %s: %s", what, err ? strerror(err) : "connection closed");
  conn_close(c);
  return -1;
}

/* Waits until fd is ready for events, or fails with ETIMEDOUT. */
static int wait_fd(redis_conn *c, short events, double deadline) {
  struct pollfd p;
  int left, rc;
  for (;;) {
    left = (int)(deadline - now_ms());
    if (left <= 0) return ETIMEDOUT;
    p.fd = c->fd;
    p.events = events;
    p.revents = 0;
    rc = poll(&p, 1, left);
    if (rc > 0) return 0;
    if (rc == 0) return ETIMEDOUT;
    if (errno != EINTR) return errno;
  }
}

static int try_connect(redis_conn *c, const struct addrinfo *ai, double deadline) {
  int err = 0, one = 1;
  socklen_t len = sizeof err;
  c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
  if (c->fd < 0) return errno;
  if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) err = errno;
    else if ((err = wait_fd(c, POLLOUT, deadline)) == 0 &&
             getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
      err = errno;
  }
  if (err != 0) {
    close(c->fd);
    c->fd = -1;
    return err;
  }
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return 0;
}

/* core.redis_connect(host, port, timeout) -> conn | nil, err */
static int l_redis_connect(lua_State *L) {
  const char *host = luaL_checkstring(L, 1);
  lua_Integer port = luaL_checkinteger(L, 2);
  double timeout = luaL_checknumber(L, 3);
  struct addrinfo hints, *res = NULL, *ai;
  char service[16];
  int rc, err = ECONNREFUSED;
  double deadline;
  redis_conn *c;
  luaL_argcheck(L, port > 0 && port < 65536, 2, "port out of range");
  luaL_argcheck(L, timeout > 0 && timeout <= 86400, 3, "must be > 0 and <= 86400 seconds");
  c = (redis_conn *)paddle_newudata(L, sizeof *c, REDIS_MT);
  c->fd = -1; /* before anything can raise: 0 is a descriptor */
  c->timeout_ms = (int)(timeout * 1000) + 1;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  snprintf(service, sizeof service, "%d", (int)port);
  rc = getaddrinfo(host, service, &hints, &res);
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "redis %s:%d: %s", host, (int)port, gai_strerror(rc));
    return 2;
  }
  deadline = now_ms() + c->timeout_ms;
  for (ai = res; ai != NULL; ai = ai->ai_next)
    if ((err = try_connect(c, ai, deadline)) == 0) break;
  freeaddrinfo(res);
  if (c->fd < 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "redis %s:%d: connect: %s", host, (int)port, strerror(err));
    return 2;
  }
  c->pid = getpid();
  return 1;
}

static int send_all(redis_conn *c, const char *p, size_t len, double deadline) {
  while (len > 0) {
    ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      int err = wait_fd(c, POLLOUT, deadline);
      if (err) return fail(c, "send", err);
    } else {
      return fail(c, "send", errno);
    }
  }
  return 0;
}

/* Makes at least one unread byte available. */
static int fill(redis_conn *c, double deadline) {
  ssize_t n;
  if (c->start < c->end) return 0;
  c->start = c->end = 0;
  for (;;) {
    n = recv(c->fd, c->buf, READ_BUF, 0);
    if (n > 0) {
      c->end = (size_t)n;
      return 0;
    }
    if (n == 0) return fail(c, "receive", 0);
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      int err = wait_fd(c, POLLIN, deadline);
      if (err) return fail(c, "receive", err);
    } else {
      return fail(c, "receive", errno);
    }
  }
}

/* Reads one CRLF-terminated line (without CRLF) into out (size cap). */
static int read_line(redis_conn *c, char *out, size_t cap, double deadline) {
  size_t n = 0;
  for (;;) {
    char ch;
    if (fill(c, deadline) != 0) return -1;
    ch = c->buf[c->start++];
    if (ch == '\n' && n > 0 && out[n - 1] == '\r') {
      out[n - 1] = '\0';
      return 0;
    }
    if (n + 1 >= cap) {
      snprintf(c->err, sizeof c->err, "redis protocol error: line too long");
      conn_close(c);
      return -1;
    }
    out[n++] = ch;
  }
}

static int read_exact(redis_conn *c, char *out, size_t len, double deadline) {
  while (len > 0) {
    size_t chunk;
    if (fill(c, deadline) != 0) return -1;
    chunk = c->end - c->start;
    if (chunk > len) chunk = len;
    memcpy(out, c->buf + c->start, chunk);
    c->start += chunk;
    out += chunk;
    len -= chunk;
  }
  return 0;
}

static int protocol_error(redis_conn *c, const char *what) {
  snprintf(c->err, sizeof c->err, "redis protocol error: %s", what);
  conn_close(c);
  return -1;
}

/* Pushes one reply. Returns 0, 1 for an error reply (message pushed) or -1
 * for an I/O or protocol failure (c->err set, connection closed). */
static int read_reply(lua_State *L, redis_conn *c, double deadline, int depth) {
  char line[512];
  long long n;
  char *end;
  if (read_line(c, line, sizeof line, deadline) != 0) return -1;
  if (line[0] == '-') {
    lua_pushstring(L, line + 1);
    return 1;
  }
  if (line[0] == '+') {
    lua_pushstring(L, line + 1);
    return 0;
  }
  n = strtoll(line + 1, &end, 10);
  if (line[1] == '\0' || *end != '\0') return protocol_error(c, "bad length");
  if (line[0] == ':') {
    lua_pushinteger(L, (lua_Integer)n);
    return 0;
  }
  if (line[0] == '$') {
    char *data, crlf[2];
    if (n < 0) {
      lua_pushboolean(L, 0);
      return 0;
    }
    if (n > 512 * 1024 * 1024) return protocol_error(c, "bulk string too large");
    data = (char *)lua_newuserdata(L, (size_t)n + 1); /* Lua-owned scratch */
    if (read_exact(c, data, (size_t)n, deadline) != 0 || read_exact(c, crlf, 2, deadline) != 0) {
      lua_pop(L, 1);
      return -1;
    }
    lua_pushlstring(L, data, (size_t)n);
    lua_remove(L, -2);
    return 0;
  }
  if (line[0] == '*') {
    long long i;
    if (n < 0) {
      lua_pushboolean(L, 0);
      return 0;
    }
    if (depth >= MAX_DEPTH) return protocol_error(c, "nesting too deep");
    if (n > INT_MAX) return protocol_error(c, "array too large");
    lua_createtable(L, n < 64 ? (int)n : 64, 0);
    for (i = 1; i <= n; i++) {
      int rc;
      luaL_checkstack(L, 4, "redis reply");
      rc = read_reply(L, c, deadline, depth + 1);
      if (rc < 0) {
        lua_pop(L, 1);
        return -1;
      }
      /* rc == 1: an error inside an array reads as its message string */
      lua_rawseti(L, -2, (int)i);
    }
    return 0;
  }
  return protocol_error(c, "unknown reply type");
}

/* conn:command(word, ...) -> reply | nil, message, "redis" | "io" */
static int l_redis_command(lua_State *L) {
  redis_conn *c = (redis_conn *)luaL_checkudata(L, 1, REDIS_MT);
  int nargs = lua_gettop(L) - 1, i, rc;
  double deadline;
  luaL_Buffer b;
  luaL_argcheck(L, nargs >= 1, 2, "command expected");
  for (i = 2; i <= nargs + 1; i++) {
    size_t len;
    luaL_checklstring(L, i, &len);
    luaL_argcheck(L, len <= 512 * 1024 * 1024, i, "longer than 512 MiB");
  }
  if (c->fd >= 0 && c->busy) {
    /* A raise (out of memory) left the last reply half read: its bytes
     * would be taken for this command's answer. */
    conn_close(c);
    snprintf(c->err, sizeof c->err, "redis connection dropped mid-reply");
  }
  if (c->fd >= 0 && c->pid != getpid()) { /* inherited across fork: nothing was sent */
    close(c->fd); /* our copy only: the parent's connection stays up */
    c->fd = -1;
    lua_pushnil(L);
    lua_pushliteral(L, "redis connection was opened by another process");
    lua_pushliteral(L, "stale");
    return 3;
  }
  if (c->fd < 0) {
    lua_pushnil(L);
    lua_pushstring(L, c->err[0] ? c->err : "redis connection is closed");
    lua_pushliteral(L, "io");
    return 3;
  }
  luaL_buffinit(L, &b);
  lua_pushfstring(L, "*%d\r\n", nargs);
  luaL_addvalue(&b);
  for (i = 2; i <= nargs + 1; i++) {
    size_t len;
    const char *s = lua_tolstring(L, i, &len);
    lua_pushfstring(L, "$%d\r\n", (int)len);
    luaL_addvalue(&b);
    luaL_addlstring(&b, s, len);
    luaL_addlstring(&b, "\r\n", 2);
  }
  luaL_pushresult(&b);
  deadline = now_ms() + c->timeout_ms;
  {
    size_t len;
    const char *req = lua_tolstring(L, -1, &len);
    c->busy = 1;
    rc = send_all(c, req, len, deadline);
  }
  if (rc == 0) rc = read_reply(L, c, deadline, 0);
  c->busy = 0;
  if (rc == 0) return 1;
  if (rc == 1) {
    lua_pushnil(L);
    lua_insert(L, -2);
    lua_pushliteral(L, "redis");
    return 3;
  }
  lua_pushnil(L);
  lua_pushstring(L, c->err);
  lua_pushliteral(L, "io");
  return 3;
}

static int l_redis_close(lua_State *L) {
  conn_close((redis_conn *)luaL_checkudata(L, 1, REDIS_MT));
  return 0;
}

/* core.sha1(s) -> the 20-byte SHA-1 of s (core.hex of it is EVALSHA's id) */
static int l_sha1(lua_State *L) {
  size_t len;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(s, len, md);
  lua_pushlstring(L, (const char *)md, sizeof md);
  return 1;
}

static const luaL_Reg redis_methods[] = {
  {"command", l_redis_command},
  {"close", l_redis_close},
  {NULL, NULL}
};

static const luaL_Reg redis_funcs[] = {
  {"redis_connect", l_redis_connect},
  {"sha1", l_sha1},
  {NULL, NULL}
};

void paddle_open_resp(lua_State *L) {
  paddle_register_type(L, REDIS_MT, redis_methods, l_redis_close, NULL);
  luaL_setfuncs(L, redis_funcs, 0);
}
