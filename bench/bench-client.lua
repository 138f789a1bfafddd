-- bench/bench-client.lua (run by bench/bench-client): lua-paddle's client
-- beside its floors, in one run.
--   get loop: BENCH_GETS (4000) keep-alive client.customers.get against a
--     fixed local nginx answering a customer, CPU and wall of the Lua process
--     as a ratio to bench/raw-curl.c (one libcurl handle) in the same run;
--   walk: client.customers.list() with default options over BENCH_WALK
--     (20000) customers seeded into the emulator (bin/paddle-mock): CPU and
--     wall as ratios to raw-curl following the same pages of 200 (libcurl
--     alone, no JSON decoding), peak memory (VmHWM), and the requests it
--     made, from the emulator's request log;
--   ensure: requests for an existing and for a new customer;
--   optionally the official node SDK's get loop, when bench/node has it.
-- BENCH_GET_ONLY=1 stops after the get loop.
-- Each of BENCH_RUNS (5) runs measures raw, lua5.4 and luajit back to back,
-- BENCH_ROUNDS (5) times for the get loop: a run's ratio is the median of
-- its rounds' ratios, each round's programs measured one after the other.
-- On a machine of 2 or more CPUs the get loops run on CPU 0 and the nginx
-- worker on the last CPU, for the floor and lua-paddle alike: whether client
-- and server happen to share a CPU otherwise moves the CPU per call
-- from one process to the next.
package.path = "spec/?.lua;" .. package.path
local mock = require "support.mock"

local RUNS = tonumber(os.getenv("BENCH_RUNS") or 5)
local ROUNDS = tonumber(os.getenv("BENCH_ROUNDS") or 5) -- per run of the get loop, median counts
local GETS = tonumber(os.getenv("BENCH_GETS") or 4000)
local WALK = tonumber(os.getenv("BENCH_WALK") or 20000)
local KEY = "pdl_sdbx_apikey_01hv8x2ahgqbcdxq2cexkgzbench"
local ID = "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"
local DIR = assert(os.getenv("BENCH_DIR"), "BENCH_DIR: a scratch directory")
local INTERPS = { { "lua5.4", "5.4" }, { "luajit", "luajit" } }

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  local ok = p:close()
  if not ok then error(cmd .. " failed:\n" .. out, 0) end
  return out
end

local function fields(out)
  local t = {}
  for k, v in out:gmatch("([%w_]+)=(%S+)") do t[k] = tonumber(v) or v end
  return t
end

local function cpu_count()
  local p = io.popen("nproc 2>/dev/null")
  local n = p and tonumber(p:read("*a"))
  if p then p:close() end
  return n or 1
end
local CPUS = cpu_count()
-- The get loops' placement (see the top): a prefix for their command lines.
local PIN = CPUS >= 2 and "taskset -c 0 " or ""

local function client(interp, args, pin)
  local env = ("LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/%s/?.so;;' ")
    :format(interp[2])
  return fields(run(env .. (pin or "") .. (" %s bench/client.lua %s"):format(interp[1], args)))
end

local function summary(name, unit, floor, goal, values, group)
  local vs = {}
  for i, v in ipairs(values) do vs[i] = ("%.6g"):format(v) end
  io.stdout:flush()
  assert(os.execute(("lua5.4 bench/summary.lua '%s' '%s' '%s' '%s' '%s' %s"):format(group or "client", name,
    unit, floor, goal, table.concat(vs, " "))))
end

local function median(values)
  local s = {}
  for i, v in ipairs(values) do s[i] = v end
  table.sort(s)
  return s[(#s + 1) // 2]
end

-- The fixed server: nginx answering GET /customers/{id} with a customer.
local CUSTOMER = '{"data":{"id":"' .. ID .. '","status":"active","custom_data":null,'
  .. '"name":"Jo Brown-Anderson","email":"jo@example.com","marketing_consent":false,"locale":"en",'
  .. '"created_at":"2024-04-11T15:57:24.813Z","updated_at":"2024-04-11T15:59:56.658719Z",'
  .. '"import_meta":null},"meta":{"request_id":"913dee78-d496-4d13-a93e-09d834c208dd"}}'

local function start_nginx()
  local port = mock.free_port()
  local conf = ([[
worker_processes 1;
%s
daemon on;
pid %s/nginx.pid;
error_log %s/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %s/body;
  proxy_temp_path %s/proxy;
  fastcgi_temp_path %s/fastcgi;
  uwsgi_temp_path %s/uwsgi;
  scgi_temp_path %s/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:%d;
    location ~ ^/customers/ctm_[a-z0-9]+$ {
      default_type application/json;
      add_header Request-Id 913dee78-d496-4d13-a93e-09d834c208dd;
      return 200 '%s';
    }
  }
}
]]):format(CPUS >= 2 and ("worker_cpu_affinity %s;"):format("1" .. ("0"):rep(CPUS - 1)) or "",
    DIR, DIR, DIR, DIR, DIR, DIR, DIR, port, CUSTOMER)
  local f = assert(io.open(DIR .. "/nginx.conf", "w"))
  f:write(conf)
  f:close()
  run(("nginx -e %s/error.log -p %s -c %s/nginx.conf"):format(DIR, DIR, DIR))
  return "http://127.0.0.1:" .. port
