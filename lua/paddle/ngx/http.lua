-- paddle.ngx.http: a small HTTP/1.1 client over nginx cosockets
-- (ngx.socket.tcp), for OpenResty where a blocking libcurl call would freeze
-- every request the worker serves.
--
-- One call per request (the caller makes one per attempt):
--
--   local res, err = http.request{
--     url = "https://api.paddle.com/customers?per_page=50",
--     method = "GET", headers = { Authorization = "Bearer ..." }, body = nil,
--     connect_timeout = 10, timeout = 60, ssl_verify = true,
--     keepalive_timeout = 60, pool_size = 32, pool = nil,
--   }
--
-- res = { status, reason, headers (lowercased names, repeats joined with
-- ", "), body, reused }. err is a paddle.errors value with
-- type = "transport_error", code, detail, sent, reused and phase.
--
-- Sockets live only for the duration of one call: they are never stored in
-- module state. After a complete response that allows it the connection goes
-- back to nginx's keepalive pool, otherwise it is closed; after any error it
-- is closed.
local errors = require "paddle.errors"

local ngx = ngx
local type = type
local tostring = tostring
local tonumber = tonumber
local pairs = pairs
local error = error
local floor = math.floor
local byte = string.byte
local sub = string.sub
local find = string.find
local gmatch = string.gmatch
local lower = string.lower
local match = string.match
local format = string.format
local concat = table.concat

local _M = { _VERSION = "0.1.0" }

local DEFAULT_PORTS = { http = 80, https = 443 }
local MIB = 1024 * 1024
local PIECE = 256 * 1024 -- bytes read per receive call (the budget is re-armed between pieces)
local MAX_LINE = 8 * 1024 -- chunk-size and trailer lines
local MAX_INFORMATIONAL = 10 -- 1xx responses skipped before the final one

local DEFAULTS = {
  connect_timeout = 10,
  timeout = 60,
  keepalive_timeout = 60,
  pool_size = 32,
  max_body_size = 64 * MIB,
  max_header_size = 64 * 1024,
}

