-- `luarocks make` (offline, --deps-mode=none) of each rockspec installs what
-- it should and nothing else: lua-paddle the client (C modules and lua/paddle),
-- lua-paddle-mock the emulator (mock/paddle_mock and bin/paddle-mock); and
-- what they install works from the tree alone.
local mock = require "support.mock"

local is_lua54 = _VERSION == "Lua 5.4" and not rawget(_G, "jit")

local lines = require "support.lines"

local function make(tree, rockspec)
  local log = tree .. ".log"
  local ok = os.execute("luarocks --lua-version 5.4 make --tree '" .. tree
    .. "' --deps-mode=none " .. rockspec .. " > '" .. log .. "' 2>&1")
  local f = io.open(log)
  local text = f and f:read("*a") or ""
  if f then f:close() end
  os.remove(log)
  assert.is_true(ok == true or ok == 0, text)
end

-- Every file the rock put in the tree, but LuaRocks' own bookkeeping.
local function installed(tree)
  return lines("cd '" .. tree .. "' && find . -type f | sed 's|^./||' | grep -v '^lib/luarocks/'")
end

local function fresh_tree()
  local tree = os.tmpname()
  os.remove(tree)
  finally(function() os.execute("rm -rf '" .. tree .. "'") end)
  return tree
end

-- true (and the test pending) under LuaJIT.
local function not_lua54()
  if is_lua54 then return false end
  pending("the rocks are built for Lua 5.4; LuaJIT loads build/luajit")
  return true
end

-- Makes `rockspec` into a fresh tree, which must then hold exactly the Lua
-- files under `dir` of this checkout (the modules `namespace`) and `others`.
-- Returns the tree.
local function make_exactly(rockspec, dir, namespace, others)
  local tree = fresh_tree()
  make(tree, rockspec)
  local expected = lines("cd " .. dir .. " && find " .. namespace .. " -name '*.lua' | sed 's|^|share/lua/5.4/|'")
  for _, path in ipairs(others) do expected[#expected + 1] = path end
  table.sort(expected)
  assert.same(expected, installed(tree))
  return tree
end

describe("luarocks make", function()
  it("lua-paddle: the client's modules, and no emulator file", function()
    if not_lua54() then return end
    local tree = make_exactly("lua-paddle-scm-1.rockspec", "lua", "paddle",
      { "lib/lua/5.4/paddle/core.so", "lib/lua/5.4/paddle/curl.so", "bin/paddle" })
    -- Load it from the tree only (not from this checkout) and make a client.
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
    -- The `paddle` command runs from the tree (with the tree's paths, as
    -- `luarocks path` gives them for a tree that is not a default one).
    p = io.popen("cd / && eval \"$(luarocks --lua-version 5.4 --tree '" .. tree .. "' path)\" && '" .. tree
      .. "/bin/paddle' customers --help 2>&1; echo \"exit=$?\"")
    out = p:read("*a")
    p:close()
    assert.matches("Usage: paddle customers", out, 1, true)
    assert.matches("exit=0", out, 1, true)
  end)

  it("lua-paddle-mock: the emulator's modules and bin/paddle-mock, nothing of the client", function()
    if not_lua54() then return end
    make_exactly("lua-paddle-mock-scm-1.rockspec", "mock", "paddle_mock", { "bin/paddle-mock" })
  end)

  it("paddle-mock runs from a tree holding both rocks, finding its modules there", function()
    if not_lua54() then return end
    local tree = fresh_tree()
    make(tree, "lua-paddle-scm-1.rockspec")
    make(tree, "lua-paddle-mock-scm-1.rockspec")
    -- Copied elsewhere, the checkout cannot be what it loads.
    local moved = fresh_tree()
    assert.is_true(os.execute("cp -r '" .. tree .. "' '" .. moved .. "'") ~= false)
    local m = mock.start { launcher = moved .. "/bin/paddle-mock", key = "k", verbose = true }
    finally(function() m:stop() end)
    local r = m:request("POST", "/customers", { body = { email = "tree@example.com", custom_data = {} } })
    assert.equal(201, r.status)
    local f = assert(io.open(m.files.out))
    local out = f:read("*a")
    f:close()
    local share = moved .. "/share/lua/5.4"
    assert.truthy(out:find("paddle-mock Lua modules: " .. share .. "/paddle_mock, "
      .. share .. "/paddle/json.lua", 1, true), out)
  end)
end)
