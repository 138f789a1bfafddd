-- Ctrl-C ends a standalone script promptly: a lua5.4 or luajit process
-- blocked in a libcurl request, or sleeping before a retry, gets SIGINT and
-- must exit within 0.5 s with the interpreter's "interrupted!" error. Nothing
-- of lua-paddle installs a signal handler (the interpreter's own is used).
local core = require "paddle.core"
local mock = require "support.mock"
local process = require "support.process"

local concat = table.concat

local LUA, CPATH = process.LUA, process.CPATH
local KEY = "pdl_sdbx_apikey_interrupt"
local LIMIT = 0.5
local alive, read_file = process.alive, process.read_file

-- Starts `body` (Lua source) in a new interpreter; it writes "ready" to the
-- file named by arg[1] just before it blocks. Returns the pid and files.
local function start(body, url, extra)
  local base = os.tmpname()
  local files = { script = base .. ".lua", ready = base .. ".ready", err = base .. ".err", pid = base }
  local f = assert(io.open(files.script, "w"))
  f:write('package.path = "lua/?.lua;lua/?/init.lua;" .. package.path\n',
    'package.cpath = "', CPATH, ';" .. package.cpath\n',
    'local READY, URL, KEY = ...\n',
    'local function ready() local r = assert(io.open(READY, "w")) r:write("ready") r:close() end\n',
    body)
  f:close()
  local script = concat({ "echo $$ >", files.pid, "; exec", LUA, files.script, files.ready, url or "-", KEY,
    extra or "", "2>", files.err }, " ")
  os.execute("sh -c '" .. script .. "' </dev/null >/dev/null 2>&1 &")
  local deadline = core.monotonic() + 20
  while not read_file(files.ready) do
    assert(core.monotonic() < deadline, "the script never got ready: " .. tostring(read_file(files.err)))
    core.sleep(0.01)
  end
  return tonumber(read_file(files.pid)), files
end

-- SIGINT after the script has been blocked a moment; seconds until it exited.
local function interrupt(pid)
  core.sleep(0.3) -- let it enter the blocking call
  assert.is_true(alive(pid), "the script ended before it was interrupted")
  local t0 = core.monotonic()
  os.execute("kill -INT " .. pid)
  while alive(pid) and core.monotonic() - t0 < 10 do core.sleep(0.002) end
  local took = core.monotonic() - t0
  if alive(pid) then os.execute("kill -KILL " .. pid) end
  return took
end

local function cleanup(files)
  for _, path in pairs(files) do os.remove(path) end
end

describe("Ctrl-C in a standalone " .. LUA .. " script", function()
  local m
  lazy_setup(function() m = mock.start { key = KEY } end)
  lazy_teardown(function() if m then m:stop() end end)
  before_each(function() m:reset() end)

  local function check(body)
    local pid, files = start(body, m.url)
    local took = interrupt(pid)
    local err = read_file(files.err) or ""
    cleanup(files)
    assert.matches("interrupted!", err)
    assert.is_true(took < LIMIT, ("exited %.3f s after SIGINT"):format(took))
  end

  it("ends core.sleep(30)", function()
    check 'local core = require "paddle.core"\nready()\ncore.sleep(30)\nprint("not reached")\n'
  end)

  it("ends a request waiting on the network", function()
    m:faults { { method = "GET", path = "^/customers$", delay_ms = 30000 } }
    check [[
local c = require("paddle").new { api_key = KEY, base_url = URL, rate_limit = false }
ready()
c.request("GET", "/customers")
print("not reached")
]]
  end)

  it("ends a request made inside a coroutine (the hook is on the main thread)", function()
    m:faults { { method = "GET", path = "^/customers$", delay_ms = 30000 } }
    check [[
local c = require("paddle").new { api_key = KEY, base_url = URL, rate_limit = false }
local _, err = coroutine.wrap(function()
  ready()
  return c.request("GET", "/customers")
end)()
assert(err.code == "interrupted", tostring(err))
print("not reached")
]]
  end)

  it("ends the sleep before a retry (Retry-After: 30)", function()
    m:faults { { method = "GET", path = "^/customers$", status = 503, headers = { ["Retry-After"] = "30" } } }
    check [[
local c = require("paddle").new { api_key = KEY, base_url = URL, rate_limit = false,
  on_request = function() ready() end }
c.request("GET", "/customers")
print("not reached")
]]
  end)

  it("installs, replaces or ignores no signal handler", function()
    local out = os.tmpname()
    local pid, files = start([[
local function dispositions()
  local f = io.open("/proc/self/status")
  local s = f:read("*a")
  f:close()
  return s:match("SigIgn:%s*(%x+)") .. " " .. s:match("SigCgt:%s*(%x+)")
end
local before = dispositions()
local c = require("paddle").new { api_key = KEY, base_url = URL, rate_limit = false }
assert(c.request("GET", "/customers"))
require("paddle.core").sleep(0.01)
c.close()
local f = io.open(arg[4], "w")
f:write(before, "\n", dispositions(), "\n")
f:close()
ready()
]], m.url, out)
    local deadline = core.monotonic() + 10
    while alive(pid) and core.monotonic() < deadline do core.sleep(0.01) end
    local text = read_file(out) or ""
    cleanup(files)
    os.remove(out)
    local before, after = text:match("^(.-)\n(.-)\n$")
    assert.is_truthy(before, text)
    assert.equal(before, after)
  end)
end)
