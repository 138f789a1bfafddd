-- The `paddle` command: options, exit codes, formats, the customer and
-- nested-resource subcommands and `events follow`, against the emulator.
local cli = require "support.cli"
local mock = require "support.mock"

local KEY = "pdl_sdbx_apikey_clitest"

describe("paddle command", function()
  local m = mock.per_file { key = KEY }
  local dir = cli.per_file_dir()

  local function ok_run(args, opts)
    local r = cli.run(m, args, opts)
    assert.equal(0, r.code, r.stdout .. r.stderr)
    return r
  end

  describe("usage", function()
    it("has --help for every command and subcommand", function()
      local commands = { { "sync" }, { "events", "follow" } }
      for _, res in ipairs(require("paddle.cli.resources").RESOURCES) do
        commands[#commands + 1] = { res.name }
        for _, op in ipairs(res.ops) do commands[#commands + 1] = { res.name, op } end
      end
      assert.is_true(#commands > 30)
      for _, words in ipairs(commands) do
        local args = {}
        for i, w in ipairs(words) do args[i] = w end
        args[#args + 1] = "--help"
        local r = cli.run(nil, args)
        assert.equal(0, r.code, table.concat(words, " "))
        assert.matches("Usage: paddle " .. table.concat(words, " "), r.stdout, 1, true)
      end
    end)

    it("--version names lua-paddle's version", function()
      local r = cli.run(nil, { "--version" })
      assert.equal(0, r.code)
      assert.matches("^paddle %(lua%-paddle %d+%.%d+%.%d+; ", r.stdout)
    end)

    it("exits 2 on bad arguments, naming the problem on stderr", function()
      local r = cli.run(m, { "customers", "frobnicate" })
      assert.equal(2, r.code)
      assert.matches("unknown command 'frobnicate'", r.stderr, 1, true)
      r = cli.run(m, { "--format", "yaml", "customers", "list" })
      assert.equal(2, r.code)
      r = cli.run(m, { "--rate-limit", "fast", "customers", "list" })
      assert.equal(2, r.code)
      assert.matches("--rate-limit must be N/S", r.stderr, 1, true)
      r = cli.run(m, { "customers", "list", "--limit", "0" })
      assert.equal(2, r.code)
      assert.matches("--limit must be a whole number >= 1", r.stderr, 1, true)
      r = cli.run(m, { "customers", "get", "ctm_nope" })
      assert.equal(2, r.code)
      assert.matches("customer_id must be a customer id", r.stderr, 1, true)
      assert.equal("", r.stdout)
      assert.equal(0, #m:requests())
    end)

    it("takes the key from PADDLE_API_KEY or --api-key-file, never a flag", function()
      local r = cli.run(nil, { "--base-url", m.url, "customers", "list" })
      assert.equal(2, r.code)
      assert.matches("no API key: set PADDLE_API_KEY", r.stderr, 1, true)
      r = cli.run(nil, { "--api-key", KEY, "--base-url", m.url, "customers", "list" })
      assert.equal(2, r.code)
      local key_file = cli.write(dir .. "/key", KEY .. "\n")
      r = cli.run(nil, { "--api-key-file", key_file, "--base-url", m.url, "customers", "list" })
      assert.equal(0, r.code, r.stderr)
      r = cli.run(nil, { "--api-key-file", key_file, "customers", "list" },
        { env = { PADDLE_BASE_URL = m.url } })
      assert.equal(0, r.code, r.stderr)
    end)

    it("exits 1 on an API error, with tostring(err) on stderr", function()
      local r = cli.run(m, { "customers", "get", "ctm_" .. ("0"):rep(26) })
      assert.equal(1, r.code)
      assert.matches("^paddle: 404 not_found", r.stderr)
      assert.matches("request_id", r.stderr, 1, true)
      local wrong = cli.run(m, { "customers", "list" },
        { env = { PADDLE_API_KEY = "pdl_sdbx_apikey_wrong" } })
      assert.equal(1, wrong.code)
      assert.matches("^paddle: 40[13] ", wrong.stderr)
      assert.not_matches("wrong", wrong.stderr, 1, true) -- the key is never printed
    end)

    it("passes --limiter to the client as the option limiter", function()
      local opts = require("paddle.cli").client_options {
        api_key_file = cli.write(dir .. "/key", KEY), limiter = "file:/tmp/x", rate_limit = "10/2",
        sandbox = true,
      }
      assert.equal("file:/tmp/x", opts.limiter)
      assert.same({ requests = 10, per = 2 }, opts.rate_limit)
      assert.equal("sandbox", opts.environment)
    end)
  end)

  it("on a terminal: a table by default and a progress bar on stderr", function()
    if not os.execute("command -v script >/dev/null 2>&1") then
      pending("needs script(1) for a pseudo-terminal")
      return
    end
    local rows = { "email,name" }
    for i = 1, 12 do rows[#rows + 1] = "t" .. i .. "@example.com,T " .. i end
    local users = cli.write(dir .. "/tty.csv", table.concat(rows, "\n") .. "\n")
    local cmd = cli.command(m, { "--rate-limit", "6/1", "sync", users })
    local p = io.popen("script -qec " .. cli.quote(cmd) .. " /dev/null")
    local out = p:read("a")
    p:close()
    assert.matches("%[#+%] 12/12", out)
    assert.matches("ETA %d+s", out)
    assert.matches("op%s+id%s+email%s+line", out)
    assert.matches("create 12, update 0, unarchive 0, archive 0, unchanged 0, failed 0", out, 1, true)
  end)

  describe("customers", function()
    it("create, get, update, archive, unarchive, ensure", function()
      local r = ok_run { "customers", "create", "--email", "ann@example.com", "--name", "Ann",
        "--custom-data", '{"plan":"pro"}' }
      local c = r.json[1]
      assert.matches("^ctm_", c.id)
      assert.same({ plan = "pro" }, c.custom_data)
      assert.equal(c.id, ok_run({ "customers", "get", c.id }).json[1].id)
      r = ok_run { "customers", "update", c.id, "--name", "" } -- "" clears
      assert.is_true(r.json[1].name == nil or r.json[1].name == require("cjson").null)
      assert.equal("archived", ok_run({ "customers", "archive", c.id }).json[1].status)
      assert.equal("active", ok_run({ "customers", "unarchive", c.id }).json[1].status)
      r = ok_run { "customers", "ensure", "--email", "ANN@example.com" }
      assert.equal(c.id, r.json[1].id)
      assert.matches("exists " .. c.id, r.stderr, 1, true)
      r = ok_run { "customers", "ensure", "--email", "new@example.com", "--name", "New" }
      assert.matches("created ctm_", r.stderr)
      local bad = cli.run(m, { "customers", "create", "--name", "No Email" })
      assert.equal(2, bad.code)
      assert.matches("create needs --email", bad.stderr, 1, true)
    end)

    it("list streams every page in each format, with filters and --limit", function()
      for i = 1, 7 do
        m:request("POST", "/customers", { body = { email = "u" .. i .. "@example.com", name = "U " .. i } })
      end
      local r = ok_run { "--format", "jsonl", "customers", "list", "--per-page", "3" }
      assert.equal(7, #r.json)
      local pages = 0
      for _, req in ipairs(m:requests()) do
        if req.method == "GET" then pages = pages + 1 end
      end
      assert.equal(3, pages)
      r = ok_run { "--format", "json", "customers", "list" }
      local all = require("cjson").decode(r.stdout)
      assert.equal(7, #all)
      r = ok_run { "--format", "csv", "customers", "list", "--email", "u3@example.com,u4@example.com" }
      assert.equal("id,status,email,name,locale,custom_data", r.lines[1])
      assert.equal(3, #r.lines)
      r = ok_run { "--format", "table", "customers", "list", "--limit", "2" }
      assert.matches("^id%s+status%s+email", r.stdout)
      assert.equal(3, #r.lines)
      r = ok_run { "customers", "list", "--status", "archived" } -- jsonl when not a terminal
      assert.equal("", r.stdout)
    end)

    it("addresses and businesses nest under a customer", function()
      local c = ok_run({ "customers", "create", "--email", "n@example.com" }).json[1]
      local a = ok_run({ "addresses", "create", c.id, "--country-code", "DE", "--city", "Berlin" }).json[1]
      assert.matches("^add_", a.id)
      local list = ok_run { "addresses", "list", c.id }
      assert.equal(a.id, list.json[1].id)
      assert.equal("Bonn", ok_run({ "addresses", "update", c.id, a.id, "--city", "Bonn" }).json[1].city)
      assert.equal("archived", ok_run({ "addresses", "archive", c.id, a.id }).json[1].status)
      local b = ok_run({ "businesses", "create", c.id, "--name", "ACME" }).json[1]
      assert.equal(b.id, ok_run({ "businesses", "get", c.id, b.id }).json[1].id)
      local bad = cli.run(m, { "addresses", "list", "nope" })
      assert.equal(2, bad.code)
      assert.matches("CUSTOMER_ID must be a customer id", bad.stderr, 1, true)
    end)
  end)

  describe("events follow", function()
    local function make(n, from)
      for i = from, from + n - 1 do
        m:request("POST", "/customers", { body = { email = "e" .. i .. "@example.com" } })
      end
    end

    it("--once with --state prints each event once across runs, in order", function()
      local state = dir .. "/events.state"
      os.remove(state)
      make(3, 1)
      local r = ok_run { "events", "follow", "--once", "--state", state }
      assert.equal(3, #r.json)
      assert.equal("customer.created", r.json[1].event_type)
      assert.equal("e1@example.com", r.json[1].data.email)
      assert.equal(r.json[3].event_id .. "\n", cli.slurp(state))
      local again = ok_run { "events", "follow", "--once", "--state", state }
      assert.equal("", again.stdout) -- nothing new: no repeat

      make(2, 4)
      local c = m:request("GET", "/customers?email=e1@example.com").json.data[1]
      m:request("PATCH", "/customers/" .. c.id, { body = { status = "archived" } })
      local later = ok_run { "events", "follow", "--once", "--state", state }
      assert.equal(3, #later.json) -- no gap
      assert.equal("e4@example.com", later.json[1].data.email)
      assert.equal("archived", later.json[3].data.status)
      assert.is_nil(io.open(state .. ".tmp"))
    end)

    it("drains many pages and filters types with *", function()
      make(205, 1)
      local c = m:request("GET", "/customers?email=e1@example.com").json.data[1]
      m:request("PATCH", "/customers/" .. c.id, { body = { name = "First" } })
      local r = ok_run { "events", "follow", "--once" }
      assert.equal(206, #r.json)
      local seen = {}
      for _, e in ipairs(r.json) do
        assert.is_nil(seen[e.event_id])
        seen[e.event_id] = true
      end
      local updated = ok_run { "events", "follow", "--once", "--type", "customer.upd*" }
      assert.equal(1, #updated.json)
      assert.equal("First", updated.json[1].data.name)
      local exact = ok_run { "events", "follow", "--once", "--type", "customer.updated,address.created" }
      assert.equal(1, #exact.json)
      local after = ok_run { "events", "follow", "--once", "--after", r.json[204].event_id }
      assert.equal(2, #after.json)
    end)

    it("a running follower prints new events as they come, and keeps its state", function()
      local state = dir .. "/live.state"
      os.remove(state)
      make(1, 1)
      local out = dir .. "/live.out"
      local pid = cli.spawn(m, { "events", "follow", "--state", state, "--interval", "0.2" },
        { out = out, err = dir .. "/live.err" })
      finally(function() os.execute("kill " .. pid .. " 2>/dev/null") end)
      local socket = require "socket"
      local function wait_lines(n)
        local deadline = socket.gettime() + 30
        local lines
        repeat
          socket.sleep(0.05)
          lines = select(2, cli.decode_lines(cli.slurp(out)))
        until #lines >= n or socket.gettime() > deadline
        return lines
      end
      assert.equal(1, #wait_lines(1))
      make(2, 2)
      local lines = wait_lines(3)
      assert.equal(3, #lines)
      os.execute("kill " .. pid)
      socket.sleep(0.3)
      assert.equal(lines[3].event_id .. "\n", cli.slurp(state))
      local rest = ok_run { "events", "follow", "--once", "--state", state }
      assert.equal("", rest.stdout)
    end)

    it("rejects a malformed cursor or state file", function()
      local r = cli.run(m, { "events", "follow", "--once", "--after", "nope" })
      assert.equal(2, r.code)
      local state = cli.write(dir .. "/bad.state", "garbage\n")
      r = cli.run(m, { "events", "follow", "--once", "--state", state })
      assert.equal(2, r.code)
      assert.matches("does not hold an event id", r.stderr, 1, true)
    end)
  end)
end)
