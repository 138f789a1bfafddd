-- client.customers against the local emulator: what a script sees (the
-- returned tables, iterators, errors) and what goes over the wire.
local paddle = require "paddle"
local mock = require "support.mock"

local KEY = "pdl_sdbx_apikey_01hv8gq4zx7w2x3y4z5a6b7c8d_customers"
local MISSING = "ctm_01hv6y1jedq4p1n0yqn5ba3ky4" -- well-formed, never created
local THIS_FILE = "40%-customers_spec%.lua:%d+: "

describe("client.customers", function()
  local m = mock.per_file { key = KEY, rate_limit = false }
  local client

  local function new_client(opts)
    opts = opts or {}
    opts.api_key = KEY
    opts.base_url = m.url
    opts.rate_limit = false
    opts.max_retries = opts.max_retries or 0
    return paddle.new(opts)
  end

  local function create(email, fields)
    fields = fields or {}
    fields.email = email
    return assert(client.customers.create(fields))
  end

  before_each(function()
    client = new_client()
  end)

  describe("create and get", function()
    it("returns the new customer as a plain table, sending only the fields given", function()
      local c, meta = client.customers.create { email = "jo@example.com", name = "Jo Brown" }
      assert.is_table(c)
      assert.matches("^ctm_[a-z0-9]+$", c.id)
      assert.equal("jo@example.com", c.email)
      assert.equal("Jo Brown", c.name)
      assert.equal("active", c.status)
      assert.is_string(meta.request_id)
      local posts = m:logged("POST", "/customers")
      assert.equal(1, #posts)
      assert.equal('{"email":"jo@example.com","name":"Jo Brown"}', posts[1].body)

      local got = assert(client.customers.get(c.id))
      assert.same(c, got)
    end)

    it("returns nil and a 404 error for a customer that does not exist", function()
      local c, err = client.customers.get(MISSING)
      assert.is_nil(c)
      assert.equal(404, err.status)
      assert.equal("not_found", err.code)
      assert.matches("not_found", tostring(err))
    end)

    it("returns Paddle's field errors for an invalid email", function()
      local c, err = client.customers.create { email = "not an email" }
      assert.is_nil(c)
      assert.equal(400, err.status)
      assert.equal("invalid_field", err.code)
      assert.equal("email", err.errors[1].field)
      assert.is_string(err.errors[1].message)
      assert.is_string(err.request_id)
    end)

    it("returns a 409 customer_already_exists naming the existing customer", function()
      local first = create("taken@example.com")
      local c, err = client.customers.create { email = "taken@example.com" }
      assert.is_nil(c)
      assert.equal(409, err.status)
      assert.equal("customer_already_exists", err.code)
      assert.matches(first.id, err.detail, 1, true)
    end)
  end)

  describe("update", function()
    it("sends only the fields given and returns the updated customer", function()
      local c = create("update@example.com", { name = "Before", locale = "en" })
      local u = assert(client.customers.update(c.id, { name = "After" }))
      assert.equal("After", u.name)
      assert.equal("en", u.locale)
      assert.equal("update@example.com", u.email)
      local patches = m:logged("PATCH", "/customers/" .. c.id)
      assert.equal('{"name":"After"}', patches[1].body)
    end)

    it("sends JSON null for paddle.null, clearing the field, and omits nil fields", function()
      local c = create("null@example.com", { name = "Named" })
      local u = assert(client.customers.update(c.id, { name = paddle.null, locale = nil }))
      assert.is_nil(u.name) -- JSON null in answers reads as nil
      assert.equal('{"name":null}', m:logged("PATCH")[1].body)
    end)

    it("sends custom_data = {} as {} (Paddle's 'clear all') and nested values as given", function()
      local c = create("custom@example.com", { custom_data = { crm_id = "abc", tier = 2 } })
      assert.same({ crm_id = "abc", tier = 2 }, c.custom_data)
      local fields = { custom_data = {} }
      local u = assert(client.customers.update(c.id, fields))
      assert.equal('{"custom_data":{}}', m:logged("PATCH")[1].body)
      assert.same({}, u.custom_data)
      assert.is_nil(getmetatable(fields.custom_data)) -- the caller's table is left alone

      local arr = assert(client.customers.update(c.id, { custom_data = { tags = paddle.array() } }))
      assert.equal('{"custom_data":{"tags":[]}}', m:logged("PATCH")[2].body)
      assert.same({}, arr.custom_data.tags)
    end)

    it("returns 404 for a customer that does not exist", function()
      local u, err = client.customers.update(MISSING, { name = "x" })
      assert.is_nil(u)
      assert.equal(404, err.status)
    end)

    it("returns field errors from Paddle", function()
      local c = create("fields@example.com")
      local u, err = client.customers.update(c.id, { status = "deleted" })
      assert.is_nil(u)
      assert.equal(400, err.status)
      assert.equal("status", err.errors[1].field)
    end)
  end)

  describe("archive and unarchive", function()
    it("archives with PATCH status=archived, hiding the customer from the default list", function()
      local keep = create("keep@example.com")
      local gone = create("gone@example.com")
      local a = assert(client.customers.archive(gone.id))
      assert.equal("archived", a.status)
      assert.equal('{"status":"archived"}', m:logged("PATCH", "/customers/" .. gone.id)[1].body)

      local active = {}
      for c, err in client.customers.list() do
        assert.is_nil(err)
        active[#active + 1] = c.id
      end
      assert.same({ keep.id }, active)

      local archived = {}
      for c in client.customers.list { status = "archived" } do archived[#archived + 1] = c.id end
      assert.same({ gone.id }, archived)

      local back = assert(client.customers.unarchive(gone.id))
      assert.equal("active", back.status)
      assert.equal('{"status":"active"}', m:logged("PATCH", "/customers/" .. gone.id)[2].body)
    end)

    it("returns 404 when archiving a customer that does not exist", function()
      local a, err = client.customers.archive(MISSING)
      assert.is_nil(a)
      assert.equal(404, err.status)
    end)
  end)

  describe("list", function()
    it("follows pagination across pages, keeping the filters, one page at a time", function()
      local wanted = {}
      for i = 1, 7 do
        wanted[create(("match%d@example.com"):format(i), { name = "Match " .. i }).id] = true
      end
      for i = 1, 3 do create(("other%d@example.com"):format(i), { name = "Other " .. i }) end
      m:mark()

      local iter = client.customers.list { search = "match", per_page = 2, order_by = "id[ASC]" }
      assert.equal(0, #m:logged()) -- nothing is fetched before the first item is asked for
      local first = iter()
      assert.truthy(wanted[first.id])
      assert.equal(1, #m:logged())

      local seen, previous = { [first.id] = true }, first.id
      for c, err in iter do
        assert.is_nil(err)
        assert.truthy(wanted[c.id])
        assert.is_nil(seen[c.id])
        assert.is_true(c.id > previous) -- id[ASC] is kept on every page
        seen[c.id], previous = true, c.id
      end
      local count = 0
      for _ in pairs(seen) do count = count + 1 end
      assert.equal(7, count)

      local log = m:logged("GET", "/customers")
      assert.equal(4, #log) -- 2 + 2 + 2 + 1
      for i, r in ipairs(log) do
        assert.matches("search=match", r.query, 1, true)
        assert.matches("per_page=2", r.query, 1, true)
        assert.matches("order_by=id%5BASC%5D", r.query, 1, true)
        if i > 1 then assert.matches("after=ctm_", r.query, 1, true) end
      end
    end)

    it("comma-joins array filters and percent-encodes values", function()
      local a = create("a+tag@example.com")
      local b = create("b@example.com")
      create("c@example.com")
      m:mark()
      local got = {}
      for c in client.customers.list { email = { "a+tag@example.com", "b@example.com" } } do
        got[c.id] = true
      end
      assert.same({ [a.id] = true, [b.id] = true }, got)
      assert.equal("email=a%2Btag%40example.com,b%40example.com&per_page=200", m:logged()[1].query)

      got = {}
      for c in client.customers.list { id = { a.id, b.id }, status = { "active", "archived" } } do
        got[c.id] = true
      end
      assert.same({ [a.id] = true, [b.id] = true }, got)
      assert.equal("id=" .. a.id .. "," .. b.id .. "&per_page=200&status=active,archived", m:logged()[2].query)
    end)

    it("walks with Paddle's largest page and Skip-Count: 1,000 customers in 5 requests", function()
      m:seed { customers = 1000 }
      m:mark()
      local n = 0
      for c, err in client.customers.list() do
        assert(c, tostring(err))
        n = n + 1
      end
      assert.equal(1000, n)
      local log = m:logged("GET", "/customers")
      assert.equal(5, #log)
      for _, r in ipairs(log) do
        assert.equal("true", r.headers["skip-count"])
        assert.matches("per_page=200", r.query, 1, true)
      end
      -- page() keeps the count: no Skip-Count, Paddle's default page size
      m:mark()
      local page = assert(client.customers.page())
      assert.is_nil(m:logged()[1].headers["skip-count"])
      assert.equal(50, #page.data)
    end)

    it("find_by_email and ensure of an existing customer make one request", function()
      create("once@example.com")
      m:mark()
      assert.equal(1, #assert(client.customers.find_by_email("once@example.com")))
      assert.equal(1, #m:logged())
      m:mark()
      local _, created = assert(client.customers.ensure { email = "once@example.com" })
      assert.is_false(created)
      assert.equal(1, #m:logged())
      m:mark()
      local _, created2 = assert(client.customers.ensure { email = "twice@example.com" })
      assert.is_true(created2)
      assert.equal(2, #m:logged())
    end)

    it("honours the server's per_page clamp (200) and still returns everything", function()
      m:seed { customers = 250 }
      m:mark()
      local page = assert(client.customers.page { per_page = 500 })
      assert.equal(200, #page.data)
      assert.equal(200, page.meta.pagination.per_page)
      assert.is_true(page.meta.pagination.has_more)

      local n = 0
      for c, err in client.customers.list { per_page = 500 } do
        assert.is_nil(err)
        assert.matches("^ctm_", c.id)
        n = n + 1
      end
      assert.equal(250, n)
      assert.equal(3, #m:logged()) -- the page above, then 200 + 50
    end)

    it("yields false, err once when a page fails mid-way, then ends", function()
      for i = 1, 5 do create(("mid%d@example.com"):format(i)) end
      m:mark()
      local iter = client.customers.list { per_page = 2 }
      local results = { iter() } -- page 1 fetched
      m:faults { { method = "GET", path = "^/customers$", status = 500, times = 0 } }
      for c, err in iter do results[#results + 1] = c == false and err or c end
      assert.equal(3, #results) -- two customers of page 1, then the error
      assert.matches("^ctm_", results[1].id)
      assert.matches("^ctm_", results[2].id)
      local err = results[3]
      assert.equal(500, err.status)
      assert.equal("api_error", err.type)
      assert.is_nil(iter()) -- and it stays ended
      assert.equal(2, #m:logged())
    end)

    it("tells done from broken: a complete walk never yields false", function()
      create("done@example.com")
      local broken, n = false, 0
      for c, err in client.customers.list() do
        if c == false then broken = err else n = n + 1 end
      end
      assert.is_false(broken)
      assert.equal(1, n)
    end)

    it("sends a next URL naming another origin (a proxied base_url) to its own base_url", function()
      local real = create("proxied@example.com")
      m:mark()
      m:faults { { method = "GET", path = "^/customers$", status = 200, body = {
        data = { { id = "ctm_01hv6y1jedq4p1n0yqn5ba3ky4", email = "first@example.com" } },
        meta = { request_id = "r", pagination = { per_page = 1, has_more = true, estimated_total = 2,
          next = "https://api.paddle.com/customers?order_by=id%5BASC%5D&per_page=1&after=ctm_0" } } } } }
      local got = {}
      for c, err in client.customers.list { per_page = 1 } do
        assert.is_nil(err)
        got[#got + 1] = c.id
      end
      assert.same({ "ctm_01hv6y1jedq4p1n0yqn5ba3ky4", real.id }, got)
      local log = m:logged()
      assert.equal(2, #log)
      assert.equal("/customers", log[2].path)
      assert.equal("order_by=id%5BASC%5D&per_page=1&after=ctm_0", log[2].query)
    end)

    it("ends with false, err when the pagination does not advance", function()
      local next_url = m.url .. "/customers?per_page=1"
      m:faults { { method = "GET", path = "^/customers$", status = 200, times = 0, body = {
        data = { { id = "ctm_01hv6y1jedq4p1n0yqn5ba3ky4" } },
        meta = { request_id = "r", pagination = { per_page = 1, has_more = true, next = next_url } } } } }
      local got, failure = 0, nil
      for c, err in client.customers.list { per_page = 1 } do
        if c == false then failure = err else got = got + 1 end
      end
      -- A page whose next names itself is suspect (a cache ignoring the
      -- query?): none of it is yielded, and the walk is not repeated.
      assert.equal(0, got)
      assert.equal("invalid_pagination", failure.code)
      assert.equal(1, #m:logged())
    end)

    it("yields false, err at once when the first page fails", function()
      m:faults { { method = "GET", path = "^/customers$", status = 403 } }
      local got = {}
      for c, err in client.customers.list() do got[#got + 1] = { c, err } end
      assert.equal(1, #got)
      assert.is_false(got[1][1])
      assert.equal(403, got[1][2].status)
    end)
  end)

  describe("page", function()
    it("returns one page with the cursor for the next one", function()
      local made = {}
      for i = 1, 5 do made[i] = create(("page%d@example.com"):format(i)).id end
      local p1 = assert(client.customers.page { per_page = 2, order_by = "id[ASC]" })
      assert.same({ made[1], made[2] }, { p1.data[1].id, p1.data[2].id })
      assert.equal(made[2], p1.cursor)
      assert.equal(5, p1.meta.pagination.estimated_total)

      local p2 = assert(client.customers.page { per_page = 2, order_by = "id[ASC]", after = p1.cursor })
      assert.same({ made[3], made[4] }, { p2.data[1].id, p2.data[2].id })
      local p3 = assert(client.customers.page { per_page = 2, order_by = "id[ASC]", after = p2.cursor })
      assert.same({ made[5] }, { p3.data[1].id })
      assert.is_nil(p3.cursor)
      assert.is_false(p3.meta.pagination.has_more)
    end)

    it("returns nil, err on failure", function()
      local p, err = client.customers.page { status = "deleted" }
      assert.is_nil(p)
      assert.equal(400, err.status)
      assert.equal("status", err.errors[1].field)
    end)
  end)

  describe("find_by_email and ensure", function()
    it("find_by_email matches exactly, active or archived, and returns an array", function()
      local a = create("find@example.com")
      create("find2@example.com")
      assert(client.customers.archive(a.id))
      local found = assert(client.customers.find_by_email("find@example.com"))
      assert.equal(1, #found)
      assert.equal(a.id, found[1].id)
      assert.equal("archived", found[1].status)
      assert.same({}, assert(client.customers.find_by_email("nobody@example.com")))
      assert.matches("status=active,archived", m:logged("GET", "/customers")[1].query, 1, true)
    end)

    it("ensure creates the customer once and then returns it with created = false", function()
      local c, created = client.customers.ensure { email = "ensure@example.com", name = "Ensure" }
      assert.is_true(created)
      assert.equal("ensure@example.com", c.email)
      assert.equal("Ensure", c.name)
      local again, created_again = client.customers.ensure { email = "ensure@example.com", name = "Other" }
      assert.is_false(created_again)
      assert.equal(c.id, again.id)
      assert.equal("Ensure", again.name) -- get-or-create, not update
      assert.equal(1, #m:logged("POST", "/customers"))
    end)

    it("ensure finds archived customers too", function()
      local c = create("archived-ensure@example.com")
      assert(client.customers.archive(c.id))
      local found, created = client.customers.ensure { email = "archived-ensure@example.com" }
      assert.is_false(created)
      assert.equal(c.id, found.id)
      assert.equal("archived", found.status)
    end)

    it("ensure recovers from a 409 race by fetching the customer Paddle names", function()
      local existing = create("race@example.com")
      m:mark()
      -- The lookup misses (as if the other writer had not committed yet).
      m:faults { { method = "GET", path = "^/customers$", status = 200,
        body = { data = paddle.array(), meta = { request_id = "r",
          pagination = { per_page = 50, next = m.url .. "/customers?after=x", has_more = false,
            estimated_total = 0 } } } } }
      local c, created = client.customers.ensure { email = "race@example.com", name = "Race" }
      assert.is_false(created)
      assert.equal(existing.id, c.id)
      local log = m:logged()
      assert.equal(3, #log)
      assert.same({ "GET", "POST", "GET" }, { log[1].method, log[2].method, log[3].method })
      assert.equal(409, log[2].status)
      assert.equal("/customers/" .. existing.id, log[3].path)
    end)

    it("ensure returns nil, err for other failures", function()
      local c, err = client.customers.ensure { email = "bad email" }
      assert.is_nil(c)
      assert.equal(400, err.status)
      assert.equal("email", err.errors[1].field)
    end)
  end)

  describe("credit balances, auth token, portal session", function()
    it("credit_balances returns the balances, filtered by comma-joined currency codes", function()
      local c = create("credit@example.com")
      m:admin("POST", "/__mock/credit-balances", { customer_id = c.id, currency_code = "USD",
        balance = { available = "550", reserved = "0", used = "100" } })
      m:admin("POST", "/__mock/credit-balances", { customer_id = c.id, currency_code = "EUR",
        balance = { available = "10", reserved = "0", used = "0" } })
      m:admin("POST", "/__mock/credit-balances", { customer_id = c.id, currency_code = "GBP",
        balance = { available = "1", reserved = "0", used = "0" } })
      m:mark()
      local balances = assert(client.customers.credit_balances(c.id, { currency_code = { "USD", "EUR" } }))
      assert.equal("currency_code=USD,EUR", m:logged()[1].query)
      assert.equal(2, #balances)
      local by = {}
      for _, b in ipairs(balances) do by[b.currency_code] = b.balance end
      assert.equal("550", by.USD.available)
      assert.equal("10", by.EUR.available)

      assert.same({}, assert(client.customers.credit_balances(create("nocredit@example.com").id)))
    end)

    it("auth_token returns a token and its expiry", function()
      local c = create("token@example.com")
      local t = assert(client.customers.auth_token(c.id))
      assert.matches("^pca_", t.customer_auth_token)
      assert.is_string(t.expires_at)
      local _, err = client.customers.auth_token(MISSING)
      assert.equal(404, err.status)
    end)

    it("portal_session sends subscription_ids as a JSON array, [] when empty", function()
      local c = create("portal@example.com")
      local ids = {}
      local s = assert(client.customers.portal_session(c.id, { subscription_ids = ids }))
      assert.matches("^cpls_", s.id)
      assert.is_string(s.urls.general.overview)
      assert.equal('{"subscription_ids":[]}', m:logged("POST")[2].body)
      assert.is_nil(getmetatable(ids)) -- the caller's table is not marked

      local sub = m:admin("POST", "subscriptions", { customer_id = c.id }).data.id -- the customer's own
      s = assert(client.customers.portal_session(c.id, { subscription_ids = { sub } }))
      assert.equal(sub, s.urls.subscriptions[1].id)
      assert.equal('{"subscription_ids":["' .. sub .. '"]}', m:logged("POST")[3].body)

      assert(client.customers.portal_session(c.id))
      assert.equal("{}", m:logged("POST")[4].body)
    end)
  end)

  describe("subscriptions of a customer", function()
    it("iterates GET /subscriptions?customer_id= with filters, across pages", function()
      local seeded = m:seed { customers = 2, subscriptions_per_customer = 5 }
      local owner = seeded.first_id
      m:mark()
      local n = 0
      for s, err in client.customers.subscriptions(owner, { per_page = 2 }) do
        assert.is_nil(err)
        assert.equal(owner, s.customer_id)
        assert.matches("^sub_", s.id)
        n = n + 1
      end
      assert.equal(5, n)
      local log = m:logged("GET", "/subscriptions")
      assert.equal(3, #log)
      for _, r in ipairs(log) do assert.matches("customer_id=" .. owner, r.query, 1, true) end

      local canceled = m:admin("POST", "/__mock/subscriptions", { customer_id = owner, status = "canceled" })
      local got = {}
      for s in client.customers.subscriptions(owner, { status = { "canceled", "paused" } }) do
        got[#got + 1] = s.id
      end
      assert.same({ canceled.data.id }, got)
      assert.matches("status=canceled,paused", m:logged("GET", "/subscriptions")[4].query, 1, true)
    end)
  end)

  describe("misuse raises at the caller's line", function()
    local raises = require "support.raises" (THIS_FILE, { plain = true })

    it("rejects malformed ids before they reach a URL", function()
      raises("customer_id must be a customer id", function() client.customers.get("ctm_123") end)
      raises("customer_id must be a customer id", function()
        client.customers.get("ctm_01hv6y1jedq4p1n0yqn5ba3ky4/../../x")
      end)
      raises("customer_id must be a customer id", function()
        client.customers.get("add_01hv6y1jedq4p1n0yqn5ba3ky4")
      end)
      raises("got a nil", function() client.customers.archive() end)
      raises("got 42 (a number)", function() client.customers.update(42, {}) end)
      assert.equal(0, #m:logged())
    end)

    it("rejects unknown parameters, wrong types and colon calls", function()
      raises('unknown parameter "stauts"', function() client.customers.list { stauts = "active" } end)
      raises("'per_page' must be an integer >= 1", function() client.customers.list { per_page = 0 } end)
      raises("'per_page' must be an integer >= 1", function() client.customers.page { per_page = 2.5 } end)
      raises("'status' must be a string or a non-empty array", function()
        client.customers.list { status = {} }
      end)
      raises("'id' item 1 must be a customer id", function() client.customers.list { id = { "nope" } } end)
      raises("fields must be a table", function() client.customers.create("jo@example.com") end)
      raises("expected a table of fields", function() client.customers.update(MISSING) end)
      raises("call it with a dot", function() client.customers:get(MISSING) end)
      raises("is a function, not a JSON value", function()
        client.customers.create { email = "f@example.com", custom_data = { f = print } }
      end)
      raises("'subscription_ids' must be an array", function()
        client.customers.portal_session(MISSING, { subscription_ids = "sub_01h04vsc0qhwtsbsxh3422wjs4" })
      end)
      raises("email must be a non-empty string", function() client.customers.find_by_email(nil) end)
      raises("email must be a non-empty string", function() client.customers.ensure { name = "x" } end)
      raises("unknown parameter \"customer_id\"", function()
        client.customers.subscriptions(MISSING, { customer_id = MISSING })
      end)
      raises("at most 2 arguments", function() client.customers.update(MISSING, {}, {}) end)
      assert.equal(0, #m:logged())
    end)
  end)
end)