-- Phases in which cosockets may yield (lua-nginx-module's "yieldable" set).
-- init, init_worker, set, header_filter, body_filter, log, balancer,
-- ssl_session_store and exit_worker cannot use them.
local COSOCKET_PHASES = {
  rewrite = true,
  server_rewrite = true,
  access = true,
  content = true,
  timer = true,
  ssl_cert = true,
  ssl_session_fetch = true,
  ssl_client_hello = true,
}

-- Request headers the client owns.
local OWN_HEADERS = {
  ["content-length"] = true,
  ["connection"] = true,
  ["keep-alive"] = true,
}

--- available() -> true when cosockets can be used in the current context.
function _M.available()
  if type(ngx) ~= "table" or type(ngx.get_phase) ~= "function"
      or type(ngx.socket) ~= "table" or type(ngx.socket.tcp) ~= "function" then
    return false
  end
  return COSOCKET_PHASES[ngx.get_phase()] == true
end

local function parse_url(url, level)
  level = level + 1
  if type(url) ~= "string" then
    error("paddle.ngx.http: url must be a string, got " .. type(url), level)
  end
  local scheme, rest = match(url, "^(%a[%w+.-]*)://(.*)$")
  if not scheme then error("paddle.ngx.http: bad url (no scheme): " .. url, level) end
  scheme = lower(scheme)
  if not DEFAULT_PORTS[scheme] then
    error("paddle.ngx.http: unsupported url scheme '" .. scheme .. "'", level)
  end
  local authority, path = match(rest, "^([^/?#]*)(.*)$")
  if find(authority, "@", 1, true) then
    error("paddle.ngx.http: credentials in the url are not supported", level)
  end
  local host, port_part
  if sub(authority, 1, 1) == "[" then
    host, port_part = match(authority, "^(%[[%x:.]+%])(.*)$")
  else
    host, port_part = match(authority, "^([%w.-]+)(.*)$")
  end
  if not host then error("paddle.ngx.http: bad url (host): " .. url, level) end
  local port = DEFAULT_PORTS[scheme]
  if port_part ~= "" then
    local digits = match(port_part, "^:(%d+)$")
    port = tonumber(digits)
    if not port or port < 1 or port > 65535 then
      error("paddle.ngx.http: bad url (port): " .. url, level)
    end
  end
  path = match(path, "^([^#]*)")
  if path == "" then
    path = "/"
  elseif sub(path, 1, 1) == "?" then
    path = "/" .. path
  end
  if find(path, "[%c ]") then
    error("paddle.ngx.http: bad url (spaces or control characters in the path)", level)
  end
  return scheme, lower(host), port, path
end

--- parse_url(url) -> scheme, host, port, path_and_query. Raises on a bad url.
function _M.parse_url(url)
  return parse_url(url, 2)
end

local function positive(opts, name, level)
  local v = opts[name]
  if v == nil then return DEFAULTS[name] end
  if type(v) ~= "number" or v ~= v or v <= 0 then
    error("paddle.ngx.http: option '" .. name .. "' must be a positive number", level + 1)
  end
  return v
end

local function header_value(name, v, level)
  local tv = type(v)
  if tv == "number" then
    v = tostring(v)
  elseif tv ~= "string" then
    error("paddle.ngx.http: header '" .. name .. "' must be a string or number", level + 1)
  end
  if find(v, "[\r\n%z]") then
    -- never echo the value: it may be a credential
    error("paddle.ngx.http: header '" .. name .. "' contains CR, LF or NUL", level + 1)
  end
  return v
end

-- Builds the request head. Raises on misuse.
local function build_head(method, path, host_header, headers, body, level)
  level = level + 1
  local out = { method, " ", path, " HTTP/1.1\r\n" }
  local n = #out
  local has_host, wants_close = false, false
  if headers ~= nil then
    if type(headers) ~= "table" then error("paddle.ngx.http: headers must be a table", level) end
    for name, value in pairs(headers) do
      if type(name) ~= "string" or not match(name, "^[!#$%%&'*+.^_`|~%w-]+$") then
        error("paddle.ngx.http: bad header name " .. format("%q", tostring(name)), level)
      end
      local lname = lower(name)
      if lname == "transfer-encoding" then
        error("paddle.ngx.http: Transfer-Encoding request bodies are not supported", level)
      end
      if lname == "connection" then
        local v = header_value(name, value, level)
        if find(lower(v), "close", 1, true) then wants_close = true end
      elseif not OWN_HEADERS[lname] then
        if lname == "host" then has_host = true end
        local values = value
        if type(value) ~= "table" then values = { value } end
        for i = 1, #values do
          out[n + 1] = name
          out[n + 2] = ": "
          out[n + 3] = header_value(name, values[i], level)
          out[n + 4] = "\r\n"
          n = n + 4
        end
      end
    end
  end
  if not has_host then
    out[n + 1] = "Host: " .. host_header .. "\r\n"
    n = n + 1
  end
  if body ~= nil then
    out[n + 1] = "Content-Length: " .. #body .. "\r\n"
    n = n + 1
  elseif method == "POST" or method == "PUT" or method == "PATCH" then
    out[n + 1] = "Content-Length: 0\r\n"
    n = n + 1
  end
  out[n + 1] = wants_close and "Connection: close\r\n\r\n" or "Connection: keep-alive\r\n\r\n"
  return concat(out), wants_close
end

-- ---------------------------------------------------------------------------
-- One request's state and its failure values.

local function fail(st, code, detail)
  local sock = st.sock
  if sock then
    st.sock = nil
    sock:close()
  end
  return nil, errors.new{
    type = "transport_error",
    code = code,
    detail = st.target .. ": " .. detail,
    sent = st.sent,
    reused = st.reused,
    phase = st.phase,
  }
end

-- Sets the socket timeout from what is left of the request's budget.
local function arm(st)
  ngx.update_time()
  local ms = floor((st.deadline - ngx.now()) * 1000)
  if ms <= 0 then return false end
  st.sock:settimeout(ms)
  return true
end

local function budget_spent(st)
  return fail(st, "timeout", "timed out after " .. st.timeout .. "s while " .. st.phase)
end

-- Maps a socket error while reading to an error value. `incomplete` is the code
-- for a connection that ended early.
local function read_failed(st, err, incomplete, what)
  if err == "timeout" then
    return fail(st, "timeout", "timed out while " .. st.phase)
  end
  return fail(st, incomplete, what .. " (" .. tostring(err) .. ")")
end

-- Reads bytes up to (not including) the delimiter the reader was made for,
-- at most `max` bytes. Returns the data, or nil, err, partial, too_long.
local function read_until(st, reader, max)
  local parts, n, size = {}, 0, 0
  while true do
    if not arm(st) then return nil, "timeout", concat(parts) end
    local data, err, partial = reader(8192)
    if not data then
      if not err then return concat(parts) end
      if partial and partial ~= "" then
        n = n + 1
        parts[n] = partial
      end
      return nil, err, concat(parts)
    end
    size = size + #data
    if size > max then return nil, "too long", nil, true end
    n = n + 1
    parts[n] = data
  end
end

-- Reads exactly `len` bytes into parts[]. Returns true or nil, err.
local function read_exact(st, len, parts)
  local sock = st.sock
  while len > 0 do
    if not arm(st) then return nil, "timeout" end
    local k = len > PIECE and PIECE or len
    local data, err, partial = sock:receive(k)
    if not data then
      if partial and partial ~= "" then parts[#parts + 1] = partial end
      return nil, err
    end
    parts[#parts + 1] = data
    len = len - k
  end
  return true
end

local function parse_head(head)
  -- Lines end in CRLF; a bare CR or LF is not a line break in HTTP/1.1.
  if find(head, "[^\r]\n") or find(head, "^\n") or find(head, "\r[^\n]") or find(head, "\r$") then
    return nil, "bare CR or LF in the response head"
  end
  local status_line, rest = match(head, "^([^\r\n]*)(.*)$")
  local major, minor, status, reason = match(status_line, "^HTTP/(%d)%.(%d) (%d%d%d)(.*)$")
  if not major or major ~= "1" or (reason ~= "" and byte(reason, 1) ~= 32) then
    return nil, "invalid status line"
  end
  local headers = {}
  local last
  for line in gmatch(rest, "\r\n([^\r\n]*)") do
    local c = byte(line, 1)
    if c == 32 or c == 9 then -- obsolete line folding: join with a space
      if not last then return nil, "continuation line before any header" end
      headers[last] = headers[last] .. " " .. match(line, "^[ \t]*(.-)[ \t]*$")
    else
      local name, value = match(line, "^([!#$%%&'*+.^_`|~%w-]+):[ \t]*(.-)[ \t]*$")
      if not name then return nil, "malformed header line" end
      if find(value, "%z") then return nil, "NUL byte in a header value" end
      name = lower(name)
      local prev = headers[name]
      headers[name] = prev and (prev .. ", " .. value) or value
      last = name
    end
  end
  return {
    minor = tonumber(minor),
    status = tonumber(status),
    reason = sub(reason, 2),
    headers = headers,
  }
end

local function has_token(value, token)
  if not value then return false end
  for item in gmatch(lower(value), "[^,]+") do
    if match(item, "^[ \t]*(.-)[ \t]*$") == token then return true end
  end
  return false
end

-- Reads the status line and headers, skipping 1xx responses.
local function read_head(st)
  local sock = st.sock
  local reader = sock:receiveuntil("\r\n\r\n")
  for _ = 1, MAX_INFORMATIONAL + 1 do
    -- The first bytes must be "HTTP/": fail fast on anything else rather than
    -- wait for a blank line that may never come.
    if not arm(st) then return budget_spent(st) end
    local start, err, partial = sock:receive(5)
    if not start then
      if err == "timeout" then return fail(st, "timeout", "timed out while " .. st.phase) end
      if partial and partial ~= "" and sub("HTTP/", 1, #partial) ~= partial then
        return fail(st, "protocol_error", "invalid status line")
      end
      return fail(st, "connection_reset", "connection closed before any response (" .. tostring(err) .. ")")
    end
    if start ~= "HTTP/" then return fail(st, "protocol_error", "invalid status line") end
    local rest, rerr, _, too_long = read_until(st, reader, st.max_header_size)
    if not rest then
      if too_long then
        return fail(st, "protocol_error", "response head larger than " .. st.max_header_size .. " bytes")
      elseif rerr == "timeout" then
        return fail(st, "timeout", "timed out while " .. st.phase)
      end
      return fail(st, "connection_reset",
        "connection closed in the middle of the response head (" .. tostring(rerr) .. ")")
    end
    local res, perr = parse_head(start .. rest)
    if not res then return fail(st, "protocol_error", perr) end
    if res.status >= 200 then return res end
    if res.status == 101 then
      return fail(st, "protocol_error", "unexpected 101 Switching Protocols")
    end
  end
  return fail(st, "protocol_error", "too many informational (1xx) responses")
end

local function read_chunked(st)
  local sock = st.sock
  local line_reader = sock:receiveuntil("\r\n")
  local parts, total = {}, 0
  while true do
    local line, err, _, too_long = read_until(st, line_reader, MAX_LINE)
    if not line then
      if too_long then return fail(st, "protocol_error", "chunk-size line too long") end
      return read_failed(st, err, "truncated_body", "connection closed inside a chunked body")
    end
    local hex = match(line, "^(%x+)[ \t]*;") or match(line, "^(%x+)[ \t]*$")
    if not hex or #hex > 12 then return fail(st, "protocol_error", "invalid chunk size") end
    local size = tonumber(hex, 16)
    if size == 0 then break end
    total = total + size
    if total > st.max_body_size then
      return fail(st, "protocol_error", "response body larger than " .. st.max_body_size .. " bytes")
    end
    local ok, rerr = read_exact(st, size, parts)
    if not ok then
      return read_failed(st, rerr, "truncated_body", "connection closed inside a chunk")
    end
    if not arm(st) then return budget_spent(st) end
    local crlf, cerr = sock:receive(2)
    if not crlf then
      return read_failed(st, cerr, "truncated_body", "connection closed after a chunk")
    end
    if crlf ~= "\r\n" then return fail(st, "protocol_error", "chunk not followed by CRLF") end
  end
  -- Trailer fields: read and ignored, up to the empty line.
  local trailer_size = 0
  while true do
    local line, err, _, too_long = read_until(st, line_reader, MAX_LINE)
    if not line then
      if too_long then return fail(st, "protocol_error", "trailer line too long") end
      return read_failed(st, err, "truncated_body", "connection closed inside the trailer")
    end
    if line == "" then break end
    trailer_size = trailer_size + #line
    if trailer_size > st.max_header_size then
      return fail(st, "protocol_error", "trailer larger than " .. st.max_header_size .. " bytes")
    end
  end
  return concat(parts)
end

local function read_to_close(st)
  local sock = st.sock
  local parts, n, total = {}, 0, 0
  while true do
    if not arm(st) then return budget_spent(st) end
    local data, err = sock:receiveany(PIECE)
    if not data then
      if err == "closed" then break end
      return read_failed(st, err, "truncated_body", "connection failed inside a close-delimited body")
    end
    total = total + #data
    if total > st.max_body_size then
      return fail(st, "protocol_error", "response body larger than " .. st.max_body_size .. " bytes")
    end
    n = n + 1
    parts[n] = data
  end
  return concat(parts)
end

-- Returns the body and whether the connection may be reused, or nil, err.
local function read_body(st, res)
  local headers = res.headers
  local status = res.status
  if st.method == "HEAD" or status == 204 or status == 304 then
    return "", true
  end
  local te, cl = headers["transfer-encoding"], headers["content-length"]
  if te then
    local last = match(lower(te), "([^,%s]+)[%s]*$")
    if last == "chunked" then
      local body, err = read_chunked(st)
      -- Both framings present: the message is suspect, do not reuse.
      return body, err or cl == nil
    end
    local body, err = read_to_close(st)
    return body, err or false
  end
  if cl then
    local len
    for item in gmatch(cl, "[^,]+") do
      local v = tonumber(match(item, "^[ \t]*(%d+)[ \t]*$"))
      if not v or (len and v ~= len) then
        return fail(st, "protocol_error", "invalid Content-Length")
      end
      len = v
    end
    if not len then return fail(st, "protocol_error", "invalid Content-Length") end
    if len > st.max_body_size then
      return fail(st, "protocol_error", "response body larger than " .. st.max_body_size .. " bytes")
    end
    local parts = {}
    local ok, err = read_exact(st, len, parts)
    if not ok then
      local got = #concat(parts)
      return read_failed(st, err, "truncated_body",
        format("connection closed after %d of %d body bytes", got, len))
    end
    return concat(parts), true
  end
  local body, err = read_to_close(st)
  return body, err or false
end

--- request(opts) -> res | nil, err. See the top of this file.
function _M.request(opts)
  if type(opts) ~= "table" then
    error("paddle.ngx.http.request: expects a table of options", 2)
  end
  if not _M.available() then
    error("paddle.ngx.http.request: cosockets are not available here (needs nginx rewrite, access, "
      .. "content, timer or ssl phases)", 2)
  end
  local scheme, host, port, path
  if opts.url ~= nil then
    scheme, host, port, path = parse_url(opts.url, 2)
  else
    scheme = lower(opts.scheme or "http")
    if not DEFAULT_PORTS[scheme] then error("paddle.ngx.http: unsupported scheme " .. scheme, 2) end
    host = opts.host
    if type(host) ~= "string" or not match(host, "^[%w.-]+$") then
      error("paddle.ngx.http: option 'host' must be a host name or address", 2)
    end
    host = lower(host)
    port = opts.port or DEFAULT_PORTS[scheme]
    if type(port) ~= "number" or port < 1 or port > 65535 or port % 1 ~= 0 then
      error("paddle.ngx.http: option 'port' must be a port number", 2)
    end
    path = opts.path or "/"
    if type(path) ~= "string" or sub(path, 1, 1) ~= "/" or find(path, "[%c ]") then
      error("paddle.ngx.http: option 'path' must start with '/' and have no spaces", 2)
    end
  end
  local method = opts.method or "GET"
  if type(method) ~= "string" or not match(method, "^[A-Z]+$") then
    error("paddle.ngx.http: option 'method' must be an upper-case HTTP method", 2)
  end
  local body = opts.body
  if body ~= nil and type(body) ~= "string" then
    error("paddle.ngx.http: option 'body' must be a string or nil", 2)
  end
  local address = opts.address or host -- connect here instead of resolving host
  if type(address) ~= "string" then error("paddle.ngx.http: option 'address' must be a string", 2) end
  local ssl_verify = opts.ssl_verify ~= false
  local connect_timeout = positive(opts, "connect_timeout", 2)
  local timeout = positive(opts, "timeout", 2)
  local keepalive_timeout = positive(opts, "keepalive_timeout", 2)
  local pool_size = floor(positive(opts, "pool_size", 2))
  if pool_size < 1 then pool_size = 1 end
  local max_body_size = positive(opts, "max_body_size", 2)
  local max_header_size = positive(opts, "max_header_size", 2)
  local pool = opts.pool
  if pool ~= nil and type(pool) ~= "string" then
    error("paddle.ngx.http: option 'pool' must be a string", 2)
  end
  if pool == nil then
    -- Never hand a plain or unverified connection to a request that wants TLS
    -- verification for another name.
    pool = format("paddle:%s:%s:%d:%s:%s", scheme, address, port, host, ssl_verify and "v" or "nv")
  end
  local host_header = host
  if port ~= DEFAULT_PORTS[scheme] then host_header = host .. ":" .. port end
  local head, wants_close = build_head(method, path, host_header, opts.headers, body, 2)

  local sock = ngx.socket.tcp()
  local st = {
    sock = sock, sent = false, reused = false, phase = "connecting",
    target = format("%s %s://%s:%d", method, scheme, host, port),
    method = method, timeout = timeout,
    max_body_size = max_body_size, max_header_size = max_header_size,
  }

  -- Connect (and TLS) under connect_timeout.
  local ct = floor(connect_timeout * 1000)
  if ct < 1 then ct = 1 end
  sock:settimeouts(ct, ct, ct)
  local ok, err = sock:connect(address, port, { pool = pool, pool_size = pool_size })
  if not ok then
    st.sock = nil -- nothing to close
    local code = err == "timeout" and "timeout" or "connect_error"
    return fail(st, code, "connect to " .. address .. ":" .. port .. " failed (" .. tostring(err) .. ")")
  end
  st.reused = (sock:getreusedtimes() or 0) > 0
  if scheme == "https" and not st.reused then
    st.phase = "tls handshake"
    local sni = match(host, "^%[") and nil or host
    ok, err = sock:sslhandshake(false, sni, ssl_verify)
    if not ok then
      if err == "timeout" then return fail(st, "timeout", "TLS handshake timed out") end
      return fail(st, "tls_error", "TLS handshake failed (" .. tostring(err) .. ")")
    end
  end

  -- Send and read under the total budget.
  ngx.update_time()
  st.deadline = ngx.now() + timeout
  st.phase = "sending the request"
  if not arm(st) then return budget_spent(st) end
  st.sent = true -- from here on the server may have seen (part of) the request
  local bytes
  if body ~= nil and body ~= "" then
    bytes, err = sock:send({ head, body })
  else
    bytes, err = sock:send(head)
  end
  if not bytes then
    if err == "timeout" then return fail(st, "timeout", "timed out while sending the request") end
    return fail(st, "connection_reset", "sending the request failed (" .. tostring(err) .. ")")
  end

  st.phase = "reading the response head"
  local res, rerr = read_head(st)
  if not res then return nil, rerr end

  st.phase = "reading the response body"
  local resp_body, reusable = read_body(st, res)
  if not resp_body then return nil, reusable end

  local keepalive = reusable and res.minor >= 1 and not wants_close
    and not has_token(res.headers.connection, "close")
  st.sock = nil
  if keepalive then
    local kok = sock:setkeepalive(floor(keepalive_timeout * 1000), pool_size)
    if not kok then sock:close() end
  else
    sock:close()
  end

  return {
    status = res.status,
    reason = res.reason,
    headers = res.headers,
    body = resp_body,
    reused = st.reused,
  }
end

return _M
