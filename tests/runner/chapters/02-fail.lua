-- %% [markdown]
-- # Failing chapter

-- %% ok cell
local x = 1

-- %% tolerated error=true
error("expected failure")

-- %% boom
local function inner(t)
  return t.missing.field
end
inner({})

-- %% after
print("never")

-- %% [markdown]
-- x is {{ x }}.
