---@meta paddle
-- LuaLS (lua-language-server) definitions for lua-paddle: completion and
-- type checks in editors, although resources are built from data at run
-- time. Add this folder to "workspace.library". Never loaded at run time.
-- spec/26-types_spec.lua checks that it names exactly the resource
-- functions paddle.resources builds.

---@class paddle.Error
---@field type string        "request_error", "api_error", "transport_error", "decode_error", "client_error", "webhook_error"
---@field code string        e.g. "not_found", "customer_already_exists", "timeout", "invalid_response"
---@field detail string
---@field status? integer    HTTP status, when an answer came
---@field request_id? string Paddle's request id, for support
---@field errors? {field: string, message: string}[] field errors of a 400
---@field documentation_url? string
---@field attempts? integer
---@field retry_after? number seconds
---@field cursor? string     on errors yielded by a walk: the `after` to resume with

---@class paddle.Pagination
---@field per_page integer
---@field next string
---@field has_more boolean
---@field estimated_total integer

---@class paddle.Meta
---@field request_id string
---@field pagination? paddle.Pagination

---@class paddle.Page
---@field data table[]
---@field meta paddle.Meta
---@field cursor? string the `after` of the next page, nil on the last

---@class paddle.Customer
---@field id string
---@field email string
---@field name? string
---@field locale string
---@field status "active"|"archived"
---@field marketing_consent boolean
---@field custom_data? table
---@field created_at string
---@field updated_at string
---@field import_meta? table

---@class paddle.ListParams
---@field after? string
---@field order_by? string
---@field per_page? integer walks default to 200

---@alias paddle.Iterator fun(): (table|false|nil), paddle.Error?

---@class paddle.Customers
local Customers = {}
---@param params? paddle.ListParams|{email?: string|string[], id?: string|string[], search?: string, status?: string|string[]}
---@return paddle.Iterator
function Customers.list(params) end
---@param params? paddle.ListParams|{email?: string|string[], id?: string|string[], search?: string, status?: string|string[]}
---@return paddle.Page|nil, paddle.Error?
function Customers.page(params) end
---@param customer_id string
---@return paddle.Customer|nil, paddle.Meta|paddle.Error
function Customers.get(customer_id) end
---@param fields {email: string, name?: string, locale?: string, custom_data?: table}
---@return paddle.Customer|nil, paddle.Meta|paddle.Error
function Customers.create(fields) end
---@param customer_id string
---@param fields {email?: string, name?: string, locale?: string, custom_data?: table, status?: string}
---@return paddle.Customer|nil, paddle.Meta|paddle.Error
function Customers.update(customer_id, fields) end
---@param customer_id string
---@return paddle.Customer|nil, paddle.Meta|paddle.Error
function Customers.archive(customer_id) end
---@param customer_id string
---@return paddle.Customer|nil, paddle.Meta|paddle.Error
function Customers.unarchive(customer_id) end
---@param customer_id string
---@param params? {currency_code?: string|string[]}
---@return table[]|nil, paddle.Meta|paddle.Error
function Customers.credit_balances(customer_id, params) end
---@param customer_id string
---@return {customer_auth_token: string, expires_at: string}|nil, paddle.Meta|paddle.Error
function Customers.auth_token(customer_id) end
---@param customer_id string
---@param fields? {subscription_ids?: string[]}
---@return table|nil, paddle.Meta|paddle.Error
function Customers.portal_session(customer_id, fields) end
---@param customer_id string
---@param params? paddle.ListParams|{status?: string|string[], price_id?: string|string[]}
---@return paddle.Iterator
function Customers.subscriptions(customer_id, params) end
---@param email string
---@return paddle.Customer[]|nil, paddle.Error?
function Customers.find_by_email(email) end
---@param fields {email: string, name?: string, locale?: string, custom_data?: table}
---@return paddle.Customer|nil, boolean|paddle.Error created
function Customers.ensure(fields) end

---@class paddle.Addresses
local Addresses = {}
---@return paddle.Iterator
function Addresses.list(customer_id, params) end
---@return paddle.Page|nil, paddle.Error?
function Addresses.page(customer_id, params) end
---@return table|nil, paddle.Meta|paddle.Error
function Addresses.get(customer_id, address_id) end
---@return table|nil, paddle.Meta|paddle.Error
function Addresses.create(customer_id, fields) end
---@return table|nil, paddle.Meta|paddle.Error
function Addresses.update(customer_id, address_id, fields) end
---@return table|nil, paddle.Meta|paddle.Error
function Addresses.archive(customer_id, address_id) end
---@return table|nil, paddle.Meta|paddle.Error
function Addresses.unarchive(customer_id, address_id) end

