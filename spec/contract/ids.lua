-- Well-formed ids that no test creates: for 404s through the proxy, and for
-- the client's calls to Prism's mock (which answers its examples whatever the id).
local SUFFIX = "01h8441jn5pcwrfhwh78jqt8hk"
return {
  ctm = "ctm_" .. SUFFIX, add = "add_" .. SUFFIX, biz = "biz_" .. SUFFIX,
  paymtd = "paymtd_" .. SUFFIX, sub = "sub_" .. SUFFIX,
}
