-- paddle.webhooks: verify Paddle-Signature on raw webhook bodies, decode
-- verified events, sign bodies for tests, and remember processed event ids.
--
--   local webhooks = require "paddle.webhooks"
--   local ok, err = webhooks.verify(raw_body, signature_header, secret, { tolerance = 5 })
--   local event, err = webhooks.parse(raw_body, signature_header, { new_secret, old_secret })
--   local v = webhooks.verifier{ secrets = { new_secret, old_secret } }  -- keyed once
--   local ok, err = v:verify(raw_body, signature_header)
--   local header = webhooks.sign(raw_body, secret, ts)
--   local seen = webhooks.deduper{ ttl = 86400, shared_dict = "paddle_webhooks" }
--
-- Bad signatures are runtime failures (`nil, err`, err.code one of
-- missing_signature, malformed_signature, signature_mismatch,
-- timestamp_out_of_tolerance); wrong argument types raise.
local core = require "paddle.core"
local errors = require "paddle.errors"
local dedupe = require "paddle.webhooks.dedupe"

local type = type
local error = error
local rawget = rawget
local tostring = tostring
local format = string.format
local floor = math.floor
local decode = require("paddle.json").decode -- one codec, one NaN rule
local hmac_hex = core.hmac_sha256_hex
local new_error = errors.new

-- The C core checks every argument (misuse raises at our caller's line) and
-- answers true | nil, err with err built by new_error.
local bound = core.webhook_bind(new_error)
local verify_for_parse = bound.verify_for_parse
local method_verify_for_parse = bound.method_verify_for_parse
local new_verifier = bound.verifier

local ngx = rawget(_G, "ngx")
-- Default ts for sign(): whole seconds; ngx.time is cached by nginx.
local clock = ngx and ngx.time or os.time

local _M = {
  _VERSION = core._VERSION,
  DEFAULT_TOLERANCE = core.webhook_default_tolerance, -- seconds, both directions
  -- The header Paddle sends (ngx.req.get_headers() also answers in lowercase).
  SIGNATURE_HEADER = "Paddle-Signature",
}

-- verify(raw_body, header, secret_or_secrets[, { tolerance = 5, now = n|fn }])
-- -> true | nil, err. The body must be the exact bytes Paddle sent; header
-- may be nil (missing_signature). now defaults to the system clock. Keyed
-- contexts are cached per secret string until the next garbage collection;
-- a verifier owns its own and wipes them on close.
_M.verify = bound.verify

-- An authentic body -> event table | nil, err (invalid_payload).
local function decode_event(body)
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

-- parse(...) -> event table (event_id, event_type, occurred_at,
-- notification_id, data) | nil, err. Verifies first; err.code is
-- invalid_payload when an authentic body is not a Paddle event.
function _M.parse(body, header, secrets, opts)
  local ok, err = verify_for_parse(body, header, secrets, opts) -- not a tail call: blames our caller
  if not ok then return nil, err end
  return decode_event(body)
end

-- verifier{ secrets = secret_or_secrets } -> object with
--   :verify(raw_body, header[, opts]) -> true | nil, err
--   :parse(raw_body, header[, opts])  -> event | nil, err
--   :close()  wipes the keyed contexts (also on GC and, in Lua 5.4, __close)
-- Holds one keyed HMAC context per secret: the fastest way to verify.
function _M.verifier(opts)
  if type(opts) ~= "table" then
    error("bad argument #1 to 'verifier' (options table expected, got " .. type(opts) .. ")", 2)
  end
  local v = new_verifier(opts.secrets) -- not a tail call: blames our caller
  return v
end

function bound.methods.parse(self, body, header, opts)
  local ok, err = method_verify_for_parse(self, body, header, opts) -- not a tail call
  if not ok then return nil, err end
  return decode_event(body)
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
