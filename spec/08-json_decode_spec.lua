-- core.json_decode(text[, keep_null[, array_mt]]) -> value | nil, message:
-- RFC 8259 JSON straight to Lua values in C (csrc/json_decode.c). null is nil
-- (or core.json_null, cjson.null's NULL, with keep_null), whole numbers are
-- integers under Lua 5.4, every array carries array_mt when one is given.
-- Checked here against hand-written cases and, differentially, against
-- lua-cjson on the shared fixtures, on random documents and on their random
-- mutations.
local core = require "paddle.core"
local cjson = require "cjson"

local child = require "support.child"
local decode = core.json_decode
local null = core.json_null
local concat = table.concat
local char = string.char
local rep = string.rep
local mtype = math.type -- luacheck: ignore (nil on LuaJIT)
local HAS_INTEGERS = mtype ~= nil

-- nil and a message "invalid JSON: <why> at byte <at>" (why is plain text).
local function refused(text, why, at, ...)
  local v, err = decode(text, ...)
  assert.is_nil(v, text)
  assert.is_string(err, text)
  assert.matches("^invalid JSON: .+ at byte %d+$", err)
  if why then assert.matches(why, err, 1, true) end
  if at then assert.equal("invalid JSON: " .. why .. " at byte " .. at, err) end
  return err
end

-- Is a (core's, keep_null or not) the same as b (cjson's)? Numbers by value
-- (cjson's are floats), cjson.null is json_null with keep_null and nothing
-- without. Returns false and the path where they differ.
local function same(a, b, keep_null, path)
  path = path or "$"
  if b == cjson.null and not keep_null then
    if a == nil then return true end
    return false, path .. ": null should be nil"
  end
  if type(a) ~= type(b) then
    return false, ("%s: %s (core) vs %s (cjson)"):format(path, tostring(a), tostring(b))
  end
  if type(a) == "number" then
    if a + 0.0 == b then return true end
    return false, ("%s: %.17g (core) vs %.17g (cjson)"):format(path, a, b)
  end
  if type(a) ~= "table" then
    if a == b then return true end
    return false, ("%s: %q (core) vs %q (cjson)"):format(path, tostring(a), tostring(b))
  end
  for k, v in pairs(b) do
    local ok, where = same(a[k], v, keep_null, path .. "." .. tostring(k))
    if not ok then return false, where end
  end
  for k in pairs(a) do
    if b[k] == nil then return false, path .. "." .. tostring(k) .. ": only in core" end
  end
  return true
end

-- Decodes with core (both ways) and with cjson, and compares. cjson must
-- accept whatever core accepts; when core refuses, the message is well formed.
local function check_against_cjson(text, label)
  local ok_cjson, want = pcall(cjson.decode, text)
  for _, keep_null in ipairs { false, true } do
    local ok, got, err = pcall(decode, text, keep_null)
    assert(ok, label .. ": raised " .. tostring(got))
    if err ~= nil then
      assert(got == nil and type(err) == "string" and err:match("^invalid JSON: .+ at byte %d+$"),
        label .. ": bad refusal " .. tostring(err))
    else
      assert(ok_cjson, label .. ": core accepted what cjson refuses (" .. tostring(want) .. "): " .. ("%q"):format(text))
      local equal, where = same(got, want, keep_null)
      assert(equal, label .. (keep_null and " keep_null" or "") .. ": " .. tostring(where))
    end
  end
  return ok_cjson, (decode(text))
end

---------------------------------------------------------------- random JSON
local function ws(r)
  if r(1, 4) > 1 then return "" end
  local spaces = { " ", "\n", "\t", "\r\n", "  \t" }
  return spaces[r(1, #spaces)]
end

local simple_escapes = { '\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t" }
local raw_utf8 = { "\195\169", "\226\130\172", "\240\159\152\128", "\228\184\173", "\127" }
local plain = "abcXYZ 019_-!#~'<>{}[]:,"

local function random_string(r)
  local parts = { '"' }
  for _ = 1, r(0, 12) do
    local k = r(1, 10)
    local piece
    if k <= 3 then
      local i = r(1, #plain)
      piece = plain:sub(i, i)
    elseif k == 4 then
      piece = simple_escapes[r(1, #simple_escapes)]
    elseif k == 5 or k == 6 then
      local cp
      repeat cp = r(0, k == 5 and 0x7ff or 0xffff) until cp < 0xd800 or cp > 0xdfff
      piece = (r(1, 2) == 1 and "\\u%04x" or "\\u%04X"):format(cp)
    elseif k == 7 then
      local cp = r(0x10000, 0x10ffff) - 0x10000
      piece = ("\\u%04x\\u%04X"):format(0xd800 + math.floor(cp / 0x400), 0xdc00 + cp % 0x400)
    elseif k == 8 then
      piece = raw_utf8[r(1, #raw_utf8)]
    elseif k == 9 then
      piece = "\\u0000"
    else
      piece = rep("x", r(1, 40))
    end
    parts[#parts + 1] = piece
  end
  parts[#parts + 1] = '"'
  return concat(parts)
end

local function digits(r, n, first)
  local d = { tostring(r(first, 9)) }
  for i = 2, n do d[i] = tostring(r(0, 9)) end
  return concat(d)
end

local function random_number(r)
  local s = r(1, 4) == 1 and "-" or ""
  local k = r(1, 6)
  if k == 1 then
    s = s .. "0"
  else
    s = s .. digits(r, r(1, k == 6 and 22 or 6), 1)
  end
  if r(1, 3) == 1 then s = s .. "." .. digits(r, r(1, 8), 0) end
  if r(1, 4) == 1 then
    local signs = { "", "+", "-" }
    s = s .. (r(1, 2) == 1 and "e" or "E") .. signs[r(1, 3)] .. tostring(r(0, r(1, 8) == 1 and 280 or 30))
  end
  return s
end

local keys = { '"a"', '"b"', '"id"', '"name"', '"\\u00e9t\\u00e9"', '"k\\n"', '""', '"data"' }

local function random_value(r, depth)
  local k = r(1, depth >= 6 and 7 or 10)
  if k <= 2 then return random_string(r) end
  if k <= 4 then return random_number(r) end
  if k == 5 then return r(1, 2) == 1 and "true" or "false" end
  if k <= 7 then return "null" end
  local parts = {}
  if k <= 8 then
    for i = 1, r(0, 6) do parts[i] = ws(r) .. random_value(r, depth + 1) .. ws(r) end
    return "[" .. concat(parts, ",") .. ws(r) .. "]"
  end
  for i = 1, r(0, 6) do
    local key = r(1, 5) == 1 and random_string(r) or keys[r(1, #keys)]
    parts[i] = ws(r) .. key .. ws(r) .. ":" .. ws(r) .. random_value(r, depth + 1) .. ws(r)
  end
  return "{" .. concat(parts, ",") .. ws(r) .. "}"
end

local function random_documents(seed, n)
  math.randomseed(seed)
  local r = math.random
  local docs = {}
  for i = 1, n do docs[i] = ws(r) .. random_value(r, i % 3 == 0 and 5 or 0) .. ws(r) end
  return docs
end

local SAMPLE = '{"id":"ctm_01h8","name":null,"n":[1,-2.5,3e2,null,true,false,"\\u00e9\\n"],' ..
  '"custom_data":{"a":null,"b":{"c":null,"d":"x"}},"big":12345678901234567890,"empty":[],"o":{}}'

describe("core.json_decode", function()
  it("removes null from objects at every depth", function()
    local t = assert(decode [[
      {"id":"ctm_1","name":null,"custom_data":{"a":null,"b":{"c":null,"d":"x"}},"import_meta":null}]])
    assert.same({ id = "ctm_1", custom_data = { b = { d = "x" } } }, t)
    assert.is_nil(t.name)
    assert.is_nil(next(assert(decode '{"a":null}')))
  end)

  it("keeps array positions: a null is a hole, later elements keep their index", function()
    local t = assert(decode '[1,null,"three",null]')
    assert.equal(1, t[1])
    assert.is_nil(t[2])
    assert.equal("three", t[3])
    assert.is_nil(t[4])
    local arrays = assert(decode '{"data":[{"x":null},{"x":1}],"more":[null,[null,7]]}')
    assert.same({}, arrays.data[1])
    assert.equal(2, #arrays.data)
    assert.is_nil(arrays.more[1])
    assert.equal(7, arrays.more[2][2])
  end)

  it("keeps json_null everywhere with keep_null, and json_null is cjson.null", function()
    assert.equal(cjson.null, null)
    assert.equal("userdata", type(null))
    local t = assert(decode('{"a":null,"b":[null,2],"c":{"d":null}}', true))
    assert.equal(null, t.a)
    assert.equal(null, t.b[1])
    assert.equal(2, t.b[2])
    assert.equal(null, t.c.d)
  end)

  it("reads a top-level null as nil, or json_null with keep_null; other scalars as they are", function()
    local v, err = decode("null")
    assert.is_nil(v)
    assert.is_nil(err)
    assert.equal(1, select("#", decode("null")))
    assert.equal(null, decode(" null ", true))
    assert.equal("x", decode('"x"'))
    assert.is_true(decode("true"))
    assert.is_false(decode("false"))
    assert.equal(42, decode("42"))
    assert.equal(-1.5, decode(" -1.5\n"))
    assert.equal(12, decode(12)) -- a number is text to luaL_checklstring
  end)

  it("raises on misuse: a text that is not a string, an array_mt that is not a table", function()
    assert.error_matches(function() decode(nil) end, "bad argument #1")
    assert.error_matches(function() decode({}) end, "bad argument #1")
    assert.error_matches(function() decode("[]", false, 1) end, "bad argument #3")
    assert.error_matches(function() decode("[]", false, "mt") end, "bad argument #3")
    assert.error_matches(function() decode("{}", true, true) end, "bad argument #3")
  end)

  it("gives every array, empty and nested ones included, array_mt; objects never", function()
    local mt = { __name = "spec.array" }
    local v = assert(decode('{"a":[],"b":{},"c":[1,[ ],{"d":[[]]}],"e":"[]","f":[null]}', false, mt))
    assert.is_nil(getmetatable(v))
    assert.equal(mt, getmetatable(v.a))
    assert.is_nil(getmetatable(v.b))
    assert.equal(mt, getmetatable(v.c))
    assert.equal(mt, getmetatable(v.c[2]))
    assert.is_nil(getmetatable(v.c[3]))
    assert.equal(mt, getmetatable(v.c[3].d))
    assert.equal(mt, getmetatable(v.c[3].d[1]))
    assert.equal(mt, getmetatable(v.f))
    assert.is_nil(v.f[1])
    assert.equal(mt, getmetatable(assert(decode("[]", true, mt))))
    assert.equal(mt, getmetatable(assert(decode("[null]", true, mt))))
    assert.is_nil(getmetatable(assert(decode("{}", false, mt))))
    assert.is_nil(getmetatable(assert(decode("[]"))))
    assert.is_nil(getmetatable(assert(decode("[]", false, nil))))
    -- the metatable's own fields do not get in the way
    local strict = { __newindex = function() error("written through __newindex") end,
      __index = function() error("read through __index") end }
    local w = assert(decode('[1,[2],{"x":[3]}]', false, strict))
    assert.equal(strict, getmetatable(w))
    assert.equal(3, rawget(rawget(rawget(w, 3), "x"), 1))
  end)

  describe("numbers", function()
    if HAS_INTEGERS then
      it("reads whole numbers as integers under Lua 5.4, other numbers as floats", function()
        local t = assert(decode [=[
          {"per_page":200,"total":0,"neg":-7,"f":200.0,"e":2e2,"E":2E+2,"z":-0,"zf":-0.0,"frac":2.5,
           "small":1e-2,"big":9007199254740992,"bigf":9007199254740992.0,"list":[1,2.5,3]}]=])
        for _, k in ipairs { "per_page", "total", "neg", "f", "e", "E", "z", "zf", "big", "bigf" } do
          assert.equal("integer", mtype(t[k]), k)
        end
        assert.equal(200, t.per_page)
        assert.equal("200", tostring(t.f))
        assert.equal("200", tostring(t.e))
        assert.equal("0", tostring(t.z))
        assert.equal("float", mtype(t.frac))
        assert.equal("float", mtype(t.small))
        assert.equal(0.01, t.small)
        assert.equal("integer", mtype(t.list[1]))
        assert.equal("float", mtype(t.list[2]))
      end)

      it("keeps whole floats beyond 2^53 as floats", function()
        for _, text in ipairs { "9007199254740994.0", "-9007199254740994.0", "1e16", "-2e20", "1e300",
          "123456789012345678901234" } do
          assert.equal("float", mtype(decode(text)), text)
          assert.equal(tonumber(text), decode(text), text)
        end
        assert.equal("integer", mtype(decode("-9007199254740992.0")))
        assert.equal(-2 ^ 53, decode("-9007199254740992.0"))
      end)

      it("reads 19-digit integers exactly, and integers beyond int64 as floats", function()
        assert.equal(math.maxinteger, decode("9223372036854775807"))
        assert.equal("integer", mtype(decode("9223372036854775807")))
        assert.equal(math.mininteger, decode("-9223372036854775808"))
        assert.equal("integer", mtype(decode("-9223372036854775808")))
        assert.equal(1234567890123456789, decode("1234567890123456789"))
        assert.equal(-1234567890123456789, decode("-1234567890123456789"))
        assert.equal(9007199254740993, decode("9007199254740993"))
        for _, text in ipairs { "9223372036854775808", "-9223372036854775809", "9999999999999999999",
          "18446744073709551616", "100000000000000000000" } do
          assert.equal("float", mtype(decode(text)), text)
          assert.equal(tonumber(text), decode(text), text)
        end
        assert.equal(2.0 ^ 63, decode("9223372036854775808"))
      end)
    else
      it("reads numbers as LuaJIT numbers (one number type)", function()
        local t = assert(decode '{"per_page":200,"f":2.5,"e":2e2,"z":-0,"big":9223372036854775807,"neg":-9223372036854775808}')
        assert.equal(200, t.per_page)
        assert.equal(2.5, t.f)
        assert.equal(200, t.e)
        assert.equal(0, t.z)
        assert.equal(1 / -0.0, 1 / t.z) -- -0 keeps its sign
        assert.equal(2 ^ 63, t.big)
        assert.equal(-2 ^ 63, t.neg)
        assert.equal(1e19, decode("9999999999999999999"))
      end)
    end

    it("reads fractions and exponents as strtod does", function()
      for _, text in ipairs { "0.1", "-0.5", "3.14159265358979", "1e-7", "1E+3", "2.5e-3", "-1.25E2",
        "0e0", "5e-324", "1.7976931348623157e308", "0.30000000000000004", "1e-400" } do
        assert.equal(tonumber(text), decode(text), text)
      end
    end)

    it("refuses what the JSON number grammar does not allow", function()
      for text, why in pairs {
        ["01"] = "unexpected text after the value", ["-"] = "invalid number", ["1."] = "invalid number",
        [".5"] = "invalid value", ["+1"] = "invalid value", ["1e"] = "invalid number",
        ["1e+"] = "invalid number", ["1E-"] = "invalid number", ["0x10"] = "unexpected text after the value",
        ["NaN"] = "invalid value", ["nan"] = "invalid value", ["Infinity"] = "invalid value",
        ["-Infinity"] = "invalid number", ["-inf"] = "invalid number", ["1.e5"] = "invalid number",
        ["-.5"] = "invalid number", ["00"] = "unexpected text after the value", ["1e5.5"] = "unexpected text",
        ["- 1"] = "invalid number", ["1_000"] = "unexpected text",
      } do
        refused(text, why)
        refused("[" .. text .. "]")
        refused('{"n":' .. text .. "}")
      end
      refused("[01]", "expected ',' or ']' in an array", 3)
      refused("[1.]", "invalid number", 2)
    end)

    it("refuses numbers beyond a double's range", function()
      for _, text in ipairs { "1e999", "-1e999", "1e309", "2e308", ("9"):rep(400) } do
        refused(text, "number out of range", 1)
      end
      refused('{"x":[1,1e999]}', "number out of range", 9)
    end)

    -- Runs in a child process: a locale built here (localedef, Debian's
    -- `locales` sources) is found through LOCPATH, which only a new process reads.
    it("reads numbers the same under a locale whose decimal point is not '.'", function()
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -p " .. dir))
      finally(function() os.execute("rm -rf " .. dir) end)
      local built = {}
      -- ',' for de_DE; U+066B (two bytes in UTF-8) for ps_AF
      for _, name in ipairs { "de_DE", "ps_AF" } do
        if os.execute(("localedef -i %s -f UTF-8 %s/%s.UTF-8 >/dev/null 2>&1"):format(name, dir, name)) then
          built[#built + 1] = name .. ".UTF-8"
        end
      end
      local out, status = child.run({ LOCPATH = dir }, [=[
        local decode = require("paddle.core").json_decode
        local HAS_INTEGERS = math.type ~= nil
        local long_fraction = "0." .. ("0"):rep(300) .. "15"
        local texts = { "1.5", "-0.25e1", '[1.5,2.25,{"x":-3.75}]', "12345678901234567890",
          "[12345678901234567890,5]", "1e5", "123456789012345678901234.5", "2.5E-3", long_fraction,
          "[" .. long_fraction .. ",1]", "1.", "1,5", "1e999", "-0.0" }
        for n = 250, 260 do texts[#texts + 1] = "1." .. ("0"):rep(n - 3) .. "5" end -- the copy's 256 bytes
        local function same(a, b)
          if type(a) ~= "table" or type(b) ~= "table" then
            return a == b and (not HAS_INTEGERS or math.type(a) == math.type(b))
          end
          for k, v in pairs(a) do if not same(v, b[k]) then return false end end
          for k in pairs(b) do if a[k] == nil then return false end end
          return true
        end
        os.setlocale("C", "numeric")
        local want = {}
        for i, text in ipairs(texts) do want[i] = { decode(text) } end
        assert(want[9][1] == 1.5e-301)
        for _, name in ipairs { "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "ps_AF.UTF-8", "ps_AF.utf8" } do
          if os.setlocale(name, "numeric") then
            if HAS_INTEGERS then assert(("%.1f"):format(1.5) ~= "1.5", name) end -- LuaJIT formats alone
            for i, text in ipairs(texts) do
              local got = { decode(text) }
              if not same(want[i], got) then
                error(text:sub(1, 40) .. " under " .. name .. ": " .. tostring(got[1]) .. ", " .. tostring(got[2]))
              end
            end
            print("checked " .. name)
            os.setlocale("C", "numeric")
          end
        end
      ]=])
      assert.equal(0, status, out)
      if not out:find("checked", 1, true) then
        pending("no locale with a decimal point other than '.' (built: " .. table.concat(built, ", ")
          .. "; Debian's `locales` package has the sources)")
      end
      for _, name in ipairs(built) do assert.matches("checked " .. name, out, 1, true) end
    end)
  end)

  describe("strings", function()
    it("reads the escapes", function()
      assert.equal('"\\/\b\f\n\r\t', decode [["\"\\\/\b\f\n\r\t"]])
      assert.equal("A", decode [["\u0041"]])
      assert.equal("\195\169", decode [["\u00e9"]])
      assert.equal("\195\169", decode [["\u00E9"]])
      assert.equal("\226\130\172", decode [["\u20ac"]])
      assert.equal("\239\191\191", decode [["\uffff"]])
      assert.equal("\240\159\152\128", decode [["\ud83d\ude00"]])
      assert.equal("\240\159\152\128", decode [["\uD83D\uDE00"]])
      assert.equal("\244\143\191\191", decode [["\udbff\udfff"]])
      assert.equal("\240\144\128\128", decode [["\ud800\udc00"]])
      assert.equal("a\0b", decode [["a\u0000b"]])
      assert.equal(3, #decode [["a\u0000b"]])
      assert.equal("x\127\195\169\240\159\152\128", decode '"x\127\195\169\240\159\152\128"') -- raw bytes as they are
      assert.equal("", decode '""')
      assert.equal("ab\ncd", decode [["ab\ncd"]])
    end)

    it("reads escaped keys", function()
      local t = assert(decode [[{"\u00e9t\u00e9":1,"a\"b":2,"":3}]])
      assert.equal(1, t["\195\169t\195\169"])
      assert.equal(2, t['a"b'])
      assert.equal(3, t[""])
    end)

    it("refuses lone surrogates, bad hex and unknown escapes", function()
      refused([["\ud83d"]], "high surrogate without its low half in \\u escape", 2)
      refused([["ab\ud83dx"]], "high surrogate without its low half in \\u escape", 4)
      refused([["\ud83d\u0041"]], "high surrogate without its low half in \\u escape", 2)
      refused([["\ud83d\ud83d"]], "high surrogate without its low half in \\u escape", 2)
      refused([["\ud83d\n"]], "high surrogate without its low half in \\u escape", 2)
      refused([["\ud83d\ude0"]], "high surrogate without its low half in \\u escape", 2)
      refused([["\ude00"]], "lone low surrogate in \\u escape", 2)
      refused([["\ude00\ud83d"]], "lone low surrogate in \\u escape", 2)
      refused([["\u12"]], "invalid \\u escape", 2)
      refused([["\u12g4"]], "invalid \\u escape", 2)
      refused([["\u-123"]], "invalid \\u escape", 2)
      refused([["\U0041"]], "invalid escape in string", 2)
      refused([["\x41"]], "invalid escape in string", 2)
      refused([["\a"]], "invalid escape in string", 2)
      refused([["\'"]], "invalid escape in string", 2)
      refused('"\\', "invalid escape in string", 2)
      refused('"ab\\u', "invalid \\u escape", 4)
    end)

    it("refuses raw control characters, the NUL byte included, and unterminated strings", function()
      for b = 0, 31 do
        refused('"a' .. char(b) .. 'b"', "control character in string", 3)
        refused('"\\n' .. char(b) .. '"', "control character in string", 4)
      end
      refused('{"a\nb":1}', "control character in string", 4)
      refused('"abc', "unterminated string", 5)
      refused('"', "unterminated string", 2)
      refused('"a\\n', "unterminated string", 5)
      refused('["abc', "unterminated string", 6)
      refused('{"abc', "unterminated string", 6)
    end)

    it("reads long strings, with and without escapes (> 8 KiB: the buffer grows)", function()
      local text, want = {}, {}
      for i = 1, 3000 do
        text[#text + 1] = "ab\\n\\u00e9\\\"\\ud83d\\ude00"
        want[#want + 1] = 'ab\n\195\169"\240\159\152\128'
        if i % 100 == 0 then
          text[#text + 1] = rep("z", i)
          want[#want + 1] = rep("z", i)
        end
      end
      local s = concat(want)
      assert.is_true(#s > 64 * 1024)
      assert.equal(s, decode('"' .. concat(text) .. '"'))
      -- a long run before the first escape, and after the last one
      local run = rep("r", 20000)
      assert.equal(run .. "\n" .. run, decode('"' .. run .. "\\n" .. run .. '"'))
      assert.equal(run, decode('"' .. run .. '"'))
      local t = assert(decode('{"' .. run .. '\\t":["' .. run .. '\\u0000"]}'))
      assert.equal(run .. "\0", t[run .. "\t"][1])
      -- and refused late in a long string
      refused('"' .. run .. "\\n" .. run .. '\1"', "control character in string", #run * 2 + 4)
    end)
  end)

  describe("structure", function()
    it("refuses what is not one JSON value, naming the byte", function()
      refused("", "unexpected end of text", 1)
      refused("   ", "unexpected end of text", 4)
      refused(" \n\t\r", "unexpected end of text", 5)
      refused("\0", "invalid value", 1)
      refused("1 2", "unexpected text after the value", 3)
      refused("{} {}", "unexpected text after the value", 4)
      refused('{"a":1}x', "unexpected text after the value", 8)
      refused("[1]\0", "unexpected text after the value", 4)
      refused("[1,]", "invalid value", 4)
      refused("[,1]", "invalid value", 2)
      refused('{"a":1,}', "expected a string key", 8)
      refused('{"a" 1}', "expected ':' after a key", 6)
      refused('{"a"}', "expected ':' after a key", 5)
      refused("{1:2}", "expected a string key", 2)
      refused("{a:2}", "expected a string key", 2)
      refused("{'a':2}", "expected a string key", 2)
      refused("{null:2}", "expected a string key", 2)
      refused('{"a":1 "b":2}', "expected ',' or '}' in an object", 8)
      refused('{"a":1]', "expected ',' or '}' in an object", 7)
      refused("[1 2]", "expected ',' or ']' in an array", 4)
      refused("[1}", "expected ',' or ']' in an array", 3)
      refused("nul", "invalid value", 1)
      refused("tru", "invalid value", 1)
      refused("True", "invalid value", 1)
      refused("nulll", "unexpected text after the value", 5)
      refused("[", "unexpected end of text", 2)
      refused('{"a":', "unexpected end of text", 6)
      refused("\239\187\191{}", "invalid value", 1) -- no byte order mark
      refused("\f1", "invalid value", 1) -- only space, tab, CR and LF are white space
      refused("1\v", "unexpected text after the value", 2)
      refused("/* c */ 1", "invalid value", 1)
    end)

    it("refuses every truncation of a valid document, without raising", function()
      local docs = { SAMPLE, '["\\ud83d\\ude00",{"a":[true,false,null]},-1.5e+3]' }
      for _, text in ipairs(random_documents(8, 40)) do
        text = text:match("^%s*(.-)%s*$")
        if text:match("^[%[{]") then docs[#docs + 1] = text end
      end
      local n = 0
      for _, text in ipairs(docs) do
        assert.is_not_nil(decode(text, true), text)
        for i = 0, #text - 1 do
          local prefix = text:sub(1, i)
          for _, keep_null in ipairs { false, true } do
            local ok, v, err = pcall(decode, prefix, keep_null, {})
            assert(ok, v)
            assert(v == nil and type(err) == "string", prefix)
            assert.matches("^invalid JSON: .+ at byte %d+$", err)
            n = n + 1
          end
        end
      end
      assert.is_true(n > 1000)
    end)

    it("lets the last of duplicate keys win, a null included", function()
      assert.same({ a = 2 }, decode '{"a":1,"a":2}')
      assert.same({ a = { y = 1 } }, decode '{"a":{"x":1},"a":{"y":1}}')
      assert.equal(1, decode('{"a":null,"a":1}').a)
      assert.is_nil(decode('{"a":1,"a":null}').a)
      assert.is_nil(next(decode('{"a":1,"a":null}')))
      assert.equal(null, decode('{"a":1,"a":null}', true).a)
      assert.is_nil(decode('{"a":1,"b":2,"a":null,"b":null}').b)
      assert.is_nil(decode('{"\\u0061":1,"a":null}').a)
    end)

    it("nests 1000 deep, and refuses 1001 with a message", function()
      local ok = assert(decode(rep("[", 1000) .. rep("]", 1000)))
      local depth = 0
      while ok do
        depth = depth + 1
        ok = ok[1]
      end
      assert.equal(1000, depth)
      assert(decode(rep('{"a":', 999) .. "[1]" .. rep("}", 999)))
      refused(rep("[", 1001) .. rep("]", 1001), "nested too deeply", 1001)
      refused(rep('{"a":', 1001) .. "1" .. rep("}", 1001), "nested too deeply", 5001)
      refused(rep('[{"a":', 501), "nested too deeply", 1000 * 3 + 1)
      refused(rep("[", 100000), "nested too deeply", 1001)
    end)

    it("nests 1000 arrays of escaped strings and keys deep (the Lua stack grows)", function()
      local mt = {}
      local open, close = {}, {}
      local function long(i) return i % 100 == 0 and 9000 or 0 end -- some strings past 8 KiB
      for i = 1, 1000 do
        if i % 2 == 0 then
          open[i] = '["a\\n\\u00e9' .. rep("x", i) .. rep("\\t", long(i)) .. '\\ud83d\\ude00",'
          close[i] = ',"z\\t"]'
        else
          open[i] = '{"k\\"' .. i .. '":'
          close[i] = "}"
        end
      end
      local inner = '"' .. rep("\\u20ac", 5000) .. '"' -- a 15 KB string at the bottom
      local closing = {} -- innermost first
      for i = 1000, 1, -1 do closing[#closing + 1] = close[i] end
      local text = concat(open) .. inner .. concat(closing)
      for _, keep_null in ipairs { false, true } do
        local v = assert(decode(text, keep_null, mt))
        for i = 1, 1000 do
          if i % 2 == 0 then
            assert.equal(mt, getmetatable(v))
            assert.equal("a\n\195\169" .. rep("x", i) .. rep("\t", long(i)) .. "\240\159\152\128", v[1])
            assert.equal("z\t", v[3])
            v = v[2]
          else
            v = v['k"' .. i]
          end
        end
        assert.equal(rep("\226\130\172", 5000), v)
      end
    end)
  end)

  describe("against lua-cjson", function()
    it("decodes every JSON fixture as cjson does", function()
      local files = {}
      for _, dir in ipairs { "../shared/paddle/fixtures", "spec/fixtures" } do
        local p = assert(io.popen("find " .. dir .. " -name '*.json' -type f 2>/dev/null | sort"))
        for path in p:lines() do files[#files + 1] = path end
        p:close()
      end
      local shared = 0
      for _, path in ipairs(files) do
        if path:find("^%.%./shared/") then shared = shared + 1 end
        local f = assert(io.open(path, "rb"))
        local text = f:read("a")
        f:close()
        local ok_cjson = check_against_cjson(text, path)
        assert(ok_cjson, path .. " is not JSON to cjson")
        assert(decode(text, true), path .. ": " .. tostring((select(2, decode(text)))))
      end
      if shared == 0 then pending("no fixtures under ../shared/paddle/fixtures") end
    end)

    it("decodes random documents as cjson does", function()
      local accepted = 0
      for i, text in ipairs(random_documents(20261125, 400)) do
        local ok_cjson = check_against_cjson(text, "document " .. i)
        assert(ok_cjson, "document " .. i .. " is not JSON to cjson: " .. text)
        assert.is_nil((select(2, decode(text, true))), text)
        accepted = accepted + 1
      end
      assert.equal(400, accepted)
    end)

    it("never raises on random mutations, and accepts only what cjson accepts alike", function()
      local docs = random_documents(4242, 150)
      docs[#docs + 1] = SAMPLE
      math.randomseed(99)
      local r = math.random
      local bytes = '"\\{}[],:0123456789-+.eEutrfalsn \n\t\0\1\31\127\128\191\192\237\255xd8'
      local function byte_at(i) return bytes:sub(i, i) end
      local counts = { accepted = 0, refused = 0 }
      for d, text in ipairs(docs) do
        for m = 1, 20 do
          local t = text
          for _ = 1, r(1, 3) do
            local pos = r(1, #t + 1)
            local k = r(1, 4)
            if k == 1 then -- replace a byte
              t = t:sub(1, pos - 1) .. byte_at(r(1, #bytes)) .. t:sub(pos + 1)
            elseif k == 2 then -- insert one
              t = t:sub(1, pos - 1) .. byte_at(r(1, #bytes)) .. t:sub(pos)
            elseif k == 3 then -- delete one
              t = t:sub(1, pos - 1) .. t:sub(pos + 1)
            else -- a random byte, anything
              t = t:sub(1, pos - 1) .. char(r(0, 255)) .. t:sub(pos + 1)
            end
          end
          check_against_cjson(t, ("document %d mutation %d"):format(d, m))
          if (select(2, decode(t))) then counts.refused = counts.refused + 1 else counts.accepted = counts.accepted + 1 end
        end
      end
      -- both sides exercised
      assert.is_true(counts.accepted > 100, "accepted " .. counts.accepted)
      assert.is_true(counts.refused > 1000, "refused " .. counts.refused)
    end)
  end)
end)
