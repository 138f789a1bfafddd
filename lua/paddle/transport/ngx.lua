-- The OpenResty transport: HTTP over cosockets (paddle.ngx.http's phases),
-- sleeping with ngx.sleep, so a Paddle call never blocks the nginx worker.
-- libcurl is never loaded on this path.
--
-- The transport interface (the client's request loop drives it):
--   t = transport.new(checked_options)
--   t.set_headers(headers)   name -> value, without Authorization
--   t.send(session, method, url, body_or_nil, timeout_seconds, compressed)
--     -> status, body, request_id_or_nil, retry_after_or_nil
--     -> nil, code, detail, sent
--   t.headers()              the last response's headers (lowercased names)
--   t.sleep(seconds)         -> false (an nginx worker is never interrupted)
--   t.close()
--
-- What does not change between calls is prepared once: the parsed origin
-- (host, port, TLS, keep-alive pool name) per origin, the header lines per
-- headers table. A call then builds its request head in one C call (with the
-- Authorization line from the session) and parses the response head in one.
local core = require "paddle.core"
local http = require "paddle.ngx.http"

local ngx = ngx
local type = type
local error = error
local setmetatable = setmetatable
local floor = math.floor
local find = string.find
local sub = string.sub
local format = string.format

local request_head = core.http_request_head
local new_conn, connect, send_request = http.new_conn, http.connect, http.send_request
local read_head, read_body, set_keepalive = http.read_head, http.read_body, http.set_keepalive

local function ngx_lua_version()
  local v = ngx.config and ngx.config.ngx_lua_version
  if not v then return "?" end
  return format("%d.%d.%d", floor(v / 1000000), floor(v / 1000) % 1000, v % 1000)
end

local _M = { name = "ngx", version = ngx_lua_version() }

local NO_HEADERS = {}

-- Methods whose request carries a body even when empty (Content-Length: 0).
local BODY_METHODS = { POST = true, PUT = true, PATCH = true }

-- "https://host:port/path?q" -> "https://host:port", "/path?q" with plain
-- finds only (JIT-compiled); nil for anything else (the slow path parses it).
local function split_url(url)
  local slashes = find(url, "://", 1, true)
  if not slashes then return nil end
  local slash = find(url, "/", slashes + 3, true)
  if not slash or find(url, "#", slash, true) or find(url, "?", slashes + 3, true) and
      find(url, "?", slashes + 3, true) < slash then
    return nil
  end
  return sub(url, 1, slash - 1), sub(url, slash)
end

-- ngx.sleep rounds to milliseconds; a shorter wait would spin at 0.
local function sleep(seconds)
  ngx.sleep(seconds < 0.001 and 0.001 or seconds)
  return false
end

-- The per-transport state `st`: settings (options for http.target), targets
-- (origin -> checked target: host, port, TLS, pool name), lines_for (headers
-- table -> host header -> header lines), headers and lines (the current ones),
-- last_head (the last response's head, parsed on demand by t.headers()).

local function target_for(st, url)
  local origin, path = split_url(url)
  local target = origin and st.targets[origin]
  if target then return target, path end
  st.settings.url = url
  target, path = http.target(st.settings, 4)
  if origin then st.targets[origin] = target end
  return target, path
end

local function header_lines(st, target)
  local key = st.headers or NO_HEADERS
  local by_host = st.lines_for[key]
  if not by_host then
    by_host = {}
    st.lines_for[key] = by_host
  end
  local lines = by_host[target.host_header]
  if not lines then
    lines = http.header_block(key, target.host_header, 4)
    by_host[target.host_header] = lines
  end
  return lines
end

local function send(st, session, method, url, body, timeout)
  local target, path = target_for(st, url)
  local lines = st.lines
  if not lines or lines.target ~= target then
    lines = { target = target, text = header_lines(st, target) }
    st.lines = lines
  end
  local length = body and #body or (BODY_METHODS[method] and 0 or nil)
  local head = request_head(session, method, path, lines.text, length)
  local conn = new_conn(target, method, timeout)
  local ok, err = connect(conn)
  if ok then ok, err = send_request(conn, head, body) end
  if ok then ok, err = read_head(conn) end
  if ok then ok, err = read_body(conn) end
  if not ok then return nil, err.code, err.detail, err.sent end
  set_keepalive(conn)
  st.last_head = conn.head
  return conn.status, ok, conn.request_id, conn.retry_after
end

function _M.new(opts)
  local st = {
    settings = { connect_timeout = opts.connect_timeout, timeout = opts.timeout, ssl_verify = true },
    targets = {},
    lines_for = setmetatable({}, { __mode = "k" }),
    headers = false, lines = false, last_head = false,
  }
  local t = { name = _M.name, sleep = sleep }

  function t.set_headers(h)
    if type(h) ~= "table" then error("set_headers: expects a table", 2) end
    if h ~= st.headers then st.headers, st.lines = h, false end
  end

  function t.send(session, method, url, body, timeout)
    return send(st, session, method, url, body, timeout)
  end

  function t.headers()
    if not st.last_head then return {} end
    return (core.http_headers(st.last_head))
  end

  function t.close() end -- sockets live per request; nothing to release

  return t
end

return _M
