-- The Paddle client inside nginx: cosockets, retries with ngx.sleep, and
-- non-blocking behaviour, against the local emulator.
local http = require "paddle.ngx.http"
local paddle = require "paddle"

local ngx = ngx
local KEY = "pdl_sdbx_apikey_01nginxsuitekey"

local admin = require "mock_admin"

local function new_client(t, opts)
  opts = opts or {}
  opts.api_key = KEY
  opts.base_url = t.env.mock_url
  opts.rate_limit = false
  return paddle.new(opts)
end

return {
  {
    name = "customers API through cosockets, without loading libcurl",
    fn = function(t)
      admin(t, "POST", "/__mock/reset")
      local transports, request_ids = {}, {}
      local c = new_client(t, {
        on_request = function(info)
          transports[#transports + 1] = info.transport
          request_ids[#request_ids + 1] = info.request_id or false
        end,
      })
      local created = assert(c.customers.create { email = "nginx@example.com", name = "In nginx" })
      t.matches(created.id, "^ctm_")
      local got = assert(c.customers.get(created.id))
      t.equal(got.email, "nginx@example.com")
      local updated = assert(c.customers.update(created.id, { name = "Renamed" }))
      t.equal(updated.name, "Renamed")
      local n = 0
      for customer, err in c.customers.list { per_page = 1 } do
        t.truthy(customer, tostring(err))
        n = n + 1
      end
      t.equal(n, 1)
      local _, err = c.customers.get("ctm_01aaaaaaaaaaaaaaaaaaaaaaaa")
      t.equal(err.status, 404)
      for _, name in ipairs(transports) do t.equal(name, "ngx") end
      for _, id in ipairs(request_ids) do t.truthy(id, "each answer's Request-Id reaches on_request") end
      t.truthy(#transports >= 5)
      t.equal(package.loaded["paddle.curl"], nil, "paddle.curl was loaded")
    end,
  },
  {
    name = "retries and Retry-After with ngx.sleep",
    fn = function(t)
      admin(t, "POST", "/__mock/reset")
      admin(t, "POST", "/__mock/faults", {
        { method = "GET", path = "^/customers$", status = 502, times = 1 },
        { method = "GET", path = "^/customers$", status = 429, times = 1,
          headers = { ["Retry-After"] = "1" } },
      })
      local c = new_client(t, { backoff_base = 0.01 })
      local t0 = ngx.now()
      assert(c.request("GET", "/customers"))
      ngx.update_time()
      local took = ngx.now() - t0
      t.truthy(took >= 0.95 and took < 2, "took " .. took)
      t.equal(#admin(t, "GET", "/__mock/requests").data, 3)
    end,
  },
  {
    name = "a POST is not retried after a reset",
    fn = function(t)
      admin(t, "POST", "/__mock/reset")
      admin(t, "POST", "/__mock/faults",
        { { method = "POST", path = "^/customers$", action = "reset", times = 1 } })
      local c = new_client(t)
      local data, err = c.customers.create { email = "once@example.com" }
      t.falsy(data)
      t.equal(err.type, "transport_error")
      t.equal(err.code, "connection_reset")
      t.equal(#admin(t, "GET", "/__mock/requests").data, 1)
    end,
  },
  {
    name = "50 concurrent calls while the API takes 300 ms each finish in under 2 s (one worker)",
    fn = function(t)
      t.equal(t.env.workers, 1)
      admin(t, "POST", "/__mock/reset")
      admin(t, "POST", "/__mock/faults", { { path = "^/customers$", delay_ms = 300, times = 100 } })
      for _, kind in ipairs { "per-request", "per-worker" } do
        ngx.update_time()
        local t0 = ngx.now()
        local threads = {}
        for i = 1, 50 do
          threads[i] = ngx.thread.spawn(function()
            return http.request { url = t.url("/call/" .. kind), timeout = 10 }
          end)
        end
        for i = 1, 50 do
          local ok, res, err = ngx.thread.wait(threads[i])
          t.truthy(ok and res, "call " .. i .. ": " .. tostring(err))
          t.equal(res.status, 200, res.body)
        end
        ngx.update_time()
        local took = ngx.now() - t0
        -- Blocking calls would take 50 x 300 ms = 15 s.
        t.truthy(took < 2, kind .. " took " .. took .. " s")
        t.diag(kind .. ": 50 calls in " .. string.format("%.2f", took) .. " s")
      end
    end,
  },
}
