-- Starts a throwaway redis-server for a spec, on a free loopback port, with
-- persistence off, and stops it.
--
--   local redis = require "support.redis"
--   local r = redis.start()        -- r.port, r.url ("redis://127.0.0.1:PORT")
--   redis.start { password = "s" } -- requirepass: r.url is redis://:s@127.0.0.1:PORT
--   r:cli("GET", "k")              -- one command through redis-cli, its output
--   r:kill()                       -- SIGKILL (a crash), r:restart() brings it back
--   r:stop()                       -- in teardown; also stops when the spec process dies
local process = require "support.process"
local socket = require "socket"

local concat = table.concat
local io_popen = io.popen
local os_execute = os.execute
local os_remove = os.remove
local setmetatable = setmetatable
local error = error
local ipairs = ipairs

local shell_quote, text = process.shell_quote, process.text

local _M = {}

local Redis = {}
Redis.__index = Redis

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
    .. shell_quote(files.pid) .. "; while kill -0 " .. process.lua_pid() .. " 2>/dev/null && kill -0 $rpid"
    .. " 2>/dev/null; do sleep 0.5; done; kill $rpid 2>/dev/null"
  os_execute("sh -c " .. shell_quote(script) .. " </dev/null >/dev/null 2>&1 &")
  local pid, _, ready = process.wait_ready(files, function(_, pid)
    return pid and answers(self.port)
  end, 10, 0.02)
  self.pid = pid
  return ready
end

function _M.start(opts)
  opts = opts or {}
  local base = process.tmpdir("paddle-redis-spec")
  local last
  for _ = 1, 5 do -- a free port can be taken between probing and binding
    local self = setmetatable({
      port = process.free_port(),
      files = { dir = base, out = base .. "/redis.out", pid = base .. "/redis.pid" },
      password = opts.password,
    }, Redis)
    self.url = "redis://" .. (opts.password and ":" .. opts.password .. "@" or "") .. "127.0.0.1:"
      .. self.port
    if launch(self) then return self end
    last = text(self.files.out)
    self:kill()
  end
  process.remove_dir(base)
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
  process.kill(self.pid, "KILL")
  process.wait_gone(self.pid, 5)
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
  error("redis-server did not restart:\n" .. text(self.files.out), 2)
end

function Redis:stop()
  if not self.files then return end
  self:kill()
  process.remove_dir(self.files.dir)
  self.files = nil
end

return _M
