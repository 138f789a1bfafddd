-- The in-nginx half of the nginx suite (spec/nginx/run is the other half).
--
-- A test file spec/nginx/NN-topic.lua returns an array of
--   { name = "what it checks", fn = function(t) ... end }
-- Each test runs in its own request, in the content phase (cosockets work,
-- ngx.thread.spawn works), and fails when it raises: through the assertions
-- below or any Lua error. `t` offers:
--   t.equal(got, expected, msg)   ==, or the same contents for tables
--   t.truthy(v, msg) / t.falsy(v, msg)
--   t.matches(s, lua_pattern, msg)
--   t.fail(msg)                   fail now
--   t.diag(msg)                   a "# " line printed with the result
--   t.env                         ports and paths chosen by spec/nginx/run:
--     port (this server), ports[1..9] (the @@PORT1@@.. of the conf snippets),
--     unused_port (nothing listens there), mock_port / mock_url (when the file
--     needs paddle-mock), root (repo), tmp (this file's nginx prefix),
--     certs (dir with ca.pem, server.pem/key, wrong.pem/key, self.pem/key),
--     workers, file
--   t.url(path[, port])           "http://127.0.0.1:<port or env.port><path>"
--   t.transport_error(res, err, code)  asserts a paddle.errors transport
--                                 failure with that code, returns err
local ngx = ngx
local require = require
local type = type
local tostring = tostring
local tonumber = tonumber
local pairs = pairs
local error = error
local xpcall = xpcall
local format = string.format
local match = string.match
local find = string.find
local sub = string.sub
local concat = table.concat
local sort = table.sort
local traceback = debug.traceback
local getinfo = debug.getinfo

local _M = {}

local FAILURE = {} -- marks errors raised by the assertions

local function show(v, depth)
  if type(v) == "string" then
    local s = format("%q", v):gsub("\\\n", "\\n")
    if #s > 300 then s = sub(s, 1, 300) .. "...(" .. #v .. " bytes)" end
    return s
  end
  if type(v) ~= "table" then return tostring(v) end
  depth = depth or 0
  if depth >= 3 then return "{...}" end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "number" or type(a) == "string") then return a < b end
    return type(a) < type(b)
  end)
  local parts = {}
  for i = 1, #keys do
    local k = keys[i]
    if i > 20 then
      parts[#parts + 1] = "..."
      break
    end
    parts[#parts + 1] = "[" .. show(k, depth + 1) .. "] = " .. show(v[k], depth + 1)
  end
  return "{ " .. concat(parts, ", ") .. " }"
end

local function where(level)
  local info = getinfo(level + 1, "Sl")
  if not info then return "?" end
  return (info.short_src or "?") .. ":" .. tostring(info.currentline)
end

local function raise(msg, lines)
  error({ [FAILURE] = true, msg = msg, lines = lines or {}, at = where(3) }, 0)
end

local function deep_equal(a, b, seen)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  seen = seen or {}
  if seen[a] == b then return true end
  seen[a] = b
  for k, v in pairs(a) do
    if not deep_equal(v, b[k], seen) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function new_t(env)
  local t = { env = env }
  local diags = {}
  t._diags = diags

  function t.diag(msg) diags[#diags + 1] = tostring(msg) end

  function t.fail(msg) raise(msg or "failed") end

  function t.equal(got, expected, msg)
    if not deep_equal(got, expected) then
      raise(msg or "values differ", { "expected: " .. show(expected), "     got: " .. show(got) })
    end
  end

  function t.truthy(v, msg)
    if not v then raise(msg or "expected a truthy value", { "got: " .. show(v) }) end
  end

  function t.falsy(v, msg)
    if v then raise(msg or "expected a falsy value", { "got: " .. show(v) }) end
  end

  function t.matches(s, pattern, msg)
    if type(s) ~= "string" or not find(s, pattern) then
      raise(msg or "no match", { "pattern: " .. show(pattern), "    got: " .. show(s) })
    end
  end

  function t.url(path, port)
    return "http://127.0.0.1:" .. tostring(port or env.port) .. (path or "/")
  end

  function t.transport_error(res, err, code)
    if res ~= nil then
      raise("expected a " .. code .. " failure, got a response",
        { "status: " .. show(res.status), "body: " .. show(res.body) })
    end
    if type(err) ~= "table" or err.type ~= "transport_error" then
      raise("expected a transport_error value", { "got: " .. show(err) })
    end
    if err.code ~= code then
      raise("wrong error code", { "expected: " .. code, "     got: " .. show(err.code),
        "  detail: " .. show(err.detail) })
    end
    return err
  end

  return t
end

local function load_tests(file)
  if type(file) ~= "string" or not match(file, "^%d%d%-[%w_%-]+$") then
    error("bad test file name " .. tostring(file), 0)
  end
  local tests = require(file)
  if type(tests) ~= "table" then error(file .. ".lua must return an array of tests", 0) end
  local names = {}
  for i = 1, #tests do
    local test = tests[i]
    if type(test) ~= "table" or type(test.name) ~= "string" or type(test.fn) ~= "function" then
      error(file .. ".lua: test #" .. i .. " needs a name and an fn", 0)
    end
    if find(test.name, "[\r\n]") then error(file .. ".lua: test #" .. i .. " name has a newline", 0) end
    if names[test.name] then error(file .. ".lua: duplicate test name " .. test.name, 0) end
    names[test.name] = true
  end
  return tests
end

-- GET /__list?file=NN-topic -> one test name per line.
function _M.http_list()
  local ok, tests = xpcall(load_tests, traceback, ngx.var.arg_file)
  if not ok then
    ngx.status = 500 -- luacheck: ignore 122
    ngx.say(tests)
    return
  end
  for i = 1, #tests do ngx.say(tests[i].name) end
end

-- GET /__run?file=NN-topic&i=N -> "ok" or "not ok", then "# " lines.
function _M.http_run()
  local ok, tests = xpcall(load_tests, traceback, ngx.var.arg_file)
  if not ok then
    ngx.say("not ok")
    ngx.say("# ", (tostring(tests):gsub("\n", "\n# ")))
    return
  end
  local test = tests[tonumber(ngx.var.arg_i) or 0]
  if not test then
    ngx.say("not ok")
    ngx.say("# no test #", tostring(ngx.var.arg_i))
    return
  end
  local env = require "nginx_test_env"
  local t = new_t(env)
  local passed, err = xpcall(test.fn, function(e)
    if type(e) == "table" and e[FAILURE] then return e end
    return traceback(tostring(e))
  end, t)
  local out = { passed and "ok" or "not ok" }
  if not passed then
    if type(err) == "table" then
      out[#out + 1] = err.msg .. " (" .. err.at .. ")"
      for i = 1, #err.lines do out[#out + 1] = err.lines[i] end
    else
      out[#out + 1] = tostring(err)
    end
  end
  for i = 1, #t._diags do out[#out + 1] = t._diags[i] end
  for i = 2, #out do out[i] = "# " .. (out[i]:gsub("\n", "\n# ")) end
  ngx.say(concat(out, "\n"))
end

return _M
