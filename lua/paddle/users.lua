-- A company's user list, read and checked whole before anything is sent:
-- CSV with a header (email, name, locale, custom_data.KEY ...) or JSON lines
-- with the same fields. Every problem is reported with file and line.
--
-- A user is { email = "...", name = ..., locale = ..., custom_data = {...},
-- line = N }. A field that is absent (an empty CSV cell) is left as it is in
-- Paddle; JSON null (JSON lines only) clears it.
local csv = require "paddle.csv"
local errors = require "paddle.errors"
local json = require "paddle.json"
local show = require "paddle.show"

local concat = table.concat
local find = string.find
local io_open = io.open
local io_stdin = io.stdin
local lower = string.lower
local match = string.match
local next = next
local format = string.format
local pairs = pairs
local tostring = tostring
local type = type

local null = json.null

local _M = {
  MAX_REPORTED = 20, -- problems listed in one error
}

-- A custom_data value as a match key: 42, 42.0 and "42" are one key.
function _M.key_string(v)
  if type(v) == "number" and v % 1 == 0 and v > -2^53 and v < 2^53 then return format("%d", v) end
  return tostring(v)
end

-- Paddle's own check, give or take: one @, a dot in the domain, no spaces.
local EMAIL_PATTERN = "^[^%s@\"<>,;]+@[^%s@\"<>,;]+%.[^%s@\"<>,;]+$"
local LOCALE_PATTERN = "^%a%a%a?[%w_%-]*$"

function _M.is_email(v)
  return type(v) == "string" and #v <= 320 and find(v, EMAIL_PATTERN) ~= nil
end

-- match option -> nil (by email) or the custom_data key; raises on misuse.
function _M.match_key(match_opt)
  if match_opt == nil or match_opt == "email" then return nil end
  local key = type(match_opt) == "string" and match(match_opt, "^custom_data%.(.+)$")
  if not key then
    error("match must be \"email\" or \"custom_data.KEY\", got " .. tostring(match_opt), 0)
  end
  return key
end

local function shown(v)
  if type(v) == "string" then return show.quoted(v) end
  if v == null then return "null" end
  return type(v)
end

local check_user -- below

