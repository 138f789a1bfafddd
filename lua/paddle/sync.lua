-- Bulk sync of a user list into Paddle's customers, in two steps:
--
--   local plan = assert(paddle.sync.plan(users, { client = c }))  -- reads only
--   local summary, failures = paddle.sync.apply(plan, { client = c }) -- writes
--
-- plan lists Paddle's customers once (active and archived, 200 a page),
-- matches each user by email (case-insensitive, like Paddle) or by a
-- custom_data key, and keeps only the writes: create, update (changed fields
-- only), unarchive and, with archive_missing, archive. apply performs them,
-- paced by the client's rate limit; a create answered 409
-- customer_already_exists links to the customer Paddle names instead.
local errors = require "paddle.errors"
local ids = require "paddle.ids"
local json = require "paddle.json"
local users_mod = require "paddle.users"

local error = error
local os_date = os.date
local io_open = io.open
local ipairs = ipairs
local lower = string.lower
local next = next
local pairs = pairs
local pcall = pcall
local require = require
local sort = table.sort
local tostring = tostring
local type = type

local null = json.null
local encode = json.encode

local _M = {
  OPS = { "create", "update", "unarchive", "archive" },
}

local function zero_counts()
  return { create = 0, update = 0, archive = 0, unarchive = 0, unchanged = 0, failed = 0 }
end
_M.zero_counts = zero_counts

local function client_of(opts)
  local c = opts.client
  if c == nil then c = require("paddle").default_client() end
  if type(c) ~= "table" or type(c.customers) ~= "table" then
    error("opts.client must be a client from paddle.new", 0)
  end
  return c
end

local function value(v)
  if v == null then return nil end
  return v
end

-- What plan keeps of a customer: the fields it compares, nothing else.
local function compact(c)
  local cd = value(c.custom_data)
  if type(cd) ~= "table" then cd = nil end
  return { id = c.id, status = c.status, email = c.email, name = value(c.name), locale = value(c.locale),
    custom_data = cd }
end

local key_string = users_mod.key_string

-- Values compare as text where one is a number: a CSV cell "7" equals the
-- 7 another system stored, and the sync does not flip its type.
local function same(a, b)
  if a == b then return true end
  local ta, tb = type(a), type(b)
  if ta == "table" and tb == "table" then return encode(a) == encode(b) end
  if (ta == "number" and tb == "string") or (ta == "string" and tb == "number") then
    return key_string(a) == key_string(b)
  end
  return false
end

