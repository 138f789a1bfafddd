-- The docs run: every ```lua and ```nginx block of README.md and docs/*.md,
-- every relative link, and every standalone example.
--
-- lua blocks run as standalone scripts under the interpreter running this
-- spec (lua5.4 or luajit), in a fresh directory, against one emulator started
-- for the whole file (reset before each block), with PADDLE_API_KEY,
-- PADDLE_BASE_URL, LUA_PATH and LUA_CPATH set to this checkout. nginx blocks
-- run under the LuaJIT pass only (nginx runs LuaJIT code, build/luajit): each
-- is a complete nginx.conf started with Debian's nginx. The markers are
-- documented in docs/development.md and support/docblocks.lua.
local docblocks = require "support.docblocks"
local docrun = require "support.docrun"
local mock = require "support.mock"
local paddle_webhooks = require "paddle.webhooks"

local JIT = rawget(_G, "jit") ~= nil
local LUA = JIT and "luajit" or "lua5.4"
local BUILD = JIT and "build/luajit" or "build/5.4"
local KEY = "pdl_sdbx_apikey_01hdocs0000000000000000000_docsdocsdocsdocsdocsd_x"

local function capture(command)
  local p = assert(io.popen(command))
  local out = p:read("*a")
  p:close()
  return out
end

local ROOT = (capture("pwd"):gsub("%s+$", ""))

local read = docrun.read_file

local function list(pattern)
  local files = {}
  for name in capture("ls -1 " .. pattern .. " 2>/dev/null"):gmatch("[^\n]+") do files[#files + 1] = name end
  return files
end

local DOCS = { "README.md" }
for _, name in ipairs(list("docs/*.md")) do DOCS[#DOCS + 1] = name end

local function script_env(url)
  return {
    PADDLE_API_KEY = KEY,
    PADDLE_BASE_URL = url,
    LUA_PATH = ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;",
    LUA_CPATH = ROOT .. "/" .. BUILD .. "/?.so;;",
  }
end

-- The text rewrites the docs promise (docs/development.md).
local function rewrites(url, redis)
  local t = { ["http://127.0.0.1:8089"] = url, ["/opt/lua-paddle"] = ROOT }
  if redis then t["redis://127.0.0.1:6379"] = redis.url end
  return t
end

local function rewritten(block, map)
  local body = block.body
  for from, to in pairs(map) do body = body:gsub(from:gsub("%p", "%%%0"), (to:gsub("%%", "%%%%"))) end
  local copy = {}
  for k, v in pairs(block) do copy[k] = v end
  copy.body = body
  return copy
end

-- The bounds list of docs/client.md, from the options table.
local function bounds_markdown(option_list)
  local lines = {}
  for _, o in ipairs(option_list) do
    if o.kind == "number" or o.kind == "integer" then
      lines[#lines + 1] = ("- `%s`: %s from %s to %s"):format(o.name,
        o.kind == "integer" and "an integer" or "a number", tostring(o.min), tostring(o.max))
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

-- Runs fn(block, redis_or_nil), with a redis-server of its own when the block needs one.
local function with_redis(block, fn)
  if not block.marks.needs_redis then return fn(nil) end
  local redis = require("support.redis").start()
  local ok, a, b = pcall(fn, redis)
  redis:stop()
  if not ok then error(a, 0) end
  return a, b
end

describe("the doc-block harness", function()
  it("reads markers above a fence, and refuses unknown or stray ones", function()
    local text = table.concat({
      "# Title", "", "<!-- doc: fragment -->", "```lua", "x()", "```", "",
      "<!-- doc: check GET /a?b=1 404 -->", "<!-- doc: needs redis -->", "```nginx", "events {}", "```",
      "<!-- doc: fragmnet -->", "```lua", "```", "<!-- doc: fragment -->", "", "```lua", "```",
      "<!-- doc: expect-error -->", "```sh", "```",
    }, "\n")
    local blocks, problems = docblocks.parse(text, "x.md")
    assert.equal(5, #blocks)
    assert.same({ fragment = true }, blocks[1].marks)
    assert.equal(4, blocks[1].line)
    assert.equal("x()\n", blocks[1].body)
    assert.same({ needs_redis = true, check = { method = "GET", path = "/a?b=1", status = 404 } },
      blocks[2].marks)
    assert.equal(3, #problems)
    assert.matches("x.md:13: unknown doc marker 'fragmnet'", problems[1], 1, true)
    assert.matches("x.md:21: 'expect-error' marker on a sh block", problems[2], 1, true)
    assert.matches("x.md:16: doc marker not directly above a code fence", problems[3], 1, true)
  end)

  it("finds dead relative links and missing headings, not URLs or code", function()
    local files = { ["docs/a.md"] = "# Errors are values\n", ["examples/demo.lua"] = "" }
    local text = table.concat({
      "# Top", "[ok](a.md) [ok](a.md#errors-are-values) [ok](../examples/demo.lua) [ok](#top)",
      "[web](https://example.com/x.md) `[code](nothing.md)`",
      "[gone](missing.md) [bad](a.md#nope) [self](#nowhere)",
      "```", "[in code](nothing.md)", "```",
    }, "\n")
    local dead = docblocks.dead_links(text, "docs/index.md", function(path) return files[path] end)
    assert.equal(3, #dead, table.concat(dead, "\n"))
    assert.matches("docs/index.md:4: link missing.md: docs/missing.md does not exist", dead[1], 1, true)
    assert.matches("no heading #nope in docs/a.md", dead[2], 1, true)
    assert.matches("link #nowhere: no such heading", dead[3], 1, true)
    assert.same({ { line = 2, name = "README-webhooks.md" } },
      docblocks.mentioned_docs("-- see\n-- README-webhooks.md and https://github.com/x/README.md\n"))
  end)

  it("fails a block that fails, naming its file:line", function()
    local env = script_env("http://127.0.0.1:1")
    local ok, msg = docrun.lua({ file = "x.md", line = 7, body = "os.exit(3)\n", marks = {} },
      { lua = LUA, env = env })
    assert.is_false(ok)
    assert.matches("^x%.md:7: lua block %(" .. LUA .. "%) exited 3", msg)
    ok, msg = docrun.lua({ file = "x.md", line = 9, body = "print(1)\n", marks = { expect_error = true } },
      { lua = LUA, env = env })
    assert.is_false(ok)
    assert.matches("^x%.md:9: .*marked expect%-error but exited 0", msg)
    ok = docrun.lua({ file = "x.md", line = 9, body = "error('x')\n", marks = { expect_error = true } },
      { lua = LUA, env = env })
    assert.is_true(ok)
    ok, msg = docrun.nginx({ file = "y.md", line = 3, body = "events {}\nhttp {}\n", marks = {} },
      { env = {}, rewrites = {} })
    assert.is_false(ok)
    assert.matches("^y%.md:3: nginx block: needs `pid`", msg)
    local conf = "pid logs/nginx.pid;\nerror_log logs/error.log;\nevents {}\nhttp {\n  resolver %s;%s\n}\n"
    ok, msg = docrun.nginx({ file = "y.md", line = 4, body = conf:format("127.0.0.53", ""), marks = {} },
      { env = {}, rewrites = {} })
    assert.is_false(ok)
    assert.matches("^y%.md:4: nginx block: resolver 127%.0%.0%.53", msg)
    ok, msg = docrun.nginx({ file = "y.md", line = 5, body = conf:format("192.0.2.1", ""), marks = {} },
      { env = {}, rewrites = {} })
    assert.is_false(ok)
    assert.matches("^y%.md:5: nginx block: a resolver without resolver_timeout", msg)
  end)
end)

describe("the doc-block harness with redis", function()
  it("starts a redis-server of its own for `needs redis`, rewrites its URL, and stops it", function()
    local block = { file = "x.md", line = 5, marks = { needs_redis = true }, body = [[
local socket = require "socket"
local host, port = ("redis://127.0.0.1:6379"):match("^redis://([^:]+):(%d+)$")
local c = assert(socket.connect(host, tonumber(port)))
c:send("PING\r\n")
assert(c:receive("*l") == "+PONG")
print(port)
]] }
    local port
    local ok, out = with_redis(block, function(redis)
      port = redis.port
      assert.not_equal(6379, port)
      return docrun.lua(rewritten(block, rewrites("http://127.0.0.1:1", redis)),
        { lua = LUA, env = script_env("http://127.0.0.1:1") })
    end)
    assert(ok, out)
    assert.equal(tostring(port), out:match("%d+"))
    local c = require("socket").tcp()
    c:settimeout(1)
    assert.is_nil(c:connect("127.0.0.1", port), "redis-server still listens after the block")
    c:close()
  end)
end)

describe("the docs' markers and links", function()
  for _, file in ipairs(DOCS) do
    it(file .. " has well-formed markers and no dead link", function()
      local text = assert(read(file))
      local _, problems = docblocks.parse(text, file)
      local dead = docblocks.dead_links(text, file, read)
      for _, d in ipairs(dead) do problems[#problems + 1] = d end
      assert(#problems == 0, table.concat(problems, "\n"))
    end)
  end

  it("README.md is at most 300 lines, and runs its Quick start and OpenResty config", function()
    local text = read("README.md")
    local _, newlines = text:gsub("\n", "")
    assert(newlines <= 300, "README.md has " .. newlines .. " lines")
    local runs = {}
    for _, block in ipairs((docblocks.parse(text, "README.md"))) do
      if not block.marks.fragment then runs[block.section .. " " .. block.lang] = true end
    end
    assert(runs["Quick start lua"], "README.md: the Quick start has no lua block that runs")
    assert(runs["OpenResty nginx"], "README.md: the OpenResty section has no nginx block that runs")
  end)

  it("docs/client.md holds the option table and the bounds of lua/paddle/options.lua", function()
    local text = read("docs/client.md")
    local options = require "paddle.options"
    local table_text = options.markdown()
    assert(text:find(table_text, 1, true),
      "docs/client.md: the option table differs from paddle.options.markdown(); paste this:\n" .. table_text)
    local bounds = bounds_markdown(options.LIST)
    assert(text:find(bounds, 1, true), "docs/client.md: the bounds differ from paddle.options; paste this:\n"
      .. bounds)
  end)

  it("names no missing Markdown file in the code, examples or scripts", function()
    local missing = {}
    local files = capture("find examples bin lua csrc bench fuzz .ci Makefile *.rockspec -type f 2>/dev/null")
    for file in files:gmatch("[^\n]+") do
      for _, m in ipairs(docblocks.mentioned_docs(read(file) or "")) do
        if not read(m.name) and not read(file:match("^(.*)/") .. "/" .. m.name) then
          missing[#missing + 1] = file .. ":" .. m.line .. ": " .. m.name .. " does not exist"
        end
      end
    end
    assert(#missing == 0, table.concat(missing, "\n"))
  end)
end)

local blocks = {}
for _, file in ipairs(DOCS) do
  for _, block in ipairs((docblocks.parse(read(file), file))) do
    if docblocks.RUN[block.lang] then blocks[#blocks + 1] = block end
  end
end


-- One emulator for every block and example of this run, reset before each.
describe("against the emulator:", function()
  local m
  setup(function() m = mock.start { key = KEY } end)
  teardown(function() if m then m:stop() end end)

  describe("the docs' code blocks (" .. LUA .. ")", function()

    for _, block in ipairs(blocks) do
      local name = block.file .. ":" .. block.line .. " (" .. block.lang .. ")"
      if block.marks.fragment then
        pending(name .. " is a fragment")
      elseif block.lang == "lua" then
        it(name .. " runs", function()
          m:reset()
          local ok, msg = with_redis(block, function(redis)
            local script = rewritten(block, rewrites(m.url, redis))
            return docrun.lua(script, { lua = LUA, env = script_env(m.url) })
          end)
          assert(ok, msg)
        end)
      elseif block.lang == "nginx" and JIT then
        it(name .. " starts in nginx and answers", function()
          m:reset()
          local ok, msg = with_redis(block, function(redis)
            return docrun.nginx(block, { env = { PADDLE_API_KEY = KEY, PADDLE_BASE_URL = m.url },
              rewrites = rewrites(m.url, redis) })
          end)
          assert(ok, msg)
        end)
      end
    end
  end)

  -- Every file in examples/: run here as a standalone script, or by the suite named.
  local EXAMPLES = {
    ["demo.lua"] = { expect = "Done%." },
    ["provision_on_signup.lua"] = { expect = "email change refused" },
    ["sync_subscriptions.lua"] = { expect = "live subscription" },
    ["verify-webhook.lua"] = { webhook = true, expect = "^valid: customer%.created evt_" },
    ["webhook_handler.lua"] = "spec/nginx/webhook_check.sh",
    ["webhook-openresty.conf"] = "spec/nginx/webhook_check.sh",
  }

  describe("the examples (" .. LUA .. ")", function()
    local dir
    setup(function() dir = (capture("mktemp -d /tmp/paddle-doc.XXXXXX"):gsub("%s+$", "")) end)
    teardown(function() if dir then os.execute("rm -rf '" .. dir .. "'") end end)

    it("are each run by a spec", function()
      for _, path in ipairs(list("examples/*")) do
        local name = path:match("[^/]+$")
        assert(EXAMPLES[name], path .. " is run by no spec: add it to EXAMPLES in spec/07-docs_spec.lua")
        if type(EXAMPLES[name]) == "string" then
          assert(read(EXAMPLES[name]):find("examples/" .. name, 1, true),
            EXAMPLES[name] .. " does not use " .. path)
        end
      end
    end)

    local names = {}
    for name, how in pairs(EXAMPLES) do
      if type(how) == "table" then names[#names + 1] = name end
    end
    table.sort(names)
    for _, name in ipairs(names) do
      local how = EXAMPLES[name]
      it("examples/" .. name .. " runs against the emulator", function()
        m:reset()
        local env = script_env(m.url)
        local args
        if how.webhook then
          local secret = "pdl_ntfset_01hdocs_example_secret"
          local body = read("spec/fixtures/webhook_event_customer_created.json")
          local f = assert(io.open(dir .. "/event.json", "wb"))
          f:write(body)
          f:close()
          env.PADDLE_WEBHOOK_SECRET = secret
          args = { dir .. "/event.json", paddle_webhooks.sign(body, secret) }
        end
        local example = { lua = LUA, env = env, script = ROOT .. "/examples/" .. name, cwd = ROOT,
          args = args }
        local ok, out = docrun.lua({ file = "examples/" .. name, line = 1, marks = {} }, example)
        assert(ok, out)
        assert(out:find(how.expect) ~= nil, "examples/" .. name .. " printed:\n" .. out)
        if how.webhook then -- a signature by another secret: exit 1
          args[2] = paddle_webhooks.sign(read(dir .. "/event.json"), "not-the-secret")
          local forged = { file = "examples/" .. name, line = 1, marks = { expect_error = true } }
          ok, out = docrun.lua(forged, example)
          assert(ok, out)
          assert.matches("invalid: paddle: signature_mismatch", out, 1, true)
        end
      end)
    end
  end)
end)
