-- wrk script of bench/hot_path.py: every request names a random existing card.
-- Environment: HOT_PATH_CARDS (file of card numbers, one a line), HOT_PATH_KIND
-- (ceiling, status_anon, status_key, page, verify), HOT_PATH_KEY (the API key, when needed).
local numbers = {}
local kind = os.getenv("HOT_PATH_KIND")
local key = os.getenv("HOT_PATH_KEY")

function init(args)
  for line in io.lines(os.getenv("HOT_PATH_CARDS")) do
    numbers[#numbers + 1] = line
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  local number = numbers[math.random(#numbers)]
  if kind == "ceiling" then
    return wrk.format("GET", "/ceiling/" .. number)
  elseif kind == "status_anon" then
    return wrk.format("GET", "/api/v2/cards/" .. number .. "/status")
  elseif kind == "status_key" then
    return wrk.format("GET", "/api/v2/cards/" .. number .. "/status",
      {["Authorization"] = "Bearer " .. key})
  elseif kind == "page" then
    return wrk.format("GET", "/cards/" .. number,
      {["Accept"] = "text/html", ["Accept-Language"] = "fr,en;q=0.8"})
  else
    return wrk.format("POST", "/api/x/verify",
      {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"},
      '{"scanned": "' .. number .. '"}')
  end
end
