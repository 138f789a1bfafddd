-- The "redis://" store: hosts share the window and the 429 block through
-- Redis. The window update is one server-side script, atomic by Redis'
-- design, so concurrent clients can never over-admit; it reads Redis' TIME,
-- so the hosts' clocks do not matter. The window is a list of send times
-- (oldest first) with the session's margins; the block is a key whose
-- expiry is the block's end.
local redis = require "paddle.redis"
local window = require "paddle.limiter.window"

local floor = math.floor
local format = string.format
local tonumber = tonumber
local type = type

local _M = {}

-- KEYS: window list, block key, limit key. ARGV: op ("acquire" | "block"),
-- requests (0: no pacing), per, hold (seconds a slot stays taken), block
-- seconds, the limit as text. Returns { wait_us, blocked_us, conflict }
-- (conflict 1: the window was last used with another limit).
local SCRIPT = [[
if redis.replicate_commands then redis.replicate_commands() end -- Redis < 5: TIME before writes
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local n, per, hold = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local keep_ms = math.ceil(hold * 1000) + 1000
if ARGV[1] == 'block' then
  local ends = now + tonumber(ARGV[5])
  local known = tonumber(redis.call('GET', KEYS[2]) or '0')
  if ends > known then
    redis.call('SET', KEYS[2], string.format('%.6f', ends), 'PX', math.max(1, math.ceil((ends - now) * 1000)))
    if n > 0 then
      -- Resume at the paced rate: slots free one by one from the block's end.
      redis.call('DEL', KEYS[1])
      for i = 0, n - 1 do
        redis.call('RPUSH', KEYS[1], string.format('%.6f', ends - hold + i * per / n))
      end
      redis.call('PEXPIRE', KEYS[1], math.ceil((ends - now) * 1000) + keep_ms)
    end
  end
  return { 0, 0 }
end
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then return { 0, math.floor((blocked - now) * 1e6) + 1, 0 } end
if n == 0 then return { 0, 0, 0 } end
local known = redis.call('GET', KEYS[3])
local conflict = (known and known ~= ARGV[6]) and 1 or 0
if known ~= ARGV[6] then redis.call('SET', KEYS[3], ARGV[6], 'PX', keep_ms) end
local len = redis.call('LLEN', KEYS[1])
if len >= n then
  local ready = tonumber(redis.call('LINDEX', KEYS[1], len - n)) + hold
  if ready > now then return { math.floor((ready - now) * 1e6) + 1, 0, conflict } end
  redis.call('LTRIM', KEYS[1], len - n + 1, -1)
end
redis.call('RPUSH', KEYS[1], string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], keep_ms)
redis.call('PEXPIRE', KEYS[3], keep_ms)
return { 0, 0, conflict }
]]

local DEFAULT_PREFIX = "paddle:limiter"

-- new(cfg, rate_limit) -> store; cfg from paddle.redis.parse_url.
function _M.new(cfg, rate_limit)
  local conn = redis.connect(cfg)
  local prefix = cfg.key or DEFAULT_PREFIX
  local keys = { prefix .. ":window", prefix .. ":blocked_until", prefix .. ":limit" }
  local n = rate_limit and rate_limit.requests or 0
  local per = rate_limit and rate_limit.per or 1
  local hold = window.hold(per)
  local limit_text = format("%d/%.9g", n, per)
  local store = {}

  local function run(op, seconds)
    local reply, err = conn:eval(SCRIPT, keys, { op, n, per, hold, seconds or 0, limit_text })
    if type(reply) ~= "table" then
      return nil, err or "redis: unexpected reply to the limiter script"
    end
    return (tonumber(reply[1]) or 0) / 1e6, (tonumber(reply[2]) or 0) / 1e6, reply[3] == 1
  end

  -- acquire() -> wait, blocked_left, conflict | nil, err
  function store.acquire() return run("acquire") end

  -- block(seconds) -> true | nil, err
  function store.block(seconds)
    local ok, err = run("block", floor(seconds * 1000 + 0.5) / 1000)
    if not ok then return nil, err end
    return true
  end

  function store.close() conn:close() end

  return store
end

return _M
