-- Runs several limiter_worker.lua processes at once against one emulator and
-- sums up what they saw (the limiter specs; bench/bench-limiter does the same).
--
--   local fleet = require "support.fleet"
--   local r = fleet.run { processes = 3, calls = 40, rate = "20/1", url = m.url,
--                         limiter = "file:/tmp/x" }
--   r.ok, r.failed, r.status429, r.took (first start to last finish), r.outputs
local socket = require "socket"

local concat = table.concat
local io_popen = io.popen
local tonumber = tonumber

local _M = {}

local LUA = rawget(_G, "jit") and "luajit" or "lua5.4"
local CPATH = rawget(_G, "jit") and "build/luajit/?.so" or "build/5.4/?.so"

local shell_quote = require("support.process").shell_quote

function _M.run(opts)
  local start_at = socket.gettime() + (opts.start_delay or 1.5) -- every interpreter loaded by then
  local env = {
    BASE_URL = opts.url, CALLS = opts.calls, RATE = opts.rate or "20/1",
    LIMITER = opts.limiter or "", START_AT = string.format("%.6f", start_at),
    MAX_RETRIES = opts.max_retries or 3,
  }
  local words = { "env" }
  for k, v in pairs(env) do words[#words + 1] = k .. "=" .. shell_quote(v) end
  words[#words + 1] = opts.lua or LUA
  words[#words + 1] = "-e"
  words[#words + 1] = shell_quote('package.path="lua/?.lua;lua/?/init.lua;"..package.path;'
    .. 'package.cpath="' .. (opts.cpath or CPATH) .. ';"..package.cpath')
  words[#words + 1] = "spec/support/limiter_worker.lua 2>&1"
  local command = concat(words, " ")
  local pipes = {}
  for i = 1, opts.processes do pipes[i] = io_popen(command) end -- all running from here
  if opts.during then opts.during(start_at) end
  local r = { ok = 0, failed = 0, status429 = 0, outputs = {} }
  local first, last
  for i = 1, opts.processes do
    local out = pipes[i]:read("*a")
    pipes[i]:close()
    r.outputs[i] = out
    local ok, failed, s429, start, finish =
      out:match("ok=(%d+) failed=(%d+) status429=(%d+) start=([%d.]+) finish=([%d.]+)")
    if ok then
      r.ok, r.failed = r.ok + tonumber(ok), r.failed + tonumber(failed)
      r.status429 = r.status429 + tonumber(s429)
      start, finish = tonumber(start), tonumber(finish)
      if not first or start < first then first = start end
      if not last or finish > last then last = finish end
    else
      r.failed = r.failed + opts.calls
    end
  end
  r.took = first and (last - first) or 0
  return r
end

return _M
