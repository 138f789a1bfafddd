-- The emulator behind Prism's validating proxy: every endpoint and every
-- error the emulator serves, driven through Prism with Paddle's OpenAPI
-- document. Prism reports what breaks the document in the `sl-violations`
-- header; any violation located in a response fails the run, and so does one
-- located in a request the driver meant to be valid.
--
-- Prism's quirks, worked around here and said in each test's name:
--   * A body that is not JSON, sent as JSON, never comes back from Prism: that
--     request goes to the emulator directly and the driver checks the error
--     envelope itself.
--   * Routes the document does not have (an unknown path, a method a path
--     does not take) get "Selected route not found" and no validation: the
--     driver checks the error envelope itself.
--   * Where the document lists no error answer for an operation (POST
--     /customers/{id}/auth-token has only 200), Prism cannot match the
--     emulator's 404: the driver accepts that one violation for that case and
--     checks the error envelope itself.
--   * Prism rewrites Host to the upstream's, so `meta.pagination.next` names
--     the emulator: the driver follows the cursor with next's path and query
--     through Prism (checking that next keeps the request's own query).
local cjson = require "cjson"
local tap = require "contract.tap"

local concat = table.concat
local ipairs = ipairs
local pcall = pcall
local tostring = tostring
local type = type

local _M = {}

local UNKNOWN = require "contract.ids"

local function violations(r)
  local header = r.headers and r.headers["sl-violations"]
  if not header then return {} end
  local ok, list = pcall(cjson.decode, header)
  if not ok or type(list) ~= "table" then return { { location = { "?" }, message = header } } end
  return list
end

-- The error envelope, for answers Prism could not validate.
local function envelope_problems(r)
  local problems = {}
  local e = type(r.json) == "table" and r.json.error
  if type(e) ~= "table" then return { "no error object: " .. tostring(r.body) } end
  if e.type ~= "request_error" and e.type ~= "api_error" then
    problems[#problems + 1] = "error.type " .. tostring(e.type)
  end
  for _, k in ipairs { "code", "detail", "documentation_url" } do
    if type(e[k]) ~= "string" then problems[#problems + 1] = "error." .. k .. " missing" end
  end
  if type(e.documentation_url) == "string"
    and not e.documentation_url:find("^https://developer%.paddle%.com/errors/") then
    problems[#problems + 1] = "documentation_url " .. e.documentation_url
  end
  if type(r.json.meta) ~= "table" or type(r.json.meta.request_id) ~= "string" then
    problems[#problems + 1] = "meta.request_id missing"
  end
  return problems
end

-- c: name, method, path, body, key, headers, status, expect:
--   "valid" (default), "invalid_request" (a request the document refuses on
--   purpose), "unrouted" (a route the document does not have), "direct",
--   "undocumented_status" (an operation whose document lists no such status).
local function drive(ctx, c)
  local expect = c.expect or "valid"
  local target = expect == "direct" and ctx.mock.url or ctx.prism.url
  local r = ctx.mock:request(c.method, target .. c.path, { body = c.body, key = c.key, headers = c.headers })
  local problems = {}
  if r.status ~= c.status then
    problems[#problems + 1] = "status " .. tostring(r.status) .. ", expected " .. c.status
      .. ": " .. tostring(r.body)
  end
  local routed, matched = true, true
  for _, v in ipairs(violations(r)) do
    local where = type(v.location) == "table" and concat(v.location, ".") or "?"
    local text = where .. ": " .. tostring(v.message)
    local unmatched = tostring(v.message):find("^Unable to match the returned status code") ~= nil
    if unmatched and expect == "undocumented_status" then
      matched = false
    elseif v.message == "Selected route not found" then
      routed = false
      if expect ~= "unrouted" then problems[#problems + 1] = text end
    elseif v.location and v.location[1] == "response" then
      problems[#problems + 1] = text
    elseif expect == "valid" then
      problems[#problems + 1] = text
    end
  end
  local label = c.method .. " " .. c.path:gsub("%%", "%%%%") .. " -> " .. c.status
  if c.name then label = label .. " (" .. c.name .. ")" end
  if expect == "direct" or not matched or (not routed and r.status ~= nil and r.status >= 400) then
    for _, p in ipairs(envelope_problems(r)) do problems[#problems + 1] = p end
    if expect == "direct" then
      label = label .. " [direct to the emulator: Prism does not forward it; envelope checked here]"
    elseif not matched then
      label = label .. " [the document lists no such status here: envelope checked here]"
    else
      label = label .. " [not in the document: envelope checked here]"
    end
  end
  tap.check(#problems == 0, label, concat(problems, "\n"))
  return r
end

-- Follows a list through Prism; returns the ids seen.
local function walk(ctx, name, path, expected_count)
  local seen, pages = {}, 0
  local next_path = path
  local problems = {}
  while next_path and pages < 50 do
    local r = drive(ctx, { method = "GET", path = next_path, status = 200,
      name = name .. ", page " .. (pages + 1) })
    pages = pages + 1
    if r.status ~= 200 or type(r.json) ~= "table" then break end
    for _, item in ipairs(r.json.data) do seen[#seen + 1] = item.id end
    local p = r.json.meta.pagination
    if not p.has_more then break end
    local rest = p.next:match("^https?://[^/]+(/.*)$")
    if not rest or not rest:find("after=", 1, true) then
      problems[#problems + 1] = "next is not a URL with after=: " .. tostring(p.next)
      break
    end
    next_path = rest
  end
  if expected_count then
    tap.check(#seen == expected_count and #problems == 0,
      name .. ": the cursor walk sees " .. expected_count .. " items",
      "saw " .. #seen .. "\n" .. concat(problems, "\n"))
  end
  return seen
end

local function customers_cases(ctx, s)
  local c = s.customer
  drive(ctx, { method = "GET", path = "/customers", status = 200 })
  walk(ctx, "every active customer, 2 a page", "/customers?per_page=2", s.active)
  walk(ctx, "ascending", "/customers?per_page=3&order_by=id[ASC]", s.active)
  walk(ctx, "both statuses", "/customers?per_page=4&status=active,archived", s.active + s.archived)
  drive(ctx, { method = "GET", path = "/customers?status=archived", status = 200 })
  drive(ctx, { method = "GET", path = "/customers?id=" .. c.id .. "," .. s.listed[1], status = 200 })
  drive(ctx, { method = "GET", path = "/customers?email=ann@example.com", status = 200 })
  drive(ctx, { method = "GET", path = "/customers?search=ann", status = 200 })
  drive(ctx, { method = "GET", path = "/customers?per_page=200&order_by=id[DESC]", status = 200 })
  drive(ctx, { method = "GET", path = "/customers?per_page=2", status = 200, name = "Skip-Count: true",
    headers = { ["Skip-Count"] = "true" } })
  drive(ctx, { method = "POST", path = "/customers", status = 201,
    body = { email = "contract-new@example.com", name = "New", custom_data = { a = 1 }, locale = "de" } })
  drive(ctx, { method = "POST", path = "/customers", status = 409, name = "email taken",
    body = { email = "Contract@Example.com" } })
  drive(ctx, { method = "POST", path = "/customers", status = 400, expect = "invalid_request",
    body = { email = "not an email" } })
  drive(ctx, { method = "POST", path = "/customers", status = 400, expect = "invalid_request",
    body = { name = "no email" } })
  drive(ctx, { method = "POST", path = "/customers", status = 400, expect = "invalid_request",
    body = { email = "x@example.com", nickname = "unknown field" } })
  drive(ctx, { method = "POST", path = "/customers", status = 400, expect = "direct", name = "not JSON",
    body = "{not json", headers = { ["Content-Type"] = "application/json" } })
  drive(ctx, { method = "GET", path = "/customers/" .. c.id, status = 200 })
  drive(ctx, { method = "GET", path = "/customers/" .. s.listed[1], status = 200,
    name = "seeded from a list" })
  drive(ctx, { method = "GET", path = "/customers/" .. s.counted, status = 200, name = "seeded by count" })
  drive(ctx, { method = "GET", path = "/customers/" .. UNKNOWN.ctm, status = 404 })
  drive(ctx, { method = "GET", path = "/customers/ctm_short", status = 404, expect = "invalid_request" })
  drive(ctx, { method = "PATCH", path = "/customers/" .. c.id, status = 200, body = { name = "Renamed" } })
  drive(ctx, { method = "PATCH", path = "/customers/" .. c.id, status = 200,
    body = { custom_data = cjson.null } })
  drive(ctx, { method = "PATCH", path = "/customers/" .. c.id, status = 200, name = "archive",
    body = { status = "archived" } })
  drive(ctx, { method = "PATCH", path = "/customers/" .. c.id, status = 200, name = "unarchive",
    body = { status = "active" } })
  drive(ctx, { method = "PATCH", path = "/customers/" .. c.id, status = 409, name = "email taken",
    body = { email = "ann@example.com" } })
  drive(ctx, { method = "PATCH", path = "/customers/" .. c.id, status = 400, expect = "invalid_request",
    body = { status = "deleted" } })
  drive(ctx, { method = "PATCH", path = "/customers/" .. UNKNOWN.ctm, status = 404, body = { name = "x" } })
  drive(ctx, { method = "DELETE", path = "/customers/" .. c.id, status = 405, expect = "unrouted" })
  for _, q in ipairs { "status=", "status=deleted", "per_page=0", "order_by=name[ASC]", "id=", "search=" } do
    drive(ctx, { method = "GET", path = "/customers?" .. q, status = 400, expect = "invalid_request" })
  end
  drive(ctx, { method = "GET", path = "/customers/" .. c.id .. "/credit-balances", status = 200 })
  drive(ctx, { method = "GET", path = "/customers/" .. c.id .. "/credit-balances?currency_code=USD",
    status = 200 })
  drive(ctx, { method = "GET", path = "/customers/" .. UNKNOWN.ctm .. "/credit-balances", status = 404 })
  drive(ctx, { method = "POST", path = "/customers/" .. c.id .. "/auth-token", status = 200 })
  drive(ctx, { method = "POST", path = "/customers/" .. UNKNOWN.ctm .. "/auth-token", status = 404,
    expect = "undocumented_status" })
  local portal = "/customers/" .. c.id .. "/portal-sessions"
  drive(ctx, { method = "POST", path = portal, status = 201, body = {} })
  drive(ctx, { method = "POST", path = portal, status = 201,
    body = { subscription_ids = { s.subscription.id } } })
  drive(ctx, { method = "POST", path = portal, status = 400, name = "another customer's subscription",
    body = { subscription_ids = { s.other_subscription } } })
  drive(ctx, { method = "POST", path = "/customers/" .. UNKNOWN.ctm .. "/portal-sessions",
    status = 404, body = {} })
end

local function nested_cases(ctx, s, kind, prefix, create_body, update_body, bad_body)
  local base = "/customers/" .. s.customer.id .. "/" .. kind
  local made = drive(ctx, { method = "POST", path = base, status = 201, body = create_body })
  local id = made.json and made.json.data and made.json.data.id or UNKNOWN[prefix]
  for i = 1, 4 do
    local body = {}
    for k, v in pairs(create_body) do body[k] = v end
    body.custom_data = { n = i }
    ctx.mock:request("POST", ctx.mock.url .. base, { body = body })
  end
  drive(ctx, { method = "POST", path = base, status = 400, expect = "invalid_request", body = bad_body })
  drive(ctx, { method = "POST", path = "/customers/" .. UNKNOWN.ctm .. "/" .. kind, status = 404,
    body = create_body })
  drive(ctx, { method = "GET", path = base .. "/" .. id, status = 200 })
  drive(ctx, { method = "GET", path = base .. "/" .. UNKNOWN[prefix], status = 404 })
  drive(ctx, { method = "PATCH", path = base .. "/" .. id, status = 200, body = update_body })
  drive(ctx, { method = "PATCH", path = base .. "/" .. id, status = 200, name = "archive",
    body = { status = "archived" } })
  walk(ctx, kind .. " active", base .. "?per_page=2", 4 + (s.existing[kind] or 0))
  drive(ctx, { method = "GET", path = base .. "?status=archived", status = 200 })
  drive(ctx, { method = "GET", path = base .. "?status=active,archived&order_by=id[ASC]", status = 200 })
  drive(ctx, { method = "GET", path = base .. "?id=" .. id, status = 200 })
  drive(ctx, { method = "GET", path = base .. "?search=a", status = 200 })
  drive(ctx, { method = "PATCH", path = base .. "/" .. id, status = 200, name = "unarchive",
    body = { status = "active" } })
  drive(ctx, { method = "PATCH", path = base .. "/" .. id, status = 400, expect = "invalid_request",
    body = { unknown_field = 1 } })
  drive(ctx, { method = "PATCH", path = base .. "/" .. UNKNOWN[prefix], status = 404, body = update_body })
  drive(ctx, { method = "GET", path = base .. "?status=", status = 400, expect = "invalid_request" })
  drive(ctx, { method = "GET", path = "/customers/" .. UNKNOWN.ctm .. "/" .. kind, status = 404 })
  drive(ctx, { method = "DELETE", path = base .. "/" .. id, status = 405, expect = "unrouted" })
end

local function other_cases(ctx, s)
  local c = s.customer
  local pm_base = "/customers/" .. c.id .. "/payment-methods"
  drive(ctx, { method = "GET", path = pm_base, status = 200 })
  drive(ctx, { method = "GET", path = pm_base .. "?address_id=" .. s.payment_method.address_id,
    status = 200 })
  drive(ctx, { method = "GET", path = pm_base .. "?address_id=", status = 400, expect = "invalid_request" })
  drive(ctx, { method = "GET", path = pm_base .. "/" .. s.payment_method.id, status = 200 })
  drive(ctx, { method = "GET", path = pm_base .. "/" .. s.paypal.id, status = 200, name = "paypal" })
  drive(ctx, { method = "GET", path = pm_base .. "/" .. UNKNOWN.paymtd, status = 404 })
  drive(ctx, { method = "DELETE", path = pm_base .. "/" .. s.payment_method.id, status = 204 })
  drive(ctx, { method = "DELETE", path = pm_base .. "/" .. s.payment_method.id, status = 404,
    name = "again" })
  drive(ctx, { method = "GET", path = "/customers/" .. s.counted .. "/payment-methods", status = 200,
    name = "seeded" })

  drive(ctx, { method = "GET", path = "/subscriptions", status = 200 })
  walk(ctx, "subscriptions", "/subscriptions?per_page=2", s.subscriptions)
  drive(ctx, { method = "GET", path = "/subscriptions?customer_id=" .. c.id, status = 200 })
  drive(ctx, { method = "GET", path = "/subscriptions?status=active,paused", status = 200 })
  drive(ctx, { method = "GET", path = "/subscriptions?id=" .. s.subscription.id, status = 200 })
  drive(ctx, { method = "GET", path = "/subscriptions?status=gone", status = 400,
    expect = "invalid_request" })
  drive(ctx, { method = "GET", path = "/subscriptions?customer_id=", status = 400,
    expect = "invalid_request" })
  drive(ctx, { method = "GET", path = "/subscriptions/" .. s.subscription.id, status = 200 })
  drive(ctx, { method = "GET", path = "/subscriptions/" .. s.paused.id, status = 200, name = "paused" })
  drive(ctx, { method = "GET", path = "/subscriptions/" .. s.canceled.id, status = 200, name = "canceled" })
  drive(ctx, { method = "GET", path = "/subscriptions/" .. UNKNOWN.sub, status = 404 })
  drive(ctx, { method = "POST", path = "/subscriptions", status = 405, expect = "unrouted", body = {} })

  drive(ctx, { method = "GET", path = "/events", status = 200 })
  walk(ctx, "events", "/events?per_page=5&order_by=id[ASC]")
  drive(ctx, { method = "GET", path = "/events?event_type=customer.created,address.updated", status = 200 })
  drive(ctx, { method = "GET", path = "/events?event_type=", status = 400, expect = "invalid_request" })

  drive(ctx, { method = "GET", path = "/customers", status = 403, key = false, name = "no key",
    expect = "invalid_request" })
  drive(ctx, { method = "GET", path = "/customers", status = 403, key = "pdl_sdbx_apikey_wrong",
    name = "wrong key" })
  drive(ctx, { method = "GET", path = "/customers", status = 403, key = false, name = "malformed header",
    expect = "invalid_request", headers = { Authorization = "Basic abc" } })
  drive(ctx, { method = "GET", path = "/nowhere", status = 404, expect = "unrouted" })
end

-- Answers made by faults and by the rate limit.
local function fault_cases(ctx)
  for _, status in ipairs { 500, 502, 503, 504 } do
    ctx.mock:faults { { path = "/customers", status = status, times = 1 } }
    drive(ctx, { method = "GET", path = "/customers", status = status, name = "fault" })
  end
  ctx.mock:faults {}
  ctx.mock:config { rate_limit = { requests = 1, per = 60, block = 60 } }
  drive(ctx, { method = "GET", path = "/customers", status = 200, name = "under the limit" })
  local r = drive(ctx, { method = "GET", path = "/customers", status = 429, name = "rate limited" })
  tap.check(r.headers["retry-after"] == "60",
    "the 429 carries Retry-After: 60", tostring(r.headers["retry-after"]))
  ctx.mock:config { rate_limit = false }
end

-- Entities made through the API, the admin API and both seeds.
local function setup(ctx)
  local m = ctx.mock
  local s = { existing = {} }
  local listed = m:seed { customers = {
    { email = "ann@example.com", name = "Ann", custom_data = { plan = "pro" }, locale = "fr" },
    { email = "old@example.com", name = "Old", status = "archived" },
  }, subscriptions_per_customer = 1, payment_methods_per_customer = 1 }
  s.listed = listed.ids
  local counted = m:seed { customers = 5, subscriptions_per_customer = 1, payment_methods_per_customer = 2 }
  s.counted = counted.first_id
  s.customer = m:request("POST", "/customers", { body = { email = "contract@example.com",
    name = "Con" } }).json.data
  s.subscription = m:admin("POST", "subscriptions", { customer_id = s.customer.id }).data
  s.paused = m:admin("POST", "subscriptions", { customer_id = s.customer.id, status = "paused" }).data
  s.canceled = m:admin("POST", "subscriptions", { customer_id = s.customer.id, status = "canceled" }).data
  s.other_subscription = m:admin("POST", "subscriptions", { customer_id = s.counted }).data.id
  s.payment_method = m:admin("POST", "payment-methods", { customer_id = s.customer.id }).data
  s.paypal = m:admin("POST", "payment-methods", { customer_id = s.customer.id, type = "paypal" }).data
  m:admin("POST", "credit-balances", { customer_id = s.customer.id, currency_code = "USD",
    balance = { available = "100", reserved = "0", used = "5" } })
  s.existing.addresses = 1 -- the one the admin API made for the subscription
  s.active, s.archived = 1 + 1 + 5, 1
  s.subscriptions = 2 + 5 + 4
  return s
end

function _M.run(ctx)
  local s = setup(ctx)
  customers_cases(ctx, s)
  nested_cases(ctx, s, "addresses", "add",
    { country_code = "US", city = "Austin", postal_code = "78701", description = "HQ" },
    { city = "Dallas", region = cjson.null }, { city = "no country" })
  nested_cases(ctx, s, "businesses", "biz",
    { name = "Acme", company_number = "123", contacts = { { name = "Bo", email = "bo@example.com" } } },
    { tax_identifier = "AB123", contacts = { { email = "c@example.com" } } }, { company_number = "no name" })
  other_cases(ctx, s)
  fault_cases(ctx)
end

return _M
