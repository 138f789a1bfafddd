-- Small helpers for specs that run other processes: files and liveness.
local io_open = io.open

local _M = {}

-- The interpreter running the specs, and the build its C modules come
-- from (busted's --cpath: build/5.4, build/luajit, build/asan...), for the
-- Lua processes a spec starts.
_M.LUA = rawget(_G, "jit") and "luajit" or "lua5.4"
_M.CPATH = package.cpath:match("^(build/[^;]*%?%.so)")
  or (rawget(_G, "jit") and "build/luajit/?.so" or "build/5.4/?.so")

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
