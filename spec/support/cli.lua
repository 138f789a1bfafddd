-- Runs bin/paddle of this checkout as a child process, with the interpreter
-- running the specs and this checkout's lua/ and build/ on the paths.
--
--   local cli = require "support.cli"
--   local r = cli.run(m, { "customers", "list" }, { stdin = "...", env = {...} })
--   -- r.code, r.stdout, r.stderr, r.lines (stdout lines), r.json (decoded lines)
--   local pid = cli.spawn(m, args, files)   -- in the background
--   local dir = cli.tmpdir() ... cli.remove_dir(dir)
--   local dir = cli.per_file_dir()   -- made and removed around a describe block
local cjson = require "cjson"
local process = require "support.process"

local concat = table.concat
local io_open = io.open
local io_popen = io.popen
local ipairs = ipairs
local os_remove = os.remove
local os_tmpname = os.tmpname
local pairs = pairs
local pcall = pcall
local tonumber = tonumber

local _M = {}

local LUA = rawget(_G, "jit") and "luajit" or "lua5.4"
local CPATH = rawget(_G, "jit") and "build/luajit/?.so" or "build/5.4/?.so"
_M.LUA = LUA

local q = process.shell_quote
_M.quote = q

local slurp = process.text
_M.slurp = slurp

-- A new empty directory, and its removal.
function _M.tmpdir()
  local dir = os_tmpname()
  os_remove(dir)
  assert(os.execute("mkdir -p " .. q(dir)))
  return dir
end

function _M.remove_dir(dir)
  if dir then os.execute("rm -rf " .. q(dir)) end
end

-- The scratch directory of one describe block (a spec file's): its name at
-- once, the directory made in lazy_setup and removed in lazy_teardown.
function _M.per_file_dir()
  local busted = require "busted"
  local dir = os_tmpname()
  os_remove(dir)
  busted.lazy_setup(function() assert(os.execute("mkdir -p " .. q(dir))) end)
  busted.lazy_teardown(function() _M.remove_dir(dir) end)
  return dir
end

function _M.write(path, text)
  local f = assert(io_open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- The shell command running bin/paddle against mock m (nil: no mock env).
function _M.command(m, args, env)
  local words = { "env", "-u PADDLE_API_KEY", "-u PADDLE_BASE_URL", "-u PADDLE_ENVIRONMENT",
    "LUA_PATH=" .. q("lua/?.lua;lua/?/init.lua;;"), "LUA_CPATH=" .. q(CPATH .. ";;") }
  if m then
    words[#words + 1] = "PADDLE_API_KEY=" .. q(m.key or "pdl_sdbx_apikey_test")
    words[#words + 1] = "PADDLE_BASE_URL=" .. q(m.url)
  end
  for k, v in pairs(env or {}) do words[#words + 1] = k .. "=" .. q(v) end
  words[#words + 1] = LUA
  words[#words + 1] = "bin/paddle"
  for _, a in ipairs(args) do words[#words + 1] = q(a) end
  return concat(words, " ")
end

local function decode_lines(text)
  local lines, decoded = {}, {}
  for line in text:gmatch("[^\n]+") do
    lines[#lines + 1] = line
    local ok, v = pcall(cjson.decode, line)
    decoded[#decoded + 1] = ok and v or false
  end
  return lines, decoded
end
_M.decode_lines = decode_lines

-- run(m, args, { stdin = text, env = {...} }) -> { code, stdout, stderr, lines, json }
function _M.run(m, args, opts)
  opts = opts or {}
  local base = os_tmpname()
  local stdin = "/dev/null"
  if opts.stdin then stdin = _M.write(base .. ".in", opts.stdin) end
  local cmd = _M.command(m, args, opts.env) .. " <" .. q(stdin) .. " >" .. q(base .. ".out") .. " 2>"
    .. q(base .. ".err") .. "; echo $?"
  local p = assert(io_popen(cmd))
  local code = tonumber(p:read("a"):match("(%d+)%s*$"))
  p:close()
  local r = { code = code, stdout = slurp(base .. ".out"), stderr = slurp(base .. ".err") }
  for _, ext in ipairs { "", ".in", ".out", ".err" } do os_remove(base .. ext) end
  r.lines, r.json = decode_lines(r.stdout)
  r.last = r.json[#r.json]
  return r
end

-- spawn(m, args, { out =, err = }) -> pid of the command, running in the background.
function _M.spawn(m, args, files)
  local pidfile = os_tmpname()
  local script = "echo $$ > " .. q(pidfile) .. "; exec " .. _M.command(m, args) .. " >" .. q(files.out)
    .. " 2>" .. q(files.err) .. " </dev/null"
  os.execute("sh -c " .. q(script) .. " &")
  local pid
  for _ = 1, 500 do
    pid = slurp(pidfile):match("^(%d+)")
    if pid then break end
    os.execute("sleep 0.01")
  end
  os_remove(pidfile)
  return pid
end

return _M
