/*
 * The "file:PATH" limiter store: processes on one host share a pacing window
 * and the 429 block through a small file, updated under an exclusive flock.
 *
 * The window arithmetic stays in Lua-callable code (core.window_acquire, the
 * session's own): store:update(fn) locks the file, reads it, calls
 * fn(now, blocked_until, window_state) under lua_pcall, writes what fn
 * returns and unlocks, so no error can leave the lock held. The lock is held
 * for the few microseconds of one pread, one call and one pwrite, which is
 * why OpenResty may use it too.
 *
 * File layout: 8 bytes of magic, the block's end (double, wall clock) and the
 * packed window state of core.window_acquire. Anything else reads as empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "udata.h"

#define FILE_STORE_MT "paddle.LimiterFile"
#define MAGIC "PDLLIM01"
#define HEADER_SIZE (8 + sizeof(double))
#define MAX_FILE_SIZE (HEADER_SIZE + 16 + 100000 * sizeof(double))
/* A holder that died releases its flock with its last descriptor, so a lock
 * not obtained within this long means something is badly wrong. */
#define LOCK_TIMEOUT 1.0

typedef struct {
  int fd;     /* -1 once closed */
  pid_t pid;  /* the process that opened fd: a forked child opens its own */
  char path[4096];
} file_store;

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int push_errno(lua_State *L, const char *what) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", what, strerror(errno));
  return 2;
}

static int open_store(file_store *s) {
  s->fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  s->pid = getpid();
  return s->fd;
}

/* core.limiter_file_open(path) -> store | nil, err (created with mode 0600) */
static int l_file_open(lua_State *L) {
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  file_store *s;
  luaL_argcheck(L, len > 0 && len < sizeof s->path && strlen(path) == len, 1, "bad path");
  s = (file_store *)paddle_newudata(L, sizeof *s, FILE_STORE_MT);
  s->fd = -1; /* before anything can raise: 0 is a descriptor */
  memcpy(s->path, path, len + 1);
  if (open_store(s) < 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "cannot open %s: %s", path, strerror(errno));
    return 2;
  }
  return 1;
}

static file_store *check_open(lua_State *L) {
  file_store *s = (file_store *)luaL_checkudata(L, 1, FILE_STORE_MT);
  if (s->fd < 0) luaL_argerror(L, 1, "limiter file is closed");
  return s;
}

/* Exclusive lock without blocking forever: short sleeps until LOCK_TIMEOUT. */
static double monotonic_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts); /* a wall-clock step must not stretch the wait */
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int lock_file(int fd) {
  struct timespec pause = {0, 20000};
  double deadline = monotonic_now() + LOCK_TIMEOUT;
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) return -1;
    if (monotonic_now() > deadline) {
      errno = ETIMEDOUT;
      return -1;
    }
    nanosleep(&pause, NULL);
    if (pause.tv_nsec < 1000000) pause.tv_nsec *= 2;
  }
  return 0;
}

/* Reads the file into a Lua-owned buffer; pushes blocked_until and the state
 * (nil when absent). Returns -1 on an I/O error (nothing pushed). */
static int read_contents(lua_State *L, int fd) {
  struct stat st;
  size_t size;
  char *buf;
  ssize_t got;
  double blocked = 0;
  if (fstat(fd, &st) != 0) return -1;
  size = (size_t)st.st_size;
  if (size < HEADER_SIZE || size > MAX_FILE_SIZE) { /* new, or not ours */
    lua_pushnumber(L, 0);
    lua_pushnil(L);
    return 0;
  }
  buf = (char *)lua_newuserdata(L, size);
  got = pread(fd, buf, size, 0);
  if (got < 0) {
    lua_pop(L, 1);
    return -1;
  }
  if ((size_t)got != size || memcmp(buf, MAGIC, 8) != 0) {
    lua_pop(L, 1);
    lua_pushnumber(L, 0);
    lua_pushnil(L);
    return 0;
  }
  memcpy(&blocked, buf + 8, sizeof blocked);
  if (!(blocked == blocked)) blocked = 0; /* NaN from a torn write */
  lua_pushnumber(L, blocked);
  if (size > HEADER_SIZE) lua_pushlstring(L, buf + HEADER_SIZE, size - HEADER_SIZE);
  else lua_pushnil(L);
  lua_remove(L, -3); /* the buffer */
  return 0;
}

