-- Runs the code blocks of the docs (see support/docblocks.lua for how they are
-- found) the way a reader would: a lua block as a standalone script, an nginx
-- block as a complete nginx.conf started with Debian's nginx.
--
--   local run = require "support.docrun"
--   local ok, message = run.lua(block, { lua = "lua5.4", env = { ... } })
--   local ok, message = run.nginx(block, { env = { ... }, rewrites = { ... } })
--
-- Every message starts with the block's file:line. Nothing is left running and
-- no temp dir is left behind, whatever happens.
local process = require "support.process"
local socket = require "socket"

local concat = table.concat
local io_open = io.open
local io_popen = io.popen
local ipairs = ipairs
local os_execute = os.execute
local pairs = pairs
local tonumber = tonumber
local tostring = tostring

local _M = {}

-- Seconds one block may take (a lua script, or nginx from start to answer).
_M.TIMEOUT = 60

local shell_quote = process.shell_quote
local read_file = process.read_file
_M.read_file = read_file

local function write_file(path, text)
  local f = assert(io_open(path, "wb"))
  f:write(text)
  f:close()
end

local function capture(command)
  local p = assert(io_popen(command))
  local out = p:read("*a")
  p:close()
  return out
end

local function tempdir()
  return (capture("mktemp -d /tmp/paddle-doc.XXXXXX"):gsub("%s+$", ""))
end

local function remove_tree(dir)
  if dir and dir:match("^/tmp/paddle%-doc%.") then os_execute("rm -rf " .. shell_quote(dir)) end
end

local function where(block)
  return block.file .. ":" .. block.line
end

