-- Fail closed: an answer that is not the shape its endpoint promises is an
-- error (decode_error / invalid_response), never a partial result that looks
-- whole; a walk that fails yields `false, err` once with a resume cursor.
-- A fake transport (put where the client loads libcurl's) serves the answers.
local paddle = require "paddle"

local KEY = "pdl_sdbx_apikey_01hv8gq4zx7w2x3y4z5a6b7c8d_failclosed"
local TRANSPORT_MODULES = { "paddle.transport.curl" }

local function id(prefix, n)
  return prefix .. "_" .. string.format("%026d", n)
end

local function customer(n)
  return string.format('{"id":"%s","email":"c%d@example.com","status":"active"}', id("ctm", n), n)
end

local function list_page(items, next_after)
  local more = next_after ~= nil
  return string.format('{"data":[%s],"meta":{"request_id":"r","pagination":{"per_page":2,"next":%s,'
    .. '"has_more":%s,"estimated_total":4}}}', table.concat(items, ","),
    more and ('"http://paddle.test/customers?after=' .. next_after .. '&per_page=200"') or "null",
    tostring(more))
end

-- A client whose transport answers with serve(method, url, body) -> status, body.
local function client_with(serve, extra)
  local sent = {}
  local fake = {
    name = "fake",
    new = function()
      return {
        name = "fake",
        set_headers = function() end,
        send = function(_, method, url, body)
          sent[#sent + 1] = { method = method, url = url, body = body }
          local status, answer = serve(method, url, body, #sent)
          return status, answer, "req_" .. #sent, nil
        end,
        headers = function() return {} end,
        sleep = function() return false end,
        close = function() end,
      }
    end,
  }
  local saved = {}
  for _, name in ipairs(TRANSPORT_MODULES) do
    saved[name] = package.loaded[name]
    package.loaded[name] = fake
  end
  local opts = { api_key = KEY, base_url = "http://paddle.test", transport = "curl", rate_limit = false }
  for k, v in pairs(extra or {}) do opts[k] = v end
  local c = paddle.new(opts)
  c.customers.get(id("ctm", 0)) -- loads the transport while the fake is in place
  for name, module in pairs(saved) do package.loaded[name] = module end
  for i = #sent, 1, -1 do sent[i] = nil end
  return c, sent
end

local MALFORMED_PAGES = {
  ["an empty object"] = "{}",
  ["data as an object"] = '{"data":{"id":"ctm_1"},"meta":{"pagination":{}}}',
  ["an error object with 200"] = '{"error":{"type":"api_error","code":"internal_error","detail":"x"}}',
  ["data of numbers"] = '{"data":[1,2,3],"meta":{"pagination":{"has_more":false}}}',
  ["no pagination"] = '{"data":[]}',
  ["not JSON"] = "<html>gateway</html>",
  ["an empty body"] = "",
  ["has_more that is not a boolean"] = '{"data":[],"meta":{"pagination":{"has_more":"yes"}}}',
}

describe("fail closed", function()
  for what, body in pairs(MALFORMED_PAGES) do
    it("a walk whose page 2 is " .. what .. " yields page 1, then false, err with a resume cursor", function()
      local c = client_with(function(_, url)
        if not url:find("after=", 1, true) then return 200, list_page({ customer(1), customer(2) }, id("ctm", 2)) end
        return 200, body
      end)
      local got, failure = {}, nil
      local after_failure = 0
      for item, err in c.customers.list() do
        if item == false then
          assert.is_nil(failure, "the error is yielded once")
          failure = err
        elseif failure then
          after_failure = after_failure + 1
        else
          got[#got + 1] = item
        end
      end
      assert.equal(2, #got)
      assert.equal(0, after_failure)
      assert.is_table(failure, "the walk ended silently")
      assert.equal("decode_error", failure.type)
      assert.is_truthy(failure.code == "invalid_response" or failure.code == "invalid_pagination", failure.code)
      assert.equal(id("ctm", 2), failure.cursor)
      assert.matches("paddle:", tostring(failure))
    end)
  end

  it("a walk resumes from err.cursor with nothing lost or repeated", function()
    local broken = true
    local c, sent = client_with(function(_, url)
      local after = url:match("after=([%w_]+)")
      if not after then return 200, list_page({ customer(1), customer(2) }, id("ctm", 2)) end
      if after == id("ctm", 2) then
        if broken then return 200, "{}" end
        return 200, list_page({ customer(3), customer(4) }, id("ctm", 4))
      end
      return 200, list_page({ customer(5) })
    end)
    local seen, cursor = {}, nil
    for item, err in c.customers.list { status = "active" } do
      if item == false then cursor = err.cursor else seen[#seen + 1] = item.id end
    end
    assert.equal(id("ctm", 2), cursor)
    broken = false
    for item, err in c.customers.list { status = "active", after = cursor } do
      assert(item, err)
      seen[#seen + 1] = item.id
    end
    assert.same({ id("ctm", 1), id("ctm", 2), id("ctm", 3), id("ctm", 4), id("ctm", 5) }, seen)
    assert.matches("after=" .. id("ctm", 2), sent[#sent - 1].url, 1, true)
    assert.matches("status=active", sent[#sent - 1].url, 1, true)
  end)

  it("a failed first page carries the caller's own `after` as the cursor", function()
    local c = client_with(function() return 200, "{}" end)
    local iter = c.customers.list { after = id("ctm", 7) }
    local ok, err = iter()
    assert.is_false(ok)
    assert.equal(id("ctm", 7), err.cursor)
    assert.is_nil(iter())
  end)

  it("entity answers must be objects with an id of the right prefix", function()
    local cases = {
      { "", "an empty answer" },
      { '{"data":"ctm_1"}', "data is not an object" },
      { '{"data":[{"id":"x"}]}', "data is not an object" },
      { '{"data":{"id":"' .. id("add", 1) .. '"}}', "data.id is not a customer id" },
      { '{"meta":{}}', "data is not an object" },
    }
    for _, case in ipairs(cases) do
      local c = client_with(function() return 200, case[1] end)
      local data, err = c.customers.get(id("ctm", 1))
      assert.is_nil(data, case[1])
      assert.equal("invalid_response", err.code)
      assert.equal(200, err.status)
      assert.matches(case[2], err.detail, 1, true)
      assert.is_string(err.request_id)
      data, err = c.customers.create { email = "x@example.com" }
      assert.is_nil(data)
      assert.equal("invalid_response", err.code)
    end
  end)

  it("an empty answer is success only where the endpoint answers no content", function()
    local c = client_with(function() return 204, "" end)
    assert.is_true((c.payment_methods.delete(id("ctm", 1), id("paymtd", 1))))
    local data, err = c.customers.update(id("ctm", 1), { name = "x" })
    assert.is_nil(data)
    assert.equal("invalid_response", err.code)
  end)

  it("find_by_email and ensure report a malformed lookup instead of trusting it", function()
    local c, sent = client_with(function(method)
      if method == "GET" then return 200, '{"data":{}}' end
      return 201, '{"data":' .. customer(9) .. '}'
    end)
    local found, err = c.customers.find_by_email("c9@example.com")
    assert.is_nil(found)
    assert.equal("invalid_response", err.code)
    local customer_, err2 = c.customers.ensure { email = "c9@example.com" }
    assert.is_nil(customer_)
    assert.equal("invalid_response", err2.code)
    for _, r in ipairs(sent) do assert.equal("GET", r.method, "ensure must not create after a bad lookup") end
  end)

  it("JSON null reads as nil, and keep_null keeps the sentinel", function()
    local c = client_with(function()
      return 200, '{"data":{"id":"' .. id("ctm", 1) .. '","name":null,"locale":"en","custom_data":null}}'
    end)
    local got = assert(c.customers.get(id("ctm", 1)))
    assert.is_nil(got.name)
    assert.equal("(no name)", got.name or "(no name)")
    assert.is_nil(got.custom_data)

    local kept = client_with(function()
      return 200, '{"data":{"id":"' .. id("ctm", 1) .. '","name":null}}'
    end, { keep_null = true })
    assert.equal(paddle.null, assert(kept.customers.get(id("ctm", 1))).name)
  end)

  it("whole numbers are integers under Lua 5.4 (per_page prints 200, not 200.0)", function()
    local c = client_with(function()
      return 200, '{"data":[],"meta":{"pagination":{"per_page":200,"has_more":false,"estimated_total":0}}}'
    end)
    local page = assert(c.customers.page())
    assert.equal("200", tostring(page.meta.pagination.per_page))
    if math.type then assert.equal("integer", math.type(page.meta.pagination.per_page)) end
  end)
end)
