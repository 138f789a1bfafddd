-- The LuaLS definitions (types/paddle.lua) name exactly the resource
-- functions paddle.resources builds, so editors and code cannot drift apart.
local resources = require "paddle.resources"

local CLASS_OF = {
  customers = "Customers", addresses = "Addresses", businesses = "Businesses",
  payment_methods = "PaymentMethods", subscriptions = "Subscriptions", events = "Events",
}

describe("types/paddle.lua", function()
  local f = assert(io.open("types/paddle.lua", "r"))
  local text = f:read("*a")
  f:close()

  local declared = {}
  for class, name in text:gmatch("\nfunction (%w+)%.([%w_]+)%(") do
    declared[class] = declared[class] or {}
    table.insert(declared[class], name)
  end

  it("declares every resource namespace and nothing more", function()
    local namespaces = {}
    for ns in pairs(resources.names()) do namespaces[#namespaces + 1] = ns end
    table.sort(namespaces)
    local classes = {}
    for ns in pairs(CLASS_OF) do classes[#classes + 1] = ns end
    table.sort(classes)
    assert.same(namespaces, classes)
  end)

  for ns, names in pairs(resources.names()) do
    it("declares exactly the functions of " .. ns, function()
      local got = declared[CLASS_OF[ns]] or {}
      table.sort(got)
      assert.same(names, got)
      assert.matches("---@field " .. ns .. " paddle%." .. CLASS_OF[ns], text)
    end)
  end

  it("is valid Lua", function()
    assert(load(text, "types/paddle.lua"))
  end)
end)
