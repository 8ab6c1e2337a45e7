-- A 2 KB urlencoded form of ordinary member text (Japanese and English),
-- posted the same way to both servers.
local text = "こんにちは。手作りの陶器のマグカップです。直径8cm、高さ9cm。電子レンジ可。"
  .. "Hand-made ceramic mug, 8 cm wide, glazed in deep blue. Ships in 3-5 days. "
local body = "lang=ja&note="
local function urlencode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
while #body < 2048 do body = body .. urlencode(text) end
body = body:sub(1, 2048)
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Host"] = "localhost"