-- Collects problems (`error` makes the final error value) and the users read
-- (`check` checks one, against the others; `key` is the custom_data key users
-- are matched on).
local function problems(file, key)
  local list, count = {}, 0
  local seen = { email = {}, key = {} }
  local self = { users = {} }
  function self.add(line, message)
    count = count + 1
    if #list < _M.MAX_REPORTED then
      list[#list + 1] = { file = file, line = line, message = message }
    end
  end
  function self.count() return count end
  function self.error()
    local lines = {}
    for i, p in pairs(list) do lines[i] = p.file .. ":" .. (p.line or "-") .. ": " .. p.message end
    if count > #list then lines[#lines + 1] = "(and " .. (count - #list) .. " more problems)" end
    return errors.new {
      type = "input_error", code = "invalid_input", problems = list,
      detail = count .. " problem" .. (count == 1 and "" or "s") .. " in " .. file .. ", nothing sent:\n"
        .. concat(lines, "\n"),
    }
  end
  function self.check(u, line)
    check_user(u, line, self, seen, key)
  end
  -- Keeps a user read, checked unless it already had a problem.
  function self.keep(u, line, bad)
    if not bad then self.check(u, line) end
    self.users[#self.users + 1] = u
  end
  -- users | nil, err
  function self.result()
    if count > 0 then return nil, self.error() end
    return self.users
  end
  return self
end

-- Checks one user's fields (already split into a table); adds problems.
function check_user(u, line, p, seen, key)
  if u.email == nil or u.email == null or u.email == "" then
    p.add(line, "no email")
  elseif not _M.is_email(u.email) then
    p.add(line, "bad email " .. shown(u.email))
  else
    local e = lower(u.email)
    if seen.email[e] then
      p.add(line, "email " .. shown(u.email) .. " is also on line " .. seen.email[e])
    else
      seen.email[e] = line
    end
  end
  if u.name ~= nil and u.name ~= null and (type(u.name) ~= "string" or #u.name > 1024) then
    p.add(line, "name must be a string of at most 1024 characters, got " .. shown(u.name))
  end
  if u.locale ~= nil and u.locale ~= null
    and (type(u.locale) ~= "string" or #u.locale > 35 or not find(u.locale, LOCALE_PATTERN)) then
    p.add(line, "locale must be a language tag like en or pt-BR, got " .. shown(u.locale))
  end
  if key then
    local v = u.custom_data and u.custom_data[key]
    if v == nil or v == null or v == "" then
      p.add(line, "no custom_data." .. key .. " to match on")
    elseif type(v) ~= "string" and type(v) ~= "number" then
      p.add(line, "custom_data." .. key .. " must be a string or number to match on, got " .. shown(v))
    else
      local k = _M.key_string(v) -- as sync matches: 42 and "42" would collide there
      if seen.key[k] then
        p.add(line, "custom_data." .. key .. " " .. shown(k) .. " is also on line " .. seen.key[k])
      else
        seen.key[k] = line
      end
    end
  end
end

local function read_csv(read_line, file, key)
  local p = problems(file, key)
  local records = csv.records(read_line)
  local header, header_line, bad_line = records()
  if header == nil then
    p.add(1, "empty file: expected a header line (email,name,locale,custom_data.KEY...)")
    return nil, p.error()
  elseif header == false then
    p.add(bad_line, "bad header: " .. header_line)
    return nil, p.error()
  end
  header[1] = header[1]:gsub("^\239\187\191", "") -- a UTF-8 byte order mark
  local columns, has_email = {}, false
  for i, name in pairs(header) do
    name = match(name, "^%s*(.-)%s*$")
    local cd = match(name, "^custom_data%.(.+)$")
    if name == "email" or name == "name" or name == "locale" then
      columns[i] = { field = name }
      if name == "email" then has_email = true end
    elseif cd then
      columns[i] = { custom = cd }
    else
      p.add(header_line, "unknown column " .. shown(name)
        .. " (expected email, name, locale or custom_data.KEY)")
    end
    for j = 1, i - 1 do
      if header[j] == name then p.add(header_line, "column " .. shown(name) .. " appears twice") end
    end
    header[i] = name
  end
  if not has_email then p.add(header_line, "no email column in the header") end
  if p.count() > 0 then return nil, p.error() end

  local n = #header
  while true do
    local fields, line, at = records()
    if fields == nil then break end
    if fields == false then
      p.add(at, "malformed line: " .. line)
      break
    end
    if not (#fields == 1 and fields[1] == "") then -- blank lines are skipped
      if #fields ~= n then
        p.add(line, "malformed line: " .. #fields .. " fields, the header has " .. n)
      else
        local u = { line = line }
        for i = 1, n do
          local v, col = fields[i], columns[i]
          if v ~= "" then
            if col.field then
              u[col.field] = v
            else
              u.custom_data = u.custom_data or {}
              u.custom_data[col.custom] = v
            end
          end
        end
        p.keep(u, line)
      end
    end
  end
  return p.result()
end

local FIELDS = { email = true, name = true, locale = true, custom_data = true }

local function read_jsonl(read_line, file, key)
  local p = problems(file, key)
  local line = 0
  for text in read_line do
    line = line + 1
    if find(text, "%S") then
      local v, err = json.decode(text)
      if type(v) ~= "table" or (next(v) ~= nil and v[1] ~= nil) then
        p.add(line, "malformed line: " .. (err and ("not JSON: " .. err) or "not a JSON object"))
      else
        local u = { line = line }
        local ok = true
        for k, x in pairs(v) do
          local cd = type(k) == "string" and match(k, "^custom_data%.(.+)$")
          if FIELDS[k] and k ~= "custom_data" then
            u[k] = x
          elseif k == "custom_data" then
            if x ~= null and (type(x) ~= "table" or (next(x) ~= nil and x[1] ~= nil)) then
              p.add(line, "custom_data must be an object, got " .. shown(x))
              ok = false
            elseif x ~= null then
              u.custom_data = u.custom_data or {}
              for ck, cv in pairs(x) do u.custom_data[ck] = cv end
            end
          elseif cd then
            u.custom_data = u.custom_data or {}
            u.custom_data[cd] = x
          else
            p.add(line, "unknown field " .. shown(tostring(k))
              .. " (expected email, name, locale, custom_data or custom_data.KEY)")
            ok = false
          end
        end
        p.keep(u, line, not ok)
      end
    end
  end
  return p.result()
end

-- read(path, { input = "csv"|"jsonl", match = "email"|"custom_data.KEY" })
--   -> users | nil, err        ("-" is stdin; input defaults from the extension)
function _M.read(path, opts)
  opts = opts or {}
  local key = _M.match_key(opts.match)
  local input = opts.input
  if input == nil then
    if find(lower(path), "%.jsonl?$") or find(lower(path), "%.ndjson$") then
      input = "jsonl"
    elseif find(lower(path), "%.csv$") then
      input = "csv"
    end
  end
  if input ~= nil and input ~= "csv" and input ~= "jsonl" then
    error("input must be \"csv\" or \"jsonl\", got " .. tostring(input), 0)
  end
  local f, open_err
  if path == "-" then
    f = io_stdin
  else
    f, open_err = io_open(path, "rb")
    if not f then
      return nil, errors.new { type = "input_error", code = "cannot_read", detail = tostring(open_err) }
    end
  end
  -- Neither option nor extension (stdin, users.txt): JSON lines start with {.
  local first = f:read("l")
  if input == nil then input = (first and find(first, "^%s*{")) and "jsonl" or "csv" end
  local function read_line()
    if first then
      local line = first
      first = nil
      return line
    end
    return f:read("l")
  end
  local name = path == "-" and "<stdin>" or path
  local users, err
  if input == "csv" then
    users, err = read_csv(read_line, name, key)
  else
    users, err = read_jsonl(read_line, name, key)
  end
  if f ~= io_stdin then f:close() end
  return users, err
end

-- check(users, opts) -> users | nil, err: the same checks for a Lua array.
function _M.check(users, opts)
  local key = _M.match_key(opts and opts.match)
  local p = problems("users", key)
  for k in pairs(users) do -- sync reads users with ipairs: a hole would drop who follows it
    if type(k) ~= "number" or k < 1 or k > #users or k % 1 ~= 0 then
      p.add(tostring(k), "users must be an array (1..n without holes)")
    end
  end
  for i, u in pairs(users) do
    if type(u) ~= "table" then
      p.add(i, "not a table")
    else
      if u.custom_data ~= nil and u.custom_data ~= null and type(u.custom_data) ~= "table" then
        p.add(i, "custom_data must be a table, got " .. shown(u.custom_data))
      else
        p.check(u, u.line or i)
      end
    end
  end
  if p.count() > 0 then return nil, p.error() end
  return users
end

return _M
