-- The rockspecs: lua-paddle builds what the Makefile builds and installs every
-- client module (lua/paddle/); lua-paddle-mock installs every emulator module
-- (lua/paddle_mock/) and bin/paddle-mock. Neither ships the other's files.
local function load_rockspec(path)
  local env = {}
  local chunk = assert(loadfile(path))
  if setfenv then setfenv(chunk, env) else chunk = assert(loadfile(path, "t", env)) end
  chunk()
  return env
end

local list = require "support.lines"

-- The Lua files a table of modules points at (relative to dir/), checking
-- that each module name matches its path.
local function listed_files(modules, dir)
  local listed = {}
  for name, v in pairs(modules) do
    if type(v) == "string" then
      listed[#listed + 1] = v:gsub("^" .. dir .. "/", "")
      local expected = name:gsub("%.", "/") .. ".lua"
      local as_init = name:gsub("%.", "/") .. "/init.lua"
      assert.is_true(v == dir .. "/" .. expected or v == dir .. "/" .. as_init, name .. " -> " .. v)
    end
  end
  table.sort(listed)
  return listed
end

describe("lua-paddle-scm-1.rockspec", function()
  local spec = load_rockspec("lua-paddle-scm-1.rockspec")

  it("declares what the issue asks for", function()
    assert.equal("3.0", spec.rockspec_format)
    assert.equal("builtin", spec.build.type)
    assert.same({ "lua >= 5.1", "argparse" }, spec.dependencies)
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

  it("installs every client module, the paddle command and no emulator file", function()
    -- builtin also copies all of lua/: the emulator must live elsewhere.
    assert.same(list("cd lua && find . -name '*.lua' | sed 's|^./||'"),
      listed_files(spec.build.modules, "lua"))
    assert.same({ "bin/paddle" }, spec.build.install.bin)
  end)
end)

describe("lua-paddle-mock-scm-1.rockspec", function()
  local spec = load_rockspec("lua-paddle-mock-scm-1.rockspec")

  it("is its own rock, depending on lua-paddle for paddle.json", function()
    assert.equal("3.0", spec.rockspec_format)
    assert.equal("lua-paddle-mock", spec.package)
    assert.equal("none", spec.build.type) -- builtin would copy lua/, the client's modules
    assert.same({ "lua >= 5.1", "lua-paddle", "lua-cjson" }, spec.dependencies)
  end)

  it("installs every emulator module and bin/paddle-mock, nothing of the client", function()
    assert.same(list("cd mock && find . -name '*.lua' | sed 's|^./||'"),
      listed_files(spec.build.install.lua, "mock"))
    assert.same({ "bin/paddle-mock" }, spec.build.install.bin)
  end)
end)
