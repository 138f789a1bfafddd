-- paddle.json: the one JSON module of the client and the emulator.
local json = require "paddle.json"

describe("paddle.json", function()
  it("encodes with sorted keys, [] for marked arrays and {} for empty tables", function()
    assert.equal('{"a":[],"b":{},"c":[1,"x",true,null]}',
      json.encode { b = {}, a = json.array(), c = { 1, "x", true, json.null } })
    assert.is_true(json.is_array_marked(json.array()))
    assert.is_false(json.is_array_marked({}))
  end)

  it("writes numbers in their shortest exact form, whole numbers without a fraction", function()
    assert.equal("[0.1,3,-2,1e+20,9007199254740992,1.5]", json.encode { 0.1, 3, -2.0, 1e20, 2^53, 1.5 })
  end)

  it("refuses NaN and infinities when encoding, naming where they are", function()
    local s, err = json.encode { amounts = { x = 0 / 0 } }
    assert.is_nil(s)
    assert.matches("cannot encode .*nan as JSON", err)
    assert.is_nil((json.encode { 1 / 0 }))
    assert.error_matches(function() json.object({ "x" }, { x = -1 / 0 }) end, "cannot encode %-inf")
  end)

  it("keeps an object's field order with object(), absent fields null, raw() as is", function()
    assert.equal('{"z":1,"a":null,"m":{"q":[]}}',
      json.object({ "z", "a", "m" }, { z = 1, m = json.raw('{"q":[]}') }))
    assert.equal('"a\\"b\\n\\u0001/"', json.string('a"b\n\1/'))
  end)

  it("decodes with lua-cjson, refusing NaN and Infinity", function()
    assert.same({ a = { 1, 2 } }, json.decode('{"a":[1,2]}'))
    assert.equal(json.null, json.decode('{"a":null}').a)
    assert.is_nil((json.decode('{"a":NaN}')))
    assert.is_nil((json.decode('[Infinity]')))
    assert.is_nil((json.decode("{")))
    assert.is_nil((json.decode(nil)))
  end)

  describe("decode with { arrays = true }", function()
    local opts = { arrays = true }

    it("tells [] from {} at every depth, and marks every array", function()
      local v = assert(json.decode('{"a":[],"b":{},"c":[1,[ ],{"d":[]}],"e":"[]"}', opts))
      assert.is_true(json.is_array(v.a))
      assert.is_true(json.is_object(v.b))
      assert.is_true(json.is_array(v.c) and json.is_array(v.c[2]) and json.is_array(v.c[3].d))
      assert.equal("[]", v.e)
      assert.equal('{"a":[],"b":{},"c":[1,[],{"d":[]}],"e":"[]"}', json.encode(v))
      assert.is_true(json.is_array(json.decode("[]", opts)))
    end)

    it("is not fooled by a text holding its own marker", function()
      local text = '{"f":["\\u0000paddle.json.empty_array.0"],"g":[]}'
      local v = assert(json.decode(text, opts))
      assert.equal(1, #v.f)
      assert.equal(0, #v.g)
    end)

    it("refuses numbers beyond a double's range", function()
      local v, err = json.decode('{"x":1e999}', opts)
      assert.is_nil(v)
      assert.matches("number out of range", err, 1, true)
    end)
  end)
end)
