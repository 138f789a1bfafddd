-- Starts spec/support/badserver_main.lua (the fault matrix's hand-made
-- server) as a separate lua5.4 process and reads its request log.
--
--   local badserver = require "support.badserver"
--   local bs = badserver.start()   -- bs.origin, bs.elsewhere
--   bs:url("dribble")              -- a base_url whose answers dribble
--   bs:log()                       -- every request so far, in order
--   bs:stop()                      -- always (teardown); it also exits by
--                                  -- itself when this process is gone
local cjson = require "cjson"
local http = require "socket.http"
local socket = require "socket"

local assert = assert
local error = error
local io_open = io.open
local io_popen = io.popen
local os_execute = os.execute
local os_remove = os.remove
local os_tmpname = os.tmpname
local setmetatable = setmetatable
local tostring = tostring

local _M = {}

local Server = {}
Server.__index = Server

local MAIN = debug.getinfo(1, "S").source:sub(2):gsub("badserver%.lua$", "badserver_main.lua")

local function slurp(path)
  local f = io_open(path, "rb")
  if not f then return "" end
  local s = f:read("*a") or ""
  f:close()
  return s
end

local function running(pid)
  local state = slurp("/proc/" .. pid .. "/stat"):match("^%d+ %b() (%a)")
  return state ~= nil and state ~= "Z" and state ~= "X"
end

-- The pid of this Lua process: the parent of the shell popen starts.
local function own_pid()
  local p = assert(io_popen("echo $PPID"))
  local pid = p:read("*l")
  p:close()
  return pid
end

function _M.start()
  local base = os_tmpname()
  local pid_file, out_file = base .. ".pid", base .. ".out"
  os_execute("sh -c 'echo $$ > " .. pid_file .. "; exec lua5.4 " .. MAIN .. " " .. own_pid()
    .. " > " .. out_file .. " 2>&1' </dev/null >/dev/null 2>&1 &")
  local pid, port, elsewhere
  local deadline = socket.gettime() + 10
  repeat
    socket.sleep(0.01)
    pid = pid or slurp(pid_file):match("^(%d+)")
    port, elsewhere = slurp(out_file):match("badserver listening on (%d+) elsewhere (%d+)")
  until port or socket.gettime() > deadline or (pid and not running(pid))
  local output = slurp(out_file)
  os_remove(base)
  os_remove(pid_file)
  if not port then
    if pid then os_execute("kill -KILL " .. pid .. " 2>/dev/null") end
    os_remove(out_file)
    error("badserver did not start: " .. output, 2)
  end
  return setmetatable({
    pid = pid, out_file = out_file,
    origin = "http://127.0.0.1:" .. port,
    elsewhere = "http://127.0.0.1:" .. elsewhere,
  }, Server)
end

function Server:url(mode)
  return self.origin .. "/" .. mode
end

function Server:log()
  local body, status = http.request(self.origin .. "/__log")
  assert(status == 200, "badserver /__log answered " .. tostring(status))
  return cjson.decode(body).data
end

-- Stops the process and waits for it; returns what it printed (errors).
function Server:stop()
  if not self.pid then return "" end
  os_execute("kill -TERM " .. self.pid .. " 2>/dev/null")
  local deadline = socket.gettime() + 5
  while running(self.pid) and socket.gettime() < deadline do socket.sleep(0.01) end
  if running(self.pid) then os_execute("kill -KILL " .. self.pid .. " 2>/dev/null") end
  self.pid = nil
  local output = slurp(self.out_file)
  os_remove(self.out_file)
  return output
end

return _M
