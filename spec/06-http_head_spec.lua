-- core.http_head / http_headers / http_request_head: the HTTP/1.1 heads of the
-- cosocket transport, parsed and built in C (csrc/http_head.c). Heads are
-- given without their leading "HTTP/" and their closing blank line.
local core = require "paddle.core"

local function head(text) return { core.http_head(text) } end

describe("core.http_head", function()
  it("returns status, framing, length, keep-alive, request id and retry-after", function()
    assert.same({ 200, "length", 11, true, "abc", nil },
      head("1.1 200 OK\r\nContent-Length: 11\r\nRequest-Id: abc\r\nX-A: b"))
    assert.same({ 429, "length", 0, true, nil, "60" },
      head("1.1 429 Too Many Requests\r\ncontent-length: 0\r\nRETRY-AFTER: 60"))
  end)

  it("reads the framing: chunked, both, close-delimited, HTTP/1.0, Connection: close", function()
    assert.same({ 200, "chunked", -1, true }, head("1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked"))
    assert.same({ 200, "chunked+length", 3, true },
      head("1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3"))
    assert.same({ 200, "close", -1, true }, head("1.1 200 OK\r\nTransfer-Encoding: chunked,"))
    assert.same({ 200, "close", -1, true }, head("1.1 200 OK"))
    assert.same({ 200, "close", -1, false }, head("1.0 200 OK"))
    assert.same({ 200, "length", 2, false }, head("1.1 200 OK\r\nContent-Length: 2\r\nConnection: x, Close"))
    assert.same({ 200, "length", 5, true }, head("1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5"))
  end)

  it("joins repeated and folded lines before reading them", function()
    assert.same({ 200, "close", -1, true, "a, b", "1 2" },
      head("1.1 200 OK\r\nRequest-Id: a\r\nrequest-id: b\r\nRetry-After: 1\r\n 2"))
    assert.same({ nil, "invalid Content-Length" }, head("1.1 200 OK\r\nContent-Length: 5\r\n 6"))
  end)

  it("rejects malformed heads with a message", function()
    local bad = {
      ["1.1 2x0 OK"] = "invalid status line",
      ["2.0 200 OK"] = "invalid status line",
      ["1.1 200OK"] = "invalid status line",
      ["1.1 200 OK\r\nno colon"] = "malformed header line",
      ["1.1 200 OK\r\nBad Name: x"] = "malformed header line",
      ["1.1 200 OK\r\n\r\nX: y"] = "malformed header line",
      ["1.1 200 OK\r\n folded first"] = "continuation line before any header",
      ["1.1 200 OK\r\nX: a\nb"] = "bare CR or LF in the response head",
      ["1.1 200 OK\r\nX: a\rb"] = "bare CR or LF in the response head",
      ["1.1 200 OK\r"] = "bare CR or LF in the response head",
      ["1.1 200 OK\r\nX: a\0b"] = "NUL byte in a header value",
      ["1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6"] = "invalid Content-Length",
      ["1.1 200 OK\r\nContent-Length: -1"] = "invalid Content-Length",
      ["1.1 200 OK\r\nContent-Length:"] = "invalid Content-Length",
    }
    for text, message in pairs(bad) do
      assert.same({ nil, message }, head(text), text)
    end
    assert.has_error(function() core.http_head(nil) end)
  end)
end)

describe("core.http_headers", function()
  it("builds the header table: lowercased names, repeats joined, folding joined", function()
    local h, reason = core.http_headers("1.1 201 Created here\r\nX-Folded: one\r\n\t two \r\n"
      .. "X-Dup: a\r\nx-dup: b\r\nEmpty:\r\nSpaced:  v  ")
    assert.equal("Created here", reason)
    assert.same({ ["x-folded"] = "one two", ["x-dup"] = "a, b", empty = "", spaced = "v" }, h)
    assert.same({ nil, "invalid status line" }, { core.http_headers("x") })
  end)
end)

describe("core.http_request_head", function()
  it("builds the request line, the Authorization line from the session, the fixed lines", function()
    assert.equal("GET /c?x=1 HTTP/1.1\r\nHost: h\r\n\r\n",
      core.http_request_head(nil, "GET", "/c?x=1", "Host: h\r\n"))
    local s = core.session { api_key = "pdl_sdbx_apikey_01spec" }
    assert.equal("POST /c HTTP/1.1\r\nAuthorization: Bearer pdl_sdbx_apikey_01spec\r\nHost: h\r\n"
      .. "Content-Length: 12\r\n\r\n", core.http_request_head(s, "POST", "/c", "Host: h\r\n", 12))
    s:close()
    assert.has_error(function() core.http_request_head(s, "GET", "/", "") end, nil)
  end)

  it("raises on a target with spaces or control characters, or a bad length", function()
    for _, target in ipairs { "/a b", "/a\r\nX: y", "/\0", "/\127" } do
      assert.has_error(function() core.http_request_head(nil, "GET", target, "") end)
    end
    assert.has_error(function() core.http_request_head(nil, "POST", "/", "", -1) end)
    assert.has_error(function() core.http_request_head({}, "GET", "/", "") end)
  end)
end)
