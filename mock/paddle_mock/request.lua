-- What the emulator needs to know about the current request, read once.
local ids = require "paddle_mock.ids"

local tonumber = tonumber

local ngx_var = ngx.var
local ngx_req = ngx.req

local _M = {}

function _M.current()
  local var = ngx_var
  local method = ngx_req.get_method()
  ngx_req.read_body()
  local request_uri = var.request_uri
  local host = var.http_host or (var.server_addr .. ":" .. var.server_port)
  local req = {
    request_id = ids.request_id(),
    method = method,
    path = var.uri,
    raw_path = request_uri:match("^[^?]*"),
    query = var.args or "",
    body = ngx_req.get_body_data(),
    headers = ngx_req.get_headers(100),
    remote_addr = var.remote_addr,
    connection = tonumber(var.connection),
    connection_requests = tonumber(var.connection_requests),
    base_url = var.scheme .. "://" .. host,
  }
  req.args = ngx_req.get_uri_args(100)
  return req
end

return _M
