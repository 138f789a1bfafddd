-- `paddle events follow`: poll GET /events from a cursor and print each event
-- once, the polling fallback where webhooks cannot reach. With --state the
-- cursor (the last event id) is saved after each printed batch, atomically,
-- so a restart resumes with the next event: no gap, no repeat.
local ids = require "paddle.ids"

local gmatch = string.gmatch
local gsub = string.gsub
local io_open = io.open
local io_stderr = io.stderr
local ipairs = ipairs
local os_execute = os.execute
local os_remove = os.remove
local os_rename = os.rename
local require = require
local tonumber = tonumber
local tostring = tostring
local type = type

local _M = {}

local COLUMNS = { "event_id", "event_type", "occurred_at", "data.id" }

-- "customer.*,subscription.created" -> exact names (for the server's
-- event_type filter) or, when any has a *, Lua patterns checked here.
function _M.type_filter(text)
  if text == nil then return nil, nil end
  local names, patterns, glob = {}, {}, false
  for item in gmatch(text, "[^,%s]+") do
    names[#names + 1] = item
    if item:find("*", 1, true) then glob = true end
    patterns[#patterns + 1] = "^" .. gsub(gsub(item, "[%^%$%(%)%%%.%[%]%+%-%?]", "%%%0"), "%*", ".*") .. "$"
  end
  if #names == 0 then return nil, nil end
  if not glob then return names, nil end
  return nil, function(event_type)
    for _, p in ipairs(patterns) do
      if type(event_type) == "string" and event_type:find(p) then return true end
    end
    return false
  end
end

function _M.read_state(path)
  local f = io_open(path, "rb")
  if not f then return nil end -- no state yet: start from --after or the oldest event
  local text = f:read("a") or ""
  f:close()
  local id = text:match("^%s*(%S*)%s*$")
  if id == "" then return nil end
  if not ids.valid("evt", id) then return false, path .. " does not hold an event id (evt_...): " .. text end
  return id
end

-- Writes the cursor to a temporary file beside `path`, then renames it over
-- `path`: a reader (or a crash) sees the old id or the new one, never half.
function _M.write_state(path, id)
  local tmp = path .. ".tmp"
  local f, err = io_open(tmp, "wb")
  if not f then return nil, err end
  local ok, write_err = f:write(id, "\n")
  if ok then ok, write_err = f:flush() end
  f:close()
  if not ok then
    os_remove(tmp)
    return nil, write_err
  end
  local renamed, rename_err = os_rename(tmp, path)
  if not renamed then
    os_remove(tmp)
    return nil, rename_err
  end
  return true
end

local function sleep(seconds)
  local r = os_execute("sleep " .. tostring(seconds))
  return r == true or r == 0
end

local function fatal(err)
  return type(err) == "table" and (err.status == 401 or err.status == 403)
end

local function run(ctx)
  local args = ctx.args
  local cursor = args.after
  if cursor and not ids.valid("evt", cursor) then
    ctx.usage("--after must be an event id (evt_...), got " .. cursor)
  end
  if args.state then
    local saved, err = _M.read_state(args.state)
    if saved == false then ctx.usage(err) end
    cursor = saved or cursor
  end
  local interval = args.interval
  if not interval or interval <= 0 then ctx.usage("--interval must be a number of seconds > 0") end
  local names, wanted = _M.type_filter(args.type)
  local events = ctx.client().events
  local format = ctx.format == "json" and "jsonl" or ctx.format -- an endless stream: one per line
  local w = require("paddle.cli.output").new(format, { columns = COLUMNS, list = true })
  while true do
    local page, err = events.page { after = cursor, per_page = 200, order_by = "id[ASC]", event_type = names }
    if not page then
      if args.once or fatal(err) then
        w.finish()
        return ctx.fail(err)
      end
      io_stderr:write("paddle events follow: ", (tostring(err):gsub("^paddle: ", "")), " (retrying)\n")
      if not sleep(interval) then return 130 end
    else
      local data = page.data
      for _, event in ipairs(data) do
        if not wanted or wanted(event.event_type) then w.item(event) end
      end
      w.flush()
      local last = data[#data]
      if last and last.event_id then
        cursor = last.event_id
        if args.state then
          local ok, state_err = _M.write_state(args.state, cursor)
          if not ok then
            io_stderr:write("paddle events follow: cannot save ", args.state, ": ", tostring(state_err), "\n")
            return 1
          end
        end
      end
      if not page.cursor then -- drained: everything up to now is printed
        if args.once then
          w.finish()
          return 0
        end
        if not sleep(interval) then return 130 end
      end
    end
  end
end

function _M.register_follow(group)
  local cmd = group:command("follow")
    :summary("Poll for new events and print each once, as JSON lines.")
    :description("Polls GET /events from a cursor (--after, or the id saved in --state) and prints each "
      .. "event once. --state saves the last event id after each printed batch (atomically), so a "
      .. "restart resumes with the next event. --once drains what is there and exits (for cron).")
  cmd:option("--type", "Event types, comma-separated; * matches any text (customer.*,subscription.*).")
  cmd:option("--after", "Start after this event id (ignored when --state holds one).")
  cmd:option("--state", "File keeping the last printed event id between runs.")
  cmd:flag("--once", "Print what is there and exit.")
  cmd:option("--interval", "Seconds between polls once drained.", "10"):convert(tonumber)
  cmd:action(function(a) a._run = run end)
end

return _M
