-- POSTs orders WITHOUT an Idempotency-Key, to measure what the key costs. usage: wrk ... -s scripts/wrk/orders-no-key.lua URL -- ga[,vip...]
local types = {}
function init(args) for t in string.gmatch(args[1] or "ga", "[^,]+") do table.insert(types, t) end end
request = function()
  local t = types[math.random(#types)]
  local body = '{"ticketTypeId":"' .. t .. '","quantity":' .. math.random(4) .. ',"buyer":{"name":"Buyer","email":"buyer@example.test"}}'
  return wrk.format("POST", "/api/events/festival/orders", {["Content-Type"]="application/json"}, body)
end
