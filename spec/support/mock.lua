-- Starts bin/paddle-mock for a spec, on a free loopback port, and talks to it.
--
--   local mock = require "support.mock"
--   describe("...", function()
--     local m
--     setup(function() m = mock.start { key = "pdl_sdbx_apikey_test" } end)
--     teardown(function() if m then m:stop() end end)
--     before_each(function() m:reset() end)
--     it("...", function() local r = m:request("GET", "/customers") ... end)
--   end)
--
-- Options of mock.start (all optional):
--   key         API key the emulator requires (default: any Bearer token)
--   rate_limit  false (default here: off), "N/S", {requests=, per=, block=},
--               or true for the launcher's own default (240/60, block 60)
--   tls         true: HTTPS with a throwaway CA; m.ca_file is its path
--   workers     nginx workers (default 1)
--   memory      shared memory for data, e.g. "256m"
--   verbose     nginx error log on stderr
--   launcher    path of bin/paddle-mock (default: this checkout's, or $PADDLE_MOCK_BIN)
--   lua_dir     passed as --lua-dir
--   start_timeout  seconds to wait for "listening" (default 15)
-- The object: m.url, m.port, m.ca_file, m.key, m:stop(), m:reset(),
-- m:config(tbl), m:faults(list), m:requests(), m:mark(), m:logged(method, path),
-- m:seed(tbl), m:create_customer(email, fields), m:admin(method, path, body)
-- and m:request(method, path, opts).
-- mock.per_file(opts) does the setup/teardown/before_each above in a
-- describe block and returns the object (filled in when it starts).
--
-- teardown runs even when tests fail. A mock left running when the spec
-- process ends (or dies) stops by itself: the launcher watches our pid.
-- The launcher runs in a session (process group) of its own with TMPDIR set
-- to a directory of ours: when it does not start in time, or does not stop,
-- the whole group is signalled (TERM, then KILL) and the directory removed,
-- so no nginx and no temp dir outlive a failed start.
-- Uses only luasocket, lua-cjson and io.popen/os.execute (Lua 5.4 and LuaJIT).
local cjson = require "cjson"
local http = require "socket.http"
local ltn12 = require "ltn12"

local process = require "support.process"

local assert = assert
local concat = table.concat
local debug_getinfo = debug.getinfo
local error = error
local io_open = io.open
local io_popen = io.popen
local ipairs = ipairs
local next = next
local os_getenv = os.getenv
local os_remove = os.remove
local os_tmpname = os.tmpname
local pairs = pairs
local pcall = pcall
local setmetatable = setmetatable
local tonumber = tonumber
local tostring = tostring
local type = type

local shell_quote = process.shell_quote

local _M = {}

local Mock = {}
Mock.__index = Mock

-- The repository root, from this file's path (spec/support/mock.lua).
local function repo_root()
  local source = debug_getinfo(1, "S").source:sub(2)
  local root = source:match("^(.*)/spec/support/mock%.lua$")
  if root == nil or root == "" then root = "." end
  return root
end

local function launcher()
  return os_getenv("PADDLE_MOCK_BIN") or (repo_root() .. "/bin/paddle-mock")
end

-- Ends the launcher's whole group (its pid is the group's id): TERM (the
-- launcher stops nginx and removes its prefix), then KILL for whatever is
-- left after `grace` seconds; then removes our temp dir, where the
-- launcher's prefix lives.
local function end_group(pgid, tmpdir, grace)
  if pgid then process.terminate(pgid, grace, true) end
  if tmpdir then process.remove_dir(tmpdir) end
end

_M.free_port = process.free_port

