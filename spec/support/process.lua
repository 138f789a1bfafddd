-- Small helpers for specs that run other processes: files and liveness.
local io_open = io.open

local _M = {}

-- The whole file, or nil when it cannot be read.
function _M.read_file(path)
  local f = io_open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- Running, and not a zombie waiting for a parent.
function _M.alive(pid)
  local stat = _M.read_file("/proc/" .. pid .. "/stat")
  local state = stat and stat:match("^%d+ %b() (%a)")
  return state ~= nil and state ~= "Z" and state ~= "X"
end

return _M
