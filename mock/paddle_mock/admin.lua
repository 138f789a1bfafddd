-- The admin API under /__mock/: no key, loopback clients only, not rate
-- limited, not logged, never faulted.
--   GET  /__mock/health                 {"data":{"status":"ok","instance":...}}
--   POST /__mock/reset                  empty store, faults, log; launcher's config
--   GET|POST /__mock/config             {"api_key":..., "rate_limit":{requests,per,block}|false}
--   GET|POST|DELETE /__mock/faults      the fault list (see faults.lua)
--   GET|DELETE /__mock/requests         the request log
--   POST /__mock/seed                   {"customers":N or [{email,...}], "subscriptions_per_customer":k, ...}
--   POST /__mock/subscriptions          {"customer_id":..., "status":..., "address_id":...} (201)
--   POST /__mock/payment-methods        {"customer_id":..., "type":..., "card":{...}, "address_id":...} (201)
-- A subscription or payment method made here names address_id, or else the
-- customer's first active address, made (address.created) when it has none;
-- it records subscription.created / payment_method.saved like a checkout.
--   POST /__mock/credit-balances        {"customer_id", "currency_code", "balance":{available,reserved,used}}
local config = require "paddle_mock.config"
local customers = require "paddle_mock.customers"
local events = require "paddle_mock.events"
local errors = require "paddle_mock.errors"
local faults = require "paddle_mock.faults"
local json = require "paddle.json"
local nested = require "paddle_mock.nested"
local payment_methods = require "paddle_mock.payment_methods"
local requestlog = require "paddle_mock.requestlog"
local seed = require "paddle_mock.seed"
local store = require "paddle_mock.store"
local subscriptions = require "paddle_mock.subscriptions"
local validate = require "paddle_mock.validate"

local assert = assert
local find = string.find
local pairs = pairs
local type = type

local _M = {}

local function ok(status, value)
  return status, '{"data":' .. assert(json.encode(value)) .. "}"
end

local function ok_raw(status, data_json)
  return status, '{"data":' .. data_json .. "}"
end

local function is_loopback(addr)
  return addr ~= nil and (find(addr, "^127%.") ~= nil or addr == "::1" or find(addr, "^unix:") ~= nil)
end

local function customer_or_404(req, body)
  local id = body.customer_id
  if type(id) ~= "string" or not find(id, "^ctm_") or not store.get(id) then
    return errors.not_found(req, type(id) == "string" and id or nil)
  end
end

-- body.address_id checked against the customer, or the customer's address.
-- Returns the fields to build with, or nil and the error answer.
local function with_address(req, body)
  local id = body.address_id
  if id == nil then
    id = nested.addresses:first_or_create(body.customer_id, seed.ADDRESS, true)
  elseif type(id) ~= "string" or not nested.addresses:find(body.customer_id, id) then
    return nil, errors.invalid(req, { { field = "address_id",
      message = "must be an address of customer " .. body.customer_id } })
  end
  local fields = {}
  for k, v in pairs(body) do fields[k] = v end
  fields.address_id = id
  return fields
end

local handlers = {}

-- instance: the launcher's token, so it knows it reached its own nginx.
handlers["GET /__mock/health"] = function()
  return ok(200, { status = "ok", instance = config.instance or json.null })
end

handlers["POST /__mock/reset"] = function()
  store.flush()
  faults.clear()
  requestlog.clear()
  config.reset()
  return ok(200, { reset = true })
end

handlers["GET /__mock/config"] = function()
  return ok(200, config.get())
end

handlers["POST /__mock/config"] = function(req, body)
  local cfg, errs = config.update(body)
  if not cfg then return errors.invalid(req, errs) end
  return ok(200, cfg)
end

handlers["GET /__mock/faults"] = function()
  return ok(200, faults.list())
end

handlers["POST /__mock/faults"] = function(req)
  local list, err = json.decode(req.body or "", { arrays = true })
  if list == nil then return errors.bad_request(req, "Invalid JSON in request body: " .. err) end
  if json.is_object(list) and list.faults ~= nil then list = list.faults end
  local set, errs = faults.set(list)
  if not set then return errors.invalid(req, errs) end
  return ok(200, faults.list())
end

handlers["DELETE /__mock/faults"] = function()
  faults.clear()
  return ok(200, faults.list())
end

handlers["GET /__mock/requests"] = function()
  return 200, requestlog.json()
end

handlers["DELETE /__mock/requests"] = function()
  requestlog.clear()
  return ok(200, json.array())
end

handlers["POST /__mock/seed"] = function(req, body)
  local o, errs = seed.options(body)
  if not o then return errors.invalid(req, errs) end
  return ok(200, seed.run(o))
end

-- A record of `entity` (subscriptions, payment_methods) for an existing
-- customer, with an address; `check(req, body)` may refuse the body first
-- (returning an answer). Records `event`.
local function create_for_customer(req, body, entity, event, check)
  local s, b = customer_or_404(req, body)
  if s then return s, b end
  if check then
    s, b = check(req, body)
    if s then return s, b end
  end
  local fields, status, answer = with_address(req, body)
  if not fields then return status, answer end
  local _, record = entity.create_record(body.customer_id, fields)
  events.record(event, record)
  return ok_raw(201, record)
end

handlers["POST /__mock/subscriptions"] = function(req, body)
  return create_for_customer(req, body, subscriptions, "subscription.created", function()
    if body.status ~= nil and not subscriptions.STATUSES[body.status] then
      return errors.invalid(req, { { field = "status",
        message = "must be one of: active, canceled, past_due, paused, trialing" } })
    end
  end)
end

handlers["POST /__mock/payment-methods"] = function(req, body)
  return create_for_customer(req, body, payment_methods, "payment_method.saved")
end

handlers["POST /__mock/credit-balances"] = function(req, body)
  local s, b = customer_or_404(req, body)
  if s then return s, b end
  if type(body.currency_code) ~= "string" or not find(body.currency_code, "^%u%u%u$") then
    return errors.invalid(req, { { field = "currency_code",
      message = "must be a three-letter currency code" } })
  end
  local balance = json.is_object(body.balance) and body.balance or {}
  return ok(201, customers.set_credit_balance(body.customer_id, body.currency_code, balance))
end

-- Handlers other than faults take a JSON object body (empty means {}).
local RAW_BODY = { ["POST /__mock/faults"] = true }

function _M.handle(req)
  if not is_loopback(req.remote_addr) then
    return errors.respond(req, 403, "forbidden", "The paddle-mock admin API answers loopback clients only.")
  end
  local key = req.method .. " " .. req.path
  local handler = handlers[key]
  if not handler then
    return errors.respond(req, 404, "not_found", "No admin endpoint " .. key .. ".")
  end
  if RAW_BODY[key] or req.method == "GET" or req.method == "DELETE" then return handler(req) end
  local body, detail = validate.body(req, true)
  if not body then return errors.bad_request(req, detail) end
  return handler(req, body)
end

return _M
