-- core.normalize: what lua-cjson decoded, as plain Lua values (JSON null as
-- nil, whole numbers as integers under Lua 5.4), in one pass in C.
local core = require "paddle.core"
local cjson = require "cjson"

local normalize = core.normalize
local null = cjson.null
local HAS_INTEGERS = math.type ~= nil

describe("core.normalize", function()
  it("removes JSON null from objects, at every depth", function()
    local t = normalize(cjson.decode [[
      {"id":"ctm_1","name":null,"custom_data":{"a":null,"b":{"c":null,"d":"x"}},"import_meta":null}]])
    assert.same({ id = "ctm_1", custom_data = { b = { d = "x" } } }, t)
    assert.is_nil(t.name)
    assert.equal("(no name)", t.name or "(no name)")
  end)

  it("returns the same table, changed in place", function()
    local t = cjson.decode [[{"a":null}]]
    assert.equal(t, normalize(t))
    assert.is_nil(next(t))
  end)

  it("keeps array positions: a null becomes a hole", function()
    local t = normalize(cjson.decode [=[[1,null,"three",null]]=])
    assert.equal(1, t[1])
    assert.is_nil(t[2])
    assert.equal("three", t[3])
    assert.is_nil(t[4])
    local arrays = normalize(cjson.decode [=[{"data":[{"x":null},{"x":1}]}]=])
    assert.same({}, arrays.data[1])
    assert.equal(2, #arrays.data)
  end)

  it("keeps cjson.null everywhere with keep_null", function()
    local t = normalize(cjson.decode [=[{"a":null,"b":[null,2],"c":{"d":null}}]=], true)
    assert.equal(null, t.a)
    assert.equal(null, t.b[1])
    assert.equal(null, t.c.d)
  end)

  it("answers nil for a top-level null, and passes other scalars through", function()
    assert.is_nil(normalize(null))
    assert.equal(null, normalize(null, true))
    assert.equal("x", normalize("x"))
    assert.is_true(normalize(true))
    assert.is_nil(normalize(nil))
    local f = function() end
    assert.equal(f, normalize(f))
  end)

  if HAS_INTEGERS then
    it("turns whole floats into integers under Lua 5.4", function()
      local t = normalize(cjson.decode [=[
        {"per_page":200,"total":0,"neg":-7,"big":9007199254740992,"list":[1,2.5,3],"f":2.5,"e":1e2}]=])
      assert.equal("integer", math.type(t.per_page))
      assert.equal(200, t.per_page)
      assert.equal("200", tostring(t.per_page))
      assert.equal("integer", math.type(t.total))
      assert.equal("integer", math.type(t.neg))
      assert.equal("integer", math.type(t.big))
      assert.equal("integer", math.type(t.list[1]))
      assert.equal("float", math.type(t.list[2]))
      assert.equal("float", math.type(t.f))
      assert.equal("integer", math.type(t.e))
      assert.equal(100, t.e)
    end)

    it("leaves floats beyond 2^53, infinities and NaN as floats", function()
      local t = normalize { a = 2.0 ^ 53 + 2, b = -2.0 ^ 60, c = math.huge, d = 0 / 0, e = 1e300 }
      for _, k in ipairs { "a", "b", "c", "d", "e" } do
        assert.equal("float", math.type(t[k]), k)
      end
      assert.equal(-2.0 ^ 53, normalize(-2.0 ^ 53))
      assert.equal("integer", math.type(normalize(-2.0 ^ 53)))
      assert.equal("integer", math.type(normalize(42.0)))
      assert.equal("float", math.type(normalize(0.5)))
    end)
  else
    it("leaves numbers alone under LuaJIT (one number type)", function()
      local t = normalize(cjson.decode [=[{"per_page":200,"f":2.5}]=])
      assert.equal(200, t.per_page)
      assert.equal(2.5, t.f)
    end)
  end

  it("is cycle-safe and depth-limited, never raising", function()
    local t = { a = null }
    t.self = t
    t.child = { parent = t, b = null }
    assert.equal(t, normalize(t))
    assert.is_nil(t.a)
    assert.is_nil(t.child.b)
    assert.equal(t, t.child.parent)
    -- deeper than cjson's default limit of 1000: the first 1000 levels are done
    local deep = { x = null }
    local node = deep
    for _ = 1, 1500 do
      node.next = { x = null }
      node = node.next
    end
    assert.equal(deep, normalize(deep))
    assert.is_nil(deep.x)
    assert.equal(null, node.x) -- level 1501: left as decoded
  end)

  it("normalizes a whole page as the client receives it", function()
    local parts = {}
    for i = 1, 200 do
      parts[i] = ('{"id":"ctm_%d","name":null,"custom_data":{"n":%d},"marketing_consent":false}'):format(i, i)
    end
    local page = normalize(cjson.decode('{"data":[' .. table.concat(parts, ",")
      .. '],"meta":{"pagination":{"per_page":200,"has_more":false,"next":"x"}}}'))
    assert.equal(200, #page.data)
    for i, c in ipairs(page.data) do
      assert.equal("ctm_" .. i, c.id)
      assert.is_nil(c.name)
      assert.equal(i, c.custom_data.n)
      assert.is_false(c.marketing_consent)
      if HAS_INTEGERS then assert.equal("integer", math.type(c.custom_data.n)) end
    end
    assert.equal(200, page.meta.pagination.per_page)
  end)
end)
