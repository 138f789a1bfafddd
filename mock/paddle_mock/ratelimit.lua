-- Paddle's rate limit, per client address, as a true sliding window: a
-- request is refused when `requests` earlier accepted requests arrived within
-- the last `per` seconds. The refusal then blocks the address for `block`
-- seconds (every request answered 429 with the remaining Retry-After).
-- Accepted request times live in a ring of `requests` slots per address.
local clock = require "paddle_mock.clock"

local ceil = math.ceil
local max = math.max

local rate = ngx.shared.paddle_mock_rate

local _M = {}

-- Returns nil when the request may proceed, else the Retry-After seconds.
function _M.check(addr, limit)
  if not limit then return nil end
  local now = clock.now()
  local block_key = "b:" .. addr
  local blocked_until = rate:get(block_key)
  if blocked_until and blocked_until > now then
    return max(1, ceil(blocked_until - now))
  end

  local count_key = "n:" .. addr
  local n = rate:incr(count_key, 1, 0)
  local slot_key = "t:" .. addr .. ":" .. (n - 1) % limit.requests
  local oldest = rate:get(slot_key) -- time of the request `requests` before this one
  if oldest and now - oldest < limit.per then
    rate:incr(count_key, -1) -- refused requests do not take a slot
    local wait = limit.block
    if wait > 0 then
      rate:set(block_key, now + wait, wait + 1)
    else
      wait = limit.per - (now - oldest)
    end
    return max(1, ceil(wait))
  end
  rate:set(slot_key, now, limit.per + 1)
  return nil
end

return _M
