-- Bulk seeding for tests and benchmarks (POST /__mock/seed):
--   customers: N        N generated customers (seed<slot>@<email_domain>),
--                       written straight into the store in blocks of reserved
--                       ids and slots (fast enough for a million);
--   customers: [{...}]  these customers: email (required), name, custom_data,
--                       status, locale, checked like POST /customers; the
--                       whole list is checked before anything is written;
-- and for each customer subscriptions_per_customer subscriptions and
-- payment_methods_per_customer saved payment methods, which name an address
-- of the customer (one is made when they need it), as Paddle's always do.
-- events: true records customer.created and address.created events for what
-- is seeded (off by default: a seeded store is the state before the test).
local clock = require "paddle_mock.clock"
local customers = require "paddle_mock.customers"
local events = require "paddle_mock.events"
local ids = require "paddle_mock.ids"
local json = require "paddle.json"
local nested = require "paddle_mock.nested"
local payment_methods = require "paddle_mock.payment_methods"
local store = require "paddle_mock.store"
local subscriptions = require "paddle_mock.subscriptions"
local validate = require "paddle_mock.validate"

local error = error
local ipairs = ipairs
local lower = string.lower
local pairs = pairs
local pcall = pcall
local type = type

local null = json.null
local addresses = nested.addresses

local _M = {
  MAX_CUSTOMERS = 1000000,
  MAX_LISTED = 10000,
}

-- The address a seeded (or admin-made) subscription or payment method names
-- when the customer has none.
local SEED_ADDRESS = { country_code = "US", postal_code = "10021" }
_M.ADDRESS = SEED_ADDRESS

local KNOWN = { customers = 1, subscriptions_per_customer = 1, payment_methods_per_customer = 1,
  email_domain = 1, status = 1, events = 1 }

local function whole(v, min, max)
  return type(v) == "number" and v % 1 == 0 and v >= min and v <= max
end

-- Problems of an explicit customer list, appended to errs: each entry as
-- POST /customers would check it, emails unique in the list and not taken.
local function check_list(list, errs)
  if #list > _M.MAX_LISTED then
    errs[#errs + 1] = { field = "customers", message = "at most " .. _M.MAX_LISTED .. " listed customers" }
    return
  end
  local seen = {}
  for i, c in ipairs(list) do
    local at = "customers[" .. (i - 1) .. "]"
    if not json.is_object(c) then
      errs[#errs + 1] = { field = at, message = "must be an object" }
    else
      for _, e in ipairs(validate.check(c, customers.SEED)) do
        errs[#errs + 1] = { field = at .. "." .. e.field, message = e.message }
      end
      if type(c.email) == "string" then
        local key = lower(c.email)
        local owner = customers.email_owner(c.email)
        if seen[key] then
          errs[#errs + 1] = { field = at .. ".email",
            message = "repeats customers[" .. seen[key] .. "].email" }
        elseif owner then
          errs[#errs + 1] = { field = at .. ".email", message = "conflicts with customer of id " .. owner }
        end
        seen[key] = seen[key] or (i - 1)
      end
    end
  end
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
    events = body.events or false,
  }
  if json.is_array(o.customers) then
    o.list = o.customers
    check_list(o.list, errs)
  elseif not whole(o.customers, 0, _M.MAX_CUSTOMERS) then
    errs[#errs + 1] = { field = "customers",
      message = "must be a whole number from 0 to " .. _M.MAX_CUSTOMERS .. ", or a list of customers" }
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
  if type(o.events) ~= "boolean" then
    errs[#errs + 1] = { field = "events", message = "must be true or false" }
  end
  for k in pairs(body) do
    if not KNOWN[k] then errs[#errs + 1] = { field = k, message = "unknown field" } end
  end
  if #errs > 0 then return nil, errs end
  return o
end

-- Subscriptions and payment methods of one new customer, and their address.
-- new_subscription(customer_id, fields) stores one subscription.
local function attach(customer_id, o, new_subscription)
  if o.subscriptions == 0 and o.payment_methods == 0 then return end
  local address_id = addresses:first_or_create(customer_id, SEED_ADDRESS, o.events)
  local fields = { address_id = address_id }
  for _ = 1, o.subscriptions do new_subscription(customer_id, fields) end
  for _ = 1, o.payment_methods do payment_methods.create_record(customer_id, fields) end
end

local function run_list(o, result)
  local listed = {}
  for i, c in ipairs(o.list) do
    local _, record = customers.create_record(c)
    local id = record:match('^{"id":"([^"]*)"')
    if o.events then events.record("customer.created", record) end
    attach(id, o, subscriptions.create_record)
    listed[i] = id
  end
  result.ids = json.array(listed)
  result.first_id = listed[1] or null
  result.last_id = listed[#listed] or null
end

local function run_counted(o, result, started)
  local n = o.customers
  local first_time, first_slot = store.reserve("ctm", "ctm", n)
  local sub_time, sub_slot
  if o.subscriptions > 0 then sub_time, sub_slot = store.reserve("sub", "sub", n * o.subscriptions) end
  local function new_subscription(customer_id, fields)
    local sub_id = ids.make("sub", sub_time)
    store.put(sub_id, subscriptions.build(sub_id, customer_id, fields, started))
    store.set_slot("sub", sub_slot, sub_id)
    store.append(subscriptions.coll(customer_id), sub_id)
    sub_time, sub_slot = sub_time + 1, sub_slot + 1
  end
  local now = clock.rfc3339(started)
  local fields = customers.FIELDS
  local t = { status = o.status, custom_data = null, marketing_consent = false, locale = "en",
    created_at = now, updated_at = now, import_meta = null }
  local domain = "@" .. lower(o.domain)
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
      local record = json.object(fields, t)
      store.put(id, record)
      store.set_slot("ctm", slot, id)
      store.set("s:" .. id, lower(t.name .. "\n" .. email))
      done = done + 1
      if o.events then events.record("customer.created", record) end
      attach(id, o, new_subscription)
      if i == 0 then result.first_id = id end
      result.last_id = id
    end
  end)
  -- Whatever was written counts, even when memory ran out half way.
  store.add_counter("ctm:" .. o.status, done)
  if not ok then error(err, 0) end
end

function _M.run(o)
  local started = clock.now_us()
  local result = { customers = 0, subscriptions = 0, payment_methods = 0, first_id = null, last_id = null }
  local n = o.list and #o.list or o.customers
  if n == 0 then return result end
  if o.list then run_list(o, result) else run_counted(o, result, started) end
  result.customers = n
  result.subscriptions = n * o.subscriptions
  result.payment_methods = n * o.payment_methods
  result.seconds = (clock.now_us() - started) / 1e6
  return result
end

return _M
