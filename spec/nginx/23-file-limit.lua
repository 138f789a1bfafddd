-- The "file:" store from OpenResty: two nginx workers and a standalone Lua
-- 5.4 process (spec/support/limiter_worker.lua) pace together through one
-- file, so together they never exceed the limit.
local http = require "paddle.ngx.http"
local json = require "cjson.safe"
local admin = require "mock_admin"

local ngx = ngx

local function read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

return {
  {
    name = "2 workers and a lua5.4 process sharing a file: 100 calls, no 429, within 100/20/0.85 s",
    fn = function(t)
      admin(t, "POST", "/__mock/reset")
      admin(t, "POST", "/__mock/config", { rate_limit = { requests = 20, per = 1, block = 60 } })
      local out = t.env.tmp .. "/standalone.out"
      ngx.update_time()
      local start_at = ngx.now() + 1 -- the interpreter has loaded by then
      os.execute("cd " .. t.env.root .. " && env API_KEY=pdl_sdbx_apikey_01nginxsuitekey"
        .. " BASE_URL=" .. t.env.mock_url .. " CALLS=40 RATE=20/1"
        .. " LIMITER=file:" .. t.env.tmp .. "/paddle.limit MAX_RETRIES=0 START_AT=" .. start_at
        .. " lua5.4 -e 'package.path=\"lua/?.lua;lua/?/init.lua;\"..package.path;"
        .. "package.cpath=\"build/5.4/?.so;\"..package.cpath' spec/support/limiter_worker.lua >"
        .. out .. " 2>&1 &")
      ngx.sleep(start_at - ngx.now())
      local threads = {}
      for i = 1, 2 do -- reuseport spreads the two connections over the workers (most of the time)
        threads[i] = ngx.thread.spawn(function()
          return http.request { url = t.url("/fleet?threads=3&calls=10", t.env.ports[1]), timeout = 50,
            headers = { Connection = "close" } }
        end)
      end
      local ok_calls, last = 0, 0
      for i = 1, 2 do
        local _, res, err = ngx.thread.wait(threads[i])
        t.truthy(res, tostring(err))
        local counts = json.decode(res.body)
        t.equal(counts.errors, {})
        ok_calls = ok_calls + counts.ok
        if counts.finish > last then last = counts.finish end
      end
      local standalone
      for _ = 1, 400 do
        standalone = read(out)
        if standalone:find("finish=") then break end
        ngx.sleep(0.05)
      end
      local sok, sfailed, s429, sstart, sfinish =
        standalone:match("ok=(%d+) failed=(%d+) status429=(%d+) start=([%d.]+) finish=([%d.]+)")
      t.truthy(sok, "the standalone process finished: " .. standalone)
      t.equal(tonumber(sfailed), 0)
      t.equal(tonumber(s429), 0)
      ok_calls = ok_calls + tonumber(sok)
      t.equal(ok_calls, 100)
      local log = admin(t, "GET", "/__mock/requests").data
      t.equal(#log, 100)
      for _, r in ipairs(log) do t.truthy(r.status ~= 429, "the emulator answered 429") end
      local took = math.max(last, tonumber(sfinish)) - math.min(start_at, tonumber(sstart))
      t.truthy(took < 100 / 20 / 0.85, "took " .. took)
      t.diag(string.format("100 calls in %.2f s", took))
    end,
  },
}
