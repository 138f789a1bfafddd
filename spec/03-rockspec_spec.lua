-- The rockspec builds what the Makefile builds and installs every Lua module.
local function load_rockspec()
  local env = {}
  local chunk = assert(loadfile("lua-paddle-scm-1.rockspec"))
  if setfenv then setfenv(chunk, env) else chunk = assert(loadfile("lua-paddle-scm-1.rockspec", "t", env)) end
  chunk()
  return env
end

local function list(cmd)
  local out = {}
  local p = assert(io.popen(cmd))
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  table.sort(out)
  return out
end

describe("lua-paddle-scm-1.rockspec", function()
  local spec = load_rockspec()

  it("declares what the issue asks for", function()
    assert.equal("3.0", spec.rockspec_format)
    assert.equal("builtin", spec.build.type)
    assert.same({ "lua >= 5.1", "lua-cjson", "argparse" }, spec.dependencies)
    assert.same({ library = "curl" }, spec.external_dependencies.CURL)
    assert.same({ library = "crypto" }, spec.external_dependencies.OPENSSL)
    assert.equal("busted", spec.test.type)
  end)

  it("compiles every C source the Makefile compiles", function()
    local core = {}
    for _, f in ipairs(spec.build.modules["paddle.core"].sources) do core[#core + 1] = f end
    table.sort(core)
    assert.same(list("ls csrc/*.c | grep -v '^csrc/curl.c$'"), core)
    assert.same({ "csrc/curl.c" }, spec.build.modules["paddle.curl"].sources)
  end)

  it("installs every Lua module under lua/", function()
    local files = list("cd lua && find . -name '*.lua' | sed 's|^./||'")
    local listed = {}
    for name, v in pairs(spec.build.modules) do
      if type(v) == "string" then
        listed[#listed + 1] = v:gsub("^lua/", "")
        local expected = name:gsub("%.", "/") .. ".lua"
        local as_init = name:gsub("%.", "/") .. "/init.lua"
        assert.is_true(v == "lua/" .. expected or v == "lua/" .. as_init, name .. " -> " .. v)
      end
    end
    table.sort(listed)
    assert.same(files, listed)
  end)
end)