static int write_contents(lua_State *L, int fd, double blocked, int state_idx) {
  size_t len = 0, size;
  const char *state = lua_isnil(L, state_idx) ? NULL : lua_tolstring(L, state_idx, &len);
  char *buf;
  size = HEADER_SIZE + len;
  if (size > MAX_FILE_SIZE) {
    errno = EFBIG;
    return -1;
  }
  buf = (char *)lua_newuserdata(L, size);
  memcpy(buf, MAGIC, 8);
  memcpy(buf + 8, &blocked, sizeof blocked);
  if (len > 0) memcpy(buf + HEADER_SIZE, state, len);
  if (pwrite(fd, buf, size, 0) != (ssize_t)size) return -1;
  if (ftruncate(fd, (off_t)size) != 0) return -1;
  lua_pop(L, 1);
  return 0;
}

/* Runs under the lock, called through lua_pcall so that no error (in fn, or
 * a memory error) can skip the unlock: (store, fn) -> r1, r2, r3 | nil, err */
static int update_locked(lua_State *L) {
  file_store *s = (file_store *)lua_touserdata(L, 1);
  int base;
  lua_pushvalue(L, 2);
  lua_pushnumber(L, wall_now());
  if (read_contents(L, s->fd) != 0) return push_errno(L, "cannot read the limiter file");
  base = lua_gettop(L) - 4; /* below fn */
  lua_call(L, 3, 5);
  if (lua_type(L, base + 1) == LUA_TNUMBER &&
      write_contents(L, s->fd, lua_tonumber(L, base + 1), base + 2) != 0)
    return push_errno(L, "cannot write the limiter file");
  lua_settop(L, base + 5);
  return 3; /* r1, r2, r3 */
}

/* store:update(fn) -> r1, r2, r3 | nil, err
 * Under the lock, calls fn(now, blocked_until, state) -> new_blocked_until,
 * new_state, r1, r2, r3; writes the file when new_blocked_until is a number (the
 * state is then written as returned). now is the wall clock, shared by every
 * process of the host. An error in fn is raised again after unlocking. */
static int l_file_update(lua_State *L) {
  file_store *s = check_open(L);
  int status;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  if (s->pid != getpid()) { /* inherited across fork: the lock would be shared */
    close(s->fd);
    if (open_store(s) < 0) return push_errno(L, "cannot open the limiter file");
  }
  /* Allocates (LuaJIT): before the lock, so a raise cannot leave it held. */
  lua_pushcfunction(L, update_locked);
  lua_insert(L, 1);
  if (lock_file(s->fd) != 0) return push_errno(L, "cannot lock the limiter file");
  status = lua_pcall(L, 2, 3, 0);
  flock(s->fd, LOCK_UN);
  if (status != 0) return lua_error(L);
  return 3;
}

static int l_file_close(lua_State *L) {
  file_store *s = (file_store *)luaL_checkudata(L, 1, FILE_STORE_MT);
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  return 0;
}

static const luaL_Reg file_methods[] = {
  {"update", l_file_update},
  {"close", l_file_close},
  {NULL, NULL}
};

static const luaL_Reg file_funcs[] = {
  {"limiter_file_open", l_file_open},
  {NULL, NULL}
};

void paddle_open_limiter_file(lua_State *L) {
  paddle_register_type(L, FILE_STORE_MT, file_methods, l_file_close, NULL);
  luaL_setfuncs(L, file_funcs, 0);
}
