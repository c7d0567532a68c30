-- wrk: Okta's user lookup, `GET /Users?filter=userName eq "…"`, with the headers Okta sends, for a
-- random one of the users `{WRK_PREFIX}0 … {WRK_PREFIX}{WRK_USERS - 1}` on every request.
-- Environment: WRK_PATH (`/scim/v2.0/organizations/{org}`), WRK_TOKEN, WRK_USERS, WRK_PREFIX.
local path = os.getenv("WRK_PATH")
local users = tonumber(os.getenv("WRK_USERS") or "1")
local prefix = os.getenv("WRK_PREFIX") or "load"
local headers = {
  ["Authorization"] = "Bearer " .. os.getenv("WRK_TOKEN"),
  ["Accept"] = "application/scim+json",
  ["Content-Type"] = "application/scim+json; charset=utf-8",
  ["User-Agent"] = "Okta SCIM Client 1.0.0",
}

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + seed)
end

function request()
  local i = math.random(0, users - 1)
  return wrk.format("GET", path .. "/Users?filter=userName%20eq%20%22" .. prefix .. i .. "%22", headers)
end
