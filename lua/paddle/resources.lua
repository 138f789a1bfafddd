-- The resource functions of a client: client.customers.get(id), ...
--
-- Each endpoint is data: method, path template, what its query and body may
-- hold, and what it returns (one entity, an iterator, a page). attach()
-- turns that data into closures over client.request. Misuse (a wrong type, a
-- malformed id, an unknown query parameter) raises at the caller's line;
-- everything that happens on the wire comes back as `nil, err`.
local ids = require "paddle.ids"
local json = require "paddle.json"
local pager = require "paddle.pager"
local show = require "paddle.show"
local url = require "paddle.url"

local concat = table.concat
local encode_query = url.encode_query
local error = error
local find = string.find
local format = string.format
local huge = math.huge
local ipairs = ipairs
local next = next
local null = json.null
local pairs = pairs
local pcall = pcall
local select = select
local sort = table.sort
local sub = string.sub
local tostring = tostring
local type = type

local _M = {}

---------------------------------------------------------------------------
-- The data
---------------------------------------------------------------------------

-- Query parameter kinds.
local STRING = { kind = "string" }
local STRINGS = { kind = "strings" }      -- a string or an array of strings, comma-joined
local PER_PAGE = { kind = "per_page" }    -- integer >= 1; Paddle clamps it (200 at most)
local BOOLEAN = { kind = "boolean" }
local function IDS(prefix) return { kind = "ids", prefix = prefix } end

-- Every paginated list takes these.
local function list_query(extra)
  local q = { after = STRING, order_by = STRING, per_page = PER_PAGE }
  for k, v in pairs(extra) do q[k] = v end
  return q
end

local CUSTOMER_QUERY = list_query { email = STRINGS, id = IDS "ctm", search = STRING, status = STRINGS }
local ADDRESS_QUERY = list_query { id = IDS "add", search = STRING, status = STRINGS }
local BUSINESS_QUERY = list_query { id = IDS "biz", search = STRING, status = STRINGS }
local PAYMENT_METHOD_QUERY = list_query { address_id = IDS "add", supports_checkout = BOOLEAN }
local SUBSCRIPTION_FILTERS = {
  address_id = IDS "add", collection_mode = STRING, id = IDS "sub", price_id = IDS "pri",
  scheduled_change_action = STRINGS, status = STRINGS,
}
local SUBSCRIPTION_QUERY = list_query(SUBSCRIPTION_FILTERS)
SUBSCRIPTION_QUERY.customer_id = IDS "ctm"
local CUSTOMER_SUBSCRIPTION_QUERY = list_query(SUBSCRIPTION_FILTERS) -- customer_id is the argument
local EVENT_QUERY = list_query { event_type = STRINGS }

-- Bodies: `arrays` names the fields that are JSON arrays (sent as [] when
-- empty), with the id prefix their elements must have, or true.
local CUSTOMER_BODY = { arrays = {} }
local ADDRESS_BODY = { arrays = {} }
local BUSINESS_BODY = { arrays = { contacts = true } }
local PORTAL_BODY = { arrays = { subscription_ids = "sub" }, optional = true, default = {} }

-- Endpoint constructors. Positional arguments are the `{name}` ids of the
-- path template, in order, then the params or fields table if any.
local function list(path, query, args)
  return { "GET", path, query = query, args = args, returns = "each" }
end
local function get(path) return { "GET", path } end
local function create(path, body) return { "POST", path, body = body } end
local function update(path, body) return { "PATCH", path, body = body } end
local function set_status(path, status) return { "PATCH", path, fixed = { status = status } } end

-- The prefix of the id each namespace's entities carry.
local ENTITY_PREFIX = {
  customers = "ctm", addresses = "add", businesses = "biz", payment_methods = "paymtd",
  subscriptions = "sub", events = "evt",
}

local C = "/customers/{customer_id}"

