-- The API key leaves no copy behind: a Lua process (the interpreter running
-- the specs) makes a client, sends requests over libcurl, closes or drops the
-- client and collects garbage; between steps this spec counts the key's
-- bytes in the whole memory of that process (/proc/PID/maps + /proc/PID/mem).
-- After close() or collection there may be no more copies than before the
-- first request (the caller's own string and the environment stay).
--
-- The scan runs here, not in the process scanned: reading memory into Lua
-- strings would itself leave copies of the key in the scanned heap.
local mock = require "support.mock"
local process = require "support.process"

local concat = table.concat

local LUA, CPATH = process.LUA, process.CPATH

-- Never a constant of this chunk or the child's: built from pieces at run time.
local KEY = concat { "pdl_sdbx_apikey_", "01hv8gq4zx", "w2x3y4z5a6b7c8d", "_", ("wipe"):rep(3) }

-- Occurrences of `needle` in the readable memory of process `pid`.
local function count_in_memory(pid, needle)
  local maps = assert(io.open("/proc/" .. pid .. "/maps", "r"))
  local mem = assert(io.open("/proc/" .. pid .. "/mem", "rb"))
  local count, chunk_size, overlap = 0, 1024 * 1024, #needle - 1
  for line in maps:lines() do
    local from, to, perms = line:match("^(%x+)%-(%x+) (%S+)")
    local at, stop = tonumber(from, 16), tonumber(to, 16)
    -- Regions over 1 GiB are reservations (ASan's shadow), not data.
    if perms:sub(1, 1) == "r" and stop - at < 2 ^ 30 and not line:find("%[vvar%]")
      and not line:find("%[vsyscall%]") then
      local tail = ""
      while at < stop do
        local n = math.min(chunk_size, stop - at)
        local data = mem:seek("set", at) and mem:read(n)
        if not data then break end -- an unreadable mapping (guard pages)
        local text, init = tail .. data, 1
        while true do
          local s, e = text:find(needle, init, true)
          if not s then break end
          count, init = count + 1, e + 1
        end
        tail = text:sub(-overlap)
        at = at + n
      end
    end
  end
  maps:close()
  mem:close()
  return count
end

-- The child: prints "<step> <pid>" at each step, then waits for the file
-- named go.<step> before going on.
local CHILD = [[
io.stdout:setvbuf("line")
local core = require "paddle.core"
local paddle = require "paddle"
local dir, url, ca_file = arg[1], arg[2], arg[3] ~= "" and arg[3] or nil
local key = os.getenv("KEY_UNDER_TEST")
local stat = io.open("/proc/self/stat"):read("*l")
local pid = stat:match("^(%d+)")
local function step(name)
  io.write(name, " ", pid, "\n")
  while not io.open(dir .. "/go." .. name) do core.sleep(0.01) end
end
local function client()
  return paddle.new { api_key = key, base_url = url, ca_file = ca_file, rate_limit = false,
    max_retries = 0 }
end
local used = 0
local function use(c)
  used = used + 1
  for _ = 1, 4 do assert(c.request("GET", "/customers")) end
  assert(c.request("POST", "/customers", { body = { email = "wipe" .. used .. "@example.com" } }))
  c.request("GET", "/customers/ctm_00000000000000000000000000")
end
local closed, dropped = client(), client()
collectgarbage(); collectgarbage()
step("before")
use(closed); use(dropped)
step("during")
closed.close()
closed, dropped = nil, nil
collectgarbage(); collectgarbage()
step("after")
]]

local function run_child(m)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir " .. dir))
  local script = dir .. "/child.lua"
  local f = assert(io.open(script, "w"))
  f:write(CHILD)
  f:close()
  local cmd = concat({ "env", "KEY_UNDER_TEST=" .. KEY, LUA, "-e",
    "'package.path=\"lua/?.lua;lua/?/init.lua;\"..package.path; package.cpath=\"" .. CPATH
      .. ";\"..package.cpath'",
    script, dir, m.url, "'" .. (m.ca_file or "") .. "'", "2>&1" }, " ")
  local p = assert(io.popen(cmd, "r"))
  local counts = {}
  for _, name in ipairs { "before", "during", "after" } do
    local line = p:read("*l")
    local pid = line and line:match("^" .. name .. " (%d+)$")
    if not pid then
      local rest = p:read("*a")
      p:close()
      error("child failed at step " .. name .. ": " .. tostring(line) .. "\n" .. tostring(rest))
    end
    counts[name] = count_in_memory(pid, KEY)
    assert(io.open(dir .. "/go." .. name, "w")):close()
  end
  local rest = p:read("*a")
  p:close()
  os.execute("rm -rf " .. dir)
  assert.equal("", rest)
  return counts
end

describe("the API key in process memory (libcurl transport)", function()
  it("libcurl allocates through paddle's wiping allocator", function()
    assert.is_true(require("paddle.curl").key_wipe)
  end)

  -- Only LuaJIT can call libcurl before paddle.curl without a C module (FFI).
  local it_ffi = rawget(_G, "jit") and it or pending
  it_ffi("says key_wipe = false when another library initialised libcurl first", function()
    local p = assert(io.popen(LUA .. [[ -e '
      package.path, package.cpath = "lua/?.lua;" .. package.path, "]] .. CPATH .. [[;" .. package.cpath
      local ffi = require "ffi"
      ffi.cdef "int curl_global_init(long flags);"
      assert(ffi.load("libcurl.so.4").curl_global_init(3) == 0)
      local curl = require "paddle.curl"
      local h = curl.new()
      h:close()
      local transport = require "paddle.transport.curl"
      io.write(tostring(curl.key_wipe), " ", tostring(transport.key_wipe), "\n")
      io.stdout:flush()
      transport.new({}).close()
      transport.new({}).close() -- warned once per process' 2>&1]]))
    local out = p:read("*a")
    p:close()
    local flags, warnings = out:match("^(.-)\n(.*)$")
    assert.equal("false false", flags)
    local _, count = warnings:gsub("lua%-paddle: warning: libcurl was initialised by another library", "")
    assert.equal(1, count, out)
  end)

  for _, tls in ipairs { false, true } do
    describe(tls and "over HTTPS" or "over HTTP", function()
      local m
      lazy_setup(function() m = mock.start { key = KEY, tls = tls } end)
      lazy_teardown(function() if m then m:stop() end end)

      it("has no more copies after close() or collection than before the first request", function()
        local counts = run_child(m)
        -- The scan finds the key at all: the child's string and environment.
        assert.is_true(counts.before >= 2, "scan found " .. counts.before .. " copies before")
        assert.is_true(counts.after <= counts.before,
          ("before %d, during %d, after %d"):format(counts.before, counts.during, counts.after))
      end)
    end)
  end
end)
