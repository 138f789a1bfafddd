-- The emulator's /customers API over plain HTTP: shapes, validation,
-- conflicts, partial updates, filters and pagination.
local cjson = require "cjson"
local mock = require "support.mock"

local null = cjson.null
local UNKNOWN = "ctm_01h8441jn5pcwrfhwh78jqt8hk" -- well-formed, never created

describe("paddle-mock /customers", function()
  local m

  setup(function() m = mock.start { key = "pdl_sdbx_apikey_customers" } end)
  teardown(function() if m then m:stop() end end)
  before_each(function() m:reset() end)

  local function create(email, extra) return m:create_customer(email, extra) end

  local function assert_error(r, status, code)
    assert.equal(status, r.status, r.body)
    assert.is_table(r.json, r.body)
    assert.equal("request_error", r.json.error.type)
    assert.equal(code, r.json.error.code)
    assert.is_string(r.json.error.detail)
    assert.matches("^https://developer%.paddle%.com/errors/", r.json.error.documentation_url)
    assert.equal(r.headers["request-id"], r.json.meta.request_id)
    return r.json.error
  end

  local function ids_of(list) return mock.pluck(list, "id") end

  describe("create and get", function()
    it("answers 201 with Paddle's customer shape and envelope", function()
      local r = m:request("POST", "/customers", { body = { email = "sam@example.com", name = "Sam Miller" } })
      assert.equal(201, r.status)
      assert.matches("^application/json", r.headers["content-type"])
      local c = r.json.data
      assert.matches("^ctm_[0-9a-hjkmnp-tv-z]+$", c.id)
      assert.equal(30, #c.id)
      assert.same({ "created_at", "custom_data", "email", "id", "import_meta", "locale", "marketing_consent",
        "name", "status", "updated_at" }, (function()
          local keys = {}
          for k in pairs(c) do keys[#keys + 1] = k end
          table.sort(keys)
          return keys
        end)())
      assert.equal("active", c.status)
      assert.equal("sam@example.com", c.email)
      assert.equal("Sam Miller", c.name)
      assert.equal("en", c.locale)
      assert.equal(false, c.marketing_consent)
      assert.equal(null, c.custom_data)
      assert.equal(null, c.import_meta)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.?%d*Z$", c.created_at)
      assert.not_matches("0Z$", c.created_at) -- trailing zeros dropped, like Paddle
      assert.equal(c.created_at, c.updated_at)
      assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", r.json.meta.request_id)
      assert.equal(r.headers["request-id"], r.json.meta.request_id)

      local got = m:request("GET", "/customers/" .. c.id)
      assert.equal(200, got.status)
      assert.same(c, got.json.data)
      assert.are_not.equal(r.json.meta.request_id, got.json.meta.request_id)
    end)

    it("keeps custom_data, including empty arrays and objects", function()
      local created = m:request("POST", "/customers", { body =
        '{"email":"data@example.com","locale":"fr",'
        .. '"custom_data":{"tags":[],"none":{},"nested":{"n":1.5,"ok":true}}}' })
      assert.equal(201, created.status)
      local r = m:request("GET", "/customers/" .. created.json.data.id)
      assert.matches('"tags":%[%]', r.body)
      assert.matches('"none":{}', r.body)
      assert.same({ n = 1.5, ok = true }, r.json.data.custom_data.nested)
      assert.equal("fr", r.json.data.locale)
    end)

    it("hands out ids in creation order", function()
      local a = create("a@example.com")
      local b = create("b@example.com")
      local c = create("c@example.com")
      assert.is_true(a.id < b.id and b.id < c.id)
    end)

    it("answers 404 not_found for an unknown id", function()
      local err = assert_error(m:request("GET", "/customers/" .. UNKNOWN), 404, "not_found")
      assert.equal("Entity " .. UNKNOWN .. " not found", err.detail)
      assert.equal("https://developer.paddle.com/errors/shared/not_found", err.documentation_url)
    end)

    it("requires a valid email, with invalid_field errors", function()
      local function post(body) return m:request("POST", "/customers", { body = body }) end
      local err = assert_error(post { name = "No Email" }, 400, "invalid_field")
      assert.equal("Request does not pass validation.", err.detail)
      assert.equal("https://developer.paddle.com/errors/shared/invalid_field", err.documentation_url)
      assert.same({ { field = "email", message = "must be provided as part of the request" } }, err.errors)

      err = assert_error(post { email = "not-an-email" }, 400, "invalid_field")
      assert.equal("email", err.errors[1].field)
      assert.is_string(err.errors[1].message)

      err = assert_error(post { email = "x@example.com", colour = "red" }, 400, "invalid_field")
      assert.equal("colour", err.errors[1].field)
    end)

    it("rejects a body that is not JSON", function()
      assert_error(m:request("POST", "/customers", { body = "{not json" }), 400, "bad_request")
    end)

    it("answers 409 customer_already_exists naming the owner of the email", function()
      local c = create("taken@example.com")
      local err = assert_error(m:request("POST", "/customers", { body = { email = "Taken@Example.com" } }),
        409, "customer_already_exists")
      assert.equal("customer email conflicts with customer of id " .. c.id, err.detail)
      assert.equal("https://developer.paddle.com/errors/customers/customer_already_exists",
        err.documentation_url)
    end)
  end)

  describe("PATCH", function()
    local c
    before_each(function()
      c = create("patch@example.com", { name = "Pat", locale = "de", custom_data = { a = 1, b = { c = 2 } } })
    end)

    local function patch(body) return m:request("PATCH", "/customers/" .. c.id, { body = body }) end

    it("leaves omitted fields unchanged and clears fields sent as null", function()
      local r = patch { name = cjson.null }
      assert.equal(200, r.status, r.body)
      local u = r.json.data
      assert.equal(null, u.name)
      assert.equal("patch@example.com", u.email)
      assert.equal("de", u.locale)
      assert.same({ a = 1, b = { c = 2 } }, u.custom_data)
      assert.equal(c.created_at, u.created_at)
      assert.is_true(u.updated_at >= c.updated_at)
      assert.same(u, m:request("GET", "/customers/" .. c.id).json.data)
    end)

    it("replaces custom_data as a whole", function()
      local u = patch({ custom_data = { z = true } }).json.data
      assert.same({ z = true }, u.custom_data)
      assert.equal("Pat", u.name)
      assert.equal(null, patch({ custom_data = cjson.null }).json.data.custom_data)
    end)

    it("archives and restores through status", function()
      assert.equal("archived", patch({ status = "archived" }).json.data.status)
      assert.equal("archived", m:request("GET", "/customers/" .. c.id).json.data.status)
      assert.equal("active", patch({ status = "active" }).json.data.status)
    end)

    it("changes the email, freeing the old one", function()
      assert.equal("new@example.com", patch({ email = "new@example.com" }).json.data.email)
      assert.equal(201, m:request("POST", "/customers", { body = { email = "patch@example.com" } }).status)
    end)

    it("refuses another customer's email, a null email and unknown statuses", function()
      local other = create("other@example.com")
      local err = assert_error(patch { email = "other@example.com" }, 409, "customer_already_exists")
      assert.equal("customer email conflicts with customer of id " .. other.id, err.detail)
      assert.equal("email", assert_error(patch { email = cjson.null }, 400, "invalid_field").errors[1].field)
      assert.equal("status", assert_error(patch { status = "deleted" }, 400, "invalid_field").errors[1].field)
      assert.equal("patch@example.com", m:request("GET", "/customers/" .. c.id).json.data.email)
    end)

    it("answers 404 for an unknown customer", function()
      assert_error(m:request("PATCH", "/customers/" .. UNKNOWN, { body = { name = "x" } }),
        404, "not_found")
    end)
  end)

  describe("list", function()
    it("lists active customers newest first with pagination meta", function()
      local a = create("one@example.com")
      local b = create("two@example.com")
      local r = m:request("GET", "/customers")
      assert.equal(200, r.status)
      assert.same({ b.id, a.id }, ids_of(r.json.data))
      local p = r.json.meta.pagination
      assert.equal(50, p.per_page)
      assert.equal(false, p.has_more)
      assert.equal(2, p.estimated_total)
      assert.equal(m.url .. "/customers?after=" .. a.id, p.next)
    end)

    it("orders by id[ASC] and id[DESC]", function()
      local a, b, c = create("a@example.com"), create("b@example.com"), create("c@example.com")
      assert.same({ a.id, b.id, c.id }, ids_of(m:request("GET", "/customers?order_by=id[ASC]").json.data))
      assert.same({ a.id, b.id, c.id }, ids_of(m:request("GET", "/customers?order_by=id%5Basc%5D").json.data))
      assert.same({ c.id, b.id, a.id }, ids_of(m:request("GET", "/customers?order_by=id[DESC]").json.data))
      assert.equal("order_by", assert_error(m:request("GET", "/customers?order_by=email[ASC]"), 400,
        "invalid_field").errors[1].field)
    end)

    it("follows next over several pages, keeping the filters", function()
      local made = {}
      for i = 1, 7 do made[i] = create(("pager%d@example.com"):format(i), { name = "Pager " .. i }).id end
      create("someone-else@example.com", { name = "Other" })
      local archived = create("pager-archived@example.com", { name = "Pager archived" })
      local archive = m:request("PATCH", "/customers/" .. archived.id, { body = { status = "archived" } })
      assert.equal(200, archive.status)

      local url = m.url .. "/customers?search=PAGER&status=active&per_page=2&order_by=id%5BASC%5D"
      local seen, pages, more = {}, 0, true
      while more do
        local r = m:request("GET", url)
        assert.equal(200, r.status, r.body)
        pages = pages + 1
        local p = r.json.meta.pagination
        assert.equal(2, p.per_page)
        assert.equal(7, p.estimated_total)
        for _, c in ipairs(r.json.data) do seen[#seen + 1] = c.id end
        more = p.has_more
        local last = r.json.data[#r.json.data].id
        assert.equal(m.url .. "/customers?search=PAGER&status=active&per_page=2&order_by=id%5BASC%5D"
          .. "&after=" .. last, p.next)
        url = p.next
        assert.is_true(pages <= 4, "too many pages")
      end
      assert.equal(4, pages)
      assert.same(made, seen)
    end)

    it("clamps per_page to 200 and rejects a non-number", function()
      assert.equal(250, m:seed({ customers = 250 }).customers)
      local r = m:request("GET", "/customers?per_page=500")
      assert.equal(200, r.status)
      assert.equal(200, #r.json.data)
      assert.equal(200, r.json.meta.pagination.per_page)
      assert.is_true(r.json.meta.pagination.has_more)
      assert.equal(250, r.json.meta.pagination.estimated_total)
      local rest = m:request("GET", r.json.meta.pagination.next)
      assert.equal(50, #rest.json.data)
      assert.is_false(rest.json.meta.pagination.has_more)
      assert.equal("per_page", assert_error(m:request("GET", "/customers?per_page=lots"), 400,
        "invalid_field").errors[1].field)
    end)

    it("filters by status: active by default, archived, or both", function()
      local a = create("active@example.com")
      local b = create("archived@example.com")
      m:request("PATCH", "/customers/" .. b.id, { body = { status = "archived" } })
      assert.same({ a.id }, ids_of(m:request("GET", "/customers").json.data))
      assert.same({ b.id }, ids_of(m:request("GET", "/customers?status=archived").json.data))
      local both = m:request("GET", "/customers?status=active,archived")
      assert.same({ b.id, a.id }, ids_of(both.json.data))
      assert.equal(2, both.json.meta.pagination.estimated_total)
      assert.equal("status", assert_error(m:request("GET", "/customers?status=deleted"), 400,
        "invalid_field").errors[1].field)
    end)

    it("filters by exact email and by id, as comma-separated lists", function()
      local a, b = create("alice@example.com"), create("bob@example.com")
      local c = create("carol@example.com")
      assert.same({ a.id }, ids_of(m:request("GET", "/customers?email=alice@example.com").json.data))
      assert.same({ c.id, a.id },
        ids_of(m:request("GET", "/customers?email=alice%40example.com,carol@example.com").json.data))
      assert.same({}, ids_of(m:request("GET", "/customers?email=alice").json.data))
      assert.same({ c.id, b.id }, ids_of(m:request("GET", "/customers?id=" .. b.id .. "," .. c.id).json.data))
      assert.same({ b.id }, ids_of(m:request("GET", "/customers?id=" .. b.id .. "," .. c.id
        .. "&email=bob@example.com").json.data))
    end)

    it("searches id, name and email, up to 100 characters", function()
      local a = create("jo@example.com", { name = "Jo Brown" })
      local b = create("sam@brown.example", { name = "Sam" })
      create("alex@example.com", { name = "Alex" })
      assert.same({ b.id, a.id }, ids_of(m:request("GET", "/customers?search=brown").json.data))
      assert.same({ a.id }, ids_of(m:request("GET", "/customers?search=" .. a.id:sub(5)).json.data))
      assert.same({ b.id }, ids_of(m:request("GET", "/customers?search=sam@").json.data))
      assert.equal("search", assert_error(m:request("GET", "/customers?search=" .. ("x"):rep(101)), 400,
        "invalid_field").errors[1].field)
    end)
  end)

  describe("credit balances, auth tokens and portal sessions", function()
    it("lists credit balances, empty by default, filtered by currency_code", function()
      local c = create("credit@example.com")
      local r = m:request("GET", "/customers/" .. c.id .. "/credit-balances")
      assert.equal(200, r.status)
      assert.matches('"data":%[%]', r.body)
      assert.is_nil(r.json.meta.pagination)
      m:admin("POST", "credit-balances", { customer_id = c.id, currency_code = "USD",
        balance = { available = "550", reserved = "900", used = "1300" } })
      m:admin("POST", "credit-balances", { customer_id = c.id, currency_code = "EUR",
        balance = { available = "1", reserved = "0", used = "0" } })
      r = m:request("GET", "/customers/" .. c.id .. "/credit-balances")
      assert.equal(2, #r.json.data)
      r = m:request("GET", "/customers/" .. c.id .. "/credit-balances?currency_code=USD,GBP")
      assert.same({ { customer_id = c.id, currency_code = "USD",
        balance = { available = "550", reserved = "900", used = "1300" } } }, r.json.data)
      assert_error(m:request("GET", "/customers/" .. UNKNOWN .. "/credit-balances"), 404, "not_found")
    end)

    it("generates customer auth tokens", function()
      local c = create("token@example.com")
      local r = m:request("POST", "/customers/" .. c.id .. "/auth-token")
      assert.equal(200, r.status)
      assert.matches("^pca_[0-9a-z]+_[0-9a-z]+_[0-9a-z]+$", r.json.data.customer_auth_token)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT[%d:.]+Z$", r.json.data.expires_at)
      assert.is_true(r.json.data.expires_at > c.created_at)
      assert_error(m:request("POST", "/customers/" .. UNKNOWN .. "/auth-token"), 404, "not_found")
    end)

    it("creates portal sessions with links per subscription, at most 25", function()
      local c = create("portal@example.com")
      local path = "/customers/" .. c.id .. "/portal-sessions"
      local r = m:request("POST", path)
      assert.equal(201, r.status, r.body)
      assert.matches("^cpls_[0-9a-z]+$", r.json.data.id)
      assert.equal(c.id, r.json.data.customer_id)
      assert.matches("^https://.+action=overview", r.json.data.urls.general.overview)
      assert.matches('"subscriptions":%[%]', r.body)

      local subs = {}
      for i = 1, 26 do
        subs[i] = m:admin("POST", "subscriptions", { customer_id = c.id }).data.id
      end
      r = m:request("POST", path, { body = { subscription_ids = { subs[1], subs[2] } } })
      assert.equal(201, r.status)
      assert.equal(2, #r.json.data.urls.subscriptions)
      assert.equal(subs[2], r.json.data.urls.subscriptions[2].id)
      assert.matches("action=cancel_subscription", r.json.data.urls.subscriptions[2].cancel_subscription)
      assert.matches("action=update_subscription_payment_method",
        r.json.data.urls.subscriptions[2].update_subscription_payment_method)

      local many = subs
      local function post(ids) return m:request("POST", path, { body = { subscription_ids = ids } }) end
      assert.equal("subscription_ids", assert_error(post(many), 400, "invalid_field").errors[1].field)
      many[26] = nil
      assert.equal(201, post(many).status)
      assert_error(post { "nope" }, 400, "invalid_field")
    end)
  end)
end)
