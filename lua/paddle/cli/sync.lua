-- `paddle sync FILE`: read and check the whole user file, list Paddle's
-- customers once, plan, and (unless --dry-run) apply the plan paced under the
-- rate limit. stdout gets one line per change and the summary last.
local progress = require "paddle.cli.progress"
local sync = require "paddle.sync"
local users = require "paddle.users"

local concat = table.concat
local format = string.format
local io_stderr = io.stderr
local io_stdout = io.stdout
local ipairs = ipairs
local pairs = pairs
local pcall = pcall
local require = require
local tostring = tostring

local _M = {}

local COLUMNS = { "op", "id", "email", "line", "changed", "error" }

local function summary_text(s)
  local parts = {}
  for _, k in ipairs { "create", "update", "unarchive", "archive", "unchanged", "failed" } do
    if s[k] then parts[#parts + 1] = k .. " " .. s[k] end
  end
  return concat(parts, ", ")
end

-- The summary in the order the docs show it (json.encode sorts keys).
local function summary_json(s)
  return format('{"create":%d,"update":%d,"archive":%d,"unarchive":%d,"unchanged":%d,"failed":%d}',
    s.create, s.update, s.archive, s.unarchive, s.unchanged, s.failed or 0)
end

-- Changes go to stdout as they happen; the summary is the last line (or,
-- in a table, a line under it).
local function reporter(ctx)
  local structured = ctx.format == "json" or ctx.format == "jsonl"
  local w = ctx.writer { columns = COLUMNS, list = true }
  if structured then w = ctx.writer { columns = COLUMNS, list = false } end
  local r = {}
  function r.change(entry)
    local row = entry
    if not structured then
      row = {}
      for k, v in pairs(entry) do row[k] = v end
      row.changed = entry.changed and concat(entry.changed, " ") or nil
    end
    w.item(row)
  end
  function r.summary(s)
    w.finish()
    if structured then
      io_stdout:write(summary_json(s), "\n")
    elseif ctx.format == "table" then
      io_stdout:write("\n", summary_text(s), "\n")
    else
      io_stderr:write("paddle sync: ", summary_text(s), "\n")
    end
    io_stdout:flush()
  end
  return r
end

local function run(ctx)
  local args = ctx.args
  local ok, list, read_err = pcall(users.read, args.file, { input = args.input, match = args.match })
  if not ok then ctx.usage(tostring(list)) end
  if not list then
    io_stderr:write("paddle sync: ", read_err.detail or tostring(read_err), "\n")
    return 2
  end
  local client = ctx.client()
  local tty = require("paddle.cli.output").isatty(2)
  local plan, err = sync.plan(list, {
    client = client, match = args.match, archive_missing = args.archive_missing, journal = args.journal,
    on_listed = tty and function(n) io_stderr:write(format("\rlisting customers: %d \27[K", n)) end or nil,
  })
  if tty then io_stderr:write("\r\27[K") end
  if not plan then
    if err.type == "input_error" then ctx.usage(err.detail) end
    return ctx.fail(err)
  end
  if tty then
    io_stderr:write(format("paddle sync: %d users, %d customers in Paddle; plan: %s\n", #list,
      plan.customers, summary_text(plan.counts)))
  end
  local report = reporter(ctx)
  if args.dry_run then
    for _, a in ipairs(plan.actions) do
      report.change { op = a.op, id = a.id, email = a.email, line = a.line, changed = a.changed,
        fields = a.fields }
    end
    local s = {}
    for k, v in pairs(plan.counts) do s[k] = v end
    s.failed = 0
    report.summary(s)
    return 0
  end

  local rate = ctx.args.rate_limit and require("paddle.cli").parse_rate(ctx.args.rate_limit)
  local bar = progress.new(#plan.actions, rate and rate.requests / rate.per or nil)
  local summary, failures, fatal = sync.apply(plan, {
    client = client, journal = args.journal,
    on_change = function(entry, done)
      if entry then report.change(entry) end
      bar.update(done)
    end,
  })
  bar.finish()
  if not summary then return ctx.fail(fatal) end
  report.summary(summary)
  for _, f in ipairs(failures) do
    local a = f.action
    io_stderr:write("paddle sync: ", a.op, " ", a.id or a.email, " (line ", tostring(a.line or "-"), "): ",
      (tostring(f.error):gsub("^paddle: ", "")), "\n")
  end
  if fatal then
    io_stderr:write("paddle sync: stopped: ", (tostring(fatal):gsub("^paddle: ", "")), "\n")
  end
  return summary.failed > 0 and 1 or 0
end

function _M.register(parser)
  local cmd = parser:command("sync")
    :summary("Sync a user list (CSV or JSON lines) into Paddle's customers.")
    :description("Sync a user list into Paddle's customers: create the missing, update changed fields, "
      .. "unarchive the returning and, with --archive-missing, archive the absent. The whole file is "
      .. "read and checked before anything is sent; Paddle's customers are listed once (200 a page). "
      .. "Safe to rerun after an interruption.")
  cmd:argument("file", "CSV with a header (email,name,locale,custom_data.KEY...) or JSON lines; "
    .. "- is stdin.")
  cmd:flag("--dry-run", "Print the plan; send no write.")
  cmd:flag("--archive-missing", "Archive active customers that are not in the file.")
  cmd:option("--match", "Match users to customers by email or by custom_data.KEY.", "email")
  cmd:option("--journal", "Append one JSON line per applied change to this file.")
  cmd:option("--input", "File format (default: from the extension, else sniffed).")
    :choices { "csv", "jsonl" }
  cmd:action(function(args) args._run = run end)
end

return _M