-- The last lines of a text, for failure messages.
local function tail(text, n)
  local lines = {}
  for line in (text or ""):gmatch("[^\n]+") do lines[#lines + 1] = line end
  return concat(lines, "\n", math.max(1, #lines - n + 1))
end

-- env(t): "env -u X ... K=V ..." with the variables that could leak from the
-- caller's environment removed first.
local CLEARED = { "LUA_PATH_5_4", "LUA_CPATH_5_4", "LUA_INIT", "LUA_INIT_5_4", "PADDLE_ENVIRONMENT",
  "PADDLE_API_KEY", "PADDLE_BASE_URL" }
local function env_prefix(env)
  local words = { "env" }
  for _, name in ipairs(CLEARED) do words[#words + 1] = "-u " .. name end
  local names = {}
  for k in pairs(env) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do words[#words + 1] = k .. "=" .. shell_quote(env[k]) end
  return concat(words, " ")
end

-- Runs a lua block as a script file in a fresh directory (or, with
-- opts.script, that file from opts.cwd). opts: lua (the interpreter), env
-- (table), args (list). true and the output, or false and a message.
function _M.lua(block, opts)
  local dir = tempdir()
  local output
  local ok, result = pcall(function()
    local script, cwd = opts.script, opts.cwd or dir
    if not script then
      script = "block.lua"
      write_file(dir .. "/block.lua", block.body)
    end
    local words = { opts.lua, shell_quote(script) }
    for _, a in ipairs(opts.args or {}) do words[#words + 1] = shell_quote(a) end
    local out = capture("cd " .. shell_quote(cwd) .. " && " .. env_prefix(opts.env)
      .. " timeout -k 5 " .. _M.TIMEOUT .. " " .. concat(words, " ") .. " </dev/null 2>&1; echo \"exit=$?\"")
    local status = tonumber(out:match("exit=(%d+)%s*$"))
    out = out:gsub("exit=%d+%s*$", "")
    if status == 124 or status == 137 then
      return where(block) .. ": lua block (" .. opts.lua .. ") did not end within " .. _M.TIMEOUT
        .. " s:\n" .. tail(out, 30)
    elseif block.marks.expect_error and status == 0 then
      return where(block) .. ": lua block (" .. opts.lua .. ") is marked expect-error but exited 0:\n"
        .. tail(out, 30)
    elseif not block.marks.expect_error and status ~= 0 then
      return where(block) .. ": lua block (" .. opts.lua .. ") exited " .. tostring(status) .. ":\n"
        .. tail(out, 30)
    end
    output = out
  end)
  remove_tree(dir)
  if not ok then return false, where(block) .. ": " .. tostring(result) end
  if result then return false, result end
  return true, output
end

local alive = process.alive

-- Stops a process we started and the children it has (nginx workers): TERM,
-- then KILL after 5 s.
local function stop_process(pid)
  if not pid then return end
  local children = capture("ps -o pid= --ppid " .. pid .. " 2>/dev/null")
  os_execute("kill -TERM " .. pid .. " 2>/dev/null")
  local deadline = socket.gettime() + 5
  while alive(pid) and socket.gettime() < deadline do socket.sleep(0.02) end
  local rest = { pid }
  for child in children:gmatch("%d+") do rest[#rest + 1] = child end
  for _, p in ipairs(rest) do
    if alive(p) then os_execute("kill -KILL " .. p .. " 2>/dev/null") end
  end
end

-- Starts a command in the background; returns its pid (the shell execs it).
local function spawn(command, out_file)
  local pid_file = out_file .. ".pid"
  os_execute("sh -c " .. shell_quote("echo $$ > " .. shell_quote(pid_file) .. "; exec " .. command)
    .. " </dev/null >" .. shell_quote(out_file) .. " 2>&1 &")
  local deadline = socket.gettime() + 5
  while socket.gettime() < deadline do
    local pid = (read_file(pid_file) or ""):match("^(%d+)")
    if pid then return pid end
    socket.sleep(0.01)
  end
  return nil
end

local function listening(port)
  local c = socket.tcp()
  c:settimeout(0.5)
  local ok = c:connect("127.0.0.1", port)
  c:close()
  return ok ~= nil
end

---------------------------------------------------------------- nginx
local NGINX = os.getenv("NGINX_BIN") or "nginx"

-- The configuration as written, with the rewrites the docs promise:
-- `listen 8080` -> a free loopback port, and opts.rewrites (plain text -> text).
local function rewrite(body, port, rewrites)
  local conf = body:gsub("listen%s+8080%f[^%d]", "listen 127.0.0.1:" .. port)
  for from, to in pairs(rewrites) do
    conf = conf:gsub(from:gsub("%p", "%%%0"), (to:gsub("%%", "%%%%")))
  end
  return conf
end

-- A directive's argument (first occurrence outside comments), or nil.
local function directive(conf, name)
  for line in conf:gmatch("[^\n]+") do
    local value = line:gsub("#.*$", ""):match("^%s*" .. name .. "%s+([^;%s]+)")
    if value then return value end
  end
end

local function http_get(method, url)
  local out = capture("curl -s -S --noproxy '*' -m 30 -o /dev/null -w '%{http_code}' -X " .. method
    .. " " .. shell_quote(url) .. " 2>&1")
  return tonumber(out:match("(%d%d%d)$")), out
end

-- Starts an nginx block as nginx.conf in a fresh prefix and requests it.
-- opts: env (table for nginx's environment), rewrites. true, or false and a message.
function _M.nginx(block, opts)
  local at = where(block) .. ": nginx block: "
  local prefix = tempdir()
  local pid
  local ok, failure = pcall(function()
    local check = block.marks.check or { method = "GET", path = "/" }
    local conf = rewrite(block.body, 0, opts.rewrites)
    for _, name in ipairs { "pid", "error_log" } do
      local value = directive(conf, name)
      if not value or value:sub(1, 1) == "/" or value == "stderr" then
        return at .. "needs `" .. name .. "` with a path relative to the prefix (nginx -p), got "
          .. tostring(value)
      end
    end
    local resolver = directive(conf, "resolver")
    if resolver == "127.0.0.53" then
      return at .. "resolver 127.0.0.53 is systemd-resolved's stub, which Debian does not run"
    end
    if resolver and not directive(conf, "resolver_timeout") then
      return at .. "a resolver without resolver_timeout: a dead DNS server holds each call 30 s per try"
    end
    -- nginx's workers run as nobody when we are root: they must reach the prefix.
    os_execute("mkdir -p " .. shell_quote(prefix .. "/logs") .. " && chmod 755 " .. shell_quote(prefix))
    local last_log = ""
    for _ = 1, 3 do
      local port = process.free_port()
      write_file(prefix .. "/nginx.conf", rewrite(block.body, port, opts.rewrites))
      pid = spawn(env_prefix(opts.env) .. " " .. NGINX .. " -g 'daemon off;' -p "
        .. shell_quote(prefix .. "/") .. " -c nginx.conf", prefix .. "/nginx.out")
      local deadline = socket.gettime() + _M.TIMEOUT
      while pid and alive(pid) and not listening(port) and socket.gettime() < deadline do
        socket.sleep(0.02)
      end
      if pid and alive(pid) and listening(port) then
        local status, out = http_get(check.method, "http://127.0.0.1:" .. port .. check.path)
        local pid_file = directive(conf, "pid")
        if not read_file(prefix .. "/" .. pid_file) then
          return at .. "nginx wrote no pid file at " .. pid_file .. " under the prefix"
        end
        local good = check.status and status == check.status or (not check.status and status
          and status >= 200 and status < 300)
        if good then return nil end
        return at .. check.method .. " " .. check.path .. " answered " .. tostring(out) .. ", expected "
          .. tostring(check.status or "2xx") .. "\nerror log:\n"
          .. tail(read_file(prefix .. "/" .. directive(conf, "error_log")), 20)
      end
      last_log = (read_file(prefix .. "/nginx.out") or "") .. "\n"
        .. (read_file(prefix .. "/" .. directive(conf, "error_log")) or "")
      stop_process(pid)
      pid = nil
      if not last_log:find("Address already in use", 1, true) then break end
    end
    return at .. "nginx did not start:\n" .. tail(last_log, 20)
  end)
  stop_process(pid)
  remove_tree(prefix)
  if not ok then return false, at .. tostring(failure) end
  if failure then return false, failure end
  return true
end

return _M
