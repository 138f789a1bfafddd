-- Small helpers for specs that run other processes: files, liveness, and
-- servers started in the background that must stop whatever happens.
local socket = require "socket"

local assert = assert
local io_open = io.open
local io_popen = io.popen
local os_execute = os.execute
local os_remove = os.remove
local os_tmpname = os.tmpname
local pairs = pairs
local tonumber = tonumber
local tostring = tostring

local gettime, sleep = socket.gettime, socket.sleep

local _M = {}

-- The interpreter running the specs, and the build its C modules come
-- from (busted's --cpath: build/5.4, build/luajit, build/asan...), for the
-- Lua processes a spec starts.
_M.LUA = rawget(_G, "jit") and "luajit" or "lua5.4"
_M.CPATH = package.cpath:match("^(build/[^;]*%?%.so)")
  or (rawget(_G, "jit") and "build/luajit/?.so" or "build/5.4/?.so")

function _M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
local shell_quote = _M.shell_quote

-- The whole file, or nil when it cannot be read.
function _M.read_file(path)
  local f = io_open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end
local read_file = _M.read_file

-- The whole file, or "" when it cannot be read (yet).
function _M.text(path)
  return read_file(path) or ""
end
local text = _M.text

function _M.remove_files(files)
  for _, path in pairs(files) do os_remove(path) end
end

-- A new empty directory under $TMPDIR (or /tmp).
function _M.tmpdir(prefix)
  local p = assert(io_popen("mktemp -d \"${TMPDIR:-/tmp}/" .. prefix .. ".XXXXXX\""))
  local dir = p:read("*l")
  p:close()
  assert(dir and dir ~= "", "mktemp -d failed")
  return dir
end

function _M.remove_dir(dir)
  os_execute("rm -rf " .. shell_quote(dir))
end

-- A loopback port nobody listens on right now.
function _M.free_port()
  local server = assert(socket.bind("127.0.0.1", 0))
  local _, port = server:getsockname()
  server:close()
  return tonumber(port)
end

-- The pid of this Lua process: the parent of the shell io.popen starts.
local own_pid
function _M.lua_pid()
  if not own_pid then
    local p = assert(io_popen("echo $PPID"))
    own_pid = p:read("*l")
    p:close()
  end
  return own_pid
end

-- Running, and not a zombie waiting for a parent.
function _M.alive(pid)
  local state = text("/proc/" .. pid .. "/stat"):match("^%d+ %b() (%a)")
  return state ~= nil and state ~= "Z" and state ~= "X"
end
local alive = _M.alive

-- Any process left in the process group `pgid` (a setsid leader's pid).
function _M.group_alive(pgid)
  local ok = os_execute("kill -0 -" .. pgid .. " 2>/dev/null")
  return ok == true or ok == 0
end
local group_alive = _M.group_alive

-- Sends `signal` to pid, or to its whole process group when group is true.
function _M.kill(pid, signal, group)
  os_execute("kill -" .. signal .. " " .. (group and "-" or "") .. pid .. " 2>/dev/null")
end

-- Waits up to `seconds` for pid (or its group) to be gone; true when it is.
function _M.wait_gone(pid, seconds, group)
  local running = group and group_alive or alive
  local deadline = gettime() + seconds
  while running(pid) and gettime() < deadline do sleep(0.01) end
  return not running(pid)
end

-- TERM, then KILL for whatever is left after `grace` seconds.
function _M.terminate(pid, grace, group)
  if (group and group_alive or alive)(pid) then _M.kill(pid, "TERM", group) end
  if not _M.wait_gone(pid, grace, group) then
    _M.kill(pid, "KILL", group)
    _M.wait_gone(pid, 5, group)
  end
end

-- Runs `command` (a shell command line, its words quoted) in the background
-- with its output in files.out and its pid in files.pid; nothing of ours
-- waits on it (a pipe would, at exit). opts.group: in a session (process
-- group) of its own, whose id is that pid. opts.env: "NAME=value " words put
-- before the command.
function _M.spawn(command, opts)
  opts = opts or {}
  local base = os_tmpname()
  local files = { base = base, out = base .. ".out", pid = base .. ".pid" }
  local script = "echo $$ > " .. shell_quote(files.pid) .. "; " .. (opts.env or "") .. "exec "
    .. command .. " > " .. shell_quote(files.out) .. " 2>&1"
  os_execute((opts.group and "setsid " or "") .. "sh -c " .. shell_quote(script)
    .. " </dev/null >/dev/null 2>&1 &")
  return files
end

-- Polls every `interval` seconds until ready(output, pid) is true, the process
-- (or its group, opts.group) is gone, or `seconds` pass. Returns the pid (nil
-- when the shell never wrote it), the output so far, and whether it is ready.
function _M.wait_ready(files, ready, seconds, interval, group)
  local running = group and group_alive or alive
  local pid, output
  local deadline = gettime() + seconds
  while gettime() < deadline do
    pid = pid or text(files.pid):match("^(%d+)")
    output = text(files.out)
    if ready(output, pid) then return pid, output, true end
    if pid and not running(pid) then break end
    sleep(interval)
  end
  if not pid then -- the shell had not written it yet: wait for it a little
    local until_pid = gettime() + 2
    repeat
      sleep(0.01)
      pid = text(files.pid):match("^(%d+)")
    until pid or gettime() > until_pid
  end
  return pid, text(files.out), false
end

return _M
