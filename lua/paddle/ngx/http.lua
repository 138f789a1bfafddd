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
-- request() runs lua-resty-http's phases, each also a function of this module
-- that returns true (or its result) or nil, err, so each can be used and tested
-- alone: target(opts) (checked options, reusable across calls), header_block
-- (the fixed request header lines), new_conn, connect, send_request, read_head
-- (status line and headers), read_body, set_keepalive. The transport
-- (paddle.transport.ngx) runs the same phases with a target and header block
-- it keeps between calls. Heads are parsed and built in C (paddle.core).
--
-- Sockets live only for the duration of one call: they are never stored in
-- module state. After a complete response that allows it the connection goes
-- back to nginx's keepalive pool, otherwise it is closed; after any error it
-- is closed.
local core = require "paddle.core"
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
local lower = string.lower
local match = string.match
local format = string.format
local concat = table.concat
local http_head = core.http_head
local http_headers = core.http_headers
local request_head = core.http_request_head

local _M = { _VERSION = core._VERSION }

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

-- ---------------------------------------------------------------------------
-- Phase 0: what stays the same between calls (checked once, then reused).

local function check_header_name(name, level)
  if type(name) ~= "string" or not match(name, "^[!#$%%&'*+.^_`|~%w-]+$") then
    error("paddle.ngx.http: bad header name " .. format("%q", tostring(name)), level + 1)
  end
  return lower(name)
end

--- header_block(headers, host_header) -> lines, wants_close
-- The request header lines every call with these headers sends (Host and
-- Connection included, Content-Length and Authorization-from-a-session not),
-- each ending in CRLF. Raises on misuse, never echoing a value.
function _M.header_block(headers, host_header, level)
  level = (level or 1) + 1
  local out, n = {}, 0
  local has_host, wants_close = false, false
  if headers ~= nil and type(headers) ~= "table" then
    error("paddle.ngx.http: headers must be a table", level)
  end
  for name, value in pairs(headers or {}) do
    local lname = check_header_name(name, level)
    if lname == "transfer-encoding" then
      error("paddle.ngx.http: Transfer-Encoding request bodies are not supported", level)
    elseif lname == "connection" then
      if find(lower(header_value(name, value, level)), "close", 1, true) then wants_close = true end
    elseif not OWN_HEADERS[lname] then
      if lname == "host" then has_host = true end
      local values = type(value) == "table" and value or { value }
      for i = 1, #values do
        out[n + 1] = name .. ": " .. header_value(name, values[i], level) .. "\r\n"
        n = n + 1
      end
    end
  end
  if not has_host then
    out[n + 1] = "Host: " .. host_header .. "\r\n"
    n = n + 1
  end
  out[n + 1] = wants_close and "Connection: close\r\n" or "Connection: keep-alive\r\n"
  return concat(out), wants_close
end

local function target_from_fields(opts, level)
  local scheme = lower(opts.scheme or "http")
  if not DEFAULT_PORTS[scheme] then error("paddle.ngx.http: unsupported scheme " .. scheme, level) end
  local host = opts.host
  if type(host) ~= "string" or not match(host, "^[%w.-]+$") then
    error("paddle.ngx.http: option 'host' must be a host name or address", level)
  end
  local port = opts.port or DEFAULT_PORTS[scheme]
  if type(port) ~= "number" or port < 1 or port > 65535 or port % 1 ~= 0 then
    error("paddle.ngx.http: option 'port' must be a port number", level)
  end
  local path = opts.path or "/"
  if type(path) ~= "string" or sub(path, 1, 1) ~= "/" or find(path, "[%c ]") then
    error("paddle.ngx.http: option 'path' must start with '/' and have no spaces", level)
  end
  return scheme, lower(host), port, path
end