local RESOURCES = {
  customers = {
    list = list("/customers", CUSTOMER_QUERY),
    get = get(C),
    create = create("/customers", CUSTOMER_BODY),
    update = update(C, CUSTOMER_BODY),
    archive = set_status(C, "archived"),
    unarchive = set_status(C, "active"),
    credit_balances = {
      "GET", C .. "/credit-balances", query = { currency_code = STRINGS }, expect = "array",
    },
    auth_token = { "POST", C .. "/auth-token", expect = "object" },
    portal_session = {
      "POST", C .. "/portal-sessions", body = PORTAL_BODY, expect = "entity", prefix = "cpls",
    },
    -- GET /subscriptions?customer_id=ctm_...: the id argument goes to the query.
    subscriptions = list("/subscriptions", CUSTOMER_SUBSCRIPTION_QUERY, { "customer_id" }),
  },
  addresses = {
    list = list(C .. "/addresses", ADDRESS_QUERY),
    get = get(C .. "/addresses/{address_id}"),
    create = create(C .. "/addresses", ADDRESS_BODY),
    update = update(C .. "/addresses/{address_id}", ADDRESS_BODY),
    archive = set_status(C .. "/addresses/{address_id}", "archived"),
    unarchive = set_status(C .. "/addresses/{address_id}", "active"),
  },
  businesses = {
    list = list(C .. "/businesses", BUSINESS_QUERY),
    get = get(C .. "/businesses/{business_id}"),
    create = create(C .. "/businesses", BUSINESS_BODY),
    update = update(C .. "/businesses/{business_id}", BUSINESS_BODY),
    archive = set_status(C .. "/businesses/{business_id}", "archived"),
    unarchive = set_status(C .. "/businesses/{business_id}", "active"),
  },
  payment_methods = {
    list = list(C .. "/payment-methods", PAYMENT_METHOD_QUERY),
    get = get(C .. "/payment-methods/{payment_method_id}"),
    delete = { "DELETE", C .. "/payment-methods/{payment_method_id}" },
  },
  subscriptions = {
    list = list("/subscriptions", SUBSCRIPTION_QUERY),
    get = get("/subscriptions/{subscription_id}"),
  },
  events = {
    list = list("/events", EVENT_QUERY),
  },
}

-- Every `list` also has a `page` twin returning one page at a time.
for _, ops in pairs(RESOURCES) do
  local l = ops.list
  if l then ops.page = { l[1], l[2], query = l.query, args = l.args, returns = "page" } end
end

---------------------------------------------------------------------------
-- Argument checks (raise with level 0; the public function re-raises at
-- its caller's line)
---------------------------------------------------------------------------

local shown = show.value

local function misuse(label, message)
  error(label .. ": " .. message, 0)
end

local function is_sequence(t)
  local n = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k % 1 ~= 0 then return false end
    n = n + 1
  end
  return n == #t
end

local function check_id(label, name, value)
  local prefix = ids.PREFIX[name]
  if not ids.valid(prefix, value) then
    misuse(label, name .. " must be " .. ids.describe(prefix) .. ", got " .. shown(value))
  end
  return value
end

local function check_strings(label, name, v, prefix)
  local tv = type(v)
  if tv == "string" then
    if prefix and not ids.valid(prefix, v) then
      misuse(label, "parameter '" .. name .. "' must hold " .. ids.describe(prefix) .. ", got " .. shown(v))
    end
    return v
  end
  if tv ~= "table" or not is_sequence(v) or #v == 0 then
    misuse(label, "parameter '" .. name .. "' must be a string or a non-empty array of strings, got "
      .. (tv == "table" and "an empty or non-array table" or shown(v)))
  end
  local copy = {}
  for i = 1, #v do
    local item = v[i]
    if type(item) ~= "string" or (prefix and not ids.valid(prefix, item)) then
      misuse(label, "parameter '" .. name .. "' item " .. i .. " must be "
        .. (prefix and ids.describe(prefix) or "a string") .. ", got " .. shown(item))
    end
    copy[i] = item
  end
  return copy
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  sort(keys)
  return keys
end

-- A checked copy of the caller's query params (the caller's table is never kept).
local function check_query(label, spec, params)
  if params == nil then return {} end
  if type(params) ~= "table" then misuse(label, "params must be a table, got " .. shown(params)) end
  local query = {}
  for name, v in pairs(params) do
    local p = type(name) == "string" and spec[name]
    if not p then
      local what = type(name) == "string" and format("%q", name) or shown(name)
      misuse(label, "unknown parameter " .. what .. " (expected one of: "
        .. concat(sorted_keys(spec), ", ") .. ")")
    end
    local kind = p.kind
    if kind == "string" then
      if type(v) ~= "string" then
        misuse(label, "parameter '" .. name .. "' must be a string, got " .. shown(v))
      end
      query[name] = v
    elseif kind == "per_page" then
      if type(v) ~= "number" or v % 1 ~= 0 or v < 1 or v > 2147483647 then
        misuse(label, "parameter 'per_page' must be an integer >= 1, got " .. shown(v))
      end
      query[name] = v
    elseif kind == "boolean" then
      if type(v) ~= "boolean" then
        misuse(label, "parameter '" .. name .. "' must be a boolean, got " .. shown(v))
      end
      query[name] = v
    else -- strings, ids
      query[name] = check_strings(label, name, v, p.prefix)
    end
  end
  return query
