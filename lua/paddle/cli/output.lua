-- Output of the `paddle` command: one writer per --format.
--   table  aligned columns for people (the default on a terminal)
--   json   one JSON document: an array for lists, an object for one entity
--   jsonl  one JSON object per line (the default in pipes and files)
--   csv    a header line, then one line per entity
-- Lists stream: nothing waits for the last page but the table's column
-- widths, which are fixed from the first rows.
local csv = require "paddle.csv"
local json = require "paddle.json"

local concat = table.concat
local io_stdout = io.stdout
local ipairs = ipairs
local os_execute = os.execute
local pairs = pairs
local rep = string.rep
local sort = table.sort
local sub = string.sub
local tostring = tostring
local type = type

local null = json.null

local _M = {
  FORMATS = { table = true, json = true, jsonl = true, csv = true },
  TABLE_BATCH = 200, -- rows that set the table's column widths
  MAX_CELL = 48,
}

-- True when file descriptor fd (1: stdout, 2: stderr) is a terminal.
function _M.isatty(fd)
  local ok = os_execute("test -t " .. fd)
  return ok == true or ok == 0
end

function _M.default_format()
  return _M.isatty(1) and "table" or "jsonl"
end

function _M.encode(v)
  local s, err = json.encode(v)
  if not s then return '{"error":' .. json.encode(tostring(err)) .. "}" end
  return s
end

-- One value as a cell: scalars as they are, tables as JSON, null as "".
local function cell(v)
  if v == nil or v == null then return "" end
  if type(v) == "table" then return _M.encode(v) end
  return tostring(v)
end

-- The value of a dotted column name ("data.id") in an object.
local function pick(obj, column)
  local v = obj[column]
  if v == nil and column:find(".", 1, true) then
    v = obj
    for part in column:gmatch("[^.]+") do
      if type(v) ~= "table" then return nil end
      v = v[part]
    end
  end
  return v
end

local function scalar_keys(obj)
  local keys = {}
  for k, v in pairs(obj) do
    if type(k) == "string" and type(v) ~= "table" then keys[#keys + 1] = k end
  end
  sort(keys)
  return keys
end

-- One maker per format: make(w, out, opts) fills w.item and w.finish;
-- w.n counts the entities written.
local MAKERS = {}

function MAKERS.jsonl(w, out)
  function w.item(obj)
    out:write(_M.encode(obj), "\n")
    w.n = w.n + 1
  end
end

function MAKERS.json(w, out, opts)
  local list = opts.list ~= false
  function w.item(obj)
    if list then
      out:write(w.n == 0 and "[\n" or ",\n", _M.encode(obj))
    else
      out:write(_M.encode(obj), "\n")
    end
    w.n = w.n + 1
  end
  function w.finish()
    if list then out:write(w.n == 0 and "[]\n" or "\n]\n") end
    out:flush()
  end
end

function MAKERS.csv(w, out, opts)
  local columns = opts.columns
  function w.item(obj)
    columns = columns or scalar_keys(obj)
    if w.n == 0 then out:write(csv.line(columns), "\n") end
    local row = {}
    for i, c in ipairs(columns) do row[i] = cell(pick(obj, c)) end
    out:write(csv.line(row, #columns), "\n")
    w.n = w.n + 1
  end
end

-- One entity: a "field: value" line per field.
local function make_record(w, out)
  function w.item(obj)
    local keys = {}
    for k in pairs(obj) do keys[#keys + 1] = tostring(k) end
    sort(keys)
    local width = 0
    for _, k in ipairs(keys) do if #k > width then width = #k end end
    for _, k in ipairs(keys) do
      out:write(k, ":", rep(" ", width - #k + 1), cell(obj[k]), "\n")
    end
    w.n = w.n + 1
  end
end

-- Aligned columns; widths are fixed by the first batch of rows.
local function write_rows(out, columns, rows, widths)
  if not widths then
    widths = {}
    for i, c in ipairs(columns) do widths[i] = #c end
    for _, row in ipairs(rows) do
      for i, v in ipairs(row) do if #v > widths[i] then widths[i] = #v end end
    end
    local head = {}
    for i, c in ipairs(columns) do head[i] = c .. rep(" ", widths[i] - #c) end
    out:write((concat(head, "  "):gsub("%s+$", "")), "\n")
  end
  for _, row in ipairs(rows) do
    local line = {}
    for i, v in ipairs(row) do
      if #v > widths[i] then v = sub(v, 1, widths[i] - 1) .. "~" end
      line[i] = v .. rep(" ", widths[i] - #v)
    end
    out:write((concat(line, "  "):gsub("%s+$", "")), "\n")
  end
  out:flush()
  return widths
end

function MAKERS.table(w, out, opts)
  if opts.list == false then return make_record(w, out) end
  local columns, rows, widths = opts.columns, {}, nil
  function w.flush()
    if #rows == 0 then return end
    widths = write_rows(out, columns, rows, widths)
    rows = {}
  end
  function w.item(obj)
    columns = columns or scalar_keys(obj)
    local row = {}
    for i, c in ipairs(columns) do
      local v = cell(pick(obj, c)):gsub("%c", " ")
      if #v > _M.MAX_CELL then v = sub(v, 1, _M.MAX_CELL - 1) .. "~" end
      row[i] = v
    end
    rows[#rows + 1] = row
    w.n = w.n + 1
    if #rows >= _M.TABLE_BATCH then w.flush() end
  end
  function w.finish()
    w.flush()
    if w.n == 0 then out:write("(none)\n") end
    out:flush()
  end
end

-- new(format, { columns = {...}, list = true|false, out = file }) -> writer
-- writer.item(obj) for each entity, writer.finish() once.
function _M.new(format, opts)
  opts = opts or {}
  local out = opts.out or io_stdout
  local make = MAKERS[format]
  if not make then error("unknown format " .. tostring(format), 2) end
  local w = { n = 0 }
  make(w, out, opts)
  w.finish = w.finish or function() out:flush() end
  w.flush = w.flush or function() out:flush() end
  function w.count() return w.n end
  return w
end

return _M
