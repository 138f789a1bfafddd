-- paddle-mock: a local Paddle Billing API (customers and what hangs off
-- them) running inside nginx's Lua module. bin/paddle-mock generates the
-- nginx config that calls init (master), init_worker and handle (content).
--
-- A request goes: admin API (/__mock/) or else
--   faults -> rate limit -> API key -> route,
-- is logged for GET /__mock/requests, then answered (maybe late, cut or not at all).
-- Answering means setting ngx.status and ngx.header:
-- luacheck: ignore 122
local admin = require "paddle_mock.admin"
local auth = require "paddle_mock.auth"
local config = require "paddle_mock.config"
local errors = require "paddle_mock.errors"
local faults = require "paddle_mock.faults"
local json = require "paddle.json"
local ratelimit = require "paddle_mock.ratelimit"
local request = require "paddle_mock.request"
local requestlog = require "paddle_mock.requestlog"
local router = require "paddle_mock.router"

local assert = assert
local debug_traceback = debug.traceback
local floor = math.floor
local io_open = io.open
local lower = string.lower
local pairs = pairs
local randomseed = math.randomseed
local sub = string.sub
local tostring = tostring
local type = type
local xpcall = xpcall

local ngx = ngx
local ngx_log = ngx.log
local ERR = ngx.ERR

local _M = {}

local GARBAGE_HTML = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
  .. "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"

-- init_by_lua: the launcher's settings, written as JSON into the prefix.
function _M.init(settings_path)
  local f = assert(io_open(settings_path, "rb"))
  local text = f:read("*a")
  f:close()
  config.init(assert(json.decode(text, { arrays = true })))
end

function _M.init_worker()
  randomseed(floor(ngx.now() * 1000) + ngx.worker.pid() * 7919)
end

-- Runs fn(req); a Lua error becomes a Paddle-shaped 500.
local function protect(fn, req)
  local ok, status, body, headers = xpcall(fn, function(err)
    if type(err) == "table" and err.status then return err end
    return debug_traceback(tostring(err), 2)
  end, req)
  if ok then return status, body, headers end
  local err = status
  if type(err) == "table" then
    return errors.respond(req, err.status, "internal_error", err.detail)
  end
  ngx_log(ERR, "paddle-mock: ", err)
  return errors.respond(req, 500, "internal_error", "paddle-mock internal error: " .. err:match("^[^\n]*"))
end

local function api(req)
  local cfg = config.get()
  local retry_after = ratelimit.check(req.remote_addr, cfg.rate_limit)
  if retry_after then
    return errors.respond(req, 429, "too_many_requests",
      errors.RATE_LIMITED, nil, { ["Retry-After"] = tostring(retry_after) })
  end
  local status, body = auth.check(req, cfg.api_key)
  if status then return status, body end
  return router.dispatch(req)
end

local function has_content_type(headers)
  for k in pairs(headers or {}) do
    if lower(k) == "content-type" then return true end
  end
  return false
end

local function set_headers(status, body, headers)
  ngx.status = status
  if headers then
    for k, v in pairs(headers) do ngx.header[k] = v end
  end
  if body and not has_content_type(headers) then ngx.header["Content-Type"] = "application/json" end
  if body then ngx.header["Content-Length"] = #body end
end

local function send(status, body, headers)
  if status == 204 or status == 304 then body = nil end
  set_headers(status, body, headers)
  if body then ngx.print(body) end
end

-- The full Content-Length, half the body, then a closed connection.
local function send_truncated(status, body, headers)
  if not body or body == "" then return ngx.exit(444) end
  set_headers(status, body, headers)
  ngx.print(sub(body, 1, floor(#body / 2)))
  ngx.flush(true)
  return ngx.exit(ngx.ERROR)
end

-- A fault's replacement answer.
local function fault_answer(fault, req)
  local headers = {}
  for k, v in pairs(fault.headers or {}) do headers[k] = tostring(v) end
  if fault.action == "garbage" then
    if not has_content_type(headers) then headers["Content-Type"] = "text/html" end
    local body = fault.body
    if type(body) ~= "string" then body = GARBAGE_HTML end
    return fault.status or 502, body, headers
  end
  local body = fault.body
  if body == nil then
    body = errors.for_status(req.request_id, fault.status)
  elseif type(body) ~= "string" then
    body = assert(json.encode(body))
  end
  return fault.status, body, headers
end

function _M.handle()
  local req = request.current()
  ngx.header["Request-Id"] = req.request_id

  if sub(req.path, 1, 8) == "/__mock/" then
    return send(protect(admin.handle, req))
  end

  local fault = faults.match(req)
  local kind, status, body, headers
  if fault then
    kind = fault.action or (fault.status and "status") or "delay"
    if fault.status or kind == "garbage" then status, body, headers = fault_answer(fault, req) end
  end
  if not status and kind ~= "reset" then
    status, body, headers = protect(api, req)
  end
  requestlog.record(req, kind ~= "reset" and status or nil, kind)

  if fault and fault.delay_ms and fault.delay_ms > 0 then ngx.sleep(fault.delay_ms / 1000) end
  if kind == "reset" then return ngx.exit(444) end
  if kind == "truncate" then return send_truncated(status, body, headers) end
  return send(status, body, headers)
end

return _M
