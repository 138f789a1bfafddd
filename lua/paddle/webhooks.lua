-- paddle.webhooks: verify Paddle-Signature on raw webhook bodies, decode
-- verified events, sign bodies for tests, and remember processed event ids.
--
--   local webhooks = require "paddle.webhooks"
--   local ok, err = webhooks.verify(raw_body, signature_header, secret, { tolerance = 5 })
--   local event, err = webhooks.parse(raw_body, signature_header, { new_secret, old_secret })
--   local header = webhooks.sign(raw_body, secret, ts)
--   local seen = webhooks.deduper{ ttl = 86400, shared_dict = "paddle_webhooks" }
--
-- Bad signatures are runtime failures (`nil, err`, err.code one of
-- missing_signature, malformed_signature, signature_mismatch,
-- timestamp_out_of_tolerance); wrong argument types raise.
local core = require "paddle.core"
local errors = require "paddle.errors"
local dedupe = require "paddle.webhooks.dedupe"
local cjson = require "cjson.safe"

local type = type
local error = error
local rawget = rawget
local tostring = tostring
local format = string.format
local floor = math.floor
local decode = cjson.decode
local core_verify = core.webhook_verify
local hmac_hex = core.hmac_sha256_hex
local new_error = errors.new

local ngx = rawget(_G, "ngx")
-- Default ts for sign(): whole seconds; ngx.time is cached by nginx.
local clock = ngx and ngx.time or os.time

local _M = {
  _VERSION = core._VERSION,
  DEFAULT_TOLERANCE = core.webhook_default_tolerance, -- seconds, both directions
  -- The header Paddle sends (ngx.req.get_headers() also answers in lowercase).
  SIGNATURE_HEADER = "Paddle-Signature",
}

-- The C core checks every argument, options included (cheaper than type()
-- calls in Lua 5.4), and answers true | nil, code, detail, or for misuse
-- false, argn, message, raised here at level 3: failure <- verify/parse <-
-- their caller.
local function failure(ok, code, detail, fname)
  if ok == false then
    error(format("bad argument #%d to '%s' (%s)", code, fname, detail), 3)
  end
  return nil, new_error { type = "webhook_error", code = code, detail = detail }
end

-- verify(raw_body, header, secret_or_secrets[, { tolerance = 5, now = n|fn }])
-- -> true | nil, err. The body must be the exact bytes Paddle sent; header
-- may be nil (missing_signature). now defaults to the system clock.
function _M.verify(body, header, secrets, opts)
  local ok, code, detail = core_verify(body, header, secrets, opts)
  if ok then return true end
  local _, err = failure(ok, code, detail, "verify") -- not a tail call: see failure
  return nil, err
end

-- parse(...) -> event table (event_id, event_type, occurred_at,
-- notification_id, data) | nil, err. Verifies first; err.code is
-- invalid_payload when an authentic body is not a Paddle event.
function _M.parse(body, header, secrets, opts)
  local ok, code, detail = core_verify(body, header, secrets, opts)
  if not ok then
    local _, err = failure(ok, code, detail, "parse")
    return nil, err
  end
  local event, jerr = decode(body)
  if type(event) ~= "table" then
    return nil, new_error {
      type = "webhook_error",
      code = "invalid_payload",
      detail = "body is not a JSON object" .. (jerr and ": " .. tostring(jerr) or ""),
    }
  end
  if type(event.event_id) ~= "string" or type(event.event_type) ~= "string" then
    return nil, new_error {
      type = "webhook_error",
      code = "invalid_payload",
      detail = "body has no event_id and event_type strings",
    }
  end
  return event
end

-- sign(raw_body, secret[, ts]) -> "ts=<ts>;h1=<hex>", as Paddle would send it.
function _M.sign(body, secret, ts)
  if type(body) ~= "string" then
    error("bad argument #1 to 'sign' (raw body string expected, got " .. type(body) .. ")", 2)
  end
  if type(secret) ~= "string" or secret == "" then
    error("bad argument #2 to 'sign' (non-empty secret string expected)", 2)
  end
  if ts == nil then ts = clock() end
  if type(ts) ~= "number" or ts < 0 or ts >= 2 ^ 53 or floor(ts) ~= ts then
    error("bad argument #3 to 'sign' (ts must be a whole number of seconds >= 0)", 2)
  end
  local ts_text = format("%d", ts)
  return "ts=" .. ts_text .. ";h1=" .. hmac_hex(secret, ts_text .. ":" .. body)
end

-- deduper{ ttl = 86400, shared_dict = "name" | dict | redis = "redis://...", prefix =, now =,
--   max_entries = }
-- -> object with :claim(event_id) and :release(event_id); see paddle.webhooks.dedupe.
function _M.deduper(opts)
  local seen = dedupe.new(opts, 2) -- not a tail call: level 2 must be our caller
  return seen
end

return _M
