-- paddle.limiter: one Paddle rate limit shared by every client behind one
-- address. A store keeps the pacing window and the 429 block:
--
--   "file:PATH"   processes on this host (a small file, locked in C)
--   "redis://[[user]:password@]host[:port][/db][?key=PREFIX]"   hosts, through Redis
--   "ngx:DICT"    the workers of one nginx (a lua_shared_dict)
--
--   local limiter = require("paddle.limiter").new(spec, rate_limit, session,
--     { warn = function(msg) end, now = clock })
--   limiter:acquire(now) -> 0 | wait_seconds, why ("pacing" | "blocked")
--   limiter:share_block(seconds)   -- after a 429: every sharer waits it out
--   limiter:close()
--
-- The session keeps this client's own view of the block (and pacing, if it
-- was made with a window). When the store fails (Redis down, file
-- unwritable) no call is lost: the limiter paces alone with an in-process
-- window, warns once through opts.warn, and tries the store again later.
local window = require "paddle.limiter.window"

local error = error
local pcall = pcall
local format = string.format
local ipairs = ipairs
local match = string.match
local require = require
local setmetatable = setmetatable
local tostring = tostring
local type = type

local _M = {}

-- After a store failure: first retry after this long, doubling up to the cap.
local RETRY_FIRST, RETRY_MAX = 1, 30

local function check_rate_limit(rl)
  if rl == nil or rl == false then return nil end
  if type(rl) ~= "table" or type(rl.requests) ~= "number" or rl.requests < 1 or rl.requests % 1 ~= 0
      or type(rl.per) ~= "number" or rl.per ~= rl.per or rl.per <= 0 then
    error("paddle.limiter: rate_limit must be nil or { requests = <integer >= 1>, per = <seconds > 0> }", 3)
  end
  return { requests = rl.requests, per = rl.per }
end

-- open_store(spec, rate_limit) -> store, description; raises on a bad spec.
local function open_store(spec, rate_limit)
  if type(spec) ~= "string" then
    error("paddle.limiter: spec must be a string (\"file:PATH\", \"redis://host:port\" or \"ngx:DICT\"), got "
      .. type(spec), 0)
  end
  local path = match(spec, "^file:(.+)$")
  if path then
    return require("paddle.limiter.file").new(path, rate_limit), spec
  end
  if match(spec, "^redis://") then
    local ok, cfg = pcall(require("paddle.redis").parse_url, spec)
    if not ok then error("paddle.limiter: " .. cfg, 0) end
    return require("paddle.limiter.redis").new(cfg, rate_limit), cfg.url -- without the password
  end
  local dict = match(spec, "^ngx:([%w_%-%.]+)$")
  if dict then
    local ok, store = pcall(require("paddle.ngx.limiter").new, dict, rate_limit)
    if not ok then error("paddle.limiter: " .. store, 0) end
    return store, spec
  end
  error(format("paddle.limiter: unknown store %q: expected \"file:PATH\", "
    .. "\"redis://[[user]:password@]host[:port][/db][?key=PREFIX]\" or \"ngx:DICT\"", spec), 0)
end

local Limiter = {}
Limiter.__index = Limiter

local function store_failed(self, err, now)
  if not self.down_since then
    self.down_since = now
    self.warn(format("paddle.limiter: store %s failed (%s); pacing this process alone until it is back",
      self.name, tostring(err)))
    self.retry_in = RETRY_FIRST
  else
    self.retry_in = self.retry_in * 2
    if self.retry_in > RETRY_MAX then self.retry_in = RETRY_MAX end
  end
  self.retry_at = now + self.retry_in
end

local function store_ok(self)
  if self.down_since then
    self.down_since, self.retry_at = nil, nil
    self.warn("paddle.limiter: store " .. self.name .. " is back; sharing the limit again")
  end
end

-- acquire(now) -> 0 when a request may go now (its slot is taken), else the
-- seconds to wait and why.
function Limiter:acquire(now)
  local wait, why = self.session:acquire(now)
  if wait > 0 then return wait, why end
  if not self.retry_at or now >= self.retry_at then
    local store_wait, blocked_left, conflict = self.store.acquire()
    if store_wait then
      store_ok(self)
      if conflict and not self.warned_conflict then
        self.warned_conflict = true
        self.warn("paddle.limiter: store " .. self.name .. " holds a window for another rate_limit: "
          .. "every sharer must use the same one")
      end
      if blocked_left > 0 then
        self.session:blocked_until(now + blocked_left)
        return blocked_left, "blocked"
      end
      if store_wait > 0 then return store_wait, "pacing" end
      return 0
    end
    store_failed(self, blocked_left, now)
  end
  if not self.rate_limit then return 0 end
  wait, self.local_state = window.take(self.local_state, self.rate_limit, now)
  if wait > 0 then return wait, "pacing" end
  return 0
end

-- share_block(seconds): a 429 said to wait this long; every sharer does.
-- Nothing to share when the block is already over (Retry-After: 0).
function Limiter:share_block(seconds)
  if type(seconds) ~= "number" or seconds ~= seconds then
    error("paddle.limiter: share_block expects a number of seconds", 2)
  end
  if seconds <= 0 then return end
  local now = self.now()
  self.session:blocked_until(now + seconds)
  if self.rate_limit then self.local_state = window.spread(self.rate_limit, now + seconds) end
  if self.retry_at and now < self.retry_at then return end
  local ok, err = self.store.block(seconds)
  if ok then store_ok(self) else store_failed(self, err, now) end
end

function Limiter:close()
  self.store.close()
end

-- new(spec, rate_limit, session, { warn =, now = }) -> limiter; raises on misuse.
function _M.new(spec, rate_limit, session, opts)
  opts = opts or {}
  rate_limit = check_rate_limit(rate_limit)
  if session == nil then error("paddle.limiter: a session is required", 2) end
  for _, name in ipairs { "warn", "now" } do
    if opts[name] ~= nil and type(opts[name]) ~= "function" then
      error("paddle.limiter: option '" .. name .. "' must be a function", 2)
    end
  end
  local ok, store, name = pcall(open_store, spec, rate_limit)
  if not ok then error(store, 2) end
  return setmetatable({
    store = store,
    name = name,
    rate_limit = rate_limit,
    session = session,
    warn = opts.warn or function(msg) io.stderr:write(msg, "\n") end,
    now = opts.now or require("paddle.core").monotonic,
  }, Limiter)
end

return _M
