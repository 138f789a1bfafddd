-- API key check. With a key configured only "Bearer <key>" passes; without
-- one any Bearer token does. A missing header is 403 authentication_missing
-- (Paddle's error reference: errors/shared/authentication_missing is a 403),
-- a header that is not "Bearer <token>" 403 authentication_malformed, a wrong
-- key 403 invalid_token.
local errors = require "paddle_mock.errors"

local match = string.match
local type = type

local _M = {}

-- Returns nil when authorized, else status, body.
function _M.check(req, api_key)
  local header = req.headers["authorization"]
  if type(header) == "table" then header = header[1] end
  if header == nil or header == "" then
    return errors.respond(req, 403, "authentication_missing", "Authentication header missing.")
  end
  local token = match(header, "^[Bb][Ee][Aa][Rr][Ee][Rr] +(%S+)%s*$")
  if not token then
    return errors.respond(req, 403, "authentication_malformed",
      "Authentication header included, but incorrectly formatted.")
  end
  if type(api_key) == "string" and token ~= api_key then
    return errors.respond(req, 403, "invalid_token", "Invalid or revoked API key.")
  end
  return nil
end

return _M
