-- %% [markdown]
-- # Random streams do not depend on the cache

-- %% draws
local a = memo("rng_a", { n = 3 }, function(p) return cb.randn({ p.n }):totable() end)
local after = cb.rand()
local b = memo("rng_b", { n = 3, v = tonumber(os.getenv("RNG_V") or "1") }, function(p) return cb.randn({ p.n }):totable() end)
result("rng.a1", a[1]); result("rng.after", after); result("rng.b1", b[1])
