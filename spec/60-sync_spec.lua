-- paddle.sync (the Lua API under `paddle sync`) and paddle.users, in process.
local mock = require "support.mock"
local paddle = require "paddle"
local sync = require "paddle.sync"
local users = require "paddle.users"

local KEY = "pdl_sdbx_apikey_syncapi"

describe("paddle.sync", function()
  local m, client
  setup(function()
    m = mock.start { key = KEY }
    client = paddle.new { api_key = KEY, base_url = m.url, rate_limit = false }
  end)
  teardown(function() if m then m:stop() end end)
  before_each(function() m:reset() end)

  local function get(email)
    return client.customers.list { email = email, status = { "active", "archived" } }()
  end

  it("plans without writing, then applies, reporting created ids", function()
    assert(client.customers.create { email = "a@example.com", name = "A", custom_data = { x = 1, y = 2 } })
    local plan = assert(sync.plan({
      { email = "A@example.com", custom_data = { y = paddle.null } }, -- null removes one key
      { email = "b@example.com", name = "B" },
    }, { client = client }))
    assert.same({ create = 1, update = 1, archive = 0, unarchive = 0, unchanged = 0 }, plan.counts)
    assert.equal(1, plan.customers)
    assert.same({ "custom_data.y" }, plan.actions[1].changed)
    assert.same({ x = 1 }, plan.actions[1].fields.custom_data)
    local writes = 0
    for _, r in ipairs(m:requests()) do if r.method ~= "GET" then writes = writes + 1 end end
    assert.equal(1, writes) -- the create above only

    local created = {}
    local summary, failures = sync.apply(plan, { client = client, on_change = function(entry, done, total)
      assert.equal(2, total)
      assert.is_true(done >= 1 and done <= 2)
      if entry.op == "create" then created[#created + 1] = entry.id end
    end })
    assert.same({ create = 1, update = 1, archive = 0, unarchive = 0, unchanged = 0, failed = 0 }, summary)
    assert.same({}, failures)
    assert.equal(get("b@example.com").id, created[1])
    assert.same({ x = 1 }, get("a@example.com").custom_data)
  end)

  it("clears a name with null, and leaves absent fields alone", function()
    assert(client.customers.create { email = "a@example.com", name = "A", locale = "de" })
    local plan = assert(sync.plan({ { email = "a@example.com", name = paddle.null } }, { client = client }))
    assert.same({ name = paddle.null }, plan.actions[1].fields)
    sync.apply(plan, { client = client })
    local c = get("a@example.com")
    assert.is_true(c.name == nil or c.name == paddle.null)
    assert.equal("de", c.locale)
  end)

  it("returns nil, err for bad users and raises on misuse", function()
    local plan, err = sync.plan({ { email = "nope" } }, { client = client })
    assert.is_nil(plan)
    assert.equal("invalid_input", err.code)
    assert.matches("users:1: bad email", tostring(err), 1, true)
    plan, err = sync.plan({ { email = "a@example.com" }, [3] = { email = "b@example.com" } }, { client = client })
    assert.is_nil(plan)
    assert.matches("users must be an array", tostring(err), 1, true)
    -- 42 and "42" are one match key for sync: the check says so before anything is sent
    plan, err = sync.plan({ { email = "a@example.com", custom_data = { uid = 42 } },
      { email = "b@example.com", custom_data = { uid = "42" } } }, { client = client, match = "custom_data.uid" })
    assert.is_nil(plan)
    assert.matches("is also on line", tostring(err), 1, true)
    assert.has_error(function() sync.plan({}, { client = client, match = "phone" }) end)
    assert.has_error(function() sync.apply({}, { client = client }) end)
    assert.equal(0, #m:requests())
  end)

  it("stops on 401/403 and counts what was not done as failed", function()
    local plan = assert(sync.plan({ { email = "a@example.com" }, { email = "b@example.com" } },
      { client = client }))
    local bad = paddle.new { api_key = "pdl_sdbx_apikey_other", base_url = m.url, rate_limit = false }
    local summary, failures, fatal = sync.apply(plan, { client = bad })
    assert.equal(2, summary.failed)
    assert.equal(1, #failures)
    assert.is_true(fatal.status == 401 or fatal.status == 403)
  end)
end)

describe("paddle.users", function()
  local function read(text, name)
    local path = os.tmpname() .. (name or ".csv")
    local f = assert(io.open(path, "wb"))
    f:write(text)
    f:close()
    local list, err = users.read(path)
    os.remove(path)
    return list, err
  end

  it("reads CSV with quotes, CRLF, a BOM and blank lines", function()
    local list = assert(read('\239\187\191email,name,custom_data.note\r\n'
      .. 'a@example.com,"Doe, ""Jo""",\r\n\r\nb@example.com,,"two\nlines"\r\n'))
    assert.equal(2, #list)
    assert.equal('Doe, "Jo"', list[1].name)
    assert.is_nil(list[1].custom_data) -- an empty cell is "not given"
    assert.is_nil(list[2].name)
    assert.equal("two\nlines", list[2].custom_data.note)
    assert.equal(4, list[2].line)
  end)

  it("sniffs JSON lines when the name does not tell", function()
    local list = assert(read('{"email":"a@example.com","custom_data.k":"v"}\n', ".txt"))
    assert.equal("v", list[1].custom_data.k)
  end)

  it("lists every problem, up to a limit", function()
    local rows = { "email" }
    for i = 1, 30 do rows[#rows + 1] = "bad" .. i end
    local _, err = read(table.concat(rows, "\n") .. "\n")
    assert.equal(30, select(2, tostring(err):gsub("bad email", "")) + 10)
    assert.matches("(and 10 more problems)", tostring(err), 1, true)
  end)
end)
