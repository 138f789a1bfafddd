-- Subscriptions, read-only through the API (GET /subscriptions[?customer_id=],
-- GET /subscriptions/{id}). They come from seeding or POST /__mock/subscriptions,
-- since subscriptions are made by checkouts, not by the customers API.
local clock = require "paddle_mock.clock"
local errors = require "paddle_mock.errors"
local json = require "paddle.json"
local listing = require "paddle_mock.listing"
local store = require "paddle_mock.store"

local ipairs = ipairs
local match = string.match

local null = json.null
local raw = json.raw
local object = json.object

local _M = {}

_M.STATUSES = { active = true, canceled = true, past_due = true, paused = true, trialing = true }
local COLL = "sub"
local FIELDS = { "id", "status", "customer_id", "address_id", "business_id", "currency_code",
  "created_at", "updated_at", "started_at", "first_billed_at", "next_billed_at", "paused_at",
  "canceled_at", "collection_mode", "billing_details", "current_billing_period", "billing_cycle",
  "scheduled_change", "items", "custom_data", "management_urls", "discount", "import_meta" }
local ITEM_FIELDS = { "status", "quantity", "recurring", "created_at", "updated_at",
  "previously_billed_at", "next_billed_at", "trial_dates", "price", "product" }
local MONTH_US = 30 * 24 * 3600 * 1000000

local BILLING_CYCLE = object({ "frequency", "interval" }, { frequency = 1, interval = "month" })
local PRICE = object({ "id", "product_id", "type", "description", "name", "tax_mode", "billing_cycle",
  "trial_period", "unit_price", "unit_price_overrides", "custom_data", "status", "quantity",
  "import_meta", "created_at", "updated_at" }, {
  id = "pri_01gsz8x8sawmvhz1pv30nge1ke", product_id = "pro_01gsz4t5hdjse780zja8vvr7jg",
  type = "standard", description = "Monthly", name = "Monthly (per seat)", tax_mode = "account_setting",
  billing_cycle = raw(BILLING_CYCLE), trial_period = null,
  unit_price = raw(object({ "amount", "currency_code" }, { amount = "3000", currency_code = "USD" })),
  unit_price_overrides = json.array(), custom_data = null, status = "active",
  quantity = raw(object({ "minimum", "maximum" }, { minimum = 1, maximum = 999 })), import_meta = null,
  created_at = "2023-02-23T13:55:22.538367Z", updated_at = "2024-04-11T13:54:52.254748Z",
})
local PRODUCT = object({ "id", "name", "type", "tax_category", "description", "image_url", "custom_data",
  "status", "import_meta", "created_at", "updated_at" }, {
  id = "pro_01gsz4t5hdjse780zja8vvr7jg", name = "AeroEdit Pro", type = "standard",
  tax_category = "standard", description = "Designed for professional pilots.", image_url = null,
  custom_data = null, status = "active", import_meta = null,
  created_at = "2023-02-23T12:43:46.605Z", updated_at = "2024-04-05T15:53:44.687Z",
})

local function coll(customer_id)
  return "sub:" .. customer_id
end
_M.coll = coll

-- The JSON of a subscription; fields may set status, address_id,
-- business_id, currency_code, collection_mode, custom_data.
function _M.build(id, customer_id, fields, now_us)
  local now = clock.rfc3339(now_us)
  local next_billed = clock.rfc3339(now_us + MONTH_US)
  local status = fields.status or "active"
  local live = status == "active" or status == "trialing" or status == "past_due"
  local period = object({ "starts_at", "ends_at" }, { starts_at = now, ends_at = next_billed })
  local item = object(ITEM_FIELDS, {
    status = "active", quantity = 1, recurring = true, created_at = now, updated_at = now,
    previously_billed_at = now, next_billed_at = live and next_billed or null, trial_dates = null,
    price = raw(PRICE), product = raw(PRODUCT),
  })
  local portal = "https://sandbox-customer-portal.paddle.com/subscriptions/" .. id
  return object(FIELDS, {
    id = id, status = status, customer_id = customer_id, address_id = fields.address_id or null,
    business_id = fields.business_id or null, currency_code = fields.currency_code or "USD",
    created_at = now, updated_at = now, started_at = now, first_billed_at = now,
    next_billed_at = live and next_billed or null,
    paused_at = status == "paused" and now or null, canceled_at = status == "canceled" and now or null,
    collection_mode = fields.collection_mode or "automatic", billing_details = null,
    current_billing_period = live and raw(period) or null, billing_cycle = raw(BILLING_CYCLE),
    scheduled_change = null, items = raw("[" .. item .. "]"), custom_data = fields.custom_data or null,
    management_urls = raw(object({ "update_payment_method", "cancel" }, {
      update_payment_method = portal .. "/update-payment-method", cancel = portal .. "/cancel" })),
    discount = null, import_meta = null,
  })
end

function _M.create_record(customer_id, fields)
  local now_us = clock.now_us()
  return store.insert("sub", { COLL, coll(customer_id) }, function(id)
    return _M.build(id, customer_id, fields or {}, now_us)
  end)
end

local function status_of(record)
  return match(record, '^{"id":"[^"]*","status":"([%a_]+)"')
end

function _M.list(req)
  local errs = {}
  local wanted
  local statuses = listing.list_arg(req, "status", errs)
  if statuses then
    wanted = {}
    for _, s in ipairs(statuses) do
      if not _M.STATUSES[s] then
        errs[#errs + 1] = { field = "status",
          message = "must be one of: active, canceled, past_due, paused, trialing" }
        break
      end
      wanted[s] = true
    end
  end
  local spec = { coll = COLL, prefix = "sub" }
  local customers = listing.list_arg(req, "customer_id", errs)
  local id_list = listing.list_arg(req, "id", errs)
  local in_customers
  if customers then
    local candidates = {}
    in_customers = {}
    for _, c in ipairs(customers) do
      in_customers[c] = true
      local cc = coll(c)
      for s = 1, store.count(cc) do candidates[#candidates + 1] = store.slot(cc, s) end
    end
    spec.candidates = candidates
  end
  if id_list then spec.candidates = id_list end
  if wanted or (id_list and customers) then
    spec.match = function(_, record)
      if wanted and not wanted[status_of(record)] then return false end
      if id_list and customers then
        return in_customers[match(record, '"customer_id":"([^"]*)"')] == true
      end
      return true
    end
  elseif not spec.candidates then
    spec.total = store.count(COLL)
  end
  return listing.list(req, spec, errs, errors.invalid)
end

function _M.get(req, id)
  return listing.get(req, "sub", id)
end

return _M
