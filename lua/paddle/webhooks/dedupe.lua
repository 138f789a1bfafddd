-- paddle.webhooks.dedupe: remember processed webhook event ids for a while,
-- so that a delivery Paddle retries is acknowledged but not processed twice.
--
--   local seen = dedupe.new{ ttl = 86400 }                        -- this process
--   local seen = dedupe.new{ ttl = 86400, shared_dict = "paddle_webhooks" } -- nginx
--   local seen = dedupe.new{ ttl = 86400, redis = "redis://10.0.0.5:6379" } -- a fleet
--   local first, err = seen:claim(event.event_id)  -- true once, then false
--   seen:release(event.event_id)                   -- processing failed: allow a retry
--
-- In memory, entries expire ttl seconds after their claim and are purged in
-- claim order (amortised O(1)); max_entries bounds memory even if events
-- arrive faster than they expire (the oldest claims are forgotten first).
-- Under OpenResty, ngx.shared.DICT:add is atomic across workers; the dict
-- expires entries itself and evicts the least recently used when full.
-- On Redis, claim is SET key 1 NX EX ttl (atomic for every receiver sharing
-- the server) and release is DEL; through cosockets inside nginx, through
-- the C client elsewhere (paddle.redis).
local errors = require "paddle.errors"

local type = type
local error = error
local rawget = rawget
local tostring = tostring
local setmetatable = setmetatable
local pcall = pcall
local require = require
local ceil = math.ceil

local ngx = rawget(_G, "ngx")
local default_clock = ngx and ngx.now or os.time

-- Each retry is signed afresh (new ts) but keeps its event_id, and Paddle's
-- exponential backoff spreads retries over days: remember ids for 3 days.
local DEFAULT_TTL = 3 * 86400
local DEFAULT_PREFIX = "paddle:webhook:"
local DEFAULT_MAX_ENTRIES = 100000

local _M = { DEFAULT_TTL = DEFAULT_TTL, DEFAULT_MAX_ENTRIES = DEFAULT_MAX_ENTRIES }

local function check_id(id, fname)
  if type(id) ~= "string" or id == "" then
    error("bad argument #1 to '" .. fname .. "' (event id string expected, got " .. type(id) .. ")", 3)
  end
end

-- In-memory store: expires[id] = expiry time, and a FIFO of (id, expiry) in
-- claim order, so that expired entries are found without a scan.
local Memory = {}
Memory.__index = Memory

-- Forgets the oldest queued claim; returns whether it was still live.
local function pop_oldest(self)
  local head = self.head
  local id, exp = self.queue_id[head], self.queue_exp[head]
  self.queue_id[head], self.queue_exp[head] = nil, nil
  if head == self.tail then
    self.head, self.tail = 1, 0
  else
    self.head = head + 1
  end
  if self.expires[id] == exp then -- not released or claimed again since
    self.expires[id] = nil
    self.count = self.count - 1
    return true
  end
  return false
end

local function purge(self, now)
  while self.head <= self.tail and self.queue_exp[self.head] <= now do
    pop_oldest(self)
  end
  while self.count > self.max_entries and self.head <= self.tail do
    pop_oldest(self)
  end
end

function Memory:claim(id)
  check_id(id, "claim")
  local now = self.now()
  purge(self, now)
  local exp = self.expires[id]
  if exp ~= nil and exp > now then return false end
  if exp == nil then self.count = self.count + 1 end
  exp = now + self.ttl
  self.expires[id] = exp
  local tail = self.tail + 1
  self.tail = tail
  self.queue_id[tail], self.queue_exp[tail] = id, exp
  if self.count > self.max_entries then purge(self, now) end
  return true
end

function Memory:release(id)
  check_id(id, "release")
  if self.expires[id] ~= nil then
    self.expires[id] = nil
    self.count = self.count - 1
  end
  return true
end

-- Number of event ids currently remembered (in-memory store only).
function Memory:size()
  purge(self, self.now())
  return self.count
end

-- ngx.shared.DICT store.
local Shared = {}
Shared.__index = Shared

