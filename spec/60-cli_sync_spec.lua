-- `paddle sync` driven as a command against the emulator: plan, apply,
-- reruns, archive, custom_data matching, 409 linking, kill -9, bad input.
local cjson = require "cjson"
local cli = require "support.cli"
local mock = require "support.mock"
local socket = require "socket"

local KEY = "pdl_sdbx_apikey_clisync"

describe("paddle sync", function()
  local m = mock.per_file { key = KEY }
  local dir = cli.per_file_dir()

  local function file(name, text) return cli.write(dir .. "/" .. name, text) end

  local function create(fields)
    local r = m:request("POST", "/customers", { body = fields })
    assert.equal(201, r.status, r.body)
    return r.json.data
  end

  local function customers()
    local r = m:request("GET", "/customers?status=active,archived&per_page=200")
    assert.equal(200, r.status, r.body)
    local by_email = {}
    for _, c in ipairs(r.json.data) do
      assert.is_nil(by_email[c.email:lower()], "two customers with " .. c.email)
      by_email[c.email:lower()] = c
    end
    return by_email, #r.json.data
  end

  local function writes()
    local n = 0
    for _, req in ipairs(m:requests()) do
      if req.method ~= "GET" then n = n + 1 end
    end
    return n
  end

  local function summary_of(r)
    assert.is_table(r.last, r.stdout .. r.stderr)
    return r.last
  end

  local function counts(create_n, update_n, archive_n, unarchive_n, unchanged_n, failed_n)
    return { create = create_n, update = update_n, archive = archive_n, unarchive = unarchive_n,
      unchanged = unchanged_n, failed = failed_n }
  end

  local USERS = "email,name,locale,custom_data.plan\n"
    .. "ann@example.com,Ann,en,pro\n"
    .. "BOB@example.com,Bob B,,\n"
    .. "cee@example.com,\"Cee, Jr.\",fr,free\n"

  local function seed_two()
    create { email = "ann@example.com", name = "Ann", locale = "en",
      custom_data = { plan = "pro", keep = 1 } }
    create { email = "bob@example.com", name = "Bob", custom_data = { keep = "me" } }
  end

  it("--dry-run prints the plan and the summary last, and sends no write", function()
    seed_two()
    local before = writes()
    local r = cli.run(m, { "sync", "--dry-run", "--format", "json", file("u.csv", USERS) })
    assert.equal(0, r.code, r.stderr)
    assert.same(counts(1, 1, 0, 0, 1, 0), summary_of(r))
    assert.equal('{"create":1,"update":1,"archive":0,"unarchive":0,"unchanged":1,"failed":0}',
      r.lines[#r.lines])
    assert.equal(3, #r.lines)
    local update, new = r.json[1], r.json[2]
    assert.equal("update", update.op)
    assert.same({ name = "Bob B" }, update.fields) -- only the changed field; no custom_data
    assert.equal("create", new.op)
    assert.same({ email = "cee@example.com", name = "Cee, Jr.", locale = "fr",
      custom_data = { plan = "free" } }, new.fields)
    assert.equal(before, writes())
  end)

  it("applies the plan, writes the journal, and a rerun changes nothing", function()
    seed_two()
    local journal = dir .. "/journal.jsonl"
    os.remove(journal)
    local r = cli.run(m, { "sync", "--format", "jsonl", "--journal", journal, file("u.csv", USERS) })
    assert.equal(0, r.code, r.stderr)
    assert.same(counts(1, 1, 0, 0, 1, 0), summary_of(r))
    local all, n = customers()
    assert.equal(3, n)
    assert.equal("Bob B", all["bob@example.com"].name)
    assert.same({ keep = "me" }, all["bob@example.com"].custom_data) -- custom_data not sent, not cleared
    assert.same({ plan = "free" }, all["cee@example.com"].custom_data)
    assert.equal("fr", all["cee@example.com"].locale)
    local _, entries = cli.decode_lines(cli.slurp(journal))
    assert.equal(3, #entries)
    assert.equal("update", entries[1].op)
    -- the create is noted before it is sent
    assert.same({ op = "create", email = "cee@example.com", line = 4, pending = true },
      { op = entries[2].op, email = entries[2].email, line = entries[2].line, pending = entries[2].pending })
    local created
    for _, e in ipairs(entries) do if e.op == "create" and not e.pending then created = e end end
    assert.equal(all["cee@example.com"].id, created.id) -- the ctm_ id to store against the user
    assert.equal(4, created.line)

    local before = writes()
    local again = cli.run(m, { "sync", "--format", "json", file("u.csv", USERS) })
    assert.equal(0, again.code, again.stderr)
    assert.same(counts(0, 0, 0, 0, 3, 0), summary_of(again))
    assert.equal(before, writes())
  end)

  it("lists customers once in bulk, 200 a page, active and archived together", function()
    seed_two()
    cli.run(m, { "sync", "--dry-run", file("u.csv", USERS) })
    local gets = {}
    for _, req in ipairs(m:requests()) do
      if req.method == "GET" then gets[#gets + 1] = req end
    end
    assert.equal(1, #gets)
    assert.matches("per_page=200", gets[1].query, 1, true)
    assert.matches("status=active%%2Carchived", (gets[1].query:gsub(",", "%%2C")))
  end)

  it("only changes custom_data when a custom_data column changed, keeping other keys", function()
    create { email = "ann@example.com", name = "Ann", custom_data = { plan = "free", keep = 1 } }
    local r = cli.run(m, { "sync", "--format", "json",
      file("u.csv", "email,custom_data.plan\nann@example.com,pro\n") })
    assert.equal(0, r.code, r.stderr)
    assert.same(counts(0, 1, 0, 0, 0, 0), summary_of(r))
    assert.same({ plan = "pro", keep = 1 }, customers()["ann@example.com"].custom_data)
  end)

  it("--archive-missing archives the absent and unarchives the returning", function()
    seed_two()
    local gone = create { email = "gone@example.com" }
    local back = create { email = "back@example.com", name = "Back" }
    assert.equal(200, m:request("PATCH", "/customers/" .. back.id, { body = { status = "archived" } }).status)
    local text = USERS .. "back@example.com,Back,,\n"
    local plain = cli.run(m, { "sync", "--dry-run", "--format", "json", file("u.csv", text) })
    assert.same(counts(1, 1, 0, 1, 1, 0), summary_of(plain)) -- nothing archived without the flag

    local r = cli.run(m, { "sync", "--archive-missing", "--format", "json", file("u.csv", text) })
    assert.equal(0, r.code, r.stderr)
    assert.same(counts(1, 1, 1, 1, 1, 0), summary_of(r))
    local all = customers()
    assert.equal("archived", all["gone@example.com"].status)
    assert.equal(gone.id, all["gone@example.com"].id)
    assert.equal("active", all["back@example.com"].status)
    local again = cli.run(m, { "sync", "--archive-missing", "--format", "json", file("u.csv", text) })
    assert.same(counts(0, 0, 0, 0, 4, 0), summary_of(again))
  end)

  it("--archive-missing refuses a file without users", function()
    seed_two()
    local before = writes()
    local r = cli.run(m, { "sync", "--archive-missing", file("empty.csv", "email,name\n") })
    assert.equal(2, r.code)
    assert.matches("would archive every customer", r.stderr, 1, true)
    assert.equal(before, writes())
    assert.equal("active", customers()["ann@example.com"].status)
  end)

  it("--match custom_data.KEY follows a user whose email changed", function()
    local c = create { email = "old@example.com", name = "Dee", custom_data = { uid = "42" } }
    create { email = "other@example.com", custom_data = { uid = 7 } } -- a number matches "7"
    local text = "email,name,custom_data.uid\nnew@example.com,Dee,42\nother@example.com,,7\n"
    local r = cli.run(m, { "sync", "--match", "custom_data.uid", "--format", "json", file("u.csv", text) })
    assert.equal(0, r.code, r.stderr)
    assert.same(counts(0, 1, 0, 0, 1, 0), summary_of(r))
    local all, n = customers()
    assert.equal(2, n)
    assert.equal(c.id, all["new@example.com"].id)
    local missing_key = cli.run(m, { "sync", "--match", "custom_data.uid",
      file("v.csv", "email\na@example.com\n") })
    assert.equal(2, missing_key.code)
    assert.matches("v.csv:2: no custom_data.uid to match on", missing_key.stderr, 1, true)
  end)

  it("links on a 409 customer_already_exists instead of failing", function()
    local existing = create { email = "ann@example.com", name = "Old" }
    -- The list misses Ann (as if she was created after it was read): the create answers 409.
    m:faults { { method = "GET", path = "^/customers$", times = 1, status = 200, body = {
      data = cjson.empty_array or {}, meta = { request_id = "x", pagination = { per_page = 200,
        next = m.url .. "/customers?after=x", has_more = false, estimated_total = 0 } } } } }
    local journal = dir .. "/link.jsonl"
    os.remove(journal)
    local r = cli.run(m, { "sync", "--format", "json", "--journal", journal,
      file("u.csv", "email,name\nann@example.com,Ann\n") })
    assert.equal(0, r.code, r.stderr)
    assert.same(counts(1, 0, 0, 0, 0, 0), summary_of(r))
    local all, n = customers()
    assert.equal(1, n)
    assert.equal("Ann", all["ann@example.com"].name)
    local _, entries = cli.decode_lines(cli.slurp(journal))
    assert.is_true(entries[1].pending)
    assert.equal(existing.id, entries[2].id)
    assert.is_true(entries[2].linked)
  end)

  it("killed with kill -9 mid-apply, a rerun finishes with no duplicate and no failure", function()
    local rows = { "email,name" }
    for i = 1, 12 do rows[#rows + 1] = ("user%02d@example.com,User %d"):format(i, i) end
    local users = file("many.csv", table.concat(rows, "\n") .. "\n")
    local journal = dir .. "/kill.jsonl"
    os.remove(journal)
    local pid = cli.spawn(m, { "--rate-limit", "2/1", "sync", "--journal", journal, users },
      { out = dir .. "/kill.out", err = dir .. "/kill.err" })
    assert.is_string(pid)
    local function done_entries()
      local _, entries = cli.decode_lines(cli.slurp(journal))
      local done = {}
      for _, e in ipairs(entries) do if e.id then done[#done + 1] = e end end
      return done
    end
    local deadline = socket.gettime() + 60
    repeat socket.sleep(0.05) until #done_entries() >= 3 or socket.gettime() > deadline
    os.execute("kill -9 " .. pid)
    local _, before_kill = customers()
    assert.is_true(before_kill >= 3 and before_kill < 12, "killed after " .. before_kill .. " creates")

    local r = cli.run(m, { "--rate-limit", "off", "sync", "--format", "json", "--journal", journal, users })
    assert.equal(0, r.code, r.stderr)
    local s = summary_of(r)
    assert.equal(0, s.failed)
    local all, n = customers()
    assert.equal(12, n)
    assert.equal(12, s.create + s.unchanged)
    assert.is_true(s.unchanged >= before_kill)
    assert.equal("User 12", all["user12@example.com"].name)
    local creates = 0
    for _, req in ipairs(m:requests()) do
      if req.method == "POST" and req.status == 201 then creates = creates + 1 end
    end
    assert.equal(12, creates) -- every customer created exactly once
    local ids = {}
    for _, e in ipairs(done_entries()) do ids[e.id] = true end
    for email, c in pairs(all) do assert.is_true(ids[c.id] ~= nil, email .. " missing from the journal") end
    local again = cli.run(m, { "sync", "--format", "json", users })
    assert.same(counts(0, 0, 0, 0, 12, 0), summary_of(again))
  end)

  it("a create sent but unanswered when the run died is found, and its id journaled", function()
    local landed = create { email = "ann@example.com", name = "Ann" }
    local journal = file("pending.jsonl",
      '{"op":"create","email":"ann@example.com","line":2,"pending":true}\n')
    local r = cli.run(m, { "sync", "--format", "json", "--journal", journal,
      file("u.csv", "email,name\nann@example.com,Ann\nbob@example.com,Bob\n") })
    assert.equal(0, r.code, r.stderr)
    assert.same(counts(1, 0, 0, 0, 1, 0), summary_of(r))
    local _, entries = cli.decode_lines(cli.slurp(journal))
    assert.same({ op = "create", email = "ann@example.com", line = 2, id = landed.id, recovered = true },
      { op = entries[2].op, email = entries[2].email, line = entries[2].line, id = entries[2].id,
        recovered = entries[2].recovered })
    assert.is_true(entries[3].pending) -- Bob's create, noted before it was sent
    assert.equal("bob@example.com", entries[4].email)
    assert.matches("^ctm_", entries[4].id)
    local again = cli.run(m, { "sync", "--format", "json", "--journal", journal,
      file("u.csv", "email,name\nann@example.com,Ann\nbob@example.com,Bob\n") })
    assert.same(counts(0, 0, 0, 0, 2, 0), summary_of(again))
    assert.equal(4, #select(2, cli.decode_lines(cli.slurp(journal)))) -- nothing left to recover
  end)

  describe("bad input: a clear error naming file and line, and nothing sent", function()
    local cases = {
      { "no email column", "x.csv", "name,locale\nAnn,en\n", "x.csv:1: no email column" },
      { "a malformed line", "x.csv", "email,name\na@example.com,A\nb@example.com,B,extra\n",
        "x.csv:3: malformed line: 3 fields, the header has 2" },
      { "an unclosed quote", "x.csv", "email,name\n\"a@example.com,A\n", "x.csv:2: malformed line" },
      { "an unknown column", "x.csv", "email,nmae\na@example.com,A\n", 'x.csv:1: unknown column "nmae"' },
      { "a bad email", "x.csv", "email\na@example.com\nnot-an-email\n", 'x.csv:3: bad email "not-an-email"' },
      { "a duplicate email", "x.csv", "email\na@example.com\nA@example.com\n", "x.csv:3: email" },
      { "a malformed JSON line", "x.jsonl", '{"email":"a@example.com"}\n{"email":\n',
        "x.jsonl:2: malformed line" },
      { "an unknown JSON field", "x.jsonl", '{"email":"a@example.com","plan":"x"}\n',
        'x.jsonl:1: unknown field "plan"' },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        local path = file(case[2], case[3])
        local r = cli.run(m, { "sync", path })
        assert.equal(2, r.code, r.stdout .. r.stderr)
        assert.matches(case[4], r.stderr, 1, true)
        assert.matches("nothing sent", r.stderr, 1, true)
        assert.equal(0, #m:requests())
      end)
    end

    it("the whole file is checked: a bad last line stops the good lines before it", function()
      local rows = { "email" }
      for i = 1, 500 do rows[#rows + 1] = "u" .. i .. "@example.com" end
      rows[#rows + 1] = "broken"
      local r = cli.run(m, { "sync", file("x.csv", table.concat(rows, "\n") .. "\n") })
      assert.equal(2, r.code)
      assert.matches("x.csv:502: bad email", r.stderr, 1, true)
      assert.equal(0, #m:requests())
    end)
  end)

  it("reads JSON lines from stdin with -", function()
    local r = cli.run(m, { "sync", "--format", "json", "-" }, {
      stdin = '{"email":"j@example.com","name":"Jay","custom_data":{"tier":2}}\n' })
    assert.equal(0, r.code, r.stderr)
    assert.same(counts(1, 0, 0, 0, 0, 0), summary_of(r))
    assert.same({ tier = 2 }, customers()["j@example.com"].custom_data)
  end)

  it("exits 1 and counts failures when Paddle refuses a change", function()
    create { email = "ann@example.com", name = "Ann" }
    m:faults { { method = "PATCH", path = "^/customers/", times = 1, status = 500,
      body = { error = { type = "api_error", code = "internal_error", detail = "boom" },
        meta = { request_id = "r" } } } }
    local r = cli.run(m, { "--format", "json", "sync", file("u.csv", "email,name\nann@example.com,Anne\n") },
      { env = {} })
    -- the client retries a 500 on PATCH; the fault hits once, so the retry succeeds
    assert.equal(0, r.code, r.stderr)
    m:faults { { method = "PATCH", path = "^/customers/", times = 0, status = 400,
      body = { error = { type = "request_error", code = "bad_request", detail = "nope" },
        meta = { request_id = "r" } } } }
    local failed = cli.run(m, { "--format", "json", "sync",
      file("u.csv", "email,name\nann@example.com,Ann2\n") })
    assert.equal(1, failed.code)
    assert.same(counts(0, 0, 0, 0, 0, 1), summary_of(failed))
    assert.matches("bad_request: nope", failed.stderr, 1, true)
  end)
end)
