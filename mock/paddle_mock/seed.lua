-- Bulk seeding for tests and benchmarks (POST /__mock/seed): customers
-- written straight into the store, in blocks of reserved ids and slots, with
-- optional subscriptions and payment methods each. Seeding records no events.
local clock = require "paddle_mock.clock"
local customers = require "paddle_mock.customers"
local ids = require "paddle_mock.ids"
local json = require "paddle.json"
local payment_methods = require "paddle_mock.payment_methods"
local store = require "paddle_mock.store"
local subscriptions = require "paddle_mock.subscriptions"

local error = error
local lower = string.lower
local pairs = pairs
local pcall = pcall
local type = type

local null = json.null

local _M = {
  MAX_CUSTOMERS = 1000000,
}

local function whole(v, min, max)
  return type(v) == "number" and v % 1 == 0 and v >= min and v <= max
end

-- Validates a seed request; returns the options or nil and errors.
function _M.options(body)
  local errs = {}
  local o = {
    customers = body.customers or 0,
    subscriptions = body.subscriptions_per_customer or 0,
    payment_methods = body.payment_methods_per_customer or 0,
    domain = body.email_domain or "example.com",
    status = body.status or "active",
  }
  if not whole(o.customers, 0, _M.MAX_CUSTOMERS) then
    errs[#errs + 1] = { field = "customers",
      message = "must be a whole number from 0 to " .. _M.MAX_CUSTOMERS }
  end
  if not whole(o.subscriptions, 0, 100) then
    errs[#errs + 1] = { field = "subscriptions_per_customer",
      message = "must be a whole number from 0 to 100" }
  end
  if not whole(o.payment_methods, 0, 100) then
    errs[#errs + 1] = { field = "payment_methods_per_customer",
      message = "must be a whole number from 0 to 100" }
  end
  if type(o.domain) ~= "string" or not o.domain:find("^[%w.-]+%.%a+$") then
    errs[#errs + 1] = { field = "email_domain", message = "must be a domain like example.com" }
  end
  if o.status ~= "active" and o.status ~= "archived" then
    errs[#errs + 1] = { field = "status", message = "must be active or archived" }
  end
  for k in pairs(body) do
    if not ({ customers = 1, subscriptions_per_customer = 1, payment_methods_per_customer = 1,
      email_domain = 1, status = 1 })[k] then
      errs[#errs + 1] = { field = k, message = "unknown field" }
    end
  end
  if #errs > 0 then return nil, errs end
  return o
end

function _M.run(o)
  local started = clock.now_us()
  local n = o.customers
  local result = { customers = n, subscriptions = 0, payment_methods = 0, first_id = null, last_id = null }
  if n == 0 then return result end
  local first_time, first_slot = store.reserve("ctm", "ctm", n)
  local sub_time, sub_slot
  if o.subscriptions > 0 then sub_time, sub_slot = store.reserve("sub", "sub", n * o.subscriptions) end
  local now = clock.rfc3339(started)
  local fields = customers.FIELDS
  local t = { status = o.status, custom_data = null, marketing_consent = false, locale = "en",
    created_at = now, updated_at = now, import_meta = null }
  local domain = "@" .. lower(o.domain)
  local sub_fields = {}
  local done = 0
  local ok, err = pcall(function()
    for i = 0, n - 1 do
      local slot = first_slot + i
      local id = ids.make("ctm", first_time + i)
      local email = "seed" .. slot .. domain
      if not store.claim("e:" .. email, id) then
        email = "seed" .. slot .. "-" .. ids.random_chars(6) .. domain
        store.claim("e:" .. email, id)
      end
      t.id, t.email, t.name = id, email, "Seed Customer " .. slot
      store.put(id, json.object(fields, t))
      store.set_slot("ctm", slot, id)
      store.set("s:" .. id, lower(t.name .. "\n" .. email))
      done = done + 1
      for _ = 1, o.subscriptions do
        local sub_id = ids.make("sub", sub_time)
        store.put(sub_id, subscriptions.build(sub_id, id, sub_fields, started))
        store.set_slot("sub", sub_slot, sub_id)
        store.append(subscriptions.coll(id), sub_id)
        sub_time, sub_slot = sub_time + 1, sub_slot + 1
      end
      for _ = 1, o.payment_methods do payment_methods.create_record(id) end
      if i == 0 then result.first_id = id end
      result.last_id = id
    end
  end)
  -- Whatever was written counts, even when memory ran out half way.
  store.add_counter("ctm:" .. o.status, done)
  if not ok then error(err, 0) end
  result.subscriptions = n * o.subscriptions
  result.payment_methods = n * o.payment_methods
  result.seconds = (clock.now_us() - started) / 1e6
  return result
end

return _M
