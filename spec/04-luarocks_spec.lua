-- `luarocks make` (offline, --deps-mode=none) installs a module that works.
local is_lua54 = _VERSION == "Lua 5.4" and not rawget(_G, "jit")

describe("luarocks make", function()
  it("builds and installs a working module into a fresh tree", function()
    if not is_lua54 then
      pending("the rock is built for Lua 5.4; LuaJIT loads build/luajit")
      return
    end
    local tree = os.tmpname()
    os.remove(tree)
    finally(function() os.execute("rm -rf '" .. tree .. "'") end)
    local ok = os.execute("luarocks --lua-version 5.4 make --tree '" .. tree
      .. "' --deps-mode=none lua-paddle-scm-1.rockspec > '" .. tree .. ".log' 2>&1")
    local log = io.open(tree .. ".log"):read("*a")
    os.remove(tree .. ".log")
    assert.is_true(ok == true or ok == 0, log)
    -- Load it from the tree only (not from this checkout) and make a request object.
    local script = ([[
      package.path = "%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua;" .. package.path
      package.cpath = "%s/lib/lua/5.4/?.so;" .. package.cpath
      local paddle = require "paddle"
      assert(package.searchpath("paddle.core", package.cpath):find("%s", 1, true))
      local c = paddle.new { api_key = "pdl_sdbx_apikey_x" }
      io.write(paddle._VERSION, " ", c.environment, " ", paddle.versions().libcurl)
    ]]):format(tree, tree, tree, tree)
    local p = io.popen("cd / && lua5.4 -e '" .. script:gsub("'", "'\\''") .. "' 2>&1")
    local out = p:read("*a")
    p:close()
    assert.matches("^%d+%.%d+%.%d+ sandbox %d+%.%d+", out)
    assert.is_true(io.open(tree .. "/bin/paddle-mock") ~= nil)
    -- The `paddle` command runs from the tree (with the tree's paths, as
    -- `luarocks path` gives them for a tree that is not a default one).
    p = io.popen("cd / && eval \"$(luarocks --lua-version 5.4 --tree '" .. tree .. "' path)\" && '" .. tree
      .. "/bin/paddle' customers --help 2>&1; echo \"exit=$?\"")
    out = p:read("*a")
    p:close()
    assert.matches("Usage: paddle customers", out, 1, true)
    assert.matches("exit=0", out, 1, true)
  end)
end)
