-- Lua scripts a spec runs as other processes, with this checkout's lua/ and
-- build on their paths.
--
--   local scripts = require "support.scripts"
--   scripts.run(body)                         -- one lua5.4 process, its output
--   scripts.run(body, { copies = 4 })         -- four at once, a list of outputs
--   scripts.run(body, { fork = true, args = { path } })
--       -- LuaJIT, with ffi's fork, waitpid and _exit declared
local assert = assert
local concat = table.concat
local io_open = io.open
local io_popen = io.popen
local ipairs = ipairs
local os_remove = os.remove
local os_tmpname = os.tmpname
local tonumber = tonumber

local _M = {}

local PATHS = 'package.path = "lua/?.lua;lua/?/init.lua;" .. package.path\n'
  .. 'package.cpath = "build/%s/?.so;" .. package.cpath\n'
local FORK = 'local ffi = require "ffi"\n'
  .. 'ffi.cdef "int fork(void); int waitpid(int pid, int *status, int options); void _exit(int);"\n'

-- Runs `body` in opts.copies processes at once (default 1): lua5.4, or
-- LuaJIT with opts.fork. Returns the output (stdout and stderr) of one, or
-- the list of outputs of several.
function _M.run(body, opts)
  opts = opts or {}
  local lua, build = "lua5.4", "5.4"
  if opts.fork then lua, build = "luajit", "luajit" end
  local script = os_tmpname()
  local f = assert(io_open(script, "w"))
  f:write(PATHS:format(build), opts.fork and FORK or "", body)
  f:close()
  local command = lua .. " " .. script .. " " .. concat(opts.args or {}, " ") .. " 2>&1"
  local pipes, outputs = {}, {}
  for i = 1, opts.copies or 1 do pipes[i] = assert(io_popen(command)) end
  for i, p in ipairs(pipes) do
    outputs[i] = p:read("*a")
    p:close()
  end
  os_remove(script)
  if opts.copies then return outputs end
  return outputs[1]
end

-- The sum of the numbers the outputs print.
function _M.sum(outputs)
  local total = 0
  for _, out in ipairs(outputs) do total = total + assert(tonumber(out), out) end
  return total
end

return _M
