-- lua-paddle demo: create customers, list them page by page, update one,
-- archive one, and show what an error looks like.
--
--   PADDLE_API_KEY=... PADDLE_BASE_URL=http://127.0.0.1:8089 lua5.4 examples/demo.lua
--
-- `make demo` runs it against the local emulator (bin/run-demo). It uses the
-- module-level API, whose default client comes from the PADDLE_* variables.
local paddle = require "paddle"

local format = string.format
local write = io.write

local function say(...) write(format(...), "\n") end

local function check(value, err, what)
  if value == nil or value == false then
    io.stderr:write("demo: ", what or "request", " failed: ", tostring(err), "\n")
    os.exit(1)
  end
  return value
end

local function show(c)
  local name = c.name == paddle.null and "(no name)" or c.name
  return format("%s  %-18s %-26s %s", c.id, name, c.email, c.status)
end

say("lua-paddle %s, Paddle at %s", paddle._VERSION, paddle.default_client().base_url)

-- 1. Create customers. ensure() is get-or-create by email, so running the
--    demo twice against the same server creates nobody the second time.
say("\n1. Creating customers")
local people = {
  { "Ada Lovelace", "ada@example.com" },
  { "Alan Turing", "alan@example.com" },
  { "Grace Hopper", "grace@example.com" },
  { "Edsger Dijkstra", "edsger@example.com" },
  { "Barbara Liskov", "barbara@example.com" },
  { "Donald Knuth", "donald@example.com" },
  { "Margaret Hamilton", "margaret@example.com" },
}
local ids = {}
for i, p in ipairs(people) do
  local customer, created = paddle.customers.ensure { name = p[1], email = p[2], locale = "en" }
  check(customer, created, "ensure " .. p[2])
  ids[i] = customer.id
  say("   %s %s", created and "created " or "existing", show(customer))
end

-- 2. List them, three per page, following Paddle's cursor.
say("\n2. Listing customers, 3 per page")
local params = { per_page = 3, order_by = "id[ASC]" }
local number = 0
repeat
  local page = check(paddle.customers.page(params))
  number = number + 1
  say("   page %d: %d customer%s (about %d in all)", number, #page.data, #page.data == 1 and "" or "s",
    page.meta.pagination.estimated_total)
  for _, c in ipairs(page.data) do say("     %s", show(c)) end
  params.after = page.cursor
until not page.cursor

-- 3. Update one: only the fields given are sent; paddle.null clears one.
say("\n3. Updating %s", ids[1])
local updated = check(paddle.customers.update(ids[1], {
  name = "Ada King", custom_data = { plan = "pro", source = "demo" } }))
say("   now    %s  custom_data.plan=%s", show(updated), updated.custom_data.plan)

-- 4. Archive one: it leaves the default (active) list.
say("\n4. Archiving %s", ids[2])
local archived = check(paddle.customers.archive(ids[2]))
say("   now    %s", show(archived))

-- The iterator fetches pages lazily; on a failure it yields false, err once.
local active, broken = 0, nil
for customer, err in paddle.customers.list { per_page = 2 } do
  if customer == false then broken = err else active = active + 1 end
end
check(not broken, broken, "list")
local in_archive = check(paddle.customers.find_by_email("alan@example.com"))
say("   %d active customers listed; alan@example.com is %s", active, in_archive[1].status)

-- 5. Errors are values: a 404 comes back as nil, err.
say("\n5. Getting a customer that does not exist")
local missing, err = paddle.customers.get("ctm_01hv6y1jedq4p1n0yqn5ba3ky4")
say("   %s -> %s", tostring(missing), tostring(err))
say("   err.status=%s err.code=%s", tostring(err.status), tostring(err.code))

say("\nDone.")
