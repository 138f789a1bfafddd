-- Reads the code blocks, doc markers and links of Markdown files, for the
-- doc-block spec (spec/07-docs_spec.lua). Pure text functions: nothing here
-- runs a block.
--
--   local docblocks = require "support.docblocks"
--   local blocks, problems = docblocks.parse(text, "README.md")
--   -- blocks[i] = { file, line (of the opening fence), lang, body, marks, section }
--   -- (section: the text of the last heading above the block)
--   -- marks: fragment, expect_error, needs_redis (booleans) and
--   --        check = { method, path, status } (status: a number, or nil for any 2xx)
--   local dead = docblocks.dead_links(text, "docs/client.md", exists)
--
-- A marker is an HTML comment on the line directly above an opening fence
-- (several marker lines may stack there):
--   <!-- doc: fragment -->              not run; reported as skipped with file:line
--   <!-- doc: expect-error -->          a lua block that must exit non-zero
--   <!-- doc: needs redis -->           a redis-server is started for the block
--   <!-- doc: check GET /path 200 -->   an nginx block: what to request, what to expect
-- A marker anywhere else, or one this file does not know, is a problem: a typo
-- must not silently turn a check off.
local concat = table.concat
local ipairs = ipairs
local tonumber = tonumber

local _M = {}

-- Languages the spec runs; other fences (sh, text, ...) are only shown.
_M.RUN = { lua = true, nginx = true }

local function marker_of(line)
  return line:match("^%s*<!%-%-%s*doc:%s*(.-)%s*%-%->%s*$")
end

-- marks, problem: what one marker line says.
local function read_marker(text, marks)
  if text == "fragment" then
    marks.fragment = true
  elseif text == "expect-error" then
    marks.expect_error = true
  elseif text == "needs redis" then
    marks.needs_redis = true
  elseif text:match("^check%s") then
    local method, path, status = text:match("^check%s+(%u+)%s+(/%S*)%s*(%S*)$")
    if not method or (status ~= "" and not status:match("^[1-5]%d%d$") and status ~= "2xx") then
      return "malformed marker '" .. text .. "' (want: check METHOD /path [STATUS])"
    end
    marks.check = { method = method, path = path, status = tonumber(status) }
  else
    return "unknown doc marker '" .. text .. "' (known: fragment, expect-error, needs redis, check ...)"
  end
end

local function opening_fence(line)
  local indent, ticks, info = line:match("^(%s*)(```+)%s*(.-)%s*$")
  if not indent or info:find("`", 1, true) then return nil end
  return indent, ticks, (info:match("^([%w_+-]*)") or ""):lower()
end

-- Splits text into lines, keeping empty ones.
local function lines_of(text)
  local lines = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line:gsub("\r$", "") end
  return lines
end

