-- Pacing shared by every nginx worker: the sliding window and the 429 block
-- live in an ngx.shared dict, so N workers together stay under one limit.
-- The window arithmetic is the C session's (core.window_acquire); this file
-- only keeps its state in the dict under a short lock.
local core = require "paddle.core"

local ngx = ngx
local error = error

local _M = {}

local LOCK_TTL = 0.1 -- seconds: a crashed holder cannot wedge the others
local LOCK_POLL = 0.001

-- new(dict_name, rate_limit, session) -> limiter with acquire(now) and
-- share_block(), or raises when the dict is not declared.
function _M.new(dict_name, rate_limit, session)
  local dict = ngx.shared[dict_name]
  if not dict then
    error("paddle.new: lua_shared_dict " .. dict_name .. " is not declared in nginx.conf", 0)
  end
  local prefix = "paddle:limiter:"
  local key_window, key_block, key_lock = prefix .. "window", prefix .. "blocked_until", prefix .. "lock"

  local limiter = {}

  -- The critical section never yields, so the lock is held for microseconds.
  local function take_slot(now)
    while not dict:add(key_lock, true, LOCK_TTL) do ngx.sleep(LOCK_POLL) end
    local wait, state = core.window_acquire(dict:get(key_window), rate_limit.requests, rate_limit.per, now)
    if wait == 0 then dict:set(key_window, state) end
    dict:delete(key_lock)
    return wait
  end

  -- acquire(now) -> 0 (go), or the seconds to wait and why.
  function limiter.acquire(now)
    local blocked = dict:get(key_block)
    if blocked then session:blocked_until(blocked) end
    local wait, why = session:acquire(now) -- the block; the session has no window here
    if wait > 0 then return wait, why end
    if not rate_limit then return 0 end
    wait = take_slot(now)
    if wait > 0 then return wait, "pacing" end
    return 0
  end

  -- After a 429, every worker waits out the block this one learnt of.
  function limiter.share_block()
    local until_t = session:blocked_until()
    local known = dict:get(key_block) or 0
    if until_t > known then dict:set(key_block, until_t, until_t - ngx.now() + 1) end
  end

  return limiter
end

return _M
