-- %% [markdown]
-- # Slow artifact (two processes ask for it at once)

-- %% slow
local v = memo("slow", { x = 1 }, function(p)
  local t0 = os.clock()
  os.execute("sleep " .. (os.getenv("SLOW_S") or "1"))
  return p.x + 41
end)
result("slow.v", v)