---@class paddle.Businesses
local Businesses = {}
---@return paddle.Iterator
function Businesses.list(customer_id, params) end
---@return paddle.Page|nil, paddle.Error?
function Businesses.page(customer_id, params) end
---@return table|nil, paddle.Meta|paddle.Error
function Businesses.get(customer_id, business_id) end
---@return table|nil, paddle.Meta|paddle.Error
function Businesses.create(customer_id, fields) end
---@return table|nil, paddle.Meta|paddle.Error
function Businesses.update(customer_id, business_id, fields) end
---@return table|nil, paddle.Meta|paddle.Error
function Businesses.archive(customer_id, business_id) end
---@return table|nil, paddle.Meta|paddle.Error
function Businesses.unarchive(customer_id, business_id) end

---@class paddle.PaymentMethods
local PaymentMethods = {}
---@return paddle.Iterator
function PaymentMethods.list(customer_id, params) end
---@return paddle.Page|nil, paddle.Error?
function PaymentMethods.page(customer_id, params) end
---@return table|nil, paddle.Meta|paddle.Error
function PaymentMethods.get(customer_id, payment_method_id) end
---@return true|nil, paddle.Meta|paddle.Error
function PaymentMethods.delete(customer_id, payment_method_id) end

---@class paddle.Subscriptions
local Subscriptions = {}
---@return paddle.Iterator
function Subscriptions.list(params) end
---@return paddle.Page|nil, paddle.Error?
function Subscriptions.page(params) end
---@return table|nil, paddle.Meta|paddle.Error
function Subscriptions.get(subscription_id) end

---@class paddle.Events
local Events = {}
---@param params? paddle.ListParams|{event_type?: string|string[]}
---@return paddle.Iterator
function Events.list(params) end
---@return paddle.Page|nil, paddle.Error?
function Events.page(params) end

---@class paddle.Client
---@field environment "sandbox"|"production"
---@field base_url string
---@field customers paddle.Customers
---@field addresses paddle.Addresses
---@field businesses paddle.Businesses
---@field payment_methods paddle.PaymentMethods
---@field subscriptions paddle.Subscriptions
---@field events paddle.Events
local Client = {}
---Any endpoint: client.request("GET", "/customers", { query = {...}, body = {...} })
---@param method "GET"|"POST"|"PATCH"|"PUT"|"DELETE"
---@param path string
---@param params? {query?: table, body?: table}
---@return any, paddle.Meta|paddle.Error
function Client.request(method, path, params) end
---Frees connections and wipes the key; idempotent.
function Client.close() end

---@class paddle.Options
---@field api_key? string PADDLE_API_KEY when absent
---@field environment? "sandbox"|"production"
---@field base_url? string PADDLE_BASE_URL when absent
---@field timeout? number whole call, seconds (60)
---@field attempt_timeout? number one attempt, seconds (30)
---@field connect_timeout? number seconds (10)
---@field max_retries? integer 0..100 (3)
---@field max_retry_wait? number seconds (60)
---@field backoff_base? number seconds (0.5)
---@field rate_limit? false|{requests: integer, per: number}
---@field limiter? string "file:PATH" | "redis://host:port" | "ngx:DICT"
---@field shared_dict? string
---@field ca_file? string
---@field ca_path? string
---@field proxy? string
---@field headers? table<string, string>
---@field on_request? fun(info: table)
---@field on_warning? fun(message: string)
---@field transport? "curl"|"ngx"
---@field keep_null? boolean

---@class paddle.Webhooks
local Webhooks = {}
---@param raw_body string
---@param signature_header string|nil
---@param secrets string|string[]
---@param opts? {tolerance?: number, now?: number|fun(): number}
---@return true|nil, paddle.Error?
function Webhooks.verify(raw_body, signature_header, secrets, opts) end
---@return table|nil, paddle.Error?
function Webhooks.parse(raw_body, signature_header, secrets, opts) end
---@return string header
function Webhooks.sign(raw_body, secret, ts) end
---@param opts? {ttl?: number, shared_dict?: string, redis?: string, prefix?: string, max_entries?: integer}
---@return {claim: fun(self, event_id: string): boolean|nil, paddle.Error?, release: fun(self, event_id: string): boolean}
function Webhooks.deduper(opts) end

---@class paddle
---@field _VERSION string
---@field null lightuserdata JSON null in a body (clears a field in a PATCH)
---@field customers paddle.Customers   the default client's
---@field addresses paddle.Addresses
---@field businesses paddle.Businesses
---@field payment_methods paddle.PaymentMethods
---@field subscriptions paddle.Subscriptions
---@field events paddle.Events
---@field webhooks paddle.Webhooks
local paddle = {}
---@param opts paddle.Options
---@return paddle.Client
function paddle.new(opts) end
---@param opts paddle.Options
---@return paddle.Client
function paddle.configure(opts) end
---@return paddle.Client
function paddle.default_client() end
---Marks a table as a JSON array, [] when empty.
---@generic T: table
---@param t? T
---@return T
function paddle.array(t) end
---@return table<string, string>
function paddle.versions() end

return paddle