--- target(opts) -> target, path. The connection settings of opts (url or
-- scheme/host/port/path, address, ssl_verify, timeouts, pool), checked, with
-- the keep-alive pool name. A caller that talks to one origin keeps it.
function _M.target(opts, level)
  level = (level or 1) + 1
  local scheme, host, port, path
  if opts.url ~= nil then
    scheme, host, port, path = parse_url(opts.url, level)
  else
    scheme, host, port, path = target_from_fields(opts, level)
  end
  local address = opts.address or host -- connect here instead of resolving host
  if type(address) ~= "string" then error("paddle.ngx.http: option 'address' must be a string", level) end
  local pool = opts.pool
  if pool ~= nil and type(pool) ~= "string" then
    error("paddle.ngx.http: option 'pool' must be a string", level)
  end
  local ssl_verify = opts.ssl_verify ~= false
  -- Never hand a plain or unverified connection to a request that wants TLS
  -- verification for another name.
  pool = pool or format("paddle:%s:%s:%d:%s:%s", scheme, address, port, host, ssl_verify and "v" or "nv")
  local pool_size = floor(positive(opts, "pool_size", level))
  local host_header = host
  if port ~= DEFAULT_PORTS[scheme] then host_header = host .. ":" .. port end
  return {
    scheme = scheme, host = host, port = port, address = address, host_header = host_header,
    tls = scheme == "https", sni = sub(host, 1, 1) ~= "[" and host or nil, ssl_verify = ssl_verify,
    pool = pool, pool_opts = { pool = pool, pool_size = pool_size < 1 and 1 or pool_size },
    connect_timeout = positive(opts, "connect_timeout", level), timeout = positive(opts, "timeout", level),
    keepalive_ms = floor(positive(opts, "keepalive_timeout", level) * 1000),
    max_body_size = positive(opts, "max_body_size", level),
    max_header_size = positive(opts, "max_header_size", level),
    label = format("%s://%s:%d", scheme, host, port),
  }, path
end

-- ---------------------------------------------------------------------------
-- One request's state ("conn") and its failure values.

--- new_conn(target, method[, timeout]) -> conn: one request's state.
function _M.new_conn(target, method, timeout)
  return {
    target = target, method = method, timeout = timeout or target.timeout,
    sock = false, sent = false, reused = false, phase = "connecting", deadline = 0, armed = 0,
    buf = "",
  }
end

local function fail(conn, code, detail)
  local sock = conn.sock
  if sock then
    conn.sock = false
    sock:close()
  end
  return nil, errors.new{
    type = "transport_error",
    code = code,
    detail = conn.method .. " " .. conn.target.label .. ": " .. detail,
    sent = conn.sent,
    reused = conn.reused,
    phase = conn.phase,
  }
end

-- Sets the socket timeout from what is left of the request's budget. nginx's
-- cached clock (ngx.now) moves on whenever a socket operation waited, so the
-- timeout is only set again when time has passed since the last one.
local function arm(conn)
  local ms = floor((conn.deadline - ngx.now()) * 1000)
  if ms <= 0 then return false end
  if ms ~= conn.armed then
    conn.armed = ms
    conn.sock:settimeout(ms)
  end
  return true
end

local function budget_spent(conn)
  return fail(conn, "timeout", "timed out after " .. conn.timeout .. "s while " .. conn.phase)
end

local function body_too_large(conn)
  return fail(conn, "protocol_error", "response body larger than " .. conn.target.max_body_size .. " bytes")
end

-- Maps a socket error while reading to an error value. `incomplete` is the code
-- for a connection that ended early.
local function read_failed(conn, err, incomplete, what)
  if err == "timeout" then
    return fail(conn, "timeout", "timed out while " .. conn.phase)
  end
  return fail(conn, incomplete, what .. " (" .. tostring(err) .. ")")
end

-- ---------------------------------------------------------------------------
-- Phase 1: connect (a pooled connection, or TCP and TLS under connect_timeout).

--- connect(conn) -> true | nil, err
function _M.connect(conn)
  local target = conn.target
  local sock = ngx.socket.tcp()
  local ct = conn.timeout < target.connect_timeout and conn.timeout or target.connect_timeout
  ct = floor(ct * 1000)
  if ct < 1 then ct = 1 end
  sock:settimeouts(ct, ct, ct)
  local ok, err = sock:connect(target.address, target.port, target.pool_opts)
  if not ok then
    local code = err == "timeout" and "timeout" or "connect_error"
    return fail(conn, code, "connect to " .. target.address .. ":" .. target.port .. " failed ("
      .. tostring(err) .. ")")
  end
  conn.sock = sock
  conn.reused = (sock:getreusedtimes() or 0) > 0
  if target.tls and not conn.reused then
    conn.phase = "tls handshake"
    ok, err = sock:sslhandshake(false, target.sni, target.ssl_verify)
    if not ok then
      if err == "timeout" then return fail(conn, "timeout", "TLS handshake timed out") end
      return fail(conn, "tls_error", "TLS handshake failed (" .. tostring(err) .. ")")
    end
  end
  return true