end

-- A deep copy of a body value, checked to be JSON: strings, numbers, booleans,
-- paddle.null and tables of those. json.array marks are kept.
local function copy_json(label, v, path, depth)
  local tv = type(v)
  if tv == "string" or tv == "boolean" or v == null then return v end
  if tv == "number" then
    if v ~= v or v == huge or v == -huge then misuse(label, path .. " is " .. tostring(v) .. ", not JSON") end
    return v
  end
  if tv ~= "table" then misuse(label, path .. " is a " .. tv .. ", not a JSON value") end
  if depth > 32 then misuse(label, path .. " is nested too deeply (a cycle?)") end
  local copy = {}
  for k, x in pairs(v) do
    local tk = type(k)
    if tk ~= "string" and tk ~= "number" then misuse(label, path .. " has a " .. tk .. " key") end
    copy[k] = copy_json(label, x, path .. "." .. tostring(k), depth + 1)
  end
  if json.is_array_marked(v) then json.array(copy) end
  return copy
end

local function check_body(label, spec, fields)
  if fields == nil then
    if spec.optional then fields = spec.default else misuse(label, "expected a table of fields, got nil") end
  end
  if type(fields) ~= "table" then misuse(label, "fields must be a table, got " .. shown(fields)) end
  local body = {}
  for name, v in pairs(fields) do
    if type(name) ~= "string" then misuse(label, "field names must be strings, got " .. shown(name)) end
    local array = spec.arrays[name]
    if array and v ~= null then
      if type(v) ~= "table" or not is_sequence(v) then
        misuse(label, "field '" .. name .. "' must be an array (a sequence table), got " .. shown(v))
      end
      if type(array) == "string" then
        for i = 1, #v do
          if not ids.valid(array, v[i]) then
            misuse(label, "field '" .. name .. "' item " .. i .. " must be " .. ids.describe(array)
              .. ", got " .. shown(v[i]))
          end
        end
      end
      body[name] = json.array(copy_json(label, v, name, 1))
    else
      body[name] = copy_json(label, v, name, 1)
    end
  end
  local encoded, err = json.encode(body)
  if not encoded then misuse(label, err) end
  return encoded
end

---------------------------------------------------------------------------
-- Data to closures
---------------------------------------------------------------------------

