-- The "ngx:DICT" store (the `shared_dict` option): every worker of one nginx
-- shares the window and the 429 block through an ngx.shared dict. The window
-- is core.window_acquire's packed state, updated under a short lock; the
-- critical section never yields, so the lock is held for microseconds.
local http = require "paddle.ngx.http"
local window = require "paddle.limiter.window"

local ngx = ngx
local error = error
local pcall = pcall

local take, spread = window.take, window.spread

local _M = {}

local LOCK_TTL = 0.1 -- seconds: a crashed holder cannot wedge the others
local LOCK_POLL = 0.001
local PREFIX = "paddle:limiter:"
local KEY_WINDOW, KEY_BLOCK, KEY_LOCK = PREFIX .. "window", PREFIX .. "blocked_until", PREFIX .. "lock"

local function clock()
  ngx.update_time()
  return ngx.now()
end

-- new(dict_name, rate_limit) -> store, or raises when the dict is not declared.
function _M.new(dict_name, rate_limit)
  local dict = ngx and ngx.shared and ngx.shared[dict_name]
  if not dict then
    error("lua_shared_dict " .. dict_name .. " is not declared in nginx.conf"
      .. (ngx and "" or " (ngx:DICT needs OpenResty)"), 0)
  end
  local store = {}
  local size = rate_limit and window.state_size(rate_limit)

  local function locked(fn)
    while true do
      local added, err = dict:add(KEY_LOCK, true, LOCK_TTL)
      if added then break end
      -- A full dict, or a phase that cannot sleep: the limiter falls back.
      if err ~= "exists" then return nil, "shared dict " .. dict_name .. ": " .. tostring(err) end
      if not http.available() then
        return nil, "shared dict " .. dict_name .. " is locked and this phase cannot wait"
      end
      ngx.sleep(LOCK_POLL)
    end
    local ok, a, b, c = pcall(fn)
    dict:delete(KEY_LOCK)
    if not ok then error(a, 0) end
    return a, b, c
  end

  -- acquire() -> wait, blocked_left, conflict | nil, err
  function store.acquire()
    local now = clock()
    local blocked = dict:get(KEY_BLOCK)
    if blocked and blocked > now then return 0, blocked - now end
    if not rate_limit then return 0, 0 end
    return locked(function()
      local stored = dict:get(KEY_WINDOW)
      local conflict = stored ~= nil and #stored ~= size
      local wait, state = take(stored, rate_limit, now)
      if wait > 0 then return wait, 0, conflict end
      local ok, err = dict:set(KEY_WINDOW, state)
      if not ok then return nil, "shared dict " .. dict_name .. ": " .. err end
      return 0, 0, conflict
    end)
  end

  -- block(seconds) -> true | nil, err
  function store.block(seconds)
    local now = clock()
    local until_t = now + seconds
    -- Compared and set under the lock: a shorter block from another worker
    -- never replaces a longer one.
    return locked(function()
      if until_t <= (dict:get(KEY_BLOCK) or 0) then return true end
      local ok, err = dict:set(KEY_BLOCK, until_t, seconds + 1)
      if not ok then return nil, "shared dict " .. dict_name .. ": " .. err end
      local state = rate_limit and spread(rate_limit, until_t)
      if state then dict:set(KEY_WINDOW, state) end
      return true
    end)
  end

  function store.close() end

  return store
end

return _M