end

-- ---------------------------------------------------------------------------
-- Phase 2: send the request (head and body) under the total budget.

--- send_request(conn, head, body) -> true | nil, err
function _M.send_request(conn, head, body)
  ngx.update_time()
  conn.deadline = ngx.now() + conn.timeout
  conn.phase = "sending the request"
  if not arm(conn) then return budget_spent(conn) end
  conn.sent = true -- from here on the server may have seen (part of) the request
  local bytes, err
  if body ~= nil and body ~= "" then
    bytes, err = conn.sock:send({ head, body })
  else
    bytes, err = conn.sock:send(head)
  end
  if not bytes then
    if err == "timeout" then return fail(conn, "timeout", "timed out while sending the request") end
    return fail(conn, "connection_reset", "sending the request failed (" .. tostring(err) .. ")")
  end
  return true
end

-- ---------------------------------------------------------------------------
-- Reading: what the socket returned beyond what a phase consumed waits in
-- conn.buf. Heads and chunk-size lines are found with plain finds in that
-- buffer filled by receiveany (no receiveuntil iterator: a fresh C closure per
-- response defeats LuaJIT's traces); bodies of known size come with receive(n).

-- Appends what the socket has (at least one byte) to conn.buf.
-- Returns true or nil, err ("timeout", "closed", ...).
local function fill(conn)
  if not arm(conn) then return nil, "timeout" end
  local data, err = conn.sock:receiveany(PIECE)
  if not data then return nil, err end
  conn.buf = conn.buf .. data
  return true
end

-- Takes `len` bytes: first from conn.buf, the rest straight from the socket.
-- Returns them, or nil, err, bytes_received.
local function take(conn, len)
  local buf = conn.buf
  if #buf >= len then
    conn.buf = sub(buf, len + 1)
    return sub(buf, 1, len)
  end
  conn.buf = ""
  local parts, got = { buf }, #buf
  while got < len do
    if not arm(conn) then return nil, "timeout", got end
    local k = len - got > PIECE and PIECE or len - got
    local data, err, partial = conn.sock:receive(k)
    if not data then return nil, err, got + #(partial or "") end
    parts[#parts + 1] = data
    got = got + k
  end
  return concat(parts)
end

-- Takes one CRLF-terminated line of at most `max` bytes (without its CRLF).
-- Returns it, or nil, err ("too long" or a socket error).
local function take_line(conn, max)
  local from = 1
  while true do
    local e = find(conn.buf, "\r\n", from, true)
    if e then
      local line = sub(conn.buf, 1, e - 1)
      conn.buf = sub(conn.buf, e + 2)
      return line
    end
    if #conn.buf > max then return nil, "too long" end
    from = #conn.buf > 0 and #conn.buf or 1
    local ok, err = fill(conn)
    if not ok then return nil, err end
  end
end

-- ---------------------------------------------------------------------------
-- Phase 3: the status line and headers.

-- Reads more of a head into conn.buf. Returns true or nil, err (error value).
local function fill_head(conn)
  local ok, err = fill(conn)
  if ok then return true end
  if err == "timeout" then return fail(conn, "timeout", "timed out while " .. conn.phase) end
  if conn.buf == "" then
    return fail(conn, "connection_reset", "connection closed before any response (" .. tostring(err) .. ")")
  end
  return fail(conn, "connection_reset",
    "connection closed in the middle of the response head (" .. tostring(err) .. ")")
end

-- Takes one head from the buffer: the text after "HTTP/" up to (without) the
-- blank line. Fails fast when the first bytes are not "HTTP/" rather than
-- wait for a blank line that may never come. The usual head comes with one
-- fill before the loop, which then ends in its first pass: a loop that goes
-- round in every call would abort the caller's trace ("inner loop in root
-- trace").
local function read_one_head(conn)
  local max = conn.target.max_header_size
  local from = 1
  if conn.buf == "" then
    local ok, err = fill_head(conn)
    if not ok then return nil, err end
  end
  while true do
    local buf = conn.buf
    if sub(buf, 1, 5) ~= sub("HTTP/", 1, #buf) then
      return fail(conn, "protocol_error", "invalid status line")
    end
    local e = find(buf, "\r\n\r\n", from, true)
    if e then
      if e - 1 > max then break end
      conn.buf = sub(buf, e + 4)
      return sub(buf, 6, e - 1)
    end
    if #buf > max then break end
    from = #buf > 3 and #buf - 2 or 1
    local ok, err = fill_head(conn)
    if not ok then return nil, err end
  end
  return fail(conn, "protocol_error", "response head larger than " .. max .. " bytes")
end

--- read_head(conn) -> status | nil, err. Skips 1xx responses; leaves in conn
-- the head (after "HTTP/"), framing, length, keepalive, request_id, retry_after.
function _M.read_head(conn)
  conn.phase = "reading the response head"
  for _ = 1, MAX_INFORMATIONAL + 1 do
    local rest, err = read_one_head(conn)
    if not rest then return nil, err end
    local status, framing, length, keepalive, request_id, retry_after = http_head(rest)
    if not status then return fail(conn, "protocol_error", framing) end
    if status >= 200 then
      conn.head, conn.status, conn.framing, conn.length = rest, status, framing, length
      conn.keepalive, conn.request_id, conn.retry_after = keepalive, request_id, retry_after
      return status
    end
    if status == 101 then
      return fail(conn, "protocol_error", "unexpected 101 Switching Protocols")
    end
  end
  return fail(conn, "protocol_error", "too many informational (1xx) responses")
end

--- headers_of(conn) -> headers table, reason (the head read by read_head).
function _M.headers_of(conn)
  return http_headers(conn.head)
end

-- ---------------------------------------------------------------------------
-- Phase 4: the body, by its framing.

local function read_length(conn, len)
  if len > conn.target.max_body_size then return body_too_large(conn) end
  local body, err, got = take(conn, len)
  if not body then
    return read_failed(conn, err, "truncated_body",
      format("connection closed after %d of %d body bytes", got, len))
  end
  return body
end

local HEX = {}
for i = 0, 9 do HEX[48 + i] = i end
for i = 0, 5 do HEX[65 + i], HEX[97 + i] = 10 + i, 10 + i end

-- "1a3", "1a3 ; ext=v" -> 419; nil for anything else (at most 12 hex digits).
local function chunk_size(line)
  local size, i, n = 0, 1, #line
  while i <= n and HEX[byte(line, i)] do
    size = size * 16 + HEX[byte(line, i)]
    i = i + 1
  end
  if i == 1 or i > 13 then return nil end
  while i <= n and (byte(line, i) == 32 or byte(line, i) == 9) do i = i + 1 end
  if i <= n and byte(line, i) ~= 59 then return nil end -- ";" starts an extension
  return size
end

-- Trailer fields after the last chunk: read and ignored, up to the empty line.
local function skip_trailer(conn)
  local size = 0
  while true do
    local line, err = take_line(conn, MAX_LINE)
    if not line then
      if err == "too long" then return fail(conn, "protocol_error", "trailer line too long") end
      return read_failed(conn, err, "truncated_body", "connection closed inside the trailer")
    end
    if line == "" then return true end
    size = size + #line
    if size > conn.target.max_header_size then
      return fail(conn, "protocol_error", "trailer larger than " .. conn.target.max_header_size .. " bytes")
    end
  end
end

local function read_chunked(conn)
  local parts, n, total = {}, 0, 0
  while true do
    local line, err = take_line(conn, MAX_LINE)
    if not line then
      if err == "too long" then return fail(conn, "protocol_error", "chunk-size line too long") end
      return read_failed(conn, err, "truncated_body", "connection closed inside a chunked body")
    end
    local size = chunk_size(line)
    if not size then return fail(conn, "protocol_error", "invalid chunk size") end
    if size == 0 then break end
    total = total + size
    if total > conn.target.max_body_size then return body_too_large(conn) end
    local data, rerr = take(conn, size + 2) -- the data and its CRLF
    if not data then
      return read_failed(conn, rerr, "truncated_body", "connection closed inside a chunk")
    end
    if sub(data, -2) ~= "\r\n" then return fail(conn, "protocol_error", "chunk not followed by CRLF") end
    n = n + 1
    parts[n] = sub(data, 1, -3)
  end
  local ok, err = skip_trailer(conn)
  if not ok then return nil, err end
  return concat(parts)
end

local function read_to_close(conn)
  local parts, n, total = { conn.buf }, 1, #conn.buf
  conn.buf = ""
  if total > conn.target.max_body_size then return body_too_large(conn) end
  while true do
    if not arm(conn) then return budget_spent(conn) end
    local data, err = conn.sock:receiveany(PIECE)
    if not data then
      if err == "closed" then break end
      return read_failed(conn, err, "truncated_body", "connection failed inside a close-delimited body")
    end
    total = total + #data
    if total > conn.target.max_body_size then return body_too_large(conn) end
    n = n + 1
    parts[n] = data
  end
  conn.keepalive = false
  return concat(parts)
end

--- read_body(conn) -> body | nil, err. After read_head; clears conn.keepalive
-- when the framing, or bytes beyond the response, leave the connection unusable.
function _M.read_body(conn)
  conn.phase = "reading the response body"
  local status, framing = conn.status, conn.framing
  local body, err
  if conn.method == "HEAD" or status == 204 or status == 304 then
    body = ""
  elseif framing == "length" then
    body, err = read_length(conn, conn.length)
  elseif framing == "close" then
    body, err = read_to_close(conn)
  else
    -- Both framings present: the message is suspect, do not reuse.
    if framing == "chunked+length" then conn.keepalive = false end
    body, err = read_chunked(conn)
  end
  if conn.buf ~= "" then conn.keepalive = false end
  return body, err
end

-- ---------------------------------------------------------------------------
-- Phase 5: keep-alive.

--- set_keepalive(conn, wants_close): the connection back to its pool when
-- the response allows it (and the caller did not ask to close), else closed.
function _M.set_keepalive(conn, wants_close)
  local sock = conn.sock
  conn.sock = false
  if conn.keepalive and not wants_close then
    local target = conn.target
    if sock:setkeepalive(target.keepalive_ms, target.pool_opts.pool_size) then return true end
  end
  sock:close()
  return true
end

-- ---------------------------------------------------------------------------
-- request(): the phases in order, for callers with a table of options.

local BODY_METHODS = { POST = true, PUT = true, PATCH = true }

local function check_request(opts)
  if type(opts) ~= "table" then
    error("paddle.ngx.http.request: expects a table of options", 3)
  end
  if not _M.available() then
    error("paddle.ngx.http.request: cosockets are not available here (needs nginx rewrite, access, "
      .. "content, timer or ssl phases)", 3)
  end
  local method = opts.method or "GET"
  if type(method) ~= "string" or not match(method, "^[A-Z]+$") then
    error("paddle.ngx.http: option 'method' must be an upper-case HTTP method", 3)
  end
  local body = opts.body
  if body ~= nil and type(body) ~= "string" then
    error("paddle.ngx.http: option 'body' must be a string or nil", 3)
  end
  return method, body
end

--- request(opts) -> res | nil, err. See the top of this file.
function _M.request(opts)
  local method, body = check_request(opts)
  local target, path = _M.target(opts, 2)
  local lines, wants_close = _M.header_block(opts.headers, target.host_header, 2)
  local length = body and #body or (BODY_METHODS[method] and 0 or nil)
  local head = request_head(nil, method, path, lines, length)

  local conn = _M.new_conn(target, method)
  local ok, err = _M.connect(conn)
  if ok then ok, err = _M.send_request(conn, head, body) end
  if ok then ok, err = _M.read_head(conn) end
  if not ok then return nil, err end
  local resp_body, berr = _M.read_body(conn)
  if not resp_body then return nil, berr end
  _M.set_keepalive(conn, wants_close)
  local headers, reason = http_headers(conn.head)
  return { status = conn.status, reason = reason, headers = headers, body = resp_body, reused = conn.reused }
end

return _M