-- The value of `field` in each item of a list (an answer's data).
function _M.pluck(list, field)
  local out = {}
  for i, item in ipairs(list) do out[i] = item[field] end
  return out
end

local function rate_limit_arg(rl)
  if rl == true then return nil end -- the launcher's default, 240/60
  if rl == nil or rl == false then return "off" end
  if type(rl) == "string" then return rl end
  return rl.requests .. "/" .. rl.per
end

local started = {}

local function launch(opts, port)
  local args = { "--port", port, "--watch-pid", process.lua_pid() }
  local rate_limit = rate_limit_arg(opts.rate_limit)
  if rate_limit then args[#args + 1] = "--rate-limit"; args[#args + 1] = rate_limit end
  if type(opts.rate_limit) == "table" and opts.rate_limit.block then
    args[#args + 1] = "--rate-block"
    args[#args + 1] = opts.rate_limit.block
  end
  if opts.key then args[#args + 1] = "--key"; args[#args + 1] = opts.key end
  if opts.tls then args[#args + 1] = "--tls" end
  if opts.workers then args[#args + 1] = "--workers"; args[#args + 1] = opts.workers end
  if opts.memory then args[#args + 1] = "--memory"; args[#args + 1] = opts.memory end
  if opts.verbose then args[#args + 1] = "--verbose" end
  if opts.lua_dir then args[#args + 1] = "--lua-dir"; args[#args + 1] = opts.lua_dir end
  for i, a in ipairs(args) do args[i] = shell_quote(a) end

  local tmpdir = process.tmpdir("paddle-mock-spec")
  -- setsid: the launcher leads a process group holding nginx and its probes.
  local files = process.spawn(shell_quote(opts.launcher or launcher()) .. " " .. concat(args, " "),
    { group = true, env = "TMPDIR=" .. shell_quote(tmpdir) .. " " })
  local pid, output, ready = process.wait_ready(files, function(out)
    return out:find("paddle%-mock listening on %S+") ~= nil
  end, opts.start_timeout or 15, 0.01)
  local url = output:match("paddle%-mock listening on (%S+)")
  local ca_file = output:match("paddle%-mock CA: ([^\n]+)")
  if not ready then
    end_group(pid, tmpdir, 5)
    output = process.text(files.out)
    process.remove_files(files)
    return nil, output
  end
  return setmetatable({
    url = url, port = port, ca_file = ca_file, key = opts.key, pid = pid, files = files, tmpdir = tmpdir,
    scheme = url:match("^(%a+):"),
  }, Mock)
end

function _M.start(opts)
  opts = opts or {}
  local last_err
  for _ = 1, 5 do -- a free port can be taken between probing and binding
    local m, err = launch(opts, opts.port or _M.free_port())
    if m then
      started[m] = true
      return m
    end
    last_err = err
    if opts.port then break end
  end
  error("paddle-mock did not start:\n" .. tostring(last_err), 2)
end

-- Stops the launcher and waits until it (and so nginx) has exited. Returns
-- what the launcher printed.
function Mock:stop()
  if not self.files then return end
  process.kill(self.pid, "TERM")
  process.wait_gone(self.pid, 10)
  end_group(self.pid, self.tmpdir, 5) -- anything the launcher left behind
  local output = process.text(self.files.out)
  process.remove_files(self.files)
  self.files = nil
  started[self] = nil
  return output
end

-- The emulator of one describe block (a spec file's): started in lazy_setup,
-- stopped in lazy_teardown, reset before each test. Returns its object at
-- once; the fields (url, port...) are filled in when it starts.
function _M.per_file(opts)
  local busted = require "busted"
  local m = setmetatable({}, Mock)
  busted.lazy_setup(function()
    local s = _M.start(opts)
    started[s] = nil
    for k, v in pairs(s) do m[k] = v end
    started[m] = true
  end)
  busted.lazy_teardown(function() m:stop() end)
  busted.before_each(function() m:reset() end)
  return m
end

function _M.stop_all()
  for m in pairs(started) do m:stop() end
end

---------------------------------------------------------------- HTTP
-- An empty table is sent as {} (m:faults sends [] itself).
local function encode_body(body)
  if body == nil or type(body) == "string" then return body end
  return cjson.encode(body)
end

local function decode(text)
  if text == nil or text == "" then return nil end
  local ok, v = pcall(cjson.decode, text)
  if ok then return v end
  return nil
end

-- HTTPS goes through the curl command (luasocket has no TLS).
local function curl_request(self, method, url, headers, body)
  local tmp = os_tmpname()
  local args = { "curl", "-s", "-S", "--noproxy", "*", "-X", method, "-D", tmp .. ".h", "-o", tmp .. ".b",
    "-w", "%{http_code}" }
  if self.ca_file then args[#args + 1] = "--cacert"; args[#args + 1] = self.ca_file end
  for k, v in pairs(headers) do args[#args + 1] = "-H"; args[#args + 1] = k .. ": " .. v end
  if body then
    local f = assert(io_open(tmp .. ".in", "wb"))
    f:write(body)
    f:close()
    args[#args + 1] = "--data-binary"
    args[#args + 1] = "@" .. tmp .. ".in"
  end
  args[#args + 1] = url
  for i, a in ipairs(args) do args[i] = shell_quote(a) end
  local p = assert(io_popen(concat(args, " ")))
  local code = tonumber(p:read("*a"))
  p:close()
  local function slurp(path)
    local s = process.text(path)
    os_remove(path)
    return s
  end
  local raw_headers = slurp(tmp .. ".h")
  local response_body = slurp(tmp .. ".b")
  os_remove(tmp .. ".in")
  os_remove(tmp)
  local out = {}
  for line in raw_headers:gmatch("[^\r\n]+") do
    local k, v = line:match("^([^:]+):%s*(.*)$")
    if k then out[k:lower()] = v end
  end
  return code, out, response_body
end

-- m:request(method, path_or_url, opts) -> { status, headers (lowercase names), body, json }
-- opts: body (string or table, sent as JSON), headers, key (false: no
-- Authorization; default m.key or "test-key").
function Mock:request(method, path, opts)
  opts = opts or {}
  local url = path:find("^https?://") and path or self.url .. path
  local headers = { ["Accept"] = "application/json" }
  local key = opts.key
  if key == nil then key = self.key or "test-key" end
  if key then headers["Authorization"] = "Bearer " .. key end
  local body = encode_body(opts.body)
  if body then headers["Content-Type"] = "application/json" end
  for k, v in pairs(opts.headers or {}) do headers[k] = v end

  local status, response_headers, response_body
  if self.scheme == "https" then
    status, response_headers, response_body = curl_request(self, method, url, headers, body)
  else
    if body then headers["Content-Length"] = tostring(#body) end
    local chunks = {}
    local _, code, h = http.request {
      method = method, url = url, headers = headers,
      source = body and ltn12.source.string(body) or nil,
      sink = ltn12.sink.table(chunks),
    }
    status, response_body = code, concat(chunks)
    response_headers = {}
    for k, v in pairs(h or {}) do response_headers[k:lower()] = v end
  end
  return { status = status, headers = response_headers, body = response_body, json = decode(response_body) }
end

-- An admin call; raises unless it answers 2xx. Returns the decoded body.
function Mock:admin(method, path, body)
  local name = path:match("^/?__mock/(.*)$") or path:match("^/?(.*)$")
  local r = self:request(method, "/__mock/" .. name, { body = body, key = false })
  if type(r.status) ~= "number" or r.status >= 300 then
    error("paddle-mock admin " .. method .. " " .. path .. " answered " .. tostring(r.status) .. ": "
      .. tostring(r.body), 2)
  end
  return r.json
end

-- POST /customers with email and the other fields given; raises unless 201.
-- Returns the customer.
function Mock:create_customer(email, fields)
  local body = { email = email }
  for k, v in pairs(fields or {}) do body[k] = v end
  local r = self:request("POST", "/customers", { body = body })
  if r.status ~= 201 then
    error("POST /customers answered " .. tostring(r.status) .. ": " .. tostring(r.body), 2)
  end
  return r.json.data
end

function Mock:reset()
  self.marked = 0 -- the log is emptied too
  return self:admin("POST", "reset")
end
function Mock:config(tbl) return self:admin("POST", "config", tbl).data end
function Mock:faults(list)
  if next(list) == nil then list = "[]" end
  return self:admin("POST", "faults", list).data
end
function Mock:requests() return self:admin("GET", "requests").data end

-- m:mark() remembers how many requests the log holds; m:logged(method, path)
-- lists those made since, optionally only with this method and path.
function Mock:mark() self.marked = #self:requests() end
function Mock:logged(method, path)
  local out = {}
  for i, r in ipairs(self:requests()) do
    if i > (self.marked or 0) and (not method or r.method == method) and (not path or r.path == path) then
      out[#out + 1] = r
    end
  end
  return out
end
function Mock:seed(tbl) return self:admin("POST", "seed", tbl).data end

return _M
