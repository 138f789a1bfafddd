-- Starts Prism (spec/contract/node_modules, installed by `make deps` with
-- npm ci) on a free loopback port with Paddle's OpenAPI document, and stops
-- it with everything it started (it runs in a process group of its own).
--   local p = prism.start("proxy", upstream_url)   -- validating proxy
--   local p = prism.start("mock")                  -- mock server
--   p.url, p:stop()
local socket = require "socket"
local mock = require "support.mock"

local io_open = io.open
local os_execute = os.execute
local os_remove = os.remove
local os_tmpname = os.tmpname
local setmetatable = setmetatable
local tostring = tostring

local _M = {
  DOCUMENT = "../shared/paddle/openapi/openapi.yaml", -- relative to the repo root
  BIN = "spec/contract/node_modules/.bin/prism",
  START_SECONDS = 240, -- Prism parses a 36,000-line document: slow on a loaded machine
}

local Prism = {}
Prism.__index = Prism

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function read(path)
  local f = io_open(path, "rb")
  if not f then return "" end
  local s = f:read("*a") or ""
  f:close()
  return s
end

local function group_alive(pgid)
  local ok = os_execute("kill -0 -" .. pgid .. " 2>/dev/null")
  return ok == true or ok == 0
end

function _M.available()
  return io_open(_M.BIN, "rb") ~= nil and io_open(_M.DOCUMENT, "rb") ~= nil
end

-- Returns the Prism object, or nil and what Prism printed.
function _M.start(mode, upstream)
  local port = mock.free_port()
  local base = os_tmpname()
  local files = { base = base, log = base .. ".log", pid = base .. ".pid" }
  local args = { quote(_M.BIN), mode, quote(_M.DOCUMENT) }
  if upstream then args[#args + 1] = quote(upstream) end
  args[#args + 1] = "--host 127.0.0.1 --port " .. port
  local script = "echo $$ > " .. quote(files.pid) .. "; exec " .. table.concat(args, " ")
    .. " > " .. quote(files.log) .. " 2>&1"
  os_execute("setsid sh -c " .. quote(script) .. " </dev/null >/dev/null 2>&1 &")
  local self = setmetatable({ files = files, url = "http://127.0.0.1:" .. port }, Prism)
  local deadline = socket.gettime() + _M.START_SECONDS
  while socket.gettime() < deadline do
    self.pgid = self.pgid or read(files.pid):match("^(%d+)")
    local log = read(files.log)
    if log:find("Prism is listening on", 1, true) then return self end
    if self.pgid and not group_alive(self.pgid) then break end
    socket.sleep(0.2)
  end
  local log = read(files.log)
  self:stop()
  return nil, "prism " .. mode .. " did not start:\n" .. log:sub(-2000)
end

function Prism:stop()
  if not self.files then return end
  local pgid = self.pgid or read(self.files.pid):match("^(%d+)")
  if pgid then
    os_execute("kill -TERM -" .. pgid .. " 2>/dev/null")
    local deadline = socket.gettime() + 10
    while group_alive(pgid) and socket.gettime() < deadline do socket.sleep(0.05) end
    if group_alive(pgid) then os_execute("kill -KILL -" .. pgid .. " 2>/dev/null") end
  end
  for _, path in pairs(self.files) do os_remove(path) end
  self.files = nil
end

return _M
