-- %% [markdown]
-- # Memo chapter
--
-- Prose that the tests edit.

-- %% experiments
local scale = 3
local a = memo("exp_a", { n = profile.n }, function(p)
  local s = 0
  for i = 1, p.n do s = s + i end
  return s
end)
local b = memo("exp_b", { base = a }, function(p)
  return { value = p.base * scale, tag = "b" }
end)
result("memo.a", a)
result("memo.b", b.value)

-- %% [markdown]
-- a = {{ a }}, b = {{ b.value }}.
