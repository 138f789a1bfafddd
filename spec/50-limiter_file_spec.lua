-- paddle.limiter with the "file:PATH" store: processes on one host share one
-- pacing window and the 429 block through a small file.
local core = require "paddle.core"
local limiter = require "paddle.limiter"
local paddle = require "paddle"
local mock = require "support.mock"
local fleet = require "support.fleet"
local checks = require "support.limiter_checks"
local scripts = require "support.scripts"

local function session()
  return core.session { api_key = "pdl_sdbx_apikey_limiterspec" }
end

local function tmp_path()
  local p = os.tmpname()
  os.remove(p)
  return p
end

-- A limiter whose warnings are collected.
local function make(spec, rate_limit)
  local warnings = {}
  local l = limiter.new(spec, rate_limit, session(), { warn = function(m) warnings[#warnings + 1] = m end })
  return l, warnings
end

describe("paddle.limiter spec strings", function()
  it("raise a clear error for an unknown store, naming the forms", function()
    local ok, err = pcall(limiter.new, "memcached://x", nil, session())
    assert.is_false(ok)
    assert.matches('unknown store "memcached://x": expected "file:PATH"', err, 1, true)
    ok, err = pcall(limiter.new, 42, nil, session())
    assert.is_false(ok)
    assert.matches("spec must be a string", err, 1, true)
    ok, err = pcall(limiter.new, "file:", nil, session())
    assert.is_false(ok)
    assert.matches("unknown store", err, 1, true)
  end)

  it("ngx:DICT outside OpenResty raises", function()
    local ok, err = pcall(limiter.new, "ngx:paddle", nil, session())
    assert.is_false(ok)
    assert.matches("ngx:DICT needs OpenResty", err, 1, true)
  end)

  it("checks the rate limit and options", function()
    assert.has_error(function() limiter.new("file:/tmp/x", { requests = 0, per = 1 }, session()) end)
    assert.has_error(function() limiter.new("file:/tmp/x", { requests = 1, per = 0 / 0 }, session()) end)
    assert.has_error(function() limiter.new("file:/tmp/x", nil, session(), { warn = 1 }) end)
    assert.has_error(function() limiter.new("file:/tmp/x", nil, nil) end)
  end)

  it("paddle.new reports a bad limiter at the caller, and limiter with shared_dict", function()
    local ok, err = pcall(paddle.new, { api_key = "pdl_sdbx_apikey_x", limiter = "nope" })
    assert.is_false(ok)
    assert.matches("paddle%.new: .*limiter.*file:PATH", err)
    ok, err = pcall(paddle.new, { api_key = "pdl_sdbx_apikey_x", limiter = "file:/tmp/x", shared_dict = "d" })
    assert.is_false(ok)
    assert.matches("either 'limiter' or 'shared_dict'", err, 1, true)
    ok, err = pcall(paddle.new, { api_key = "pdl_sdbx_apikey_x", shared_dict = "paddle" })
    assert.is_false(ok)
    assert.matches("needs OpenResty", err, 1, true)
  end)
end)

describe("paddle.limiter file store", function()
  local path
  before_each(function() path = tmp_path() end)
  after_each(function() os.remove(path) end)

  it("creates the file with mode 0600", function()
    local l = make("file:" .. path, { requests = 2, per = 1 })
    assert.equal(0, l:acquire(core.monotonic()))
    local p = io.popen("stat -c %a " .. path)
    assert.equal("600", p:read("*l"))
    p:close()
    l:close()
  end)

  it("shares one window between limiters (as between processes)", function()
    local a = make("file:" .. path, { requests = 3, per = 10 })
    local b = make("file:" .. path, { requests = 3, per = 10 })
    local now = checks.shares_window(a, b)
    local wait = a:acquire(now)
    assert.is_true(wait > 9.9, "the other limiter waits too")
  end)

  it("shares the 429 block, then resumes paced rather than in a burst", function()
    local rl = { requests = 4, per = 2 }
    local a = make("file:" .. path, rl)
    local b = make("file:" .. path, rl)
    local wait = checks.shares_block(a, b, 0.5)
    assert.is_true(wait > 0.4 and wait <= 0.5, "wait " .. wait)
    core.sleep(wait + 0.01)
    checks.resumes_paced(a, b)
  end)

  it("shares the block without a rate limit too", function()
    local a = make("file:" .. path, nil)
    local b = make("file:" .. path, nil)
    local wait = checks.shares_block(a, b, 30)
    assert.is_true(wait > 29, "wait " .. wait)
  end)

  it("warns once when a sharer uses another rate_limit", function()
    local a, warned_a = make("file:" .. path, { requests = 3, per = 1 })
    local b, warned_b = make("file:" .. path, { requests = 5, per = 1 })
    local now = core.monotonic()
    assert.equal(0, a:acquire(now))
    assert.same({}, warned_a, "the file was empty")
    for _ = 1, 2 do
      b:acquire(now)
      a:acquire(now)
    end
    assert.equal(1, #warned_a)
    assert.equal(1, #warned_b)
    assert.matches("holds a window for another rate_limit", warned_b[1])
  end)

  it("starts afresh from a file that is not its own", function()
    local f = assert(io.open(path, "wb"))
    f:write(string.rep("\255", 300))
    f:close()
    local l = make("file:" .. path, { requests = 2, per = 1 })
    assert.equal(0, l:acquire(core.monotonic()))
    assert.equal(0, l:acquire(core.monotonic()))
    assert.is_true(l:acquire(core.monotonic()) > 0)
  end)

  it("falls back to its own window when the file cannot be written, warning once", function()
    local l, warnings = make("file:/nonexistent-dir/limiter", { requests = 2, per = 1 })
    local now = core.monotonic()
    assert.equal(0, l:acquire(now))
    assert.equal(0, l:acquire(now))
    local wait, why = l:acquire(now)
    assert.equal("pacing", why)
    assert.is_true(wait > 0.9)
    -- Retried later (1 s, doubling): still failing, still one warning.
    assert.equal(0, l:acquire(now + 1.2))
    assert.equal(0, l:acquire(now + 2.5))
    assert.equal(1, #warnings)
    assert.matches("store file:/nonexistent%-dir/limiter failed %(cannot open", warnings[1])
  end)

  it("takes the file back when it becomes usable", function()
    local dir = tmp_path()
    local l, warnings = make("file:" .. dir .. "/limiter", { requests = 5, per = 1 })
    local now = core.monotonic()
    assert.equal(0, l:acquire(now))
    assert.equal(1, #warnings)
    os.execute("mkdir " .. dir)
    assert.equal(0, l:acquire(now + 1.5))
    assert.equal(2, #warnings)
    assert.matches("is back", warnings[2])
    local f = io.open(dir .. "/limiter", "rb")
    assert.truthy(f, "the window is in the file again")
    f:close()
    l:close()
    os.execute("rm -rf " .. dir)
  end)
end)

describe("paddle.limiter file store across processes", function()
  local m, path
  setup(function() m = mock.start { rate_limit = { requests = 20, per = 1, block = 60 } } end)
  teardown(function() if m then m:stop() end end)
  before_each(function() m:reset(); path = tmp_path() end)
  after_each(function() os.remove(path) end)

  it("3 processes x 40 calls on a 20/1 s limit: no 429, within 120/20/0.85 s", function()
    local r = fleet.run { processes = 3, calls = 40, url = m.url, limiter = "file:" .. path, max_retries = 0 }
    assert.equal(120, r.ok, table.concat(r.outputs, "\n"))
    assert.equal(0, r.failed)
    assert.equal(0, r.status429)
    for _, req in ipairs(m:requests()) do assert.are_not.equal(429, req.status) end
    assert.is_true(r.took < 120 / 20 / 0.85, "took " .. r.took)
  end)
end)

describe("paddle.limiter share_block", function()
  it("ignores a block that is already over, and raises on a non-number", function()
    local path = tmp_path()
    local l = make("file:" .. path, { requests = 2, per = 1 })
    l:share_block(0)
    l:share_block(-0.001)
    assert.equal(0, l:acquire(core.monotonic()))
    assert.has_error(function() l:share_block("60") end)
    assert.has_error(function() l:share_block(0 / 0) end)
    os.remove(path)
  end)
end)

describe("core.limiter_file_open", function()
  it("an error inside update is raised after the file is unlocked", function()
    local path = tmp_path()
    local a = assert(core.limiter_file_open(path))
    local b = assert(core.limiter_file_open(path))
    assert.has_error(function() a:update(function() error("boom", 0) end) end, "boom")
    local t0 = core.monotonic()
    local r1, r2 = b:update(function(now, blocked, state)
      assert.is_number(now)
      assert.equal(0, blocked)
      assert.is_nil(state)
      return 5, "state", "r1", "r2"
    end)
    assert.equal("r1", r1)
    assert.equal("r2", r2)
    assert.is_true(core.monotonic() - t0 < 0.5, "b did not wait for a lock")
    a:update(function(_, blocked, state)
      assert.equal(5, blocked)
      assert.equal("state", state)
    end)
    a:close(); b:close()
    assert.has_error(function() a:update(function() end) end)
    os.remove(path)
  end)

  it("waits for a lock another descriptor holds, up to its timeout", function()
    local path = tmp_path()
    local a = assert(core.limiter_file_open(path))
    local b = assert(core.limiter_file_open(path))
    local inner, inner_err
    local t0 = core.monotonic()
    a:update(function() inner, inner_err = b:update(function() end) end)
    local waited = core.monotonic() - t0
    assert.is_nil(inner)
    assert.matches("cannot lock the limiter file", inner_err)
    assert.is_true(waited >= 0.9 and waited < 5, "waited " .. waited)
    a:close(); b:close()
    os.remove(path)
  end)
end)

-- LuaJIT's FFI can fork: a child that inherits an open limiter file must lock
-- on its own descriptor (a flock belongs to the open file, which a fork shares).
describe("paddle.limiter file store across fork", function()
  it("a forked child waits for the lock its parent holds", function()
    local path = tmp_path()
    local out = scripts.run([[
      local core = require "paddle.core"
      local store = assert(core.limiter_file_open(arg[1]))
      store:update(function() return 0, nil end)
      local pid = ffi.C.fork()
      if pid == 0 then
        core.sleep(0.1) -- the parent holds the lock by now
        local t0 = core.monotonic()
        store:update(function() end)
        io.stdout:write(string.format("child waited %.2f\n", core.monotonic() - t0))
        io.stdout:flush()
        ffi.C._exit(0)
      end
      store:update(function() core.sleep(0.5) end)
      ffi.C.waitpid(pid, nil, 0)
    ]], { fork = true, args = { path } })
    os.remove(path)
    local waited = tonumber(out:match("child waited ([%d.]+)"))
    assert.truthy(waited, out)
    assert.is_true(waited >= 0.3, "the child did not wait for the lock: " .. out)
  end)
end)
