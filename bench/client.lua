-- bench/client.lua (run by bench/bench-client under lua5.4 and luajit): one
-- measurement of lua-paddle through its public API, in a process of its own.
--   client.lua get URL KEY N ID     N x client.customers.get(ID) after a warm-up
--   client.lua walk URL KEY N       client.customers.list() with default options,
--                                   expecting N customers
--   client.lua ensure URL KEY EMAIL client.customers.ensure{ email = EMAIL }
-- Prints "key=value" pairs: cpu and wall seconds of the measured part,
-- peak_kb (VmHWM of this process), and what was done.
local paddle = require "paddle"
local socket = require "socket"

local mode, url, key, arg4, arg5 = ...
local clock, now = os.clock, socket.gettime

local function peak_kb()
  local f = io.open("/proc/self/status", "r")
  if not f then return -1 end
  local kb = f:read("*a"):match("VmHWM:%s*(%d+)")
  f:close()
  return tonumber(kb) or -1
end

local client = paddle.new { base_url = url, api_key = key, rate_limit = false }
local get = client.customers.get
local out

if mode == "get" then
  local n, id = tonumber(arg4), arg5
  for _ = 1, 50 do assert(get(id)) end -- connection up, code paths warm
  local cpu, wall = clock(), now()
  for _ = 1, n do
    local c, err = get(id)
    if not c then error("get failed: " .. tostring(err)) end
  end
  out = { cpu = clock() - cpu, wall = now() - wall, calls = n }
elseif mode == "walk" then
  local expected, count = tonumber(arg4), 0
  local cpu, wall = clock(), now()
  for c, err in client.customers.list() do
    if not c then error("walk failed after " .. count .. " customers: " .. tostring(err)) end
    count = count + 1
  end
  out = { cpu = clock() - cpu, wall = now() - wall, customers = count }
  if count ~= expected then error("walk saw " .. count .. " customers, expected " .. expected) end
elseif mode == "ensure" then
  local c, created = client.customers.ensure { email = arg4 }
  if not c then error("ensure failed: " .. tostring(created)) end
  out = { created = tostring(created) }
else
  error("unknown mode " .. tostring(mode))
end
out.peak_kb = peak_kb()
local parts = {}
for k, v in pairs(out) do
  parts[#parts + 1] = k .. "=" .. (type(v) == "number" and string.format("%.6g", v) or tostring(v))
end
table.sort(parts)
print(table.concat(parts, " "))
