-- The module loads under the interpreter busted runs on, and reports versions.
local paddle = require "paddle"

describe("paddle module", function()
  it("has a semantic version", function()
    assert.is_string(paddle._VERSION)
    assert.matches("^%d+%.%d+%.%d+", paddle._VERSION)
  end)

  it("exposes the C core with its OpenSSL version", function()
    assert.equal(paddle._VERSION, paddle.core._VERSION)
    assert.matches("^OpenSSL %d", paddle.core.openssl_version)
  end)

  it("reports Lua, OpenSSL and libcurl versions", function()
    local v = paddle.versions()
    assert.equal(paddle._VERSION, v["lua-paddle"])
    if type(jit) == "table" then -- luacheck: ignore jit
      assert.matches("^LuaJIT 2%.1", v.lua)
    else
      assert.equal(_VERSION, v.lua)
    end
    assert.matches("^%d+%.%d+%.%d+$", v.libcurl)
    assert.matches("OpenSSL", v.libcurl_ssl)
  end)

  it("exports only luaopen_* from the shared objects", function()
    local so = package.searchpath("paddle.core", package.cpath)
    assert.is_string(so)
    for _, name in ipairs { "core", "curl" } do
      local path = package.searchpath("paddle." .. name, package.cpath)
      local p = assert(io.popen("nm -D --defined-only " .. path))
      local out = p:read("*a")
      p:close()
      for sym in out:gmatch("%x+ T (%S+)") do
        assert.matches("^luaopen_", sym, "exported " .. sym .. " from " .. path)
      end
      assert.matches("luaopen_paddle_" .. name, out)
    end
  end)
end)
