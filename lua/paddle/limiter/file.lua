-- The "file:PATH" store: processes on one host share the window and the 429
-- block through a small file, locked and updated in C (csrc/limiter_file.c).
-- Times are the wall clock the C side reads under the lock, shared by every
-- process of the host whatever clock each client paces on.
local core = require "paddle.core"
local window = require "paddle.limiter.window"

local take, spread = window.take, window.spread

local _M = {}

-- A block further away than this is a clock that went back, not Paddle.
local MAX_BLOCK = 86400

function _M.new(path, rate_limit)
  local store = {}
  local file
  local size = rate_limit and window.state_size(rate_limit)

  local function opened()
    if file then return file end
    local f, err = core.limiter_file_open(path)
    if not f then return nil, err end
    file = f
    return file
  end

  local function update(fn)
    local f, err = opened()
    if not f then return nil, err end
    local r1, r2, r3 = f:update(fn)
    if r1 == nil then -- an I/O failure: reopen next time (the file may be back)
      f:close()
      file = nil
    end
    return r1, r2, r3
  end

  -- Runs under the file's lock: must not yield.
  local function acquire_locked(now, blocked_until, state)
    if blocked_until > now + MAX_BLOCK then blocked_until = 0 end
    if blocked_until > now then return nil, nil, 0, blocked_until - now end
    if not rate_limit then return nil, nil, 0, 0 end
    local conflict = state ~= nil and #state ~= size
    local wait, new_state = take(state, rate_limit, now)
    if wait > 0 then return nil, nil, wait, 0, conflict end
    return blocked_until, new_state, 0, 0, conflict
  end

  -- acquire() -> wait, blocked_left, conflict | nil, err
  function store.acquire()
    return update(acquire_locked)
  end

  -- block(seconds) -> true | nil, err
  function store.block(seconds)
    return update(function(now, blocked_until, state)
      local until_t = now + seconds
      if until_t <= blocked_until and blocked_until <= now + MAX_BLOCK then return nil, nil, true end
      if rate_limit then state = spread(rate_limit, until_t) or state end
      return until_t, state, true
    end)
  end

  function store.close()
    if file then file:close() end
    file = nil
  end

  return store
end

return _M
