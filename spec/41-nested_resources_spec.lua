-- Addresses, businesses and payment methods under a customer; subscriptions
-- and events lists; against the local emulator.
local paddle = require "paddle"
local mock = require "support.mock"

local KEY = "pdl_sdbx_apikey_01hv8gq4zx7w2x3y4z5a6b7c8d_nestedspec"
local MISSING_CTM = "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"
local MISSING_ADD = "add_01hv8h6jj90jjz0d71m6hj4r9z"
local MISSING_BIZ = "biz_01hv8hkr641vmpwytx38znv56k"
local MISSING_PM = "paymtd_01j2jff1m3es31sdkejpaym164"
local THIS_FILE = "41%-nested_resources_spec%.lua:%d+: "

describe("nested resources", function()
  local m = mock.per_file { key = KEY, rate_limit = false }
  local client, customer

  local raises = require "support.raises" (THIS_FILE, { plain = true })

  before_each(function()
    client = paddle.new { api_key = KEY, base_url = m.url, rate_limit = false, max_retries = 0 }
    customer = assert(client.customers.create { email = "nested@example.com", name = "Nested" })
    m:mark()
  end)

  describe("addresses", function()
    it("create, get, update, archive, unarchive", function()
      local a = assert(client.addresses.create(customer.id, {
        country_code = "US", city = "Phoenix", region = "AZ", custom_data = { crm = "x" } }))
      assert.matches("^add_", a.id)
      assert.equal(customer.id, a.customer_id)
      assert.equal("Phoenix", a.city)
      assert.equal("/customers/" .. customer.id .. "/addresses", m:logged("POST")[1].path)
      assert.equal('{"city":"Phoenix","country_code":"US","custom_data":{"crm":"x"},"region":"AZ"}',
        m:logged("POST")[1].body)

      assert.same(a, assert(client.addresses.get(customer.id, a.id)))

      local u = assert(client.addresses.update(customer.id, a.id, { city = "Tempe", region = paddle.null }))
      assert.equal("Tempe", u.city)
      assert.is_nil(u.region)
      assert.equal("US", u.country_code)
      assert.equal('{"city":"Tempe","region":null}', m:logged("PATCH")[1].body)

      assert.equal("archived", assert(client.addresses.archive(customer.id, a.id)).status)
      assert.equal('{"status":"archived"}', m:logged("PATCH")[2].body)
      assert.equal("active", assert(client.addresses.unarchive(customer.id, a.id)).status)
    end)

    it("lists across pages keeping filters; archived ones only when asked", function()
      local made = {}
      for i = 1, 5 do
        local fields = { country_code = "DE", city = "Berlin " .. i }
        made[i] = assert(client.addresses.create(customer.id, fields)).id
      end
      assert(client.addresses.archive(customer.id, made[5]))
      m:mark()
      local got = {}
      for a, err in client.addresses.list(customer.id, { per_page = 2, order_by = "id[ASC]" }) do
        assert.is_nil(err)
        got[#got + 1] = a.id
      end
      assert.same({ made[1], made[2], made[3], made[4] }, got)
      local log = m:logged("GET")
      assert.equal(2, #log)
      for _, r in ipairs(log) do assert.matches("per_page=2", r.query, 1, true) end

      got = {}
      for a in client.addresses.list(customer.id, { status = { "archived" } }) do got[#got + 1] = a.id end
      assert.same({ made[5] }, got)

      local p = assert(client.addresses.page(customer.id, { per_page = 3, order_by = "id[ASC]" }))
      assert.equal(3, #p.data)
      assert.equal(made[3], p.cursor)
    end)

    it("returns field errors and 404s", function()
      local a, err = client.addresses.create(customer.id, { city = "Nowhere" })
      assert.is_nil(a)
      assert.equal(400, err.status)
      assert.equal("country_code", err.errors[1].field)

      a, err = client.addresses.get(customer.id, MISSING_ADD)
      assert.is_nil(a)
      assert.equal(404, err.status)

      a, err = client.addresses.create(MISSING_CTM, { country_code = "US" })
      assert.is_nil(a)
      assert.equal(404, err.status)

      local results = {}
      for x, e in client.addresses.list(MISSING_CTM) do results[#results + 1] = { x, e } end
      assert.equal(1, #results)
      assert.is_false(results[1][1])
      assert.equal(404, results[1][2].status)
    end)

    it("checks both ids before any request", function()
      raises("address_id must be an address id", function() client.addresses.get(customer.id, "add_x") end)
      raises("customer_id must be a customer id", function()
        client.addresses.get(MISSING_ADD, MISSING_ADD)
      end)
      raises("address_id must be an address id", function()
        client.addresses.update(customer.id, MISSING_BIZ, { city = "x" })
      end)
      raises("unknown parameter \"email\"", function()
        client.addresses.list(customer.id, { email = "x" })
      end)
      assert.equal(0, #m:logged())
    end)
  end)

  describe("businesses", function()
    it("create with contacts, update contacts to [], archive", function()
      local b = assert(client.businesses.create(customer.id, {
        name = "Uplift Inc.", tax_identifier = "555952383",
        contacts = { { name = "Parker Jones", email = "parker@example.com" } } }))
      assert.matches("^biz_", b.id)
      assert.equal("parker@example.com", b.contacts[1].email)
      assert.same(b, assert(client.businesses.get(customer.id, b.id)))

      local contacts = {}
      local u = assert(client.businesses.update(customer.id, b.id, { contacts = contacts }))
      assert.same({}, u.contacts)
      assert.equal('{"contacts":[]}', m:logged("PATCH")[1].body)
      assert.is_nil(getmetatable(contacts))

      assert.equal("archived", assert(client.businesses.archive(customer.id, b.id)).status)
      local active = 0
      for _ in client.businesses.list(customer.id) do active = active + 1 end
      assert.equal(0, active)
      local all = 0
      for _ in client.businesses.list(customer.id, { status = { "active", "archived" } }) do all = all + 1 end
      assert.equal(1, all)
    end)

    it("returns field errors from Paddle", function()
      local b, err = client.businesses.create(customer.id, { company_number = "1" })
      assert.is_nil(b)
      assert.equal(400, err.status)
      assert.equal("name", err.errors[1].field)
    end)

    it("rejects a non-array contacts before sending", function()
      raises("'contacts' must be an array", function()
        client.businesses.create(customer.id, { name = "x", contacts = { name = "a", email = "b@c.de" } })
      end)
      assert.equal(0, #m:logged())
    end)
  end)

  describe("payment methods", function()
    it("list, get and delete", function()
      local ids = {}
      for i = 1, 3 do
        ids[i] = m:admin("POST", "/__mock/payment-methods", { customer_id = customer.id }).data.id
      end
      m:mark()
      local got = {}
      for pm, err in client.payment_methods.list(customer.id, { per_page = 2 }) do
        assert.is_nil(err)
        assert.equal(customer.id, pm.customer_id)
        got[pm.id] = true
      end
      assert.same({ [ids[1]] = true, [ids[2]] = true, [ids[3]] = true }, got)
      assert.equal(2, #m:logged("GET"))

      local pm = assert(client.payment_methods.get(customer.id, ids[1]))
      assert.equal("card", pm.type)

      local ok, meta = client.payment_methods.delete(customer.id, ids[1])
      assert.is_true(ok)
      assert.is_table(meta)
      local _, err = client.payment_methods.get(customer.id, ids[1])
      assert.equal(404, err.status)
      _, err = client.payment_methods.delete(customer.id, MISSING_PM)
      assert.equal(404, err.status)
    end)

    it("checks ids", function()
      raises("payment_method_id must be a payment method id", function()
        client.payment_methods.delete(customer.id, "pm_1")
      end)
    end)
  end)

  describe("subscriptions and events", function()
    it("subscriptions.list filters by customer_id and status, paging", function()
      local seeded = m:seed { customers = 3, subscriptions_per_customer = 3 }
      local a, b = seeded.first_id, seeded.last_id
      m:mark()
      local ids = {}
      for s, err in client.subscriptions.list { customer_id = { a, b }, per_page = 2 } do
        assert.is_nil(err)
        assert.truthy(s.customer_id == a or s.customer_id == b)
        ids[#ids + 1] = s.id
      end
      assert.equal(6, #ids)
      assert.equal(3, #m:logged("GET"))
      assert.matches("customer_id=" .. a .. "," .. b, m:logged("GET")[1].query, 1, true)

      local all = 0
      for _ in client.subscriptions.list { status = { "active" }, per_page = 200 } do all = all + 1 end
      assert.equal(9, all)

      local s = assert(client.subscriptions.get(ids[1]))
      assert.equal(ids[1], s.id)
      raises("subscription_id must be a subscription id", function()
        client.subscriptions.get(MISSING_CTM)
      end)
    end)

    it("events.list walks the event stream in order", function()
      assert(client.customers.update(customer.id, { name = "Renamed" }))
      assert(client.addresses.create(customer.id, { country_code = "FR" }))
      local types = {}
      for e, err in client.events.list { order_by = "id[ASC]", per_page = 1 } do
        assert.is_nil(err)
        assert.matches("^evt_", e.event_id)
        types[#types + 1] = e.event_type
      end
      assert.same({ "customer.created", "customer.updated", "address.created" }, types)
      assert.equal(3, #m:logged("GET")) -- three pages of one

      types = {}
      for e in client.events.list { event_type = { "customer.updated" } } do
        types[#types + 1] = e.event_type
      end
      assert.same({ "customer.updated" }, types)
    end)
  end)
end)
