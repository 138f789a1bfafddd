-- The OpenResty transport: HTTP over cosockets (paddle.ngx.http), sleeping
-- with ngx.sleep, so a Paddle call never blocks the nginx worker. libcurl is
-- never loaded on this path.
local core = require "paddle.core"
local http = require "paddle.ngx.http"

local ngx = ngx
local floor = math.floor
local format = string.format
local pairs = pairs

local function ngx_lua_version()
  local v = ngx.config and ngx.config.ngx_lua_version
  if not v then return "?" end
  return format("%d.%d.%d", floor(v / 1000000), floor(v / 1000) % 1000, v % 1000)
end

local _M = { name = "ngx", version = ngx_lua_version() }

-- Methods whose request carries a body even when empty (Content-Length: 0).
local BODY_METHODS = { POST = true, PUT = true, PATCH = true }

function _M.new(opts)
  local t = { name = _M.name }
  local base, last_headers = {}, {}

  -- ngx.sleep rounds to milliseconds; a shorter wait would spin at 0.
  function t.sleep(seconds)
    ngx.sleep(seconds < 0.001 and 0.001 or seconds)
  end

  function t.set_headers(headers) base = headers end

  function t.send(session, method, url, body, timeout)
    local h = {}
    for name, value in pairs(base) do h[name] = value end
    h["Authorization"] = core.bearer(session) -- built per request, never stored
    if body == nil and BODY_METHODS[method] then body = "" end
    local res, err = http.request {
      url = url, method = method, headers = h, body = body,
      connect_timeout = opts.connect_timeout < timeout and opts.connect_timeout or timeout,
      timeout = timeout, ssl_verify = true,
    }
    if not res then return nil, err.code, err.detail, err.sent end
    last_headers = res.headers
    return res.status, res.body, res.headers["request-id"], res.headers["retry-after"]
  end

  function t.headers() return last_headers end

  function t.close() end -- sockets live per request; nothing to release

  return t
end

return _M
