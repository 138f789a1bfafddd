-- Starts a throwaway redis-server for a spec, on a free loopback port, with
-- persistence off, and stops it.
--
--   local redis = require "support.redis"
--   local r = redis.start()        -- r.port, r.url ("redis://127.0.0.1:PORT")
--   redis.start { password = "s" } -- requirepass: r.url is redis://:s@127.0.0.1:PORT
--   r:cli("GET", "k")              -- one command through redis-cli, its output
--   r:kill()                       -- SIGKILL (a crash), r:restart() brings it back
--   r:stop()                       -- in teardown; also stops when the spec process dies
local mock = require "support.mock"
local socket = require "socket"

local concat = table.concat
local io_open = io.open
local io_popen = io.popen
local os_execute = os.execute
local os_remove = os.remove
local os_tmpname = os.tmpname
local setmetatable = setmetatable
local error = error
local tostring = tostring
local ipairs = ipairs

local _M = {}

local Redis = {}
Redis.__index = Redis

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function read_file(path)
  local f = io_open(path, "rb")
  if not f then return "" end
  local s = f:read("*a") or ""
  f:close()
  return s
end

local own_pid
local function lua_pid()
  if not own_pid then
    local p = io_popen("echo $PPID")
    own_pid = p:read("*l")
    p:close()
  end
  return own_pid
end

local function alive(pid)
  local ok = os_execute("kill -0 " .. pid .. " 2>/dev/null")
  return ok == true or ok == 0
end

local function answers(port)
  local c = socket.tcp()
  c:settimeout(0.5)
  local ok = c:connect("127.0.0.1", port)
  if ok then
    c:send("PING\r\n")
    local line = c:receive("*l")
    ok = line == "+PONG" or (line or ""):find("^%-NOAUTH") ~= nil
  end
  c:close()
  return ok
end

-- A redis-server in the background, and a watcher that stops it when this
-- Lua process is gone (a spec that crashes leaves nothing running).
local function launch(self)
  local files = self.files
  os_remove(files.pid)
  local server = concat({ "redis-server", "--port", self.port, "--bind", "127.0.0.1", "--save", "''",
    "--appendonly", "no", "--dir", shell_quote(files.dir), "--daemonize", "no",
    self.password and "--requirepass " .. shell_quote(self.password) or "" }, " ")
  local script = server .. " >" .. shell_quote(files.out) .. " 2>&1 & rpid=$!; echo $rpid >"
    .. shell_quote(files.pid) .. "; while kill -0 " .. lua_pid() .. " 2>/dev/null && kill -0 $rpid"
    .. " 2>/dev/null; do sleep 0.5; done; kill $rpid 2>/dev/null"
  os_execute("sh -c " .. shell_quote(script) .. " </dev/null >/dev/null 2>&1 &")
  local deadline = socket.gettime() + 10
  while socket.gettime() < deadline do
    self.pid = self.pid or read_file(files.pid):match("^(%d+)")
    if self.pid and answers(self.port) then return true end
    if self.pid and not alive(self.pid) then break end
    socket.sleep(0.02)
  end
  return false
end

function _M.start(opts)
  opts = opts or {}
  local base = os_tmpname()
  os_remove(base)
  os_execute("mkdir -p " .. shell_quote(base))
  local last
  for _ = 1, 5 do -- a free port can be taken between probing and binding
    local self = setmetatable({
      port = mock.free_port(),
      files = { dir = base, out = base .. "/redis.out", pid = base .. "/redis.pid" },
      password = opts.password,
    }, Redis)
    self.url = "redis://" .. (opts.password and ":" .. opts.password .. "@" or "") .. "127.0.0.1:"
      .. self.port
    if launch(self) then return self end
    last = read_file(self.files.out)
    self:kill()
  end
  os_execute("rm -rf " .. shell_quote(base))
  error("redis-server did not start:\n" .. last, 2)
end

function Redis:cli(...)
  local words = { "redis-cli", "-h", "127.0.0.1", "-p", self.port }
  if self.password then words[#words + 1] = "--no-auth-warning -a " .. shell_quote(self.password) end
  for _, w in ipairs { ... } do words[#words + 1] = shell_quote(w) end
  local p = io_popen(concat(words, " ") .. " 2>&1")
  local out = p:read("*a")
  p:close()
  return (out:gsub("\n$", ""))
end

-- Kills the server as a crash would, and waits until it is gone.
function Redis:kill()
  if not self.pid then return end
  os_execute("kill -KILL " .. self.pid .. " 2>/dev/null")
  local deadline = socket.gettime() + 5
  while alive(self.pid) and socket.gettime() < deadline do socket.sleep(0.02) end
  self.pid = nil
end

-- Starts it again on the same port (empty: persistence is off).
function Redis:restart()
  self:kill()
  for _ = 1, 50 do
    if launch(self) then return end
    self.pid = nil
    socket.sleep(0.1)
  end
  error("redis-server did not restart:\n" .. read_file(self.files.out), 2)
end

function Redis:stop()
  if not self.files then return end
  self:kill()
  os_execute("rm -rf " .. shell_quote(self.files.dir))
  self.files = nil
end

return _M
