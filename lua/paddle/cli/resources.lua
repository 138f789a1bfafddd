-- `paddle customers|addresses|businesses|payment-methods|subscriptions|events list ...`:
-- one subcommand per client function, described as data below.
local json = require "paddle.json"

local gmatch = string.gmatch
local io_stderr = io.stderr
local ipairs = ipairs
local next = next
local require = require
local tonumber = tonumber
local tostring = tostring
local type = type
local unpack = table.unpack or unpack -- luacheck: ignore (LuaJIT)

local null = json.null

local _M = {}

-- Flags that set body fields: { flag, field, kind }; kind "json" parses
-- the value; a string given as "" sends null (clears the field).
local CUSTOMER_FIELDS = {
  { "--email", "email" }, { "--name", "name" }, { "--locale", "locale" },
  { "--custom-data", "custom_data", "json" },
}
local ADDRESS_FIELDS = {
  { "--country-code", "country_code" }, { "--postal-code", "postal_code" }, { "--region", "region" },
  { "--city", "city" }, { "--first-line", "first_line" }, { "--second-line", "second_line" },
  { "--description", "description" }, { "--custom-data", "custom_data", "json" },
}
local BUSINESS_FIELDS = {
  { "--name", "name" }, { "--company-number", "company_number" },
  { "--tax-identifier", "tax_identifier" }, { "--custom-data", "custom_data", "json" },
}

-- List filters: { flag, param, kind } with kind "list" (comma-separated).
local STATUS = { "--status", "status", "list", "Statuses, comma-separated (active,archived)." }
local SEARCH = { "--search", "search", nil, "Text to look for." }
local function ids_filter(what) return { "--id", "id", "list", what .. " ids, comma-separated." } end

local RESOURCES = {
  {
    name = "customers", ns = "customers", noun = "customer", id = "CUSTOMER_ID",
    columns = { "id", "status", "email", "name", "locale", "custom_data" },
    filters = { STATUS, { "--email", "email", "list", "Exact emails, comma-separated." },
      ids_filter "Customer", SEARCH },
    fields = CUSTOMER_FIELDS, required = { "email" },
    ops = { "list", "get", "create", "update", "archive", "unarchive", "ensure" },
  },
  {
    name = "addresses", ns = "addresses", noun = "address", parent = true, id = "ADDRESS_ID",
    columns = { "id", "status", "country_code", "postal_code", "city", "first_line" },
    filters = { STATUS, ids_filter "Address", SEARCH },
    fields = ADDRESS_FIELDS, required = { "country_code" },
    ops = { "list", "get", "create", "update", "archive", "unarchive" },
  },
  {
    name = "businesses", ns = "businesses", noun = "business", parent = true, id = "BUSINESS_ID",
    columns = { "id", "status", "name", "company_number", "tax_identifier" },
    filters = { STATUS, ids_filter "Business", SEARCH },
    fields = BUSINESS_FIELDS, required = { "name" },
    ops = { "list", "get", "create", "update", "archive", "unarchive" },
  },
  {
    name = "payment-methods", ns = "payment_methods", noun = "saved payment method", parent = true,
    id = "PAYMENT_METHOD_ID",
    columns = { "id", "type", "origin", "saved_at" },
    filters = { { "--address-id", "address_id", "list", "Address ids, comma-separated." } },
    ops = { "list", "get", "delete" },
  },
  {
    name = "subscriptions", ns = "subscriptions", noun = "subscription", id = "SUBSCRIPTION_ID",
    columns = { "id", "status", "customer_id", "currency_code", "next_billed_at" },
    filters = { STATUS, ids_filter "Subscription",
      { "--customer-id", "customer_id", "list", "Customer ids, comma-separated." } },
    ops = { "list", "get" },
  },
  {
    name = "events", ns = "events", noun = "event",
    columns = { "event_id", "event_type", "occurred_at", "data.id" },
    filters = { { "--type", "event_type", "list", "Event types, comma-separated (customer.created,...)." },
      { "--after", "after", nil, "List the events after this event id." } },
    ops = { "list" },
  },
}
_M.RESOURCES = RESOURCES

