-- A Paddle client object: checked options, the C session (key, retry policy,
-- pacing), its transports and limiter, and the one place a call goes through
-- (Client:send). The loop of attempts is paddle.request_loop's; the shape
-- checks of answers are paddle.response's; resources add client.customers &
-- co. on top (paddle.resources).
local core = require "paddle.core"
local errors = require "paddle.errors"
local json = require "paddle.json"
local options = require "paddle.options"
local request_loop = require "paddle.request_loop"
local response = require "paddle.response"
local url = require "paddle.url"

local byte = string.byte
local error = error
local find = string.find
local format = string.format
local io_stderr = io.stderr
local pairs = pairs
local require = require
local pcall = pcall
local setmetatable = setmetatable
local sub = string.sub
local tostring = tostring
local type = type
local ngx = ngx -- luacheck: ignore (nil outside OpenResty)

local _M = {}

_M.BASE_URLS = options.BASE_URLS

local METHODS = { GET = true, POST = true, PATCH = true, PUT = true, DELETE = true }

-- Longer URLs are refused before sending (servers refuse them anyway).
local MAX_URL = 16384

local Client = {}
local ClientMT = {
  __name = "paddle.Client",
  __index = Client,
  __metatable = false,
}

function ClientMT.__tostring(self)
  return format("paddle.Client (%s, %s%s, key redacted)", self.environment, self.base_url,
    self._closed and ", closed" or "")
end

-- True inside an nginx phase where cosockets work.
local function cosockets_available()
  return ngx ~= nil and require("paddle.ngx.http").available()
end

local function user_agent(transport_name, transport_version)
  local lua = type(jit) == "table" and jit.version or core.lua_version -- luacheck: ignore jit
  return format("lua-paddle/%s (%s; %s %s)", core._VERSION, lua, transport_name == "ngx" and "ngx_lua"
    or "libcurl", transport_version or "?")
end

-- The request headers of one transport: plain, and for list walks with
-- Skip-Count (Paddle answers faster when it need not count the matches).
local function header_sets(o, transport_name, transport_version)
  local plain = {
    ["Accept"] = "application/json",
    ["Paddle-Version"] = "1",
    ["User-Agent"] = user_agent(transport_name, transport_version),
  }
  for name, value in pairs(o.headers) do
    if name:lower() == "user-agent" then plain["User-Agent"] = nil end -- one User-Agent line
    plain[name] = value
  end
  local skip = { ["Skip-Count"] = "true" }
  for name, value in pairs(plain) do skip[name] = value end
  local with_body = { ["Content-Type"] = "application/json" }
  for name, value in pairs(plain) do with_body[name] = value end
  return { plain = plain, skip_count = skip, body = with_body }
end

local function default_warn()
  if ngx then
    return function(msg) ngx.log(ngx.WARN, "lua-paddle: ", msg) end
  end
  return function(msg) io_stderr:write("lua-paddle: warning: ", msg, "\n") end
end

-- The limiter the loop asks before each send: the session's own window, or
-- a shared store (paddle.limiter) when the `limiter` option names one.
local function make_limiter(o, session, now, warn)
  if o.limiter then
    return require("paddle.limiter").new(o.limiter, o.rate_limit or nil, session, { warn = warn, now = now })
  end
  -- Without a shared store the session is the limiter: its own window and
  -- the 429 block it keeps (decide() sets it, so share_block has nothing to do).
  return session
end

-- One clock per client so pacing stays consistent across transports.
local now = ngx and function() ngx.update_time(); return ngx.now() end or core.monotonic

-- new(opts[, who]) -> client. Raises (level 0) on misuse; paddle.new
-- re-raises at its caller's line.
function _M.new(opts, who)
  local o = options.check(opts, who or "paddle.new")
  if o.limiter and o.limiter:find("^ngx:") and not ngx then
    error((who or "paddle.new") .. ": limiter " .. o.limiter .. " (shared_dict) needs OpenResty", 0)
  end
  local session = core.session {
    api_key = o.api_key,
    max_retries = o.max_retries,
    max_retry_wait = o.max_retry_wait,
    backoff_base = o.backoff_base,
    -- With a shared limiter the window lives in its store.
    rate_requests = (o.rate_limit and not o.limiter) and o.rate_limit.requests or 0,
    rate_per = (o.rate_limit and not o.limiter) and o.rate_limit.per or 0,
  }
  o.api_key = nil
  local self = setmetatable({
    environment = o.environment,
    base_url = o.base_url,
    _origin = url.origin(o.base_url),
    _options = o,
    _session = session,
    _transports = {}, -- name -> { transport, ctx, headers, current }
    _closed = false,
  }, ClientMT)
  local ok, limiter = pcall(make_limiter, o, session, now, o.on_warning or default_warn())
  if not ok then
    session:close()
    error(limiter, 0)
  end
  self._limiter = limiter
  -- client.request(...) and client:request(...) both work.
  self.request = function(first, ...)
    if first == self then return Client.request(self, ...) end
    return Client.request(self, first, ...)
  end
  self.close = function() return Client.close(self) end
  return self
