-- paddle.redis: the little Redis the limiter and the webhook deduper need.
--
--   local cfg = redis.parse_url("redis://:secret@10.0.0.5:6379/2?key=myapp")
--   local conn = redis.connect(cfg)
--   conn:command("SET", "k", "1", "NX", "EX", "60") -> "OK" | false | nil, err, kind
--   conn:eval(script, keys, args)                 -- EVALSHA, EVAL when not cached
--
-- In an nginx phase with cosockets the commands go through them
-- (paddle.ngx.redis, non-blocking); elsewhere through the C client of
-- paddle.core (blocking, bounded by the timeout). kind is "redis" for an
-- error reply and "io" when the connection failed (it is reopened next time).
local core = require "paddle.core"

local error = error
local tonumber = tonumber
local tostring = tostring
local type = type
local find = string.find
local match = string.match
local gsub = string.gsub
local char = string.char
local unpack = table.unpack or unpack -- luacheck: ignore (LuaJIT)
local ngx = rawget(_G, "ngx")

local _M = {}

local DEFAULT_PORT = 6379
local DEFAULT_TIMEOUT = 1 -- seconds per command: a slow store must not stall calls

local function unescape(s)
  return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

-- parse_url(url) -> { host, port, user, password, db, key, url } or raises.
-- The password never appears in an error message.
function _M.parse_url(url)
  local function bad(why)
    error("bad redis URL (" .. why .. "): expected "
      .. "redis://[[user]:password@]host[:port][/db][?key=PREFIX]", 0)
  end
  if type(url) ~= "string" then bad("not a string") end
  local rest = match(url, "^redis://(.+)$")
  if not rest then bad("must start with redis://") end
  local auth, hostpart = match(rest, "^([^@/?]*)@(.*)$")
  if not auth then hostpart = rest end
  local hostport, path, query = match(hostpart, "^([^/?]*)(/?[^?]*)%??(.*)$")
  local host, port
  if find(hostport, "^%[") then
    host, port = match(hostport, "^%[([%x:.]+)%]:?(%d*)$")
  else
    host, port = match(hostport, "^([%w.%-]+):?(%d*)$")
  end
  if not host then bad("host") end
  port = port ~= "" and tonumber(port) or DEFAULT_PORT
  if port < 1 or port > 65535 then bad("port") end
  local db = 0
  if path ~= "" and path ~= "/" then
    db = tonumber(match(path, "^/(%d+)$"))
    if not db then bad("database must be a number") end
  end
  local cfg = { host = host, port = port, db = db, url = "redis://" .. hostport .. path }
  if auth then
    local user, password = match(auth, "^([^:]*):(.*)$")
    if not user then bad("credentials must be [user]:password") end
    cfg.user = user ~= "" and unescape(user) or nil
    cfg.password = unescape(password)
  end
  if query ~= "" then
    for k, v in query:gmatch("([^&=]+)=?([^&]*)") do
      if k ~= "key" or v == "" then bad("the only option is key=PREFIX") end
      cfg.key = unescape(v)
    end
  end
  return cfg
end

local function cosockets()
  return ngx ~= nil and require("paddle.ngx.http").available()
end

-- AUTH and SELECT on a new connection, through command(...).
local function setup(cfg, command)
  if cfg.password then
    local ok, err, kind
    if cfg.user then
      ok, err, kind = command("AUTH", cfg.user, cfg.password)
    else
      ok, err, kind = command("AUTH", cfg.password)
    end
    if not ok then return nil, "redis AUTH: " .. tostring(err), kind end
  end
  if cfg.db ~= 0 then
    local ok, err, kind = command("SELECT", tostring(cfg.db))
    if not ok then return nil, "redis SELECT: " .. tostring(err), kind end
  end
  return true
end

-- eval(conn, script, keys, args) runs a script by its SHA-1, sending its text
-- only when the server does not have it cached (first use, after a restart).
local function eval(conn, script, keys, args)
  local shas = conn.shas
  local sha = shas[script]
  if not sha then
    sha = core.hex(core.sha1(script))
    shas[script] = sha
  end
  local nkeys = #keys
  local words = { sha, tostring(nkeys) }
  for i = 1, nkeys do words[#words + 1] = keys[i] end
  for i = 1, #args do words[#words + 1] = tostring(args[i]) end
  local value, err, kind = conn:command("EVALSHA", unpack(words))
  if value == nil and kind == "redis" and find(err, "^NOSCRIPT") then
    words[1] = script
    value, err, kind = conn:command("EVAL", unpack(words))
  end
  return value, err, kind
end

-- The cosocket keep-alive pool of a configuration: the password only as a
-- digest, so that it appears nowhere in nginx's pool names.
local function pool_name(cfg)
  return "paddle.redis:" .. cfg.host .. ":" .. cfg.port .. ":" .. cfg.db .. ":" .. (cfg.user or "")
    .. ":" .. (cfg.password and core.hex(core.sha1(cfg.password)) or "")
end

-- connect(cfg [, timeout]) -> connection (lazy: nothing is sent yet)
function _M.connect(cfg, timeout)
  timeout = timeout or DEFAULT_TIMEOUT
  local conn = { shas = {}, eval = eval }
  local blocking -- the C connection, kept open between commands
  local function setup_with(command) return setup(cfg, command) end

  local nonblocking = ngx and require("paddle.ngx.redis").new(cfg.host, cfg.port, timeout, setup_with,
    pool_name(cfg))

  local command_blocking
  function command_blocking(...)
    if not blocking then
      local c, err = core.redis_connect(cfg.host, cfg.port, timeout)
      if not c then return nil, err, "io" end
      local ok, serr, kind = setup_with(function(...) return c:command(...) end)
      if not ok then
        c:close()
        return nil, serr, kind
      end
      blocking = c
    end
    local value, err, kind = blocking:command(...)
    if kind == "stale" then -- made before a fork: this process connects its own
      blocking = nil
      return command_blocking(...)
    end
    if kind == "io" then blocking = nil end
    return value, err, kind
  end

  function conn.command(_, ...)
    if nonblocking and cosockets() then return nonblocking:command(...) end
    return command_blocking(...)
  end

  function conn.close()
    if blocking then blocking:close() end
    blocking = nil
  end

  return conn
end

return _M
