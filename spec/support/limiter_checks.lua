-- What every shared limiter store (file:, redis://) must do, checked the same
-- way by each store's spec; `a` and `b` are two limiters on one store.
local assert = require "luassert"
local core = require "paddle.core"

local _M = {}

-- With { requests = 3, per = 10 }: three calls admitted between the two,
-- the fourth paced for the whole window. Returns the time used.
function _M.shares_window(a, b)
  local now = core.monotonic()
  assert.equal(0, a:acquire(now))
  assert.equal(0, b:acquire(now))
  assert.equal(0, a:acquire(now))
  local wait, why = b:acquire(now)
  assert.equal("pacing", why)
  assert.is_true(wait > 9.9 and wait <= 10.2, "wait " .. wait)
  return now
end

-- b admitted, then a shares a block of `seconds` (a 429's Retry-After): b
-- is blocked. Returns b's wait.
function _M.shares_block(a, b, seconds)
  assert.equal(0, b:acquire(core.monotonic()))
  a:share_block(seconds)
  local wait, why = b:acquire(core.monotonic())
  assert.equal("blocked", why)
  return wait
end

-- Once a shared block has ended, with { requests = 4, per = 2 }: one call
-- admitted, the next paced (a slot frees every per / requests = 0.5 s)
-- rather than a burst.
function _M.resumes_paced(a, b)
  assert.equal(0, b:acquire(core.monotonic()))
  local wait, why = a:acquire(core.monotonic())
  assert.equal("pacing", why)
  assert.is_true(wait > 0.4 and wait < 0.55, "wait " .. wait)
end

return _M
