-- The log of API requests, for GET /__mock/requests: what a client really
-- sent, with the Authorization value redacted. Admin requests are not logged.
local clock = require "paddle_mock.clock"
local json = require "paddle.json"

local concat = table.concat
local find = string.find
local ipairs = ipairs
local max = math.max
local pairs = pairs
local type = type

local log = ngx.shared.paddle_mock_log

local _M = {
  MAX_RETURNED = 10000,
}

local FIELDS = { "request_id", "time", "method", "path", "query", "body", "headers", "status",
  "fault", "connection", "connection_requests", "remote_addr" }

local function redact(value)
  if type(value) == "table" then
    local out = {}
    for i, v in ipairs(value) do out[i] = redact(v) end
    return json.array(out)
  end
  if find(value, "^[Bb][Ee][Aa][Rr][Ee][Rr] ") then return "Bearer [REDACTED]" end
  return "[REDACTED]"
end

-- status: what the client gets (null when the connection is reset).
function _M.record(req, status, fault_kind)
  local headers = {}
  for name, value in pairs(req.headers) do
    if name == "authorization" then value = redact(value) end
    headers[name] = value
  end
  local entry = json.object(FIELDS, {
    request_id = req.request_id,
    time = clock.rfc3339(),
    method = req.method,
    path = req.path,
    query = req.query,
    body = req.body or "",
    headers = headers,
    status = status or json.null,
    fault = fault_kind or json.null,
    connection = req.connection,
    connection_requests = req.connection_requests,
    remote_addr = req.remote_addr,
  })
  local n = log:incr("n", 1, 0)
  log:set("l:" .. n, entry) -- plain set: when full, the oldest entries go
end

function _M.json()
  local n = log:get("n") or 0
  local out = {}
  for i = max(1, n - _M.MAX_RETURNED + 1), n do
    local entry = log:get("l:" .. i)
    if entry then out[#out + 1] = entry end
  end
  return '{"data":[' .. concat(out, ",") .. "]}"
end

function _M.clear()
  log:flush_all()
end

return _M