end

-- The official node SDK, when `make bench` could install it (optional).
local NODE_SDK = "bench/node/node_modules/@paddle/paddle-node-sdk/package.json"
local function has_node_sdk()
  local f = io.open(NODE_SDK, "r")
  if f then f:close() end
  return f ~= nil and os.execute("node --version >/dev/null 2>&1")
end

local function get_loop(base)
  local cpu = { raw = {}, ["lua5.4"] = {}, luajit = {} }
  local ratio = { ["lua5.4"] = {}, luajit = {}, node = {} }
  local wall_ratio = { ["lua5.4"] = {}, luajit = {}, node = {} }
  local node = has_node_sdk()
  if not node then print("  (node SDK not installed: `npm ci --prefix bench/node` adds it)") end
  local function raw_loop()
    return fields(run(PIN .. ("build/bench/raw-curl %s/customers/%s %d %s"):format(base, ID, GETS, KEY)))
  end
  for r = 1, RUNS do
    -- ROUNDS rounds of raw, lua5.4, luajit back to back; the run's ratio is
    -- the median of the rounds' ratios, its CPU per program the median too.
    local rounds = { raw = { cpu = {}, wall = {} } }
    local round_ratio, round_wall = {}, {}
    for _, interp in ipairs(INTERPS) do
      rounds[interp[1]] = { cpu = {}, wall = {} }
      round_ratio[interp[1]], round_wall[interp[1]] = {}, {}
    end
    local function keep(name, got)
      table.insert(rounds[name].cpu, got.cpu)
      table.insert(rounds[name].wall, got.wall)
    end
    for k = 1, ROUNDS do
      local raw = raw_loop()
      keep("raw", raw)
      for _, interp in ipairs(INTERPS) do
        local got = client(interp, ("get %s %s %d %s"):format(base, KEY, GETS, ID), PIN)
        keep(interp[1], got)
        round_ratio[interp[1]][k] = got.cpu / raw.cpu
        round_wall[interp[1]][k] = got.wall / raw.wall
      end
    end
    local raw_cpu, raw_wall = median(rounds.raw.cpu), median(rounds.raw.wall)
    cpu.raw[r] = raw_cpu
    local line = ("  run %d: raw libcurl %.3f s CPU %.3f s wall"):format(r, raw_cpu, raw_wall)
    for _, interp in ipairs(INTERPS) do
      local name = interp[1]
      cpu[name][r] = median(rounds[name].cpu)
      ratio[name][r], wall_ratio[name][r] = median(round_ratio[name]), median(round_wall[name])
      line = line .. (", %s %.3f s CPU %.3f s wall (%.2fx)"):format(name, cpu[name][r],
        median(rounds[name].wall), ratio[name][r])
    end
    if node then
      local got = fields(run(PIN .. ("node bench/node/get.mjs %s %s %d %s"):format(base, KEY, GETS, ID)))
      ratio.node[r], wall_ratio.node[r] = got.cpu / raw_cpu, got.wall / raw_wall
      line = line .. (", node SDK %.3f s CPU %.3f s wall"):format(got.cpu, got.wall)
    end
    print(line)
  end
  local raw_us = ("%.1f us/call"):format(median(cpu.raw) / GETS * 1e6)
  for _, interp in ipairs(INTERPS) do
    local name = interp[1]
    summary(("get x%d CPU (%s)"):format(GETS, name), "x raw", raw_us, "<=1.25", ratio[name], "libcurl")
    summary(("get x%d wall (%s)"):format(GETS, name), "x raw", "-", "-", wall_ratio[name], "libcurl")
    local over = {}
    for r = 1, RUNS do over[r] = (cpu[name][r] - cpu.raw[r]) / GETS * 1e6 end
    summary(("get CPU over raw per call (%s)"):format(name), "us", "-", "-", over, "libcurl")
  end
  if node then
    summary(("get x%d CPU (node SDK 3.10)"):format(GETS), "x raw", raw_us, "-", ratio.node, "peers")
    summary(("get x%d wall (node SDK 3.10)"):format(GETS), "x raw", "-", "-", wall_ratio.node, "peers")
  end