function Shared:claim(id)
  check_id(id, "claim")
  local ok, err = self.dict:add(self.prefix .. id, true, self.ttl)
  if ok then return true end
  if err == "exists" then return false end
  return nil, errors.new {
    type = "webhook_error",
    code = "dedupe_failed",
    detail = "shared dict add failed: " .. tostring(err),
  }
end

function Shared:release(id)
  check_id(id, "release")
  self.dict:delete(self.prefix .. id)
  return true
end

-- Redis store.
local Redis = {}
Redis.__index = Redis

local function redis_failed(what, err)
  return nil, errors.new {
    type = "webhook_error",
    code = "dedupe_failed",
    detail = "redis " .. what .. " failed: " .. tostring(err),
  }
end

function Redis:claim(id)
  check_id(id, "claim")
  local reply, err = self.conn:command("SET", self.prefix .. id, "1", "NX", "EX", self.ttl)
  if reply == "OK" then return true end
  if reply == false then return false end -- nil reply: the key exists
  return redis_failed("SET", err or reply)
end

function Redis:release(id)
  check_id(id, "release")
  local reply, err = self.conn:command("DEL", self.prefix .. id)
  if reply == nil then return redis_failed("DEL", err) end
  return true
end

-- Closes the connection (standalone Lua); the deduper reconnects if used again.
function Redis:close()
  self.conn:close()
end

local function resolve_dict(dict, level)
  if type(dict) == "string" then
    local shared = ngx and ngx.shared
    local found = shared and shared[dict]
    if not found then
      error("no lua_shared_dict named '" .. dict .. "' (shared_dict needs OpenResty)", level + 1)
    end
    return found
  end
  local t = type(dict)
  if t ~= "table" and t ~= "userdata" then
    error("shared_dict must be a lua_shared_dict name or an ngx.shared dict, got " .. t, level + 1)
  end
  return dict
end

-- new{ ttl =, shared_dict =, prefix =, now =, max_entries = }; level is
-- where to blame misuse (2: the caller of new).
function _M.new(opts, level)
  level = (level or 1) + 1
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then error("deduper options must be a table", level) end
  local ttl = opts.ttl or DEFAULT_TTL
  -- at most 2^31 s: Redis' EX and ngx.shared take whole seconds of that size
  if type(ttl) ~= "number" or not (ttl > 0 and ttl <= 2 ^ 31) then
    error("deduper ttl must be a number of seconds > 0 and <= 2^31", level)
  end
  if opts.shared_dict ~= nil and opts.redis ~= nil then
    error("deduper takes shared_dict or redis, not both", level)
  end
  if opts.redis ~= nil then
    local redis = require "paddle.redis"
    local ok, cfg = pcall(redis.parse_url, opts.redis)
    if not ok then error("deduper redis: " .. cfg, level) end
    local prefix = opts.prefix or cfg.key or DEFAULT_PREFIX
    if type(prefix) ~= "string" then error("deduper prefix must be a string", level) end
    return setmetatable({
      conn = redis.connect(cfg),
      ttl = tostring(ceil(ttl)), -- EX takes whole seconds
      prefix = prefix,
    }, Redis)
  end
  if opts.shared_dict ~= nil then
    local prefix = opts.prefix or DEFAULT_PREFIX
    if type(prefix) ~= "string" then error("deduper prefix must be a string", level) end
    return setmetatable({
      dict = resolve_dict(opts.shared_dict, level),
      ttl = ttl,
      prefix = prefix,
    }, Shared)
  end
  local now = opts.now or default_clock
  if type(now) ~= "function" then error("deduper now must be a clock function", level) end
  local max_entries = opts.max_entries or DEFAULT_MAX_ENTRIES
  if type(max_entries) ~= "number" or max_entries ~= max_entries or max_entries < 1 then
    error("deduper max_entries must be a number >= 1", level)
  end
  return setmetatable({
    ttl = ttl,
    now = now,
    max_entries = max_entries,
    expires = {},
    queue_id = {},
    queue_exp = {},
    head = 1,
    tail = 0,
    count = 0,
  }, Memory)
end

return _M