-- The PATCH body turning customer `rec` into user `u` (empty: nothing to do)
-- and the names of the changed fields. custom_data is sent only when one of
-- the user's keys differs, and then whole: Paddle replaces it, so the keys the
-- user does not mention are kept from the customer.
local function diff(u, rec, key)
  local fields, changed = {}, {}
  if key and lower(u.email) ~= lower(rec.email or "") then
    fields.email = u.email
    changed[#changed + 1] = "email"
  end
  for _, name in ipairs { "name", "locale" } do
    local want = u[name]
    if want == null then
      if rec[name] ~= nil then fields[name] = null; changed[#changed + 1] = name end
    elseif want ~= nil and want ~= rec[name] then
      fields[name] = want
      changed[#changed + 1] = name
    end
  end
  local cd = value(u.custom_data)
  if cd then
    local current = rec.custom_data or {}
    local cd_changed = false
    for k, want in pairs(cd) do
      local have = current[k]
      if have == null then have = nil end
      if (want == null and have ~= nil) or (want ~= null and not same(want, have)) then
        cd_changed = true
        changed[#changed + 1] = "custom_data." .. k
      end
    end
    if cd_changed then
      local merged = {}
      for k, v in pairs(current) do merged[k] = v end
      for k, v in pairs(cd) do
        if v == null then merged[k] = nil else merged[k] = v end
      end
      fields.custom_data = merged
    end
  end
  return fields, changed
end

-- A new customer's body: the user's fields, null values left out.
local function create_fields(u)
  local fields = { email = u.email }
  if value(u.name) then fields.name = u.name end
  if value(u.locale) then fields.locale = u.locale end
  local cd = value(u.custom_data)
  if cd then
    local copy = {}
    for k, v in pairs(cd) do
      if v ~= null then copy[k] = v end
    end
    if next(copy) then fields.custom_data = copy end
  end
  return fields
end

-- The action for a matched customer: unarchive (with the changes in the same
-- PATCH), update, or nil when nothing differs.
local function action_for(u, rec, key)
  local fields, changed = diff(u, rec, key)
  if rec.status == "archived" then
    fields.status = "active"
    return { op = "unarchive", id = rec.id, email = u.email, line = u.line, fields = fields,
      changed = changed }
  end
  if next(fields) then
    return { op = "update", id = rec.id, email = u.email, line = u.line, fields = fields, changed = changed }
  end
  return nil
end

-- Emails of creates a journal shows as sent but not answered: a run killed
-- in between. Their customers may exist; the next plan looks for their ids.
function _M.unanswered_creates(path)
  local f = io_open(path, "rb")
  if not f then return {} end
  local pending = {}
  for line in f:lines() do
    local e = json.decode(line)
    if type(e) == "table" and e.op == "create" and type(e.email) == "string" then
      pending[lower(e.email)] = e.pending == true or nil
    end
  end
  f:close()
  return pending
end

local function check_options(opts, label)
  if opts ~= nil and type(opts) ~= "table" then error(label .. ": opts must be a table", 3) end
  return opts or {}
end

-- The planner's state: the users indexed by email and by key, the actions
-- decided so far, and the customers kept for the end of the listing.
local function new_state(users, key, opts)
  local st = {
    users = users, key = key, actions = {}, counts = zero_counts(),
    user_by_email = {}, user_by_key = {},
    decided = {}, -- user index -> true once matched to a customer
    unanswered = opts.journal and _M.unanswered_creates(opts.journal) or {},
    recovered = {},
    by_key = {}, by_email = {}, others = {},
  }
  st.counts.failed = nil
  for i, u in ipairs(users) do
    st.user_by_email[lower(u.email)] = i
    if key then st.user_by_key[key_string(u.custom_data[key])] = i end
  end
  return st
end

-- User i is customer rec: plan what (if anything) changes.
local function decide(st, i, rec)
  local users = st.users
  st.decided[i] = true
  if st.unanswered[lower(users[i].email)] then
    st.recovered[#st.recovered + 1] = { email = users[i].email, id = rec.id, line = users[i].line }
  end
  local action = action_for(users[i], rec, st.key)
  if action then
    action.index = i
    st.actions[#st.actions + 1] = action
    st.counts[action.op] = st.counts[action.op] + 1
  else
    st.counts.unchanged = st.counts.unchanged + 1
  end
end

-- One customer of the listing. By email, a customer is compared as it
-- arrives and forgotten. By a custom_data key, the matches wait for the end
-- (a key may come twice; an email match is only the fallback). With
-- archive_missing, the active ones nobody matches are kept as { id, email }.
local function see(st, c, archive_missing)
  local key = st.key
  local kv = key and type(c.custom_data) == "table" and c.custom_data[key]
  kv = kv ~= nil and kv ~= null and key_string(kv) or nil
  local email = type(c.email) == "string" and lower(c.email) or nil
  if kv and st.user_by_key[kv] then
    local rec, seen = compact(c), st.by_key[kv]
    -- Two customers with one key: the active one is the user's.
    if seen == nil or (seen.status ~= "active" and rec.status == "active") then
      st.by_key[kv] = rec
      if seen then st.others[#st.others + 1] = seen end
    else
      st.others[#st.others + 1] = rec
    end
  elseif email and st.user_by_email[email] then
    if key then
      st.by_email[email] = compact(c)
    else
      decide(st, st.user_by_email[email], compact(c))
    end
  elseif archive_missing and c.status == "active" then
    st.others[#st.others + 1] = { id = c.id, email = c.email, status = c.status }
  end
end

-- One pass over every customer, active and archived, one page in memory.
-- Returns how many were listed, or nil, err.
local function list_and_match(st, client, opts)
  local listed = 0
  local on_listed = opts.on_listed
  for c, err in client.customers.list { status = { "active", "archived" }, per_page = 200 } do
    if c == false then return nil, err end
    listed = listed + 1
    if on_listed and listed % 200 == 0 then on_listed(listed) end
    see(st, c, opts.archive_missing)
  end
  return listed
end

-- Users not decided during the listing: matched by key, then by email, else created.
local function match_the_rest(st)
  local key, actions, counts = st.key, st.actions, st.counts
  st.used_email = {}
  for i, u in ipairs(st.users) do
    if not st.decided[i] then
      local email = lower(u.email)
      local rec = key and st.by_key[key_string(u.custom_data[key])]
      if rec == nil and st.by_email[email] then
        rec = st.by_email[email]
        st.used_email[email] = true
      end
      if rec then
        decide(st, i, rec)
      else
        actions[#actions + 1] = { op = "create", email = u.email, line = u.line, fields = create_fields(u),
          index = i }
        counts.create = counts.create + 1
      end
    end
  end
  sort(actions, function(a, b) return a.index < b.index end) -- in the order of the users
end

-- With archive_missing: every active customer no user matched is archived.
local function archive_the_unmatched(st)
  local others = st.others
  for email, rec in pairs(st.by_email) do
    if not st.used_email[email] and rec.status == "active" then others[#others + 1] = rec end
  end
  for _, rec in ipairs(others) do
    if rec.status == "active" then
      st.actions[#st.actions + 1] = { op = "archive", id = rec.id, email = rec.email }
      st.counts.archive = st.counts.archive + 1
    end
  end
end

-- plan(users, opts) -> plan | nil, err
--   users: array of { email =, name =, locale =, custom_data = {...} }
--   opts: client (default: paddle.default_client()), match ("email" or
--   "custom_data.KEY"), archive_missing (boolean), on_listed(customers_so_far),
--   journal (the path apply will write: creates it shows unanswered are
--   looked for, and apply records the ids it finds)
-- plan = { actions = { {op, id, email, line, fields, changed}, ... },
--          counts = {create =, update =, archive =, unarchive =, unchanged =},
--          customers = how many were listed, match = ..., key = ... }
function _M.plan(users, opts)
  opts = check_options(opts, "sync.plan")
  if type(users) ~= "table" then error("sync.plan: users must be an array of tables", 2) end
  local ok, key = pcall(users_mod.match_key, opts.match)
  if not ok then error("sync.plan: " .. key, 2) end
  local ok_client, client = pcall(client_of, opts)
  if not ok_client then error("sync.plan: " .. client, 2) end
  local checked, check_err = users_mod.check(users, opts)
  if not checked then return nil, check_err end
  if opts.archive_missing and next(users) == nil then
    -- An empty export is far more often a broken one than a company with no users.
    return nil, errors.new { type = "input_error", code = "invalid_input",
      detail = "no users: with archive_missing this would archive every customer; refusing" }
  end

  local st = new_state(users, key, opts)
  local listed, err = list_and_match(st, client, opts)
  if not listed then return nil, err end
  match_the_rest(st)
  if opts.archive_missing then archive_the_unmatched(st) end
  return {
    actions = st.actions, counts = st.counts, customers = listed,
    match = opts.match or "email", archive_missing = opts.archive_missing and true or false,
    key = key, recovered = st.recovered,
  }
end

-- A journal: one JSON line per applied change, flushed at once, so a run
-- killed at any moment leaves every change it made on record.
local function open_journal(path)
  local f, err = io_open(path, "ab")
  if not f then return nil, err end
  return f
end

local function fatal(err)
  return type(err) == "table" and (err.status == 401 or err.status == 403)
end

-- The user a planned create came from: its fields, as plan made them.
local function user_of(action)
  return action.fields
end

-- After a 409 on create (or a create whose answer was lost but which
-- landed): the customer exists, so bring it in line like a matched one.
local function link(client, action, id, key)
  local existing, err = client.customers.get(id)
  if not existing then return nil, err end
  local follow = action_for(user_of(action), compact(existing), key)
  if follow then
    local ok, update_err = client.customers.update(id, follow.fields)
    if not ok then return nil, update_err end
    return { id = id, changed = follow.changed, unarchived = follow.op == "unarchive" }
  end
  return { id = id, changed = {} }
end

local function perform(client, action, key)
  local customers = client.customers
  local op = action.op
  if op == "create" then
    local c, err = customers.create(action.fields)
    if c then return { id = c.id } end
    local id
    if type(err) == "table" and err.status == 409 and err.code == "customer_already_exists" then
      id = ids.find("ctm", err.detail)
    elseif type(err) == "table" and err.type == "transport_error" then
      -- The answer was lost; the customer may exist all the same.
      local found = customers.list { email = action.email, status = { "active", "archived" } }()
      if found then id = found.id end
    end
    if not id then return nil, err end
    local linked, link_err = link(client, action, id, key)
    if not linked then return nil, link_err end
    linked.linked = true
    return linked
  elseif op == "update" or op == "unarchive" then
    local c, err = customers.update(action.id, action.fields)
    if not c then return nil, err end
    return { id = action.id }
  elseif op == "archive" then
    local c, err = customers.archive(action.id)
    if not c then return nil, err end
    return { id = action.id }
  end
  error("sync.apply: unknown action " .. tostring(op), 0)
end

-- apply(plan, opts) -> summary, failures, fatal_err
--   opts: client, journal (a path: JSON lines appended), on_change(entry,
--   done, total) called after each action, whatever its outcome.
-- summary = { create =, update =, archive =, unarchive =, unchanged =, failed = }
-- failures = { { action = ..., error = err }, ... }. A 401/403 stops the run
-- (fatal_err); the actions not attempted count as failed.
function _M.apply(plan, opts)
  opts = check_options(opts, "sync.apply")
  if type(plan) ~= "table" or type(plan.actions) ~= "table" then
    error("sync.apply: plan must come from sync.plan", 2)
  end
  local ok_client, client = pcall(client_of, opts)
  if not ok_client then error("sync.apply: " .. client, 2) end
  local journal
  if opts.journal then
    local err
    journal, err = open_journal(opts.journal)
    if not journal then
      return nil, nil, errors.new { type = "input_error", code = "cannot_write", detail = tostring(err) }
    end
  end
  local on_change = opts.on_change
  local summary = zero_counts()
  summary.unchanged = plan.counts.unchanged
  local failures = {}
  local actions = plan.actions
  local total = #actions
  local stop
  local function record(entry)
    if journal then
      journal:write(encode(entry), "\n")
      journal:flush()
    end
  end
  -- Creates an earlier, killed run sent: their ids, found by plan.
  for _, r in ipairs(plan.recovered or {}) do
    record { at = os_date("!%Y-%m-%dT%H:%M:%SZ"), op = "create", id = r.id, email = r.email, line = r.line,
      recovered = true }
  end
  for i = 1, total do
    local action = actions[i]
    local entry
    if stop then
      summary.failed = summary.failed + 1
    else
      if action.op == "create" then -- a POST cannot be retried blindly: note it first
        record { at = os_date("!%Y-%m-%dT%H:%M:%SZ"), op = "create", email = action.email, line = action.line,
          pending = true }
      end
      local result, err = perform(client, action, plan.key)
      entry = { at = os_date("!%Y-%m-%dT%H:%M:%SZ"), op = action.op,
        id = result and result.id or action.id, email = action.email,
        line = action.line, changed = action.changed and json.array(action.changed) or nil }
      if result then
        summary[action.op] = summary[action.op] + 1
        if result.linked then
          entry.linked = true
          entry.changed = json.array(result.changed)
        end
      else
        summary.failed = summary.failed + 1
        failures[#failures + 1] = { action = action, error = err }
        entry.error = tostring(err)
        if fatal(err) then stop = err end
      end
      record(entry)
    end
    if on_change then on_change(entry, i, total) end
  end
  if journal then journal:close() end
  return summary, failures, stop
end

return _M
