-- lua-paddle's resource functions against `prism mock` with Paddle's OpenAPI
-- document: Prism checks every request the client builds (path, query,
-- headers, body) and answers 422 (or 401/404) when the document refuses it,
-- which the client returns as an error: any such error fails the run. The
-- answers are the document's examples, so this checks requests, not data.
local paddle = require "paddle"
local tap = require "contract.tap"

local concat = table.concat
local ipairs = ipairs
local pcall = pcall
local tostring = tostring
local type = type

local _M = {}

-- Well-formed ids: Prism's mock answers with its examples whatever they are.
local ids = require "contract.ids"
local CTM, ADD, BIZ, PAYMTD, SUB = ids.ctm, ids.add, ids.biz, ids.paymtd, ids.sub

-- The first item of an iterator, or false, err.
local function first(iterator)
  local item, err = iterator()
  if item == nil then return false, "the walk yielded nothing" end
  return item, err
end

local function cases(c)
  local null = paddle.null
  return {
    { "customers.list", function() return first(c.customers.list()) end },
    { "customers.list with every filter", function()
      return first(c.customers.list { status = { "active", "archived" }, email = { "a@example.com" },
        id = { CTM }, search = "sam", per_page = 20, order_by = "id[ASC]", after = CTM })
    end },
    { "customers.page", function() return c.customers.page { per_page = 2 } end },
    { "customers.get", function() return c.customers.get(CTM) end },
    { "customers.create", function()
      return c.customers.create { email = "sam@example.com", name = "Sam", locale = "en",
        custom_data = { plan = "pro", seats = 3 } }
    end },
    { "customers.update", function()
      return c.customers.update(CTM, { name = null, custom_data = {}, email = "new@example.com" })
    end },
    { "customers.archive", function() return c.customers.archive(CTM) end },
    { "customers.unarchive", function() return c.customers.unarchive(CTM) end },
    { "customers.credit_balances", function()
      return c.customers.credit_balances(CTM, { currency_code = { "USD", "EUR" } })
    end },
    { "customers.auth_token", function() return c.customers.auth_token(CTM) end },
    { "customers.portal_session", function() return c.customers.portal_session(CTM) end },
    { "customers.portal_session with subscriptions", function()
      return c.customers.portal_session(CTM, { subscription_ids = { SUB } })
    end },
    { "customers.subscriptions", function()
      return first(c.customers.subscriptions(CTM, { status = { "active" } }))
    end },
    { "addresses.list", function()
      return first(c.addresses.list(CTM, { status = { "active" }, search = "x", id = { ADD } }))
    end },
    { "addresses.get", function() return c.addresses.get(CTM, ADD) end },
    { "addresses.create", function()
      return c.addresses.create(CTM, { country_code = "US", postal_code = "10021", city = "New York",
        description = "Office", first_line = "1 Main St", second_line = null, region = "NY",
        custom_data = { k = "v" } })
    end },
    { "addresses.update", function()
      return c.addresses.update(CTM, ADD, { city = "Tempe", region = null })
    end },
    { "addresses.archive", function() return c.addresses.archive(CTM, ADD) end },
    { "addresses.unarchive", function() return c.addresses.unarchive(CTM, ADD) end },
    { "businesses.list", function() return first(c.businesses.list(CTM, { status = { "archived" } })) end },
    { "businesses.get", function() return c.businesses.get(CTM, BIZ) end },
    { "businesses.create", function()
      return c.businesses.create(CTM, { name = "Acme", company_number = "123", tax_identifier = "AB1",
        contacts = { { name = "Bo", email = "bo@example.com" } } })
    end },
    { "businesses.update", function()
      return c.businesses.update(CTM, BIZ, { contacts = { { email = "c@example.com" } } })
    end },
    { "businesses.archive", function() return c.businesses.archive(CTM, BIZ) end },
    { "businesses.unarchive", function() return c.businesses.unarchive(CTM, BIZ) end },
    { "payment_methods.list", function()
      return first(c.payment_methods.list(CTM, { address_id = { ADD }, supports_checkout = true }))
    end },
    { "payment_methods.get", function() return c.payment_methods.get(CTM, PAYMTD) end },
    { "payment_methods.delete", function() return c.payment_methods.delete(CTM, PAYMTD) end },
    { "subscriptions.list", function()
      return first(c.subscriptions.list { customer_id = { CTM }, status = { "active", "paused" },
        collection_mode = "automatic", address_id = { ADD }, id = { SUB } })
    end },
    { "subscriptions.get", function() return c.subscriptions.get(SUB) end },
    { "events.list", function() return first(c.events.list { event_type = { "customer.created" } }) end },
  }
end

-- An error's fields, whether or not it has a __tostring.
local function describe(err)
  if type(err) ~= "table" then return tostring(err) end
  local parts = {}
  for _, k in ipairs { "status", "type", "code", "detail" } do
    if err[k] ~= nil then parts[#parts + 1] = k .. "=" .. tostring(err[k]) end
  end
  return tostring(err) .. " " .. concat(parts, " ")
end

function _M.run(url)
  local c = paddle.new { api_key = "pdl_sdbx_apikey_01h04vsc0qhwtsbsxh3422wjs4_contract", base_url = url }
  for _, case in ipairs(cases(c)) do
    -- Success is a value (entities come with their meta as a second value);
    -- failure is nil (or false from a walk) and the error.
    local ok, value, err = pcall(case[2])
    local passed = ok and value ~= nil and value ~= false
    tap.check(passed, "client " .. case[1] .. " -> a request Paddle's document accepts",
      ok and describe(err) or ("raised: " .. tostring(value)))
  end
  if c.close then c:close() end
end

return _M
