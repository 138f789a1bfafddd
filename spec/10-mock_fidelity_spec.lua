-- The emulator answers like Paddle where a client can tell (issue 14): address
-- ids on subscriptions and payment methods, Paddle's timestamp format, 403
-- for a missing key, estimated_total's cap and Skip-Count, portal sessions
-- and empty filters refused, the 429's type; events for every change; the
-- seed's explicit customer list.
local cjson = require "cjson"
local mock = require "support.mock"

local null = cjson.null

describe("paddle-mock fidelity", function()
  local m

  setup(function() m = mock.start { key = "pdl_sdbx_apikey_fidelity", memory = "256m" } end)
  teardown(function() if m then m:stop() end end)
  before_each(function() m:reset() end)

  local function create(email, extra) return m:create_customer(email, extra) end

  local function assert_error(r, status, code, field)
    assert.equal(status, r.status, r.body)
    assert.equal(code, r.json.error.code, r.body)
    if field then assert.equal(field, r.json.error.errors[1].field, r.body) end
    return r.json.error
  end

  local function events(query)
    local r = m:request("GET", "/events?order_by=id[ASC]&per_page=200" .. (query or ""))
    assert.equal(200, r.status, r.body)
    return r.json.data
  end

  local function types_of(list) return mock.pluck(list, "event_type") end

  describe("address_id", function()
    it("is an address of the customer on admin-made subscriptions and payment methods", function()
      local c = create("addr@example.com")
      local sub = m:admin("POST", "subscriptions", { customer_id = c.id }).data
      assert.matches("^add_[0-9a-z]+$", sub.address_id)
      local address = m:request("GET", "/customers/" .. c.id .. "/addresses/" .. sub.address_id)
      assert.equal(200, address.status)
      assert.equal("US", address.json.data.country_code)
      local pm = m:admin("POST", "payment-methods", { customer_id = c.id }).data
      assert.equal(sub.address_id, pm.address_id) -- the customer's address, not a new one
      assert.equal(1, #m:request("GET", "/customers/" .. c.id .. "/addresses").json.data)
    end)

    it("names the address given, refusing another customer's", function()
      local c = create("mine@example.com")
      local other = create("other@example.com")
      local add = m:request("POST", "/customers/" .. c.id .. "/addresses",
        { body = { country_code = "DE" } }).json.data
      local theirs = m:request("POST", "/customers/" .. other.id .. "/addresses",
        { body = { country_code = "FR" } }).json.data
      local sub = m:admin("POST", "subscriptions", { customer_id = c.id, address_id = add.id }).data
      assert.equal(add.id, sub.address_id)
      local r = m:request("POST", "/__mock/subscriptions",
        { key = false, body = { customer_id = c.id, address_id = theirs.id } })
      assert_error(r, 400, "invalid_field", "address_id")
      r = m:request("POST", "/__mock/payment-methods",
        { key = false, body = { customer_id = c.id, address_id = 7 } })
      assert_error(r, 400, "invalid_field", "address_id")
    end)

    it("is set on every seeded subscription and payment method", function()
      m:seed { customers = 3, subscriptions_per_customer = 2, payment_methods_per_customer = 1 }
      local subs = m:request("GET", "/subscriptions?per_page=200").json.data
      assert.equal(6, #subs)
      for _, s in ipairs(subs) do
        assert.matches("^add_", s.address_id)
        local pms = m:request("GET", "/customers/" .. s.customer_id .. "/payment-methods").json.data
        assert.equal(1, #pms)
        assert.equal(s.address_id, pms[1].address_id)
      end
    end)
  end)

  describe("timestamps", function()
    -- Paddle writes microseconds with trailing zeros dropped, no fraction when zero.
    local PADDLE_TIME = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d(.-)Z$"

    it("drop trailing zeros from the fraction, over many writes", function()
      for i = 1, 40 do
        local c = create("time" .. i .. "@example.com")
        local fraction = c.created_at:match(PADDLE_TIME)
        assert.is_string(fraction, c.created_at)
        if fraction ~= "" then assert.matches("^%.%d?%d?%d?%d?%d?[1-9]$", fraction, c.created_at) end
      end
    end)

    it("are formatted by clock.rfc3339 like Paddle's payloads", function()
      if not rawget(_G, "jit") then
        pending("clock.lua uses LuaJIT's ffi (it runs in nginx)")
        return
      end
      local saved = rawget(_G, "ngx")
      rawset(_G, "ngx", { now = function() return 0 end, update_time = function() end })
      local clock = assert(loadfile("mock/paddle_mock/clock.lua"))()
      rawset(_G, "ngx", saved)
      assert.equal("2024-04-11T15:59:56.658719Z", clock.rfc3339(1712851196658719))
      assert.equal("2024-04-11T15:59:56.813Z", clock.rfc3339(1712851196813000))
      assert.equal("2024-04-11T15:59:56.34Z", clock.rfc3339(1712851196340000))
      assert.equal("2024-04-11T15:59:56.000001Z", clock.rfc3339(1712851196000001))
      assert.equal("2024-04-11T15:59:56Z", clock.rfc3339(1712851196000000))
    end)
  end)

  it("answers a missing key with 403 authentication_missing", function()
    local e = assert_error(m:request("GET", "/customers", { key = false }), 403, "authentication_missing")
    assert.equal("request_error", e.type)
  end)

  describe("estimated_total", function()
    it("is exact up to 100,000 matches, then 100001", function()
      m:seed { customers = 100000 }
      local function total(query)
        local r = m:request("GET", "/customers?per_page=1" .. (query or ""))
        assert.equal(200, r.status, r.body)
        return r.json.meta.pagination.estimated_total
      end
      assert.equal(100000, total())
      m:seed { customers = 2 }
      assert.equal(100001, total())
      assert.equal(0, total("&status=archived"))
    end)

    it("is -1 when the request sends Skip-Count: true, with pages unchanged", function()
      for i = 1, 5 do create("skip" .. i .. "@example.com") end
      local function page(headers, query)
        local r = m:request("GET", "/customers?per_page=2" .. (query or ""), { headers = headers })
        assert.equal(200, r.status, r.body)
        return r.json
      end
      local counted, skipped = page(), page { ["Skip-Count"] = "true" }
      assert.equal(5, counted.meta.pagination.estimated_total)
      assert.equal(-1, skipped.meta.pagination.estimated_total)
      assert.same(counted.data, skipped.data)
      assert.equal(counted.meta.pagination.has_more, skipped.meta.pagination.has_more)
      assert.equal(-1, page({ ["skip-count"] = "TRUE" }, "&search=skip").meta.pagination.estimated_total)
      assert.equal(5, page({ ["Skip-Count"] = "false" }).meta.pagination.estimated_total)
      -- What the request log keeps of it: the header as sent.
      local log = m:requests()
      assert.is_nil(log[6].headers["skip-count"])
      assert.equal("true", log[7].headers["skip-count"])
    end)
  end)

  describe("portal sessions", function()
    it("refuse subscription ids that do not exist or are another customer's", function()
      local c = create("portal@example.com")
      local other = create("someone@example.com")
      local mine = m:admin("POST", "subscriptions", { customer_id = c.id }).data.id
      local theirs = m:admin("POST", "subscriptions", { customer_id = other.id }).data.id
      local path = "/customers/" .. c.id .. "/portal-sessions"
      local function post(ids) return m:request("POST", path, { body = { subscription_ids = ids } }) end
      assert.equal(201, post({ mine }).status)
      local e = assert_error(post({ mine, theirs }), 400, "invalid_field", "subscription_ids[1]")
      assert.matches(theirs, e.errors[1].message, 1, true)
      assert_error(post({ "sub_01h04vsc0qhwtsbsxh3422wjs4" }), 400, "invalid_field", "subscription_ids[0]")
    end)
  end)

  it("refuses empty filters with a 400 naming the parameter", function()
    local c = create("filters@example.com")
    local base = "/customers/" .. c.id
    local cases = {
      { "/customers?status=", "status" }, { "/customers?id=", "id" }, { "/customers?email=", "email" },
      { "/customers?search=", "search" }, { "/customers?status=,", "status" },
      { base .. "/addresses?status=", "status" }, { base .. "/addresses?id=", "id" },
      { base .. "/addresses?search=", "search" }, { base .. "/businesses?status=", "status" },
      { base .. "/payment-methods?address_id=", "address_id" },
      { base .. "/credit-balances?currency_code=", "currency_code" },
      { "/subscriptions?status=", "status" }, { "/subscriptions?customer_id=", "customer_id" },
      { "/subscriptions?id=", "id" }, { "/events?event_type=", "event_type" },
    }
    for _, case in ipairs(cases) do
      local e = assert_error(m:request("GET", case[1]), 400, "invalid_field", case[2])
      assert.equal("request_error", e.type)
    end
  end)

  it("answers 429 as an api_error, code too_many_requests (paddle-node-sdk issue #93)", function()
    m:config { rate_limit = { requests = 1, per = 60, block = 60 } }
    assert.equal(200, m:request("GET", "/customers").status)
    local r = m:request("GET", "/customers")
    local e = assert_error(r, 429, "too_many_requests")
    assert.equal("api_error", e.type)
    assert.equal("60", r.headers["retry-after"])
  end)

  describe("events", function()
    it("follow every customer, address and business change, archive and unarchive included", function()
      local c = create("events@example.com")
      local path = "/customers/" .. c.id
      local function patch(p, body) assert.equal(200, m:request("PATCH", p, { body = body }).status) end
      patch(path, { name = "Ev" })
      patch(path, { status = "archived" })
      patch(path, { status = "active" })
      local add = m:request("POST", path .. "/addresses", { body = { country_code = "GB" } }).json.data
      patch(path .. "/addresses/" .. add.id, { status = "archived" })
      local biz = m:request("POST", path .. "/businesses", { body = { name = "Acme" } }).json.data
      patch(path .. "/businesses/" .. biz.id, { status = "archived" })
      patch(path .. "/businesses/" .. biz.id, { status = "active" })
      local list = events()
      assert.same({ "customer.created", "customer.updated", "customer.updated", "customer.updated",
        "address.created", "address.updated", "business.created", "business.updated", "business.updated" },
        types_of(list))
      assert.equal("archived", list[3].data.status)
      assert.equal("active", list[4].data.status)
      assert.equal(add.id, list[6].data.id)
      assert.equal("archived", list[6].data.status)
    end)

    it("follow what the admin API makes, as a checkout would emit them", function()
      local c = create("admin-events@example.com")
      local sub = m:admin("POST", "subscriptions", { customer_id = c.id }).data
      local pm = m:admin("POST", "payment-methods", { customer_id = c.id }).data
      assert.equal(204, m:request("DELETE", "/customers/" .. c.id .. "/payment-methods/" .. pm.id).status)
      local list = events()
      assert.same({ "customer.created", "address.created", "subscription.created", "payment_method.saved",
        "payment_method.deleted" }, types_of(list))
      assert.equal(sub.address_id, list[2].data.id)
      assert.equal(sub.id, list[3].data.id)
      assert.equal(pm.id, list[5].data.id)
      assert.same({ "subscription.created" }, types_of(events("&event_type=subscription.created")))
    end)
  end)

  describe("seed with a list of customers", function()
    it("stores them as given, with events when asked", function()
      local seeded = m:seed { events = true, subscriptions_per_customer = 1, customers = {
        { email = "Ann@Example.com", name = "Ann", custom_data = { plan = "pro", seats = 3 }, locale = "fr" },
        { email = "bob@example.com", status = "archived" },
      } }
      assert.equal(2, seeded.customers)
      assert.equal(2, #seeded.ids)
      assert.equal(seeded.ids[1], seeded.first_id)
      local ann = m:request("GET", "/customers/" .. seeded.ids[1]).json.data
      assert.equal("Ann@Example.com", ann.email)
      assert.equal("Ann", ann.name)
      assert.same({ plan = "pro", seats = 3 }, ann.custom_data)
      assert.equal("fr", ann.locale)
      assert.equal("active", ann.status)
      local bob = m:request("GET", "/customers/" .. seeded.ids[2]).json.data
      assert.equal("archived", bob.status)
      assert.equal(null, bob.name)
      assert.equal(null, bob.custom_data)
      local found = m:request("GET", "/customers?email=ann@example.com").json.data
      assert.equal(seeded.ids[1], found[1].id)
      assert.same({ "customer.created", "address.created", "customer.created", "address.created" },
        types_of(events()))
      assert.equal(2, #m:request("GET", "/subscriptions").json.data)
    end)

    it("records no events by default", function()
      m:seed { customers = { { email = "quiet@example.com" } } }
      m:seed { customers = 3 }
      assert.same({}, events())
    end)

    it("checks the whole list first and writes nothing when any entry is wrong", function()
      create("taken@example.com")
      local r = m:request("POST", "/__mock/seed", { key = false, body = { customers = {
        { email = "fine@example.com" }, { email = "TAKEN@example.com" }, { email = "fine@example.com" },
        { name = "no email" }, { email = "x@example.com", status = "deleted", id = "ctm_x" }, 7,
      } } })
      local e = assert_error(r, 400, "invalid_field")
      local fields = {}
      for _, f in ipairs(e.errors) do fields[#fields + 1] = f.field end
      assert.same({ "customers[1].email", "customers[2].email", "customers[3].email", "customers[4].id",
        "customers[4].status", "customers[5]" }, fields)
      assert.equal(1, #m:request("GET", "/customers").json.data)
    end)
  end)
end)
