-- RESP2 over OpenResty cosockets: the non-blocking twin of the C client in
-- csrc/resp.c, with the same command() results. A socket is made per command
-- and handed back to nginx's keepalive pool (cosockets cannot outlive the
-- request that made them); `setup` runs on each fresh connection (AUTH,
-- SELECT), so a pooled connection is already authenticated.
local ngx = ngx
local concat = table.concat
local sub = string.sub
local tonumber = tonumber
local tostring = tostring
local select = select

local _M = {}

local POOL_IDLE_MS = 30000
local POOL_SIZE = 32
local MAX_DEPTH = 8

local function encode(args, n)
  local parts = { "*" .. n .. "\r\n" }
  for i = 1, n do
    local a = args[i]
    parts[#parts + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
  end
  return concat(parts)
end

-- read_reply(sock) -> value | nil, message, "redis" | nil, message, "io"
local function read_reply(sock, depth)
  local line, err = sock:receive("*l")
  if not line then return nil, "redis receive: " .. tostring(err), "io" end
  local kind, rest = sub(line, 1, 1), sub(line, 2)
  if kind == "+" then return rest end
  if kind == "-" then return nil, rest, "redis" end
  local n = tonumber(rest)
  if not n then return nil, "redis protocol error: bad length", "io" end
  if kind == ":" then return n end
  if kind == "$" then
    if n < 0 then return false end
    local data
    data, err = sock:receive(n + 2)
    if not data then return nil, "redis receive: " .. tostring(err), "io" end
    return sub(data, 1, n)
  end
  if kind == "*" then
    if n < 0 then return false end
    if depth >= MAX_DEPTH then return nil, "redis protocol error: nesting too deep", "io" end
    local list = {}
    for i = 1, n do
      local v, e, k = read_reply(sock, depth + 1)
      if v == nil then
        if k == "io" then return nil, e, k end
        v = e -- an error inside an array reads as its message, as in C
      end
      list[i] = v
    end
    return list
  end
  return nil, "redis protocol error: unknown reply type", "io"
end

-- new(host, port, timeout, setup, pool) -> connection; setup(command) runs the
-- commands a fresh connection needs through `command` and returns true or
-- nil, err, kind. pool names the keep-alive pool: one per credentials and db,
-- so a pooled connection is always already set up for them.
function _M.new(host, port, timeout, setup, pool)
  local conn = {}

  local function exchange(s, ...)
    local ok, err = s:send(encode({ ... }, select("#", ...)))
    if not ok then return nil, "redis send: " .. tostring(err), "io" end
    return read_reply(s, 0)
  end

  -- Several requests of one worker may be inside command() at once: all
  -- state is local to the call.
  function conn.command(_, ...)
    local s = ngx.socket.tcp()
    s:settimeout(timeout * 1000)
    local ok, err = s:connect(host, port, { pool = pool })
    if not ok then return nil, "redis " .. host .. ":" .. port .. ": connect: " .. tostring(err), "io" end
    if s:getreusedtimes() == 0 and setup then
      local done, serr, kind = setup(function(...) return exchange(s, ...) end)
      if not done then
        s:close()
        return nil, serr, kind
      end
    end
    local value, verr, kind = exchange(s, ...)
    if kind == "io" then
      s:close()
    else
      s:setkeepalive(POOL_IDLE_MS, POOL_SIZE)
    end
    return value, verr, kind
  end

  function conn.close() end -- pooled sockets belong to nginx

  return conn
end

return _M