-- blocks, problems (strings "file:line: ...") of one Markdown text.
function _M.parse(text, file)
  local lines = lines_of(text)
  local blocks, problems = {}, {}
  local used = {} -- marker lines that sit above a fence
  local section -- the heading the block is under
  local i = 1
  while i <= #lines do
    local indent, ticks, lang = opening_fence(lines[i])
    if not indent then
      section = lines[i]:match("^#+%s+(.-)%s*$") or section
      i = i + 1
    else
      local open = i
      local marks = {}
      local j = open - 1
      while j >= 1 and marker_of(lines[j]) do
        used[j] = true
        local problem = read_marker(marker_of(lines[j]), marks)
        if problem then problems[#problems + 1] = file .. ":" .. j .. ": " .. problem end
        j = j - 1
      end
      local body = {}
      local closed = false
      i = i + 1
      while i <= #lines do
        local close = lines[i]:match("^%s*(```+)%s*$")
        if close and #close >= #ticks then closed = true; break end
        local line = lines[i]
        if line:sub(1, #indent) == indent then line = line:sub(#indent + 1) end
        body[#body + 1] = line
        i = i + 1
      end
      i = i + 1
      if not closed then
        problems[#problems + 1] = file .. ":" .. open .. ": code block is never closed"
      end
      if marks.check and lang ~= "nginx" then
        problems[#problems + 1] = file .. ":" .. open .. ": 'check' marker on a " .. lang .. " block"
      end
      if marks.expect_error and lang ~= "lua" then
        problems[#problems + 1] = file .. ":" .. open .. ": 'expect-error' marker on a " .. lang .. " block"
      end
      blocks[#blocks + 1] = { file = file, line = open, lang = lang, body = concat(body, "\n") .. "\n",
        marks = marks, section = section }
    end
  end
  for n, line in ipairs(lines) do
    if marker_of(line) and not used[n] then
      problems[#problems + 1] = file .. ":" .. n .. ": doc marker not directly above a code fence"
    end
  end
  return blocks, problems
end

-- The lines of text outside code fences, with their numbers.
local function prose(text)
  local out = {}
  local fence
  for n, line in ipairs(lines_of(text)) do
    if fence then
      local close = line:match("^%s*(```+)%s*$")
      if close and #close >= #fence then fence = nil end
    else
      local _, ticks = opening_fence(line)
      if ticks then fence = ticks else out[#out + 1] = { n = n, text = line } end
    end
  end
  return out
end

-- GitHub's heading anchors: lower case, punctuation dropped, spaces to '-',
-- a repeated heading gets -1, -2, ...
function _M.anchors(text)
  local set, count = {}, {}
  for _, l in ipairs(prose(text)) do
    local title = l.text:match("^#+%s+(.-)%s*#*%s*$")
    if title then
      local slug = title:lower():gsub("%[([^%]]*)%]%b()", "%1"):gsub("[^%w%s_-]", ""):gsub("%s", "-")
      local seen = count[slug]
      set[seen and (slug .. "-" .. seen) or slug] = true
      count[slug] = (seen or 0) + 1
    end
  end
  return set
end

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

-- Joins a relative link to the directory of the file it is in, resolving ".."
local function resolve(file, target)
  local parts = {}
  for part in (dirname(file) .. "/" .. target):gmatch("[^/]+") do
    if part == ".." and #parts > 0 and parts[#parts] ~= ".." then
      parts[#parts] = nil
    elseif part ~= "." then
      parts[#parts + 1] = part
    end
  end
  return concat(parts, "/")
end

-- Every relative link of a Markdown text (outside code) that does not resolve:
-- a list of "file:line: ..." strings. read(path) returns a file's text or nil
-- (paths are relative to the repository root, as `file` is).
function _M.dead_links(text, file, read)
  local dead = {}
  local own_anchors
  for _, l in ipairs(prose(text)) do
    local line = l.text:gsub("``.-``", ""):gsub("`[^`]*`", "")
    for target in line:gmatch("%]%(%s*<?([^%s)>]+)>?[^)]*%)") do
      if not target:match("^%a[%w+.-]*:") then -- not http:, https:, mailto:
        local path, anchor = target:match("^([^#]*)#?(.*)$")
        local where = file .. ":" .. l.n .. ": link " .. target
        if path == "" then
          own_anchors = own_anchors or _M.anchors(text)
          if anchor ~= "" and not own_anchors[anchor] then dead[#dead + 1] = where .. ": no such heading" end
        else
          local full = resolve(file, path)
          local content = read(full)
          if content == nil then
            dead[#dead + 1] = where .. ": " .. full .. " does not exist"
          elseif anchor ~= "" and full:match("%.md$") and not _M.anchors(content)[anchor] then
            dead[#dead + 1] = where .. ": no heading #" .. anchor .. " in " .. full
          end
        end
      end
    end
  end
  return dead
end

-- Names of Markdown files mentioned in a source file's text (comments of
-- examples and scripts): "README-webhooks.md", "docs/webhooks.md".
function _M.mentioned_docs(text)
  local found = {}
  local n = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    for name in line:gmatch("([%w_%./-]+%.md)%f[^%w_]") do
      if not name:match("^//") and not line:find("://" .. name, 1, true) then
        found[#found + 1] = { line = n, name = name }
      end
    end
  end
  return found
end

return _M
