-- Two nginx workers, one Paddle limit: with shared_dict (limiter "ngx:DICT")
-- the pacing window and the 429 block are shared, so together the workers
-- never exceed the limit, and resume paced after a block.
local http = require "paddle.ngx.http"

local ngx = ngx

local admin = require "mock_admin"

-- Seconds of an RFC 3339 time of the request log (differences only).
local function seconds(rfc3339)
  local y, mo, d, h, mi, sec = rfc3339:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):([%d.]+)")
  local whole = math.floor(tonumber(sec))
  return os.time { year = y, month = mo, day = d, hour = h, min = mi, sec = whole } + tonumber(sec) - whole
end

local function fire(t, n)
  local threads = {}
  for i = 1, n do
    threads[i] = ngx.thread.spawn(function()
      return http.request { url = t.url("/call", t.env.ports[1]), timeout = 20,
        headers = { Connection = "close" } }
    end)
  end
  local pids, failures = {}, {}
  for i = 1, n do
    local ok, res, err = ngx.thread.wait(threads[i])
    if ok and res and res.status == 200 then
      pids[res.body] = true
    else
      failures[#failures + 1] = tostring(res and res.body or err)
    end
  end
  return pids, failures
end

-- fire(t, n), timed: every call must succeed, both workers serving some.
-- Returns the seconds it took.
local function fire_on_both(t, n)
  ngx.update_time()
  local t0 = ngx.now()
  local pids, failures = fire(t, n)
  ngx.update_time()
  local took = ngx.now() - t0
  t.equal(failures, {})
  local workers = 0
  for _ in pairs(pids) do workers = workers + 1 end
  t.equal(workers, 2, "both workers served calls")
  return took
end

return {
  {
    name = "two workers sharing one 20/1 s limit never exceed it in total",
    fn = function(t)
      t.equal(t.env.workers, 2)
      admin(t, "POST", "/__mock/reset")
      -- The emulator enforces the same limit: any excess would be a 429.
      admin(t, "POST", "/__mock/config", { rate_limit = { requests = 20, per = 1, block = 5 } })
      local took = fire_on_both(t, 60)
      local log = admin(t, "GET", "/__mock/requests").data
      t.equal(#log, 60)
      local times = {}
      for _, r in ipairs(log) do
        t.truthy(r.status ~= 429, "the emulator answered 429")
        times[#times + 1] = seconds(r.time)
      end
      table.sort(times)
      for i = 21, #times do
        t.truthy(times[i] - times[i - 20] >= 1, "21 requests within 1 s at " .. i)
      end
      -- 60 requests at 20/s: three windows, so just over 2 s.
      t.truthy(took >= 2 and took < 4, "took " .. took)
    end,
  },
  {
    name = "a 429 seen by one worker blocks the other",
    fn = function(t)
      admin(t, "POST", "/__mock/reset")
      admin(t, "POST", "/__mock/config", { rate_limit = false })
      admin(t, "POST", "/__mock/faults", { { path = "^/customers$", status = 429, times = 1,
        headers = { ["Retry-After"] = "2" } } })
      -- max_retries = 0: the first call fails with the 429 and shares the block.
      local _, first = fire(t, 1)
      t.equal(#first, 1)
      local took = fire_on_both(t, 10)
      local log = admin(t, "GET", "/__mock/requests").data
      for _, r in ipairs(log) do r.t = seconds(r.time) end
      table.sort(log, function(a, b) return a.t < b.t end)
      t.equal(#log, 11)
      t.equal(log[1].status, 429)
      for i = 2, #log do
        t.truthy(log[i].t - log[1].t >= 1.9, "request " .. i .. " went during the block")
      end
      t.truthy(took >= 1.9, "took " .. took)
      -- After the block the window frees one slot every 1/20 s: paced, not a burst.
      t.truthy(log[11].t - log[2].t >= 0.4, "10 calls after the block in " .. (log[11].t - log[2].t) .. " s")
    end,
  },
}
