-- Saved payment methods of a customer: list, get, delete. Paddle saves them
-- at checkout; here the admin API (POST /__mock/payment-methods, or seeding)
-- creates them.
local clock = require "paddle_mock.clock"
local errors = require "paddle_mock.errors"
local events = require "paddle_mock.events"
local json = require "paddle.json"
local listing = require "paddle_mock.listing"
local store = require "paddle_mock.store"

local find = string.find
local ipairs = ipairs
local pairs = pairs

local null = json.null

local _M = {}

local FIELDS = { "id", "customer_id", "address_id", "type", "card", "paypal", "underlying_details",
  "origin", "saved_at", "updated_at" }
local CARD_FIELDS = { "cardholder_name", "type", "last4", "expiry_month", "expiry_year" }

local function coll(customer_id)
  return "paymtd:" .. customer_id
end

local function customer_exists(id)
  return find(id, "^ctm_") ~= nil and store.get(id) ~= nil
end

local function find_method(customer_id, id)
  if not find(id, "^paymtd_") then return nil end
  local record = store.get(id)
  if record and find(record, '"customer_id":"' .. customer_id .. '"', 1, true) then return record end
  return nil
end

-- fields may set address_id, type, card (merged over a test Visa), paypal, origin.
function _M.create_record(customer_id, fields)
  fields = fields or {}
  local now = clock.rfc3339()
  return store.insert("paymtd", { coll(customer_id) }, function(id)
    local kind = fields.type or "card"
    local card = null
    if kind == "card" then
      local c = { cardholder_name = "Sam Miller", type = "visa", last4 = "4242", expiry_month = 12,
        expiry_year = 2030 }
      if json.is_object(fields.card) then
        for k, v in pairs(fields.card) do c[k] = v end
      end
      card = json.raw(json.object(CARD_FIELDS, c)) -- in Paddle's field order
    end
    local paypal = null
    if kind == "paypal" then
      paypal = json.is_object(fields.paypal) and fields.paypal
        or { email = "sam@example.com", reference = "BAID-" .. id:sub(8, 20):upper() }
    end
    return json.object(FIELDS, {
      id = id, customer_id = customer_id, address_id = fields.address_id or null, type = kind,
      card = card, paypal = paypal, underlying_details = null,
      origin = fields.origin or "saved_during_purchase", saved_at = now, updated_at = now,
    })
  end)
end

function _M.list(req, customer_id)
  if not customer_exists(customer_id) then return errors.not_found(req, customer_id) end
  local errs = {}
  local addresses = listing.list_arg(req, "address_id", errs)
  local wanted
  if addresses then
    wanted = {}
    for _, a in ipairs(addresses) do wanted['"address_id":"' .. a .. '"'] = true end
  end
  return listing.list(req, {
    coll = coll(customer_id),
    match = wanted and function(_, record)
      local tag = record:match('("address_id":"[^"]*")')
      return tag ~= nil and wanted[tag] == true
    end,
  }, errs, errors.invalid)
end

function _M.get(req, customer_id, id)
  if not customer_exists(customer_id) then return errors.not_found(req, customer_id) end
  local record = find_method(customer_id, id)
  if not record then return errors.not_found(req, id) end
  return listing.one(req, 200, record)
end

-- 204 with no body, like Paddle.
function _M.delete(req, customer_id, id)
  if not customer_exists(customer_id) then return errors.not_found(req, customer_id) end
  local record = find_method(customer_id, id)
  if not record then return errors.not_found(req, id) end
  store.delete(id)
  events.record("payment_method.deleted", record)
  return 204, nil
end

return _M