end

-- The transport for this call (cosockets where nginx allows them, else
-- libcurl), made on first use with its loop context.
function Client:_transport()
  local o = self._options
  local name = o.transport or (cosockets_available() and "ngx" or "curl")
  local entry = self._transports[name]
  if entry then return entry end
  local module = require(name == "ngx" and "paddle.transport.ngx" or "paddle.transport.curl")
  local t = module.new(o)
  t.name = t.name or name
  entry = {
    transport = t,
    headers = header_sets(o, name, module.version),
    ctx = {
      session = self._session, transport = t, now = now, sleep = t.sleep, limiter = self._limiter,
      timeout = o.timeout, attempt_timeout = o.attempt_timeout, max_retry_wait = o.max_retry_wait,
      on_request = o.on_request,
    },
  }
  self._transports[name] = entry
  -- Outside nginx the choice never changes: Client:send skips it next time.
  if not ngx then self._entry = entry end
  return entry
end

local function closed_error(level)
  error("paddle: client is closed", level + 1)
end

-- The one way out: method, a path (or an absolute URL on base_url), the
-- query string (already encoded), the JSON body (already encoded), what the
-- answer must look like (paddle.response) and whether it is a list walk.
-- Arguments are trusted: resources and request() check them first.
function Client:send(method, target, query_string, body, expect, prefix, walk)
  if self._closed then closed_error(2) end
  local full = byte(target) == 47 and self.base_url .. target or target -- "/"
  if query_string and query_string ~= "" then
    full = full .. (find(full, "?", 1, true) and "&" or "?") .. query_string
  end
  if #full > MAX_URL then
    return nil, errors.new {
      type = "client_error", code = "request_too_large",
      detail = format("the URL would be %d bytes long; at most %d are sent", #full, MAX_URL),
    }
  end
  local entry = self._entry or self:_transport()
  local t = entry.transport
  local headers = body and entry.headers.body or (walk and entry.headers.skip_count or entry.headers.plain)
  if entry.current ~= headers then
    t.set_headers(headers)
    entry.current = headers
  end
  local status, b, request_id, attempts, give_up_wait, retry_after =
    request_loop.run(entry.ctx, method, full, body, walk or false)
  if not status then return nil, b end
  local keep_null = self._options.keep_null
  if status >= 200 and status < 300 then
    return response.decode(expect, prefix, status, b, request_id, attempts, keep_null)
  end
  local wait = give_up_wait or (retry_after and core.retry_after(retry_after))
  return nil, response.error(status, b, request_id, attempts, wait, keep_null)
end

-- Checks of client.request's arguments; raise without a position.
local function target_of(self, path)
  if type(path) ~= "string" then error("request: path must be a string, got a " .. type(path), 0) end
  if find(path, "[%s%c]") then error("request: path contains whitespace or control characters", 0) end
  if sub(path, 1, 1) == "/" then return path end
  local origin = url.origin(path)
  if not origin then error("request: path must start with '/'", 0) end
  -- Absolute URLs (pagination's `next`) must point at our own API: the key
  -- is never sent anywhere else.
  if origin ~= self._origin then error("request: URL " .. path .. " is not on " .. self.base_url, 0) end
  return path
end

local function check_request(self, method, path, params)
  if type(method) ~= "string" or not METHODS[method] then
    error("request: method must be one of GET, POST, PATCH, PUT, DELETE, got " .. format("%q", method), 0)
  end
  local target = target_of(self, path)
  if params == nil then return target end
  if type(params) ~= "table" then error("request: options must be a table, got a " .. type(params), 0) end
  for k in pairs(params) do
    if k ~= "query" and k ~= "body" then
      error("request: unknown option '" .. tostring(k) .. "' (expected query, body)", 0)
    end
  end
  local query_string, body
  if params.query ~= nil then
    if type(params.query) ~= "table" then error("request: query must be a table", 0) end
    query_string = url.encode_query(params.query)
  end
  if params.body ~= nil then
    local encode_err
    body, encode_err = json.encode(params.body)
    if not body then error("request: " .. encode_err, 0) end
  end
  return target, query_string, body
end

-- client:request(method, path[, { query = {...}, body = {...} }])
--   -> data, meta | nil, err   (any endpoint; misuse raises at the caller)
function Client:request(method, path, params)
  if self._closed then closed_error(2) end
  local ok, target, query_string, body = pcall(check_request, self, method, path, params)
  if not ok then error(target, 2) end
  return self:send(method, target, query_string, body, method == "DELETE" and "none" or nil)
end

function Client:is_closed()
  return self._closed
end

-- Frees the connections and wipes the key; the client is unusable after.
function Client:close()
  if self._closed then return end
  self._closed = true
  for _, entry in pairs(self._transports) do entry.transport.close() end
  self._limiter:close() -- may be the session itself: closing it twice is harmless
  self._session:close()
end

ClientMT.__close = Client.close -- Lua 5.4: local c <close> = paddle.new{...}

return _M