end

local function count_requests(m)
  local n = 0
  for _, entry in ipairs(m:requests()) do
    if not entry.path:find("^/__mock") then n = n + 1 end
  end
  return n
end

local function walks(m)
  local figures, raw = {}, { cpu = {}, wall = {} }
  for _, interp in ipairs(INTERPS) do
    figures[interp[1]] = { cpu = {}, wall = {}, peak = {}, requests = {} }
  end
  for r = 1, RUNS do
    -- The floor: libcurl alone following the pages of 200 (no JSON decoding).
    local floor = fields(run(("build/bench/raw-curl '%s/customers?per_page=200' walk %s"):format(m.url, KEY)))
    raw.cpu[r], raw.wall[r] = floor.cpu, floor.wall
    local line = ("  run %d: raw libcurl %d requests %.3f s CPU %.3f s wall;"):format(r, floor.requests,
      floor.cpu, floor.wall)
    for _, interp in ipairs(INTERPS) do
      local f = figures[interp[1]]
      m:admin("DELETE", "requests")
      local got = client(interp, ("walk %s %s %d"):format(m.url, KEY, WALK))
      f.cpu[r], f.wall[r], f.peak[r] = got.cpu / floor.cpu, got.wall / floor.wall, got.peak_kb / 1024
      f.requests[r] = count_requests(m)
      line = line .. (" %s %d requests %.3f s CPU %.3f s wall %.1f MB peak;"):format(interp[1],
        f.requests[r], got.cpu, got.wall, f.peak[r])
    end
    print(line)
  end
  local pages = ("%d"):format(math.ceil(WALK / 200))
  local raw_cpu, raw_wall = ("raw %.3f s"):format(median(raw.cpu)), ("raw %.3f s"):format(median(raw.wall))
  for _, interp in ipairs(INTERPS) do
    local name, f = interp[1], figures[interp[1]]
    summary(("walk %d: requests (%s)"):format(WALK, name), "requests", pages, "<=" .. pages, f.requests,
      "requests")
    summary(("walk %d CPU (%s)"):format(WALK, name), "x raw", raw_cpu, "-", f.cpu, "walk")
    summary(("walk %d wall (%s)"):format(WALK, name), "x raw", raw_wall, "-", f.wall, "walk")
    summary(("walk %d peak memory VmHWM (%s)"):format(WALK, name), "MB", "-", "-", f.peak, "walk")
  end
end

local function ensures(m)
  for _, interp in ipairs(INTERPS) do
    local existing, new = {}, {}
    for r = 1, RUNS do
      m:admin("DELETE", "requests")
      local got = client(interp, ("ensure %s %s seed%d@example.com"):format(m.url, KEY, r * 7))
      assert(got.created == "false", "ensure created a seeded customer")
      existing[r] = count_requests(m)
      m:admin("DELETE", "requests")
      local email = ("bench-%s-%d-%d@example.com"):format(interp[2], r, os.time())
      got = client(interp, ("ensure %s %s %s"):format(m.url, KEY, email))
      assert(got.created == "true", "ensure did not create a new customer")
      new[r] = count_requests(m)
    end
    summary(("ensure, existing customer (%s)"):format(interp[1]), "requests", "1", "<=1", existing,
      "requests")
    summary(("ensure, new customer (%s)"):format(interp[1]), "requests", "2", "<=2", new, "requests")
  end
end

local base = start_nginx()
print(("get loop: %d keep-alive gets per program against nginx at %s, %d runs of %d rounds%s")
  :format(GETS, base, RUNS, ROUNDS, PIN ~= "" and ", loops on CPU 0, nginx on the last" or ""))
get_loop(base)
if os.getenv("BENCH_GET_ONLY") then return end -- a quicker check of the get loop alone

local m = mock.start { key = KEY, rate_limit = false, memory = "256m" }
local ok, err = pcall(function()
  m:seed { customers = WALK }
  print(("walk: %d customers in the emulator at %s, default options, %d runs"):format(WALK, m.url, RUNS))
  walks(m)
  ensures(m)
end)
m:stop()
if not ok then error(err, 0) end