local function split(text)
  local out = {}
  for item in gmatch(text, "[^,%s]+") do out[#out + 1] = item end
  return out
end

-- The body of create/update from the field flags.
local function body_from(args, fields, ctx)
  local body = {}
  for _, f in ipairs(fields) do
    local flag, field, kind = f[1], f[2], f[3]
    local v = args[field]
    if v ~= nil then
      if kind == "json" then
        local decoded, err = json.decode(v)
        if type(decoded) ~= "table" then
          ctx.usage(flag .. " must be a JSON object, got " .. (err or v))
        end
        v = decoded
      elseif v == "" then
        v = null
      end
      body[field] = v
    end
  end
  return body
end

local function print_one(ctx, res, entity, err)
  if not entity then return ctx.fail(err) end
  local w = ctx.writer { columns = res.columns, list = false }
  w.item(entity)
  w.finish()
  return 0
end

local function positional(res, args, ctx)
  local list = {}
  if res.parent then list[#list + 1] = args.customer_id end
  if args.id_arg then list[#list + 1] = args.id_arg end
  if res.parent then
    -- The customer id comes first: checked here for a message naming it.
    if not require("paddle.ids").valid("ctm", args.customer_id) then
      ctx.usage("CUSTOMER_ID must be a customer id (ctm_...), got " .. tostring(args.customer_id))
    end
  end
  return list
end

local HANDLERS = {}

function HANDLERS.list(res, ctx)
  local args = ctx.args
  local params = { per_page = args.per_page }
  for _, f in ipairs(res.filters or {}) do
    local v = args[f[2]]
    if v ~= nil then params[f[2]] = f[3] == "list" and split(v) or v end
  end
  if res.name == "events" then params.order_by = "id[ASC]" end
  local fn = ctx.client()[res.ns].list
  local pos = positional(res, args, ctx)
  pos[#pos + 1] = params
  local w = ctx.writer { columns = res.columns, list = true }
  local limit = args.limit
  if limit ~= nil and (limit < 1 or limit % 1 ~= 0) then
    return ctx.usage("--limit must be a whole number >= 1")
  end
  for entity, err in fn(unpack(pos)) do
    if entity == false then
      w.finish()
      return ctx.fail(err)
    end
    w.item(entity)
    if limit and w.count() >= limit then break end
  end
  w.finish()
  return 0
end

function HANDLERS.get(res, ctx)
  local pos = positional(res, ctx.args, ctx)
  return print_one(ctx, res, ctx.client()[res.ns].get(unpack(pos)))
end

function HANDLERS.create(res, ctx)
  local pos = positional(res, ctx.args, ctx)
  local body = body_from(ctx.args, res.fields, ctx)
  for _, name in ipairs(res.required) do
    if body[name] == nil or body[name] == null then
      ctx.usage("create needs --" .. name:gsub("_", "-"))
    end
  end
  pos[#pos + 1] = body
  return print_one(ctx, res, ctx.client()[res.ns].create(unpack(pos)))
end

function HANDLERS.update(res, ctx)
  local pos = positional(res, ctx.args, ctx)
  local body = body_from(ctx.args, res.fields, ctx)
  if next(body) == nil then ctx.usage("update: give at least one field to change (see --help)") end
  pos[#pos + 1] = body
  return print_one(ctx, res, ctx.client()[res.ns].update(unpack(pos)))
end

local function status_handler(op)
  return function(res, ctx)
    local pos = positional(res, ctx.args, ctx)
    return print_one(ctx, res, ctx.client()[res.ns][op](unpack(pos)))
  end
end
HANDLERS.archive = status_handler("archive")
HANDLERS.unarchive = status_handler("unarchive")

function HANDLERS.delete(res, ctx)
  local pos = positional(res, ctx.args, ctx)
  local ok, err = ctx.client()[res.ns].delete(unpack(pos))
  if not ok then return ctx.fail(err) end
  return 0
end

-- ensure: the customer with this email, created when missing. stderr says which.
function HANDLERS.ensure(res, ctx)
  local body = body_from(ctx.args, res.fields, ctx)
  if body.email == nil or body.email == null then ctx.usage("ensure needs --email") end
  local customer, created = ctx.client().customers.ensure(body)
  if not customer then return ctx.fail(created) end
  io_stderr:write("paddle: ", created and "created " or "exists ", customer.id, "\n")
  return print_one(ctx, res, customer)
end

local DESCRIPTIONS = {
  list = "List every %s (all pages, streamed).",
  get = "Show one %s.",
  create = "Create a %s.",
  update = "Change fields of a %s (a string flag given as \"\" clears the field).",
  archive = "Archive a %s.",
  unarchive = "Make an archived %s active again.",
  delete = "Delete a %s.",
  ensure = "The %s with this email, created when missing (prints it; stderr says created or exists).",
}

local function add_fields(cmd, res)
  for _, f in ipairs(res.fields) do
    cmd:option(f[1], f[3] == "json" and "A JSON object." or ("The " .. f[2]:gsub("_", " ") .. "."))
      :target(f[2])
  end
end

local function add_op(group, res, op)
  local cmd = group:command(op, DESCRIPTIONS[op]:format(res.noun))
  if res.parent then cmd:argument("customer_id", "The customer (ctm_...)."):argname("CUSTOMER_ID") end
  if op ~= "list" and op ~= "create" and op ~= "ensure" then
    cmd:argument("id_arg", "The " .. res.noun .. " id."):argname(res.id)
  end
  if op == "list" then
    for _, f in ipairs(res.filters or {}) do cmd:option(f[1], f[4]):target(f[2]) end
    cmd:option("--per-page", "Entities per request (Paddle allows 200 at most).", "200")
      :target("per_page"):convert(tonumber)
    cmd:option("--limit", "Stop after N entities."):convert(tonumber)
  elseif op == "create" or op == "update" or op == "ensure" then
    add_fields(cmd, res)
  end
  local handler = HANDLERS[op]
  cmd:action(function(args) args._run = function(ctx) return handler(res, ctx) end end)
  return cmd
end

function _M.register(parser)
  for _, res in ipairs(RESOURCES) do
    local group = parser:command(res.name, "Paddle " .. res.name:gsub("-", " ") .. ".")
    group:command_target("subcommand")
    for _, op in ipairs(res.ops) do add_op(group, res, op) end
    if res.name == "events" then require("paddle.cli.events").register_follow(group) end
  end
end

return _M
