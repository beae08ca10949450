-- %% [markdown]
-- # A basic chapter {#sec-basic}
--
-- Some prose.

-- %% setup numbers=true
local n = profile.n
local function square(x) return x * x end
print("n is", n)

-- %% [markdown]
-- The square of {{ n }} is {{ square(n) }}; pi is {{ math.pi }}.

-- %% compute echo=false label=tbl-sq caption="Squares"
local sq = memo("squares", { n = n }, function(p)
  local t = {}
  for i = 1, p.n do t[i] = square(i) end
  return t
end)
tabular{ columns = { "i", "i^2" }, rows = { { 1, sq[1] }, { 2, sq[2] } } }
result("basic.sum", sq[1] + sq[2], "%.1f")
for i in progress(3, "loop") do end

-- %% [markdown]
-- The sum is {{ result "basic.sum" }}.
