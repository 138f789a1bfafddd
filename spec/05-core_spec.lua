-- paddle.core objects: creation, destruction and their memory.
local core = require "paddle.core"
local curl = require "paddle.curl"

local function memory_kb()
  collectgarbage("collect")
  collectgarbage("collect")
  return collectgarbage("count")
end

describe("paddle.core objects", function()
  it("sessions and curl handles can be created and dropped many times", function()
    local before = memory_kb()
    for i = 1, 20000 do
      local s = core.session { api_key = "pdl_sdbx_apikey_" .. i, rate_requests = 240, rate_per = 60 }
      assert.equal(0, s:acquire(i))
      if i % 2 == 0 then s:close() end -- explicit close, then __gc: idempotent
      if i % 100 == 0 then
        local h = curl.new { timeout = 1 }
        if i % 200 == 0 then h:close() end
      end
    end
    -- The Lua heap does not grow with what was dropped; malloc'd memory is
    -- checked by `make test-valgrind`, which runs this spec under valgrind.
    assert.is_true(memory_kb() - before < 256)
  end)

  it("a closed session refuses to work and says so", function()
    local s = core.session { api_key = "k" }
    s:close()
    s:close()
    assert.has_error(function() s:acquire(0) end)
    assert.matches("closed", tostring(s))
  end)

  it("a session never shows its key", function()
    local s = core.session { api_key = "pdl_sdbx_apikey_secretvalue" }
    assert.not_matches("secretvalue", tostring(s))
    assert.is_false(getmetatable(s))
  end)

  it("refuses bad session options", function()
    assert.has_error(function() core.session {} end)
    assert.has_error(function() core.session { api_key = "" } end)
    assert.has_error(function() core.session { api_key = "k", max_retries = -1 } end)
    assert.has_error(function() core.session { api_key = "k", rate_per = "60" } end)
  end)
end)

describe("core encodings", function()
  it("hex-encodes bytes in lowercase", function()
    assert.equal("00ff10", core.hex("\0\255\16"))
    assert.equal("", core.hex(""))
  end)

  it("percent-encodes like curl_easy_escape", function()
    assert.equal("a-b_c.d~e", core.escape("a-b_c.d~e"))
    assert.equal("a%20b%2Cc%2F%3F%26%3D%25%00%C3%A9", core.escape("a b,c/?&=%\0é"))
  end)
end)
