-- The public API's routes: method + path to a handler(req, captures...).
local customers = require "paddle_mock.customers"
local errors = require "paddle_mock.errors"
local events = require "paddle_mock.events"
local nested = require "paddle_mock.nested"
local payment_methods = require "paddle_mock.payment_methods"
local portal = require "paddle_mock.portal"
local subscriptions = require "paddle_mock.subscriptions"

local concat = table.concat
local ipairs = ipairs
local match = string.match
local pairs = pairs
local sort = table.sort

local addresses, businesses = nested.addresses, nested.businesses

local _M = {}

local function method_of(obj, name)
  return function(...) return obj[name](obj, ...) end
end

local ID = "([^/]+)"
local routes = {
  { "^/customers$", { GET = customers.list, POST = customers.create } },
  { "^/customers/" .. ID .. "$", { GET = customers.get, PATCH = customers.update } },
  { "^/customers/" .. ID .. "/credit%-balances$", { GET = customers.credit_balances } },
  { "^/customers/" .. ID .. "/auth%-token$", { POST = customers.auth_token } },
  { "^/customers/" .. ID .. "/portal%-sessions$", { POST = portal.create } },
  { "^/customers/" .. ID .. "/addresses$",
    { GET = method_of(addresses, "list"), POST = method_of(addresses, "create") } },
  { "^/customers/" .. ID .. "/addresses/" .. ID .. "$",
    { GET = method_of(addresses, "get"), PATCH = method_of(addresses, "update") } },
  { "^/customers/" .. ID .. "/businesses$",
    { GET = method_of(businesses, "list"), POST = method_of(businesses, "create") } },
  { "^/customers/" .. ID .. "/businesses/" .. ID .. "$",
    { GET = method_of(businesses, "get"), PATCH = method_of(businesses, "update") } },
  { "^/customers/" .. ID .. "/payment%-methods$", { GET = payment_methods.list } },
  { "^/customers/" .. ID .. "/payment%-methods/" .. ID .. "$",
    { GET = payment_methods.get, DELETE = payment_methods.delete } },
  { "^/subscriptions$", { GET = subscriptions.list } },
  { "^/subscriptions/" .. ID .. "$", { GET = subscriptions.get } },
  { "^/events$", { GET = events.list } },
}

-- Returns status, body, headers.
function _M.dispatch(req)
  local path = req.path
  for _, route in ipairs(routes) do
    local a, b = match(path, route[1])
    if a then
      local handler = route[2][req.method]
      if not handler then
        local allowed = {}
        for m in pairs(route[2]) do allowed[#allowed + 1] = m end
        sort(allowed)
        return errors.respond(req, 405, "method_not_allowed",
          "Method " .. req.method .. " is not allowed for this path.", nil, { Allow = concat(allowed, ", ") })
      end
      return handler(req, a, b)
    end
  end
  return errors.respond(req, 404, "not_found", "The requested path " .. path .. " was not found.")
end

return _M
