-- paddle.webhooks: Paddle-Signature verification, event parsing, signing and
-- the idempotency helper. Expected signatures come from the openssl command
-- line (`openssl dgst -sha256 -hmac`), never only from our own signer.
local webhooks = require "paddle.webhooks"
local core = require "paddle.core"
local cjson = require "cjson"
local unpack = table.unpack or unpack

local SECRET = "pdl_ntfset_01gkpjp8bkh3fa5n4f1fe5a4q9_2Hr1s1FJGq6Hrzi7hmT1L8N0tP7eNKfA"
local OLD_SECRET = "pdl_ntfset_01gkpjp8bkh3fa5n4f1fe5a4q9_oldoldoldoldoldoldoldoldoldold"
local TS = 1712851045 -- 2024-04-11T15:57:25Z, the fixture's occurred_at

local process = require "support.process"

local function read_file(path) return assert(process.read_file(path)) end

local EVENT_BODY = read_file("spec/fixtures/webhook_event_customer_created.json")

local shell_quote = process.shell_quote

-- HMAC-SHA256(secret, ts ":" body) as hex, by the openssl command on a file
-- written in binary mode (bodies may hold NULs and invalid UTF-8).
local function openssl_h1(secret, ts, body)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(tostring(ts), ":", body)
  f:close()
  local p = assert(io.popen("openssl dgst -sha256 -hmac " .. shell_quote(secret) .. " < " .. path))
  local out = p:read("*a")
  p:close()
  os.remove(path)
  local hex = out:match("(%x+)%s*$")
  assert(hex and #hex == 64, "unexpected openssl output: " .. out)
  return hex
end

local function header(ts, ...)
  local parts = { "ts=" .. tostring(ts) }
  for _, h1 in ipairs { ... } do parts[#parts + 1] = "h1=" .. h1 end
  return table.concat(parts, ";")
end

local function at(now, tolerance) return { now = now, tolerance = tolerance } end

-- Asserts a `nil, err` failure with this code, and that err never shows a secret.
local function assert_fails(code, ok, err)
  assert.is_nil(ok)
  assert.is_table(err, "expected an error value")
  assert.equal(code, err.code, tostring(err))
  assert.equal("webhook_error", err.type)
  local line = tostring(err)
  assert.matches(code, line, 1, true)
  assert.not_matches(SECRET, line, 1, true)
  assert.not_matches(OLD_SECRET, line, 1, true)
  assert.not_matches("2Hr1s1FJGq6H", line, 1, true)
end

local GOOD_H1 = openssl_h1(SECRET, TS, EVENT_BODY)

describe("paddle.webhooks.verify", function()
  it("accepts a body signed by openssl with the secret", function()
    assert.is_true(webhooks.verify(EVENT_BODY, header(TS, GOOD_H1), SECRET, at(TS)))
  end)

  it("rejects a tampered body, ts or secret", function()
    local tampered = EVENT_BODY:gsub("Jo Brown", "Jo Browm")
    assert.not_equal(EVENT_BODY, tampered)
    assert_fails("signature_mismatch", webhooks.verify(tampered, header(TS, GOOD_H1), SECRET, at(TS)))
    assert_fails("signature_mismatch",
      webhooks.verify(EVENT_BODY .. "\n", header(TS, GOOD_H1), SECRET, at(TS)))
    assert_fails("signature_mismatch", webhooks.verify(EVENT_BODY, header(TS + 1, GOOD_H1), SECRET, at(TS)))
    assert_fails("signature_mismatch",
      webhooks.verify(EVENT_BODY, header(TS, GOOD_H1), SECRET .. "x", at(TS)))
    assert_fails("signature_mismatch", webhooks.verify(EVENT_BODY, header(TS, GOOD_H1), OLD_SECRET, at(TS)))
    -- one changed hex digit
    local flipped = GOOD_H1:sub(1, 10) .. (GOOD_H1:sub(11, 11) == "0" and "1" or "0") .. GOOD_H1:sub(12)
    assert_fails("signature_mismatch", webhooks.verify(EVENT_BODY, header(TS, flipped), SECRET, at(TS)))
  end)

  it("signs ts exactly as sent: leading zeros are part of the message", function()
    local padded = "00" .. TS
    local h1 = openssl_h1(SECRET, padded, EVENT_BODY)
    assert.is_true(webhooks.verify(EVENT_BODY, "ts=" .. padded .. ";h1=" .. h1, SECRET, at(TS)))
    assert_fails("signature_mismatch", webhooks.verify(EVENT_BODY, header(TS, h1), SECRET, at(TS)))
  end)

  it("accepts when any of several h1 matches, in any position", function()
    local other = openssl_h1(OLD_SECRET, TS, EVENT_BODY)
    assert.is_true(webhooks.verify(EVENT_BODY, header(TS, other, GOOD_H1), SECRET, at(TS)))
    assert.is_true(webhooks.verify(EVENT_BODY, header(TS, GOOD_H1, other), SECRET, at(TS)))
    assert.is_true(webhooks.verify(EVENT_BODY, "h1=" .. GOOD_H1 .. ";ts=" .. TS, SECRET, at(TS)))
    local eight = {}
    for i = 1, 7 do eight[i] = string.rep(string.format("%x", i), 64) end
    eight[8] = GOOD_H1
    assert.is_true(webhooks.verify(EVENT_BODY, header(TS, unpack(eight)), SECRET, at(TS)))
    assert_fails("signature_mismatch",
      webhooks.verify(EVENT_BODY, header(TS, other, other), SECRET, at(TS)))
  end)

  it("accepts any of several secrets, for rotation", function()
    assert.is_true(webhooks.verify(EVENT_BODY, header(TS, GOOD_H1), { OLD_SECRET, SECRET }, at(TS)))
    assert.is_true(webhooks.verify(EVENT_BODY, header(TS, GOOD_H1), { SECRET, OLD_SECRET }, at(TS)))
    assert_fails("signature_mismatch",
      webhooks.verify(EVENT_BODY, header(TS, GOOD_H1), { OLD_SECRET, "another" }, at(TS)))
  end)

  it("tolerates blanks around entries, keys and values, and empty entries", function()
    local variants = {
      " ts=" .. TS .. "; h1=" .. GOOD_H1 .. " ",
      "ts = " .. TS .. " ;\th1\t=\t" .. GOOD_H1,
      ";ts=" .. TS .. ";;h1=" .. GOOD_H1 .. ";",
      "  h1=" .. GOOD_H1 .. "  ;  ts=" .. TS .. "  ",
    }
    for _, h in ipairs(variants) do
      assert.is_true(webhooks.verify(EVENT_BODY, h, SECRET, at(TS)), h)
    end
  end)

  it("ignores unknown keys (future signature versions) and accepts uppercase hex", function()
    local h = "ts=" .. TS .. ";h2=" .. string.rep("z", 128) .. ";h1=" .. GOOD_H1 .. ";v=a b=c"
    assert.is_true(webhooks.verify(EVENT_BODY, h, SECRET, at(TS)))
    assert.is_true(webhooks.verify(EVENT_BODY, header(TS, GOOD_H1:upper()), SECRET, at(TS)))
  end)

  it("reports a missing header", function()
    for _, h in ipairs { false, "", "   ", "\t" } do
      assert_fails("missing_signature", webhooks.verify(EVENT_BODY, h or nil, SECRET, at(TS)))
    end
  end)

  it("reports malformed headers", function()
    local h1 = GOOD_H1
    local cases = {
      ["no h1"] = "ts=" .. TS,
      ["no ts"] = "h1=" .. h1,
      ["duplicate ts"] = "ts=" .. TS .. ";ts=" .. TS .. ";h1=" .. h1,
      ["signed ts"] = "ts=+" .. TS .. ";h1=" .. h1,
      ["negative ts"] = "ts=-" .. TS .. ";h1=" .. h1,
      ["blank inside ts"] = "ts=1712 851045;h1=" .. h1,
      ["letters in ts"] = "ts=1712851045a;h1=" .. h1,
      ["fractional ts"] = "ts=1712851045.5;h1=" .. h1,
      ["empty ts"] = "ts=;h1=" .. h1,
      ["ts overflowing int64"] = "ts=9223372036854775808;h1=" .. h1,
      ["ts of 21 digits"] = "ts=000000000001712851045;h1=" .. h1,
      ["non-hex h1"] = "ts=" .. TS .. ";h1=" .. h1:sub(1, 63) .. "g",
      ["short h1"] = "ts=" .. TS .. ";h1=" .. h1:sub(1, 63),
      ["long h1"] = "ts=" .. TS .. ";h1=" .. h1 .. "0",
      ["empty h1"] = "ts=" .. TS .. ";h1=",
      ["h1 with a blank inside"] = "ts=" .. TS .. ";h1=" .. h1:sub(1, 32) .. " " .. h1:sub(33),
      ["base64 h1"] = "ts=" .. TS .. ";h1=q83vEjRWeJC8HgkYWH0o8h6EGpGhPBDu5FbzHkNY0lg=",
      ["nine h1"] = header(TS, h1, h1, h1, h1, h1, h1, h1, h1, h1),
      ["entry without ="] = "ts=" .. TS .. ";h1=" .. h1 .. ";garbage",
      ["entry without key"] = "=1;ts=" .. TS .. ";h1=" .. h1,
      ["key with a blank"] = "t s=" .. TS .. ";h1=" .. h1,
      ["comma separated"] = "ts=" .. TS .. ",h1=" .. h1,
      ["uppercase keys"] = "TS=" .. TS .. ";H1=" .. h1,
      ["control byte"] = "ts=" .. TS .. ";h1=" .. h1 .. ";x=\1",
      ["NUL byte"] = "ts=" .. TS .. "\0;h1=" .. h1,
      ["non-ASCII byte"] = "ts=" .. TS .. ";h1=" .. h1 .. ";x=\195\169",
      ["line break"] = "ts=" .. TS .. ";\r\nh1=" .. h1,
      ["just words"] = "hello world",
    }
    for name, h in pairs(cases) do
      local ok, err = webhooks.verify(EVENT_BODY, h, SECRET, at(TS))
      assert.is_nil(ok, name)
      assert.equal("malformed_signature", err and err.code, name .. ": " .. tostring(err))
    end
  end)

  it("rejects a huge header cleanly, and accepts one just under the 4096-byte cap", function()
    local valid = header(TS, GOOD_H1)
    local pad = ";x=" .. string.rep("a", 4096 - #valid - 3)
    assert.equal(4096, #(valid .. pad))
    assert.is_true(webhooks.verify(EVENT_BODY, valid .. pad, SECRET, at(TS)))
    assert_fails("malformed_signature", webhooks.verify(EVENT_BODY, valid .. pad .. "a", SECRET, at(TS)))
    local huge = valid .. string.rep(";h1=" .. GOOD_H1, 100000) -- 6.8 MB
    assert_fails("malformed_signature", webhooks.verify(EVENT_BODY, huge, SECRET, at(TS)))
    assert_fails("malformed_signature",
      webhooks.verify(EVENT_BODY, string.rep(" ", 1000000), SECRET, at(TS)))
  end)

  it("treats a repeated header (a table from ngx.req.get_headers) as malformed", function()
    assert_fails("malformed_signature",
      webhooks.verify(EVENT_BODY, { header(TS, GOOD_H1), header(TS, GOOD_H1) }, SECRET, at(TS)))
  end)

  it("verifies an empty body", function()
    local h1 = openssl_h1(SECRET, TS, "")
    assert.is_true(webhooks.verify("", header(TS, h1), SECRET, at(TS)))
    assert_fails("signature_mismatch", webhooks.verify(" ", header(TS, h1), SECRET, at(TS)))
  end)

  it("verifies binary bodies: NULs and invalid UTF-8", function()
    local bytes = {}
    for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
    local body = "\0" .. table.concat(bytes) .. "\255\254\192\128\0"
    local h1 = openssl_h1(SECRET, TS, body)
    assert.is_true(webhooks.verify(body, header(TS, h1), SECRET, at(TS)))
    assert_fails("signature_mismatch", webhooks.verify(body:sub(1, -2), header(TS, h1), SECRET, at(TS)))
    assert_fails("signature_mismatch", webhooks.verify(body .. "\0", header(TS, h1), SECRET, at(TS)))
  end)

  it("verifies bodies larger than the stack buffer", function()
    local body = string.rep("0123456789abcdef", 8192) .. "\0tail" -- 128 KiB
    local h1 = openssl_h1(SECRET, TS, body)
    assert.is_true(webhooks.verify(body, header(TS, h1), SECRET, at(TS)))
    assert_fails("signature_mismatch", webhooks.verify(body .. "x", header(TS, h1), SECRET, at(TS)))
  end)

  describe("timestamp tolerance", function()
    local h = header(TS, GOOD_H1)

    it("defaults to 5 seconds in both directions, bounds included", function()
      assert.equal(5, webhooks.DEFAULT_TOLERANCE)
      assert.is_true(webhooks.verify(EVENT_BODY, h, SECRET, at(TS + 5)))
      assert.is_true(webhooks.verify(EVENT_BODY, h, SECRET, at(TS - 5)))
      assert_fails("timestamp_out_of_tolerance", webhooks.verify(EVENT_BODY, h, SECRET, at(TS + 6)))
      assert_fails("timestamp_out_of_tolerance", webhooks.verify(EVENT_BODY, h, SECRET, at(TS - 6)))
      assert_fails("timestamp_out_of_tolerance", webhooks.verify(EVENT_BODY, h, SECRET, at(TS + 86400)))
    end)

    it("says whether the event is old or from the future", function()
      local _, old = webhooks.verify(EVENT_BODY, h, SECRET, at(TS + 60))
      assert.matches("60 s ago", old.detail)
      local _, future = webhooks.verify(EVENT_BODY, h, SECRET, at(TS - 60))
      assert.matches("60 s in the future", future.detail)
    end)

    it("compares whole seconds: a fractional now is floored", function()
      assert.is_true(webhooks.verify(EVENT_BODY, h, SECRET, at(TS + 5.999)))
      assert.is_true(webhooks.verify(EVENT_BODY, h, SECRET, at(TS - 4.5)))
      assert_fails("timestamp_out_of_tolerance", webhooks.verify(EVENT_BODY, h, SECRET, at(TS - 5.5)))
    end)

    it("is configurable", function()
      assert.is_true(webhooks.verify(EVENT_BODY, h, SECRET, at(TS + 300, 300)))
      assert.is_true(webhooks.verify(EVENT_BODY, h, SECRET, at(TS - 300, 300)))
      assert_fails("timestamp_out_of_tolerance", webhooks.verify(EVENT_BODY, h, SECRET, at(TS + 301, 300)))
      assert.is_true(webhooks.verify(EVENT_BODY, h, SECRET, at(TS, 0)))
      assert_fails("timestamp_out_of_tolerance", webhooks.verify(EVENT_BODY, h, SECRET, at(TS + 1, 0)))
      assert.is_true(webhooks.verify(EVENT_BODY, h, SECRET, at(TS + 1e6, math.huge)))
    end)

    it("takes now as a function", function()
      local calls = 0
      local function clock() calls = calls + 1; return TS + 3 end
      assert.is_true(webhooks.verify(EVENT_BODY, h, SECRET, { now = clock }))
      assert.equal(1, calls)
      assert_fails("timestamp_out_of_tolerance",
        webhooks.verify(EVENT_BODY, h, SECRET, { now = function() return TS + 7 end }))
    end)

    it("uses the system clock by default", function()
      local now = os.time()
      local h_now = header(now, openssl_h1(SECRET, now, EVENT_BODY))
      assert.is_true(webhooks.verify(EVENT_BODY, h_now, SECRET))
      assert.is_true(webhooks.verify(EVENT_BODY, h_now, SECRET, {}))
      local old = now - 3600
      local h_old = header(old, openssl_h1(SECRET, old, EVENT_BODY))
      assert_fails("timestamp_out_of_tolerance", webhooks.verify(EVENT_BODY, h_old, SECRET))
    end)

    it("is only checked for authentic bodies: a forgery is a mismatch whatever its ts", function()
      assert_fails("signature_mismatch", webhooks.verify(EVENT_BODY, h, OLD_SECRET, at(TS + 3600)))
    end)
  end)

  describe("misuse raises at the caller", function()
    local h = header(TS, GOOD_H1)
    local raises = require "support.raises" ("30%-webhooks_spec%.lua:%d+:", { hidden = SECRET })

    it("for a body that is not a string", function()
      raises("bad argument #1 to 'verify'", function() webhooks.verify(nil, h, SECRET) end)
      raises("bad argument #1 to 'verify'", function() webhooks.verify(42, h, SECRET) end)
      raises("bad argument #1 to 'verify'", function() webhooks.verify({}, h, SECRET) end)
    end)

    it("for a missing, empty or non-string secret", function()
      raises("bad argument #3 to 'verify'", function() webhooks.verify(EVENT_BODY, h) end)
      raises("bad argument #3 to 'verify'", function() webhooks.verify(EVENT_BODY, h, "") end)
      raises("bad argument #3 to 'verify'", function() webhooks.verify(EVENT_BODY, h, {}) end)
      raises("bad argument #3 to 'verify'", function() webhooks.verify(EVENT_BODY, h, { SECRET, "" }) end)
      raises("bad argument #3 to 'verify'", function() webhooks.verify(EVENT_BODY, h, { SECRET, 7 }) end)
      raises("bad argument #3 to 'verify'", function() webhooks.verify(EVENT_BODY, h, 12345) end)
      -- even when the header is missing: misuse is found before signatures
      raises("bad argument #3 to 'verify'", function() webhooks.verify(EVENT_BODY, nil, nil) end)
    end)

    it("for a header of the wrong type", function()
      raises("bad argument #2 to 'verify'", function() webhooks.verify(EVENT_BODY, 42, SECRET) end)
      raises("bad argument #2 to 'verify'", function() webhooks.verify(EVENT_BODY, true, SECRET) end)
    end)

    it("for bad options", function()
      raises("bad argument #4 to 'verify'", function() webhooks.verify(EVENT_BODY, h, SECRET, 5) end)
      raises("tolerance", function() webhooks.verify(EVENT_BODY, h, SECRET, { tolerance = -1 }) end)
      raises("tolerance", function() webhooks.verify(EVENT_BODY, h, SECRET, { tolerance = "5" }) end)
      raises("tolerance", function() webhooks.verify(EVENT_BODY, h, SECRET, { tolerance = 0 / 0 }) end)
      raises("now", function() webhooks.verify(EVENT_BODY, h, SECRET, { now = "soon" }) end)
      -- infinity is no clock: it would be reported as "signed 0 s ago"
      raises("now must be a finite number", function() webhooks.verify(EVENT_BODY, h, SECRET, { now = math.huge }) end)
      raises("now must be a finite number", function() webhooks.verify(EVENT_BODY, h, SECRET, { now = 0 / 0 }) end)
      raises("now", function() webhooks.verify(EVENT_BODY, h, SECRET, { now = 0 / 0 }) end)
      raises("now", function() webhooks.verify(EVENT_BODY, h, SECRET, { now = function() end }) end)
    end)
  end)
end)

describe("paddle.webhooks.parse", function()
  local h = header(TS, GOOD_H1)

  it("returns the verified event", function()
    local event, err = webhooks.parse(EVENT_BODY, h, SECRET, at(TS))
    assert.is_nil(err)
    assert.equal("evt_01hv6y1jtn1fr98zq3cvarxx2e", event.event_id)
    assert.equal("customer.created", event.event_type)
    assert.equal("2024-04-11T15:57:25.205966Z", event.occurred_at)
    assert.equal("ntf_01hv6y1jx2m6n1qk95m0cj69dg", event.notification_id)
    assert.equal("ctm_01hv6y1jedq4p1n0yqn5ba3ky4", event.data.id)
    assert.equal("jo@example.com", event.data.email)
    assert.equal(cjson.null, event.data.custom_data) -- JSON null stays distinct from nil
    assert.is_false(event.data.marketing_consent)
  end)

  it("fails like verify on a bad signature, without decoding", function()
    assert_fails("signature_mismatch", webhooks.parse(EVENT_BODY .. " ", h, SECRET, at(TS)))
    assert_fails("missing_signature", webhooks.parse(EVENT_BODY, nil, SECRET, at(TS)))
    assert_fails("timestamp_out_of_tolerance", webhooks.parse(EVENT_BODY, h, SECRET, at(TS + 6)))
    assert_fails("malformed_signature", webhooks.parse("not json", "ts=1", SECRET, at(TS)))
  end)

  it("reports an authentic body that is not a Paddle event", function()
    for _, body in ipairs { "not json", "[1,2]", '"event"', "{}", '{"event_id":1,"event_type":"x"}', "" } do
      local signed = header(TS, openssl_h1(SECRET, TS, body))
      assert_fails("invalid_payload", webhooks.parse(body, signed, SECRET, at(TS)))
    end
  end)

  it("raises on misuse at the caller", function()
    local ok, msg = pcall(function() webhooks.parse(EVENT_BODY, h, nil) end)
    assert.is_false(ok)
    assert.matches("30%-webhooks_spec%.lua:%d+: bad argument #3 to 'parse'", msg)
    ok, msg = pcall(function() webhooks.parse(EVENT_BODY, h, SECRET, "opts") end)
    assert.is_false(ok)
    assert.matches("30%-webhooks_spec%.lua:%d+: bad argument #4 to 'parse'", msg)
  end)
end)

describe("paddle.webhooks.sign", function()
  it("builds the header Paddle would send, agreeing with openssl", function()
    assert.equal("ts=" .. TS .. ";h1=" .. GOOD_H1, webhooks.sign(EVENT_BODY, SECRET, TS))
    local body = "\0\255binary\0"
    assert.equal("ts=0;h1=" .. openssl_h1(SECRET, 0, body), webhooks.sign(body, SECRET, 0))
  end)

  it("signs for now by default", function()
    local before = os.time()
    local h = webhooks.sign(EVENT_BODY, SECRET)
    local ts = tonumber(h:match("^ts=(%d+);h1=%x+$"))
    assert.is_true(ts >= before and ts <= os.time())
    assert.is_true(webhooks.verify(EVENT_BODY, h, SECRET))
  end)

  it("raises on misuse", function()
    assert.has_error(function() webhooks.sign(nil, SECRET, TS) end)
    assert.has_error(function() webhooks.sign(EVENT_BODY, "", TS) end)
    assert.has_error(function() webhooks.sign(EVENT_BODY, nil, TS) end)
    assert.has_error(function() webhooks.sign(EVENT_BODY, SECRET, -1) end)
    assert.has_error(function() webhooks.sign(EVENT_BODY, SECRET, 1.5) end)
    assert.has_error(function() webhooks.sign(EVENT_BODY, SECRET, "1") end)
  end)

  it("core.hmac_sha256_hex agrees with openssl", function()
    assert.equal(openssl_h1("k", "1", "x\0y"), core.hmac_sha256_hex("k", "1:x\0y"))
  end)
end)

describe("paddle.webhooks.verifier", function()
  local h = header(TS, GOOD_H1)

  it("verifies with keyed contexts, agreeing with openssl on every call", function()
    local v = webhooks.verifier { secrets = SECRET }
    for i = 1, 3 do -- each call restarts from the keyed state
      local body = EVENT_BODY .. string.rep(" ", i)
      assert.is_true(v:verify(body, header(TS, openssl_h1(SECRET, TS, body)), at(TS)))
      assert_fails("signature_mismatch", v:verify(body, h, at(TS)))
    end
    assert.is_true(v:verify(EVENT_BODY, h, at(TS)))
    assert.is_true(v:verify("", header(TS, openssl_h1(SECRET, TS, "")), at(TS)))
    local big = string.rep("\0x", 40000)
    assert.is_true(v:verify(big, header(TS, openssl_h1(SECRET, TS, big)), at(TS)))
  end)

  it("rotates: any of several secrets matches any of several h1", function()
    local v = webhooks.verifier { secrets = { OLD_SECRET, SECRET } }
    assert.is_true(v:verify(EVENT_BODY, h, at(TS)))
    local old_h1 = openssl_h1(OLD_SECRET, TS, EVENT_BODY)
    assert.is_true(v:verify(EVENT_BODY, header(TS, string.rep("0", 64), old_h1), at(TS)))
    assert_fails("signature_mismatch",
      webhooks.verifier({ secrets = { OLD_SECRET } }):verify(EVENT_BODY, h, at(TS)))
  end)

  it("reports the same failures as verify", function()
    local v = webhooks.verifier { secrets = SECRET }
    assert_fails("missing_signature", v:verify(EVENT_BODY, nil, at(TS)))
    assert_fails("malformed_signature", v:verify(EVENT_BODY, "ts=1", at(TS)))
    assert_fails("malformed_signature", v:verify(EVENT_BODY, { h, h }, at(TS)))
    assert_fails("timestamp_out_of_tolerance", v:verify(EVENT_BODY, h, at(TS + 6)))
    assert.is_true(v:verify(EVENT_BODY, h, { now = TS + 6, tolerance = 6 }))
  end)

  it("parses verified events", function()
    local v = webhooks.verifier { secrets = { OLD_SECRET, SECRET } }
    local event, err = v:parse(EVENT_BODY, h, at(TS))
    assert.is_nil(err)
    assert.equal("evt_01hv6y1jtn1fr98zq3cvarxx2e", event.event_id)
    assert_fails("signature_mismatch", v:parse(EVENT_BODY .. " ", h, at(TS)))
    local signed = header(TS, openssl_h1(SECRET, TS, "[1]"))
    assert_fails("invalid_payload", v:parse("[1]", signed, at(TS)))
  end)

  it("wipes its contexts on close; a closed verifier raises at the caller", function()
    local v = webhooks.verifier { secrets = { OLD_SECRET, SECRET } }
    assert.equal("paddle.webhooks.Verifier (2 secrets)", tostring(v))
    v:close()
    v:close() -- idempotent
    assert.equal("paddle.webhooks.Verifier (closed)", tostring(v))
    local ok, msg = pcall(function() local _ = v:verify(EVENT_BODY, h, at(TS)) end)
    assert.is_false(ok)
    assert.matches("30%-webhooks_spec%.lua:%d+: verifier is closed", msg)
    ok, msg = pcall(function() local _ = v:parse(EVENT_BODY, h, at(TS)) end)
    assert.is_false(ok)
    assert.matches("30%-webhooks_spec%.lua:%d+: verifier is closed", msg)
  end)

  if _VERSION == "Lua 5.4" then
    it("wipes its contexts when a to-be-closed variable goes out of scope", function()
      local f = assert(load([[
        local webhooks, secret = ...
        local v <close> = webhooks.verifier { secrets = secret }
        return v
      ]]))
      assert.equal("paddle.webhooks.Verifier (closed)", tostring(f(webhooks, SECRET)))
    end)
  end

  it("never shows a secret and hides its metatable", function()
    local v = webhooks.verifier { secrets = SECRET }
    assert.not_matches(SECRET, tostring(v), 1, true)
    assert.is_false(getmetatable(v))
  end)

  it("keeps verify's cached contexts valid across garbage collections", function()
    local secrets = { OLD_SECRET, SECRET }
    for i = 1, 200 do
      if i % 7 == 0 then collectgarbage() end
      -- fresh secret strings each time: new cache entries, old ones collectable
      local extra = "rotating-secret-" .. i
      assert.is_true(webhooks.verify(EVENT_BODY, h, { extra, OLD_SECRET, extra .. "b", SECRET }, at(TS)))
      assert.is_true(webhooks.verify(EVENT_BODY, h, secrets, at(TS)))
    end
  end)

  it("keeps at most 32 cached contexts for verify, however many secrets it sees", function()
    local _, cache = debug.getupvalue(webhooks.verify, 4)
    assert.is_table(cache)
    collectgarbage("stop") -- no collection may empty the weak cache meanwhile
    finally(function() collectgarbage("restart") end)
    local most = 0
    for i = 1, 100 do
      local secret = "tenant-secret-" .. i
      local signed = webhooks.sign(EVENT_BODY, secret, TS)
      assert.is_true(webhooks.verify(EVENT_BODY, signed, secret, at(TS)))
      local n = 0
      for k in pairs(cache) do
        if type(k) == "string" then n = n + 1 end
      end
      assert.is_true(n <= 32, n .. " cached contexts")
      most = math.max(most, n)
    end
    assert.equal(32, most)
  end)

  describe("misuse raises at the caller", function()
    local v = webhooks.verifier { secrets = SECRET }
    local raises = require "support.raises" ("30%-webhooks_spec%.lua:%d+:", { hidden = SECRET })

    it("when built", function()
      raises("bad argument #1 to 'verifier' %(options table expected, got string%)",
        function() webhooks.verifier(SECRET) end)
      raises("bad argument #1 to 'verifier' %(secrets must be", function() webhooks.verifier {} end)
      raises("secrets must be", function() webhooks.verifier { secrets = { SECRET, "" } } end)
      local seventeen = {}
      for i = 1, 17 do seventeen[i] = SECRET end
      raises("secrets must be", function() webhooks.verifier { secrets = seventeen } end)
    end)

    it("counting arguments after self", function()
      raises("bad argument #1 to 'verify' %(raw body string expected, got nil%)", function() v:verify() end)
      raises("bad argument #2 to 'verify' %(signature header", function() v:verify("", 42) end)
      raises("bad argument #3 to 'verify' %(options table expected", function() v:verify("", h, 5) end)
      raises("bad argument #3 to 'verify' %(tolerance", function() v:verify("", h, { tolerance = -1 }) end)
      raises("bad argument #1 to 'parse' %(raw body", function() v:parse(nil, h) end)
      raises("bad argument #3 to 'parse' %(now", function() v:parse("", h, { now = "x" }) end)
      raises("calling 'verify' on bad self", function() v.verify(EVENT_BODY, h) end)
    end)
  end)
end)

describe("paddle.webhooks.deduper in memory", function()
  local now
  local function clock() return now end
  before_each(function() now = 1000 end)

  it("claims an event id once; a retried delivery is a duplicate", function()
    local seen = webhooks.deduper { ttl = 60, now = clock }
    assert.is_true(seen:claim("evt_1"))
    assert.is_false(seen:claim("evt_1"))
    assert.is_false(seen:claim("evt_1"))
    assert.is_true(seen:claim("evt_2"))
    assert.equal(2, seen:size())
  end)

  it("release lets a failed event be processed again", function()
    local seen = webhooks.deduper { ttl = 60, now = clock }
    assert.is_true(seen:claim("evt_1"))
    assert.is_true(seen:release("evt_1"))
    assert.is_true(seen:claim("evt_1"))
    assert.is_false(seen:claim("evt_1"))
    assert.is_true(seen:release("evt_unknown"))
    assert.equal(1, seen:size())
  end)

  it("forgets an id ttl seconds after its claim", function()
    local seen = webhooks.deduper { ttl = 60, now = clock }
    assert.is_true(seen:claim("evt_1"))
    now = 1059.5
    assert.is_false(seen:claim("evt_1"))
    now = 1060
    assert.is_true(seen:claim("evt_1")) -- expired: claimed afresh until 1120
    now = 1119
    assert.is_false(seen:claim("evt_1"))
    now = 1120
    assert.equal(0, seen:size())
  end)

  it("purges expired ids: memory stays bounded by what the ttl covers", function()
    local seen = webhooks.deduper { ttl = 10, now = clock }
    for i = 1, 5000 do
      now = 1000 + i
      assert.is_true(seen:claim("evt_" .. i))
    end
    assert.equal(10, seen:size())
    assert.is_false(seen:claim("evt_4995"))
    assert.is_true(seen:claim("evt_4990"))
  end)

  it("keeps at most max_entries ids, forgetting the oldest claims first", function()
    local seen = webhooks.deduper { ttl = 3600, now = clock, max_entries = 3 }
    for i = 1, 5 do assert.is_true(seen:claim("evt_" .. i)) end
    assert.equal(3, seen:size())
    assert.is_false(seen:claim("evt_5"))
    assert.is_false(seen:claim("evt_3"))
    assert.is_true(seen:claim("evt_1")) -- forgotten
  end)

  it("defaults to a ttl of three days", function()
    local seen = webhooks.deduper { now = clock }
    assert.is_true(seen:claim("evt_1"))
    now = 1000 + 3 * 86400 - 1
    assert.is_false(seen:claim("evt_1"))
    now = 1000 + 3 * 86400
    assert.is_true(seen:claim("evt_1"))
  end)

  it("raises on misuse", function()
    local seen = webhooks.deduper { now = clock }
    assert.has_error(function() seen:claim(nil) end)
    assert.has_error(function() seen:claim("") end)
    assert.has_error(function() seen:release(42) end)
    assert.has_error(function() webhooks.deduper { ttl = 0 } end)
    assert.has_error(function() webhooks.deduper { ttl = "60" } end)
    assert.has_error(function() webhooks.deduper { now = 5 } end)
    assert.has_error(function() webhooks.deduper { max_entries = 0 } end)
    assert.has_error(function() webhooks.deduper "ttl" end)
    local ok, msg = pcall(function() webhooks.deduper { shared_dict = "paddle_webhooks" } end)
    assert.is_false(ok)
    assert.matches("30%-webhooks_spec%.lua:%d+: no lua_shared_dict named 'paddle_webhooks'", msg)
  end)
end)

describe("paddle.webhooks.deduper on a shared dict", function()
  -- Stands in for ngx.shared.DICT: add fails with "exists" for a live key.
  local function fake_dict()
    local dict = { store = {}, calls = {} }
    function dict:add(key, value, exptime)
      self.calls[#self.calls + 1] = { key, value, exptime }
      if self.full then return false, "no memory" end
      if self.store[key] ~= nil then return false, "exists" end
      self.store[key] = value
      return true
    end
    function dict:delete(key) self.store[key] = nil end
    return dict
  end

  it("claims with an atomic add under a prefixed key, with the ttl as exptime", function()
    local dict = fake_dict()
    local seen = webhooks.deduper { ttl = 120, shared_dict = dict }
    assert.is_true(seen:claim("evt_1"))
    assert.is_false(seen:claim("evt_1"))
    assert.same({ "paddle:webhook:evt_1", true, 120 }, dict.calls[1])
    assert.is_true(seen:release("evt_1"))
    assert.is_true(seen:claim("evt_1"))
    local custom = webhooks.deduper { shared_dict = dict, prefix = "shop1:" }
    assert.is_true(custom:claim("evt_1"))
    assert.equal(3 * 86400, dict.calls[#dict.calls][3])
  end)

  it("reports a failing dict as an error, not as a duplicate", function()
    local dict = fake_dict()
    dict.full = true
    local seen = webhooks.deduper { shared_dict = dict }
    local ok, err = seen:claim("evt_1")
    assert.is_nil(ok)
    assert.equal("dedupe_failed", err.code)
    assert.matches("no memory", tostring(err))
  end)
end)
