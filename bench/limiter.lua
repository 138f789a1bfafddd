-- The body of bench/bench-limiter (run it, not this file).
local core = require "paddle.core"
local limiter = require "paddle.limiter"
local mock = require "support.mock"
local redis = require "support.redis"
local fleet = require "support.fleet"

local format = string.format
local RUNS = tonumber(os.getenv("BENCH_RUNS") or "3")
local LIMIT, PER, BLOCK = 20, 1, 5
local TOTAL_CALLS = 120

local function median(xs)
  table.sort(xs)
  local n = #xs
  if n % 2 == 1 then return xs[(n + 1) / 2] end
  return (xs[n / 2] + xs[n / 2 + 1]) / 2
end

local function result(name, value, unit, goal)
  print(format("RESULT\tlimiter\t%s\t%s\t%s\t-\t%s", name, value, unit, goal or "-"))
end

-- Runs the acquire loop in an nginx of its own (one worker) and returns
-- { store, median, min, max } per store.
local function nginx_acquire_costs(r)
  local prefix = os.tmpname()
  os.remove(prefix)
  os.execute("mkdir -p " .. prefix .. "/logs " .. prefix .. "/conf")
  local pwd = io.popen("pwd")
  local root = pwd:read("*l")
  pwd:close()
  local port = mock.free_port()
  local conf = [[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
daemon off;
worker_processes 1;
pid PREFIX/logs/nginx.pid;
error_log PREFIX/logs/error.log warn;
events {}
http {
  access_log off;
  client_body_temp_path PREFIX/tmp; proxy_temp_path PREFIX/tmp;
  fastcgi_temp_path PREFIX/tmp; uwsgi_temp_path PREFIX/tmp; scgi_temp_path PREFIX/tmp;
  lua_package_path "ROOT/lua/?.lua;ROOT/lua/?/init.lua;;";
  lua_package_cpath "ROOT/build/luajit/?.so;;";
  lua_shared_dict bench 1m;
  server {
    listen 127.0.0.1:PORT;
    location = /acquire {
      content_by_lua_block {
        local core = require "paddle.core"
        local limiter = require "paddle.limiter"
        local session = core.session { api_key = "pdl_sdbx_apikey_bench" }
        local samples = {}
        for round = 1, 20 do
          local l = limiter.new(ngx.var.arg_spec, { requests = 240, per = 60 }, session,
            { warn = error, now = ngx.now })
          if round == 1 then l:acquire(ngx.now()) end -- connect outside the timing
          ngx.update_time()
          ngx.shared.bench:flush_all()
          if ngx.var.arg_flush then
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", tonumber(ngx.var.arg_flush)))
            sock:send("FLUSHALL\r\n"); sock:receive("*l"); sock:setkeepalive()
          end
          local t0 = core.monotonic()
          for _ = 1, 240 do
            if l:acquire(t0) ~= 0 then error("not admitted") end
          end
          samples[round] = (core.monotonic() - t0) / 240 * 1e6
          l:close()
        end
        table.sort(samples)
        ngx.say(samples[10], " ", samples[1], " ", samples[20])
      }
    }
  }
}
]]
  conf = conf:gsub("PREFIX", prefix):gsub("ROOT", root):gsub("PORT", port)
  local f = assert(io.open(prefix .. "/conf/nginx.conf", "w"))
  f:write(conf)
  f:close()
  os.execute("mkdir -p " .. prefix .. "/tmp; nginx -p " .. prefix .. " -c " .. prefix
    .. "/conf/nginx.conf -e " .. prefix .. "/logs/error.log </dev/null >/dev/null 2>&1 &")
  local http = require "socket.http"
  local out = {}
  local ok, err = pcall(function()
    for _ = 1, 100 do
      if http.request("http://127.0.0.1:" .. port .. "/acquire?spec=ngx:bench") then break end
      os.execute("sleep 0.05")
    end
    for _, s in ipairs { { "ngx:DICT", "ngx:bench" }, { "redis://", r.url, r.port } } do
      local url = "http://127.0.0.1:" .. port .. "/acquire?spec=" .. s[2]
        .. (s[3] and "&flush=" .. s[3] or "")
      local body, code = http.request(url)
      if code ~= 200 then
        local log = io.open(prefix .. "/logs/error.log"):read("*a")
        error("nginx bench " .. s[1] .. ": HTTP " .. tostring(code) .. "\n" .. log:sub(-1500))
      end
      local med, lo, hi = body:match("^(%S+) (%S+) (%S+)")
      out[#out + 1] = { store = s[1], median = tonumber(med), min = tonumber(lo), max = tonumber(hi) }
    end
  end)
  os.execute("kill -QUIT $(cat " .. prefix .. "/logs/nginx.pid 2>/dev/null) 2>/dev/null; sleep 0.5; rm -rf "
    .. prefix)
  if not ok then error(err, 0) end
  return out
end

local m = mock.start { rate_limit = { requests = LIMIT, per = PER, block = BLOCK } }
local r = redis.start()
local ok, err = pcall(function()
  print(format("%d calls in all against a %d/%d s limit (block %d s), median of %d runs",
    TOTAL_CALLS, LIMIT, PER, BLOCK, RUNS))
  for _, processes in ipairs(os.getenv("BENCH_SKIP_FLEET") and {} or { 3, 6 }) do
    for _, store in ipairs { "independent", "file:", "redis://" } do
      local s429, rates = {}, {}
      for run = 1, RUNS do
        m:reset()
        r:cli("FLUSHALL")
        local path = os.tmpname()
        local spec = (store == "file:" and "file:" .. path) or (store == "redis://" and r.url) or nil
        local res = fleet.run { processes = processes, calls = TOTAL_CALLS // processes, url = m.url,
          limiter = spec, max_retries = 20 }
        os.remove(path)
        if res.failed > 0 then error(store .. ": " .. res.failed .. " calls failed:\n" .. res.outputs[1]) end
        s429[run] = res.status429
        -- Sustained rate: the first window's burst is free, the rest is paced.
        rates[run] = (res.ok - LIMIT) / res.took / (LIMIT / PER) * 100
      end
      local lo, hi = math.min(table.unpack(rates)), math.max(table.unpack(rates))
      local med429, medrate = median(s429), median(rates)
      print(format("%d processes %-11s  429s %4d   rate %5.1f%% of the limit (%.1f..%.1f)",
        processes, store, med429, medrate, lo, hi))
      local shared = store ~= "independent"
      result(format("429s %d procs %s", processes, store), format("%d", med429), "count",
        shared and "0" or nil)
      result(format("rate %d procs %s", processes, store), format("%.1f", medrate), "% of limit",
        shared and ">=90" or nil)
    end
  end

  -- Cost of one acquire that admits (Paddle's 240/60 s window), per store.
  local session = core.session { api_key = "pdl_sdbx_apikey_bench" }
  local stores = {
    { "in-process", nil },
    { "file:", function() local p = os.tmpname(); os.remove(p); return "file:" .. p, p end },
    { "redis://", function() r:cli("FLUSHALL"); return r.url end },
  }
  for _, s in ipairs(stores) do
    local rounds, per_round, samples = 20, 240, {}
    for round = 1, rounds do
      local own = core.session { api_key = "k", rate_requests = 240, rate_per = 60 }
      local l, path
      if s[2] then
        local spec
        spec, path = s[2]()
        l = limiter.new(spec, { requests = 240, per = 60 }, session, { warn = error })
      end
      local t0 = core.monotonic()
      for _ = 1, per_round do
        local wait = l and l:acquire(t0) or own:acquire(t0)
        if wait ~= 0 then error("not admitted") end
      end
      samples[round] = (core.monotonic() - t0) / per_round * 1e6
      if l then l:close() end
      if path then os.remove(path) end
    end
    local med = median(samples)
    print(format("acquire %-11s %8.2f µs (%.2f..%.2f)", s[1], med, samples[1], samples[#samples]))
    result("acquire " .. s[1], format("%.2f", med), "us")
  end

  -- The same inside nginx: ngx:DICT, and redis:// through cosockets.
  for _, line in ipairs(nginx_acquire_costs(r)) do
    print(format("acquire %-11s %8.2f µs (%.2f..%.2f) in nginx", line.store, line.median, line.min, line.max))
    result("acquire " .. line.store .. " (nginx)", format("%.2f", line.median), "us")
  end
end)
m:stop()
r:stop()
if not ok then
  io.stderr:write("bench-limiter: ", tostring(err), "\n")
  os.exit(1)
end