-- Ids named in a path template, in order: "/a/{x}/b/{y}" -> { "x", "y" }.
local function placeholders(template)
  local names = {}
  for name in template:gmatch("{([%w_]+)}") do names[#names + 1] = name end
  return names
end

-- What each operation answers (paddle.response's expectations).
local function expectation(ns_name, op)
  if op.returns == "each" or op.returns == "page" then return "list" end
  if op.expect then return op.expect, op.prefix end
  if op[1] == "DELETE" then return "none" end
  return "entity", ENTITY_PREFIX[ns_name]
end

local function pass(...) return ... end

-- The checked way from arguments to a request: misuse raises (level 0).
-- e is the endpoint build() describes. Returns path, query, body.
local function prepare(e, ...)
  local label, op = e.label, e.op
  if select(1, ...) == e.namespace then
    misuse(label, "call it with a dot: " .. e.ns_name .. "." .. e.fn_name .. "(...), not " .. e.ns_name .. ":"
      .. e.fn_name .. "(...)")
  end
  if e.client._closed then misuse("paddle", "client is closed") end
  local count, max_args = select("#", ...), e.max_args
  if count > max_args then
    misuse(label, "expected " .. (max_args == 0 and "no arguments" or "at most " .. max_args
      .. " argument" .. (max_args == 1 and "" or "s")) .. ", got " .. count)
  end
  local path, in_query = e.template, nil
  for i = 1, e.nargs do
    local name = e.args[i]
    local id = check_id(label, name, (select(i, ...)))
    local at = find(path, "{" .. name .. "}", 1, true)
    if at then
      path = sub(path, 1, at - 1) .. id .. sub(path, at + #name + 2)
    else
      in_query = in_query or {}
      in_query[name] = id
    end
  end
  local t = select(e.nargs + 1, ...)
  local query, body
  if op.query then
    query = check_query(label, op.query, t)
    if in_query then
      for k, v in pairs(in_query) do query[k] = v end
    end
  end
  if op.body then body = check_body(label, op.body, t) end
  return path, query, body or e.fixed_body
end

-- The call every resource function can make: checks, then sends.
local function checked_call(e, ...)
  local ok, path, query, body = pcall(prepare, e, ...)
  if not ok then error(path, 3) end
  local client = e.client
  if e.returns == "each" then return pager.each(client, path, query) end
  if e.returns == "page" then return pager.page(client, path, query) end
  local qs = query and next(query) ~= nil and encode_query(query) or nil
  return client:send(e.method, path, qs, body, e.expect, e.prefix)
end

-- The common call, one id in the path and nothing else (get, archive...):
-- the id checked once, in C, and the path from prebuilt pieces. Anything
-- else (a bad id, extra arguments, a closed client) takes the checked way,
-- which raises the exact message. nil when the endpoint is not of that kind.
local function one_id_call(e)
  local template, client = e.template, e.client
  local head, tail = find(template, "{", 1, true), find(template, "}", 1, true)
  if e.nargs ~= 1 or e.takes_table or e.returns or not head
    or sub(template, head + 1, tail - 1) ~= e.args[1] or find(template, "{", tail, true) then
    return nil
  end
  -- The absolute URL up to the id: one concatenation per call (send takes
  -- an absolute URL on base_url as it is).
  local before = client.base_url .. sub(template, 1, head - 1)
  local after, id_prefix = sub(template, tail + 1), ids.PREFIX[e.args[1]]
  local is_id = ids.valid
  local method, body, expect, prefix = e.method, e.fixed_body, e.expect, e.prefix
  return function(id, ...)
    if is_id(id_prefix, id) and not client._closed and select("#", ...) == 0 then
      return client:send(method, before .. id .. after, nil, body, expect, prefix)
    end
    return pass(checked_call(e, id, ...)) -- checked_call is no tail call: its level 3 is our caller
  end
end

local function build(client, namespace, ns_name, fn_name, op)
  local args = op.args or placeholders(op[2])
  local takes_table = op.query ~= nil or op.body ~= nil
  local expect, prefix = expectation(ns_name, op)
  local e = {
    client = client, namespace = namespace, ns_name = ns_name, fn_name = fn_name, op = op,
    label = ns_name .. "." .. fn_name, method = op[1], template = op[2], args = args, nargs = #args,
    takes_table = takes_table, max_args = #args + (takes_table and 1 or 0), returns = op.returns,
    expect = expect, prefix = prefix, fixed_body = op.fixed and json.encode(op.fixed),
  }
  return one_id_call(e) or function(...) return pass(checked_call(e, ...)) end
end

-- The hand-written few: exact email lookup and get-or-create.

local function check_email(label, email)
  if type(email) ~= "string" or email == "" then
    misuse(label, "email must be a non-empty string, got " .. shown(email))
  end
end

local function check_ensure_fields(fields)
  if type(fields) ~= "table" then
    misuse("customers.ensure", "expected a table of fields, got " .. shown(fields))
  end
  check_email("customers.ensure", fields.email)
  check_body("customers.ensure", CUSTOMER_BODY, fields)
end

-- Every customer with exactly this email, active or archived, as an array
-- (usually of one), or nil, err. One request: Paddle's email filter is
-- exact, and a page holds 200.
local function find_by_email(client, email)
  local found = {}
  local query = { email = email, status = { "active", "archived" }, per_page = 200 }
  for customer, err in pager.each(client, "/customers", query) do
    if customer == false then return nil, err end
    found[#found + 1] = customer
  end
  return found
end

-- After a 409 on create: someone created the customer between our lookup
-- and our create, and Paddle names it in the detail.
local function existing_after_conflict(namespace, create_err)
  if type(create_err) == "table" and create_err.status == 409
    and create_err.code == "customer_already_exists" then
    local id = ids.find("ctm", create_err.detail)
    if id then
      local existing, get_err = namespace.get(id)
      if existing then return existing, false end
      return nil, get_err
    end
  end
  return nil, create_err
end

-- ensure(fields) -> customer, created | nil, err
-- One request when the customer exists (the lookup), two when it is
-- created (lookup + create); a create that races another gives 409 and
-- one more GET of the customer Paddle names.
local function ensure(client, namespace, fields)
  local found, find_err = find_by_email(client, fields.email)
  if not found then return nil, find_err end
  if #found > 0 then
    for _, customer in ipairs(found) do
      if customer.status == "active" then return customer, false end
    end
    return found[1], false
  end
  local customer, create_err = namespace.create(fields)
  if customer then return customer, true end
  return existing_after_conflict(namespace, create_err)
end

local function specials(client, namespace)
  function namespace.find_by_email(email)
    local ok, err = pcall(check_email, "customers.find_by_email", email)
    if not ok then error(err, 2) end
    if client._closed then error("paddle: client is closed", 2) end
    return find_by_email(client, email)
  end

  function namespace.ensure(fields)
    local ok, err = pcall(check_ensure_fields, fields)
    if not ok then error(err, 2) end
    if client._closed then error("paddle: client is closed", 2) end
    return ensure(client, namespace, fields)
  end
end

-- attach(client) -> client, with client.customers, client.addresses, ...
function _M.attach(client)
  if type(client) ~= "table" or type(client.send) ~= "function" then
    error("resources.attach: expected a client from paddle.new", 2)
  end
  for ns_name, ops in pairs(RESOURCES) do
    local namespace = {}
    for fn_name, op in pairs(ops) do
      namespace[fn_name] = build(client, namespace, ns_name, fn_name, op)
    end
    if ns_name == "customers" then specials(client, namespace) end
    client[ns_name] = namespace
  end
  return client
end

-- { customers = { "archive", "auth_token", ... }, ... }: every function name.
function _M.names()
  local names = {}
  for ns_name, ops in pairs(RESOURCES) do
    local list_of = sorted_keys(ops)
    if ns_name == "customers" then
      list_of[#list_of + 1] = "ensure"
      list_of[#list_of + 1] = "find_by_email"
      sort(list_of)
    end
    names[ns_name] = list_of
  end
  return names
end

return _M
