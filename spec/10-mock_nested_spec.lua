-- What hangs off a customer in the emulator: addresses, businesses, payment
-- methods, subscriptions, and the event stream.
local cjson = require "cjson"
local mock = require "support.mock"

local null = cjson.null
local UNKNOWN_CUSTOMER = "ctm_01h8441jn5pcwrfhwh78jqt8hk"

describe("paddle-mock nested resources", function()
  local m, customer

  setup(function() m = mock.start() end)
  teardown(function() if m then m:stop() end end)
  before_each(function()
    m:reset()
    local r = m:request("POST", "/customers", { body = { email = "owner@example.com", name = "Owner" } })
    assert.equal(201, r.status)
    customer = r.json.data
  end)

  local function ids_of(list)
    local out = {}
    for i, c in ipairs(list) do out[i] = c.id or c.event_id end
    return out
  end

  local function assert_error(r, status, code)
    assert.equal(status, r.status, r.body)
    assert.equal(code, r.json.error.code)
    return r.json.error
  end

  local function base(kind) return "/customers/" .. customer.id .. "/" .. kind end

  describe("addresses", function()
    local function create(body)
      local r = m:request("POST", base("addresses"), { body = body })
      assert.equal(201, r.status, r.body)
      return r.json.data
    end

    it("creates, gets, updates and archives an address", function()
      local a = create { country_code = "US", first_line = "4050 Jefferson Plaza", city = "New York",
        region = "NY", postal_code = "10021", description = "Head Office" }
      assert.matches("^add_[0-9a-z]+$", a.id)
      assert.equal(30, #a.id)
      assert.equal(customer.id, a.customer_id)
      assert.equal("active", a.status)
      assert.equal(null, a.second_line)
      assert.equal(null, a.custom_data)
      assert.equal(null, a.import_meta)
      assert.same(a, m:request("GET", base("addresses") .. "/" .. a.id).json.data)

      local path = base("addresses") .. "/" .. a.id
      local r = m:request("PATCH", path, { body = { city = "Boston", region = null } })
      assert.equal(200, r.status)
      assert.equal("Boston", r.json.data.city)
      assert.equal(null, r.json.data.region)
      assert.equal("4050 Jefferson Plaza", r.json.data.first_line)

      r = m:request("PATCH", path, { body = { status = "archived" } })
      assert.equal("archived", r.json.data.status)
      assert.same({}, ids_of(m:request("GET", base("addresses")).json.data))
      assert.same({ a.id }, ids_of(m:request("GET", base("addresses") .. "?status=archived").json.data))
    end)

    it("requires a country code", function()
      local r = m:request("POST", base("addresses"), { body = { city = "Nowhere" } })
      assert.equal("country_code", assert_error(r, 400, "invalid_field").errors[1].field)
      r = m:request("POST", base("addresses"), { body = { country_code = "usa" } })
      assert.equal("country_code", assert_error(r, 400, "invalid_field").errors[1].field)
    end)

    it("lists newest first with id, search and pagination", function()
      local a = create { country_code = "US", city = "New York" }
      local b = create { country_code = "GB", city = "London" }
      local c = create { country_code = "DE", city = "Berlin" }
      assert.same({ c.id, b.id, a.id }, ids_of(m:request("GET", base("addresses")).json.data))
      assert.same({ b.id }, ids_of(m:request("GET", base("addresses") .. "?search=london").json.data))
      local by_id = m:request("GET", base("addresses") .. "?id=" .. a.id .. "," .. c.id)
      assert.same({ c.id, a.id }, ids_of(by_id.json.data))
      local page = m:request("GET", base("addresses") .. "?per_page=2&order_by=id[ASC]").json
      assert.same({ a.id, b.id }, ids_of(page.data))
      assert.is_true(page.meta.pagination.has_more)
      assert.same({ c.id }, ids_of(m:request("GET", page.meta.pagination.next).json.data))
    end)

    it("keeps addresses to their customer, and 404s otherwise", function()
      local a = create { country_code = "US" }
      local other = m:request("POST", "/customers", { body = { email = "other@example.com" } }).json.data
      assert_error(m:request("GET", "/customers/" .. other.id .. "/addresses/" .. a.id), 404, "not_found")
      assert.same({}, ids_of(m:request("GET", "/customers/" .. other.id .. "/addresses").json.data))
      assert_error(m:request("GET", "/customers/" .. UNKNOWN_CUSTOMER .. "/addresses"), 404, "not_found")
      assert_error(m:request("GET", base("addresses") .. "/add_01h848pep46enq8y372x7maj0p"), 404, "not_found")
    end)
  end)

  describe("businesses", function()
    it("creates, updates and archives a business with contacts", function()
      local contacts = { { name = "Parker Jones", email = "parker@example.com" } }
      local r = m:request("POST", base("businesses"), { body = { name = "ChatApp Inc.",
        company_number = "555775291485", contacts = contacts } })
      assert.equal(201, r.status, r.body)
      local b = r.json.data
      assert.matches("^biz_[0-9a-z]+$", b.id)
      assert.equal(customer.id, b.customer_id)
      assert.same(contacts, b.contacts)
      assert.equal(null, b.tax_identifier)

      local path = base("businesses") .. "/" .. b.id
      r = m:request("PATCH", path, { body = { tax_identifier = "AB0123456789" } })
      assert.equal("AB0123456789", r.json.data.tax_identifier)
      assert.equal("ChatApp Inc.", r.json.data.name)
      r = m:request("PATCH", path, { body = { status = "archived" } })
      assert.equal("archived", r.json.data.status)
      local both = m:request("GET", base("businesses") .. "?status=active,archived")
      assert.same({ b.id }, ids_of(both.json.data))
    end)

    it("requires a name and valid contact emails", function()
      assert.equal("name", assert_error(m:request("POST", base("businesses"), { body = {} }), 400,
        "invalid_field").errors[1].field)
      local body = { name = "X", contacts = { { name = "No mail" } } }
      local r = m:request("POST", base("businesses"), { body = body })
      assert.equal("contacts[0].email", assert_error(r, 400, "invalid_field").errors[1].field)
    end)
  end)

  describe("payment methods", function()
    it("lists, gets and deletes saved payment methods", function()
      local one = m:admin("POST", "payment-methods", { customer_id = customer.id }).data
      local two = m:admin("POST", "payment-methods", { customer_id = customer.id, type = "paypal" }).data
      assert.matches("^paymtd_[0-9a-z]+$", one.id)
      assert.equal("card", one.type)
      assert.equal("4242", one.card.last4)
      assert.equal(null, one.paypal)
      assert.equal("paypal", two.type)
      assert.equal(null, two.card)

      local list = m:request("GET", base("payment-methods"))
      assert.equal(200, list.status)
      assert.same({ two.id, one.id }, ids_of(list.json.data))
      assert.equal(2, list.json.meta.pagination.estimated_total)
      assert.same(one, m:request("GET", base("payment-methods") .. "/" .. one.id).json.data)

      local del = m:request("DELETE", base("payment-methods") .. "/" .. one.id)
      assert.equal(204, del.status)
      assert.equal("", del.body)
      assert.is_string(del.headers["request-id"])
      assert_error(m:request("GET", base("payment-methods") .. "/" .. one.id), 404, "not_found")
      assert_error(m:request("DELETE", base("payment-methods") .. "/" .. one.id), 404, "not_found")
      assert.same({ two.id }, ids_of(m:request("GET", base("payment-methods")).json.data))
    end)
  end)

  describe("subscriptions", function()
    it("lists seeded subscriptions by customer_id over several pages", function()
      local seeded = m:seed { customers = 3, subscriptions_per_customer = 5 }
      assert.equal(15, seeded.subscriptions)
      local all = m:request("GET", "/subscriptions?per_page=200").json
      assert.equal(15, #all.data)
      assert.equal(15, all.meta.pagination.estimated_total)

      local url = m.url .. "/subscriptions?customer_id=" .. seeded.first_id .. "&per_page=2"
      local seen, pages = {}, 0
      repeat
        local r = m:request("GET", url)
        assert.equal(200, r.status, r.body)
        for _, s in ipairs(r.json.data) do
          assert.equal(seeded.first_id, s.customer_id)
          assert.matches("^sub_[0-9a-z]+$", s.id)
          seen[#seen + 1] = s.id
        end
        assert.matches("customer_id=" .. seeded.first_id, r.json.meta.pagination.next)
        url = r.json.meta.pagination.next
        pages = pages + 1
      until not r.json.meta.pagination.has_more or pages > 5
      assert.equal(3, pages)
      assert.equal(5, #seen)
      for i = 2, #seen do assert.is_true(seen[i - 1] > seen[i]) end
    end)

    it("takes subscriptions made through the admin API and filters by status", function()
      local active = m:admin("POST", "subscriptions", { customer_id = customer.id }).data
      local paused = m:admin("POST", "subscriptions", { customer_id = customer.id, status = "paused" }).data
      assert.equal("active", active.status)
      assert.equal(customer.id, active.customer_id)
      assert.equal("month", active.billing_cycle.interval)
      assert.equal(1, #active.items)
      assert.is_string(paused.paused_at)
      local q = "/subscriptions?customer_id=" .. customer.id
      assert.same({ paused.id, active.id }, ids_of(m:request("GET", q).json.data))
      assert.same({ active.id }, ids_of(m:request("GET", q .. "&status=active").json.data))
      assert.same(active, m:request("GET", "/subscriptions/" .. active.id).json.data)
      assert_error(m:request("GET", "/subscriptions?status=sleeping"), 400, "invalid_field")
    end)
  end)

  describe("events", function()
    it("records created and updated events with the entity", function()
      local a = m:request("POST", base("addresses"), { body = { country_code = "US" } }).json.data
      local b = m:request("POST", base("businesses"), { body = { name = "Biz" } }).json.data
      m:request("PATCH", "/customers/" .. customer.id, { body = { name = "Renamed" } })
      m:request("PATCH", base("addresses") .. "/" .. a.id, { body = { city = "Paris" } })
      m:request("PATCH", base("businesses") .. "/" .. b.id, { body = { name = "Biz 2" } })

      local r = m:request("GET", "/events?order_by=id[ASC]")
      assert.equal(200, r.status)
      local types = {}
      for i, e in ipairs(r.json.data) do
        types[i] = e.event_type
        assert.matches("^evt_[0-9a-z]+$", e.event_id)
        assert.matches("^%d%d%d%d%-.+Z$", e.occurred_at)
      end
      assert.same({ "customer.created", "address.created", "business.created", "customer.updated",
        "address.updated", "business.updated" }, types)
      assert.equal(customer.id, r.json.data[1].data.id)
      assert.equal("Renamed", r.json.data[4].data.name)
      assert.equal("Paris", r.json.data[5].data.city)
      assert.equal(6, r.json.meta.pagination.estimated_total)

      local newest = m:request("GET", "/events?per_page=1").json
      assert.equal("business.updated", newest.data[1].event_type)
      assert.is_true(newest.meta.pagination.has_more)
      local only = m:request("GET", "/events?event_type=address.created,address.updated").json
      assert.equal(2, #only.data)
    end)
  end)
end)
