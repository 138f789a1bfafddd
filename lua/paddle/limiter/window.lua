-- The pacing window as the stores keep it: core.window_acquire's packed
-- state (the C session's sliding window), plus what a store shared by
-- several processes needs on top of it.
local core = require "paddle.core"

local window_acquire = core.window_acquire

local _M = {}

-- The session's margins (csrc/session.c): a slot frees per * 1.01 + 0.05 s
-- after the send that took it.
local function hold(per) return per * 1.01 + 0.05 end
_M.hold = hold

-- take(state, rate_limit, now) -> wait, new_state. A wait longer than a
-- slot is ever held means the clock went back (a stored time is in the
-- future): the window starts afresh rather than stalling everyone.
function _M.take(state, rate_limit, now)
  local wait, new_state = window_acquire(state, rate_limit.requests, rate_limit.per, now)
  if wait > hold(rate_limit.per) + 1 then
    wait, new_state = window_acquire(nil, rate_limit.requests, rate_limit.per, now)
  end
  return wait, new_state
end

-- state_size(rate_limit) -> the length of a window state for this limit. A
-- stored state of another length was made for another limit (a sharer
-- configured differently): the window starts afresh each time they
-- alternate, so together they exceed both limits.
function _M.state_size(rate_limit)
  local _, empty = window_acquire(nil, rate_limit.requests, rate_limit.per, 0)
  return #empty
end

-- Spreading caps the O(requests^2) cost of building the state this way.
local MAX_SPREAD = 2000

-- spread(rate_limit, resume_at) -> a full window whose slots free one by one
-- from resume_at, every per / requests seconds: after a 429 block every
-- sharer resumes at the paced rate instead of all at once.
function _M.spread(rate_limit, resume_at)
  local n, per = rate_limit.requests, rate_limit.per
  if n > MAX_SPREAD then return nil end
  local state
  local first = resume_at - hold(per)
  for i = 0, n - 1 do
    local _
    _, state = window_acquire(state, n, per, first + i * per / n)
  end
  return state
end

return _M
