-- CSV (RFC 4180): fields separated by commas, optionally in double quotes
-- where "" is a quote and commas and line breaks are data. Lines end in LF or
-- CRLF. Used to read and write the user files of `paddle sync`.
local concat = table.concat
local find = string.find
local gsub = string.gsub
local sub = string.sub
local tostring = tostring

local _M = {}

-- records(read_line) -> iterator yielding fields, line | false, message, line
-- read_line() returns the next line without its "\n" (nil at the end).
-- `line` is the number of the line a record starts on. A quoted field that
-- never closes, or text after a closing quote, is reported once; then the
-- iterator ends.
function _M.records(read_line)
  local line_no = 0
  local failed = false
  return function()
    if failed then return nil end
    local line = read_line()
    if line == nil then return nil end
    line_no = line_no + 1
    local start = line_no
    if sub(line, -1) == "\r" then line = sub(line, 1, -2) end
    local fields, pos = {}, 1
    while true do
      if sub(line, pos, pos) == '"' then
        local parts, from = {}, pos + 1
        while true do
          local q = find(line, '"', from, true)
          if q == nil then -- the field goes on on the next line
            parts[#parts + 1] = sub(line, from) .. "\n"
            line = read_line()
            if line == nil then
              failed = true
              return false, "a quoted field is not closed", start
            end
            line_no = line_no + 1
            if sub(line, -1) == "\r" then line = sub(line, 1, -2) end
            from = 1
          elseif sub(line, q + 1, q + 1) == '"' then
            parts[#parts + 1] = sub(line, from, q) -- "" is one quote
            from = q + 2
          else
            parts[#parts + 1] = sub(line, from, q - 1)
            pos = q + 1
            break
          end
        end
        fields[#fields + 1] = concat(parts)
        local c = sub(line, pos, pos)
        if c == "," then
          pos = pos + 1
        elseif c == "" then
          break
        else
          failed = true
          return false, "text after the closing quote of field " .. #fields, start
        end
      else
        local comma = find(line, ",", pos, true)
        local field = sub(line, pos, comma and comma - 1 or nil)
        if find(field, '"', 1, true) then
          failed = true
          return false, "a quote inside unquoted field " .. (#fields + 1), start
        end
        fields[#fields + 1] = field
        if not comma then break end
        pos = comma + 1
      end
    end
    return fields, start
  end
end

-- One value as a CSV field: quoted when it holds a comma, quote or line break.
function _M.field(v)
  if v == nil then return "" end
  v = tostring(v)
  if find(v, '[,"\r\n]') then return '"' .. gsub(v, '"', '""') .. '"' end
  return v
end

-- A record as one CSV line (without the line break).
function _M.line(values, n)
  local out = {}
  for i = 1, n or #values do out[i] = _M.field(values[i]) end
  return concat(out, ",")
end

return _M
