-- Error answers in Paddle's shape:
--   {"error":{"type","code","detail","documentation_url"[,"errors"]},"meta":{"request_id"}}
local json = require "paddle.json"

local _M = {}

local DOCS = "https://developer.paddle.com/errors/"

-- Codes documented outside errors/shared/.
local doc_group = {
  customer_already_exists = "customers",
}

local ERROR_FIELDS = { "type", "code", "detail", "documentation_url", "errors" }

-- A 429 is an api_error like a 5xx: Paddle's error reference and a production
-- 429 quoted in paddle-node-sdk issue #93 ("Respect Paddle rate limit") say
-- type api_error, code too_many_requests (some SDK fixtures say request_error).
local function error_type(status)
  if status >= 500 or status == 429 then return "api_error" end
  return "request_error"
end

function _M.body(request_id, status, code, detail, errors)
  local err = {
    type = error_type(status),
    code = code,
    detail = detail,
    documentation_url = DOCS .. (doc_group[code] or "shared") .. "/" .. code,
  }
  local fields = ERROR_FIELDS
  if errors then
    err.errors = json.array(errors)
  else
    fields = { "type", "code", "detail", "documentation_url" }
  end
  return '{"error":' .. json.object(fields, err) .. ',"meta":{"request_id":'
    .. json.string(request_id) .. "}}"
end

-- Returns status, body, headers: what every handler returns.
function _M.respond(req, status, code, detail, errors, headers)
  return status, _M.body(req.request_id, status, code, detail, errors), headers
end

function _M.not_found(req, id)
  return _M.respond(req, 404, "not_found", id and ("Entity " .. id .. " not found") or "Entity not found")
end

-- fields: list of {field = ..., message = ...}
function _M.invalid(req, fields)
  return _M.respond(req, 400, "invalid_field", "Request does not pass validation.", fields)
end

function _M.bad_request(req, detail)
  return _M.respond(req, 400, "bad_request", detail or "Invalid request.")
end

-- Paddle's default body for a bare status, used by faults without a body.
local RATE_LIMITED = "IP address exceeded the allowed rate limit. "
  .. "Retry after the number of seconds in the Retry-After header."
_M.RATE_LIMITED = RATE_LIMITED

local by_status = {
  [400] = { "bad_request", "Invalid request." },
  [401] = { "authentication_missing", "Authentication header missing." },
  [403] = { "forbidden", "You do not have permission to perform this request." },
  [404] = { "not_found", "Entity not found" },
  [409] = { "conflict", "Request conflicts with the current state of the entity." },
  [429] = { "too_many_requests", RATE_LIMITED },
  [500] = { "internal_error", "An internal error has occurred, please try again later." },
  [502] = { "bad_gateway", "Bad gateway." },
  [503] = { "service_unavailable", "The service is temporarily unavailable, please try again later." },
  [504] = { "gateway_timeout", "Gateway timeout." },
}

function _M.for_status(request_id, status)
  local e = by_status[status] or { status >= 500 and "internal_error" or "bad_request", "Error " .. status }
  return _M.body(request_id, status, e[1], e[2])
end

return _M
