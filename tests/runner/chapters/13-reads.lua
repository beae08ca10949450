-- %% [markdown]
-- # Reads
--
-- What a memo function reads decides what reruns it (tests/e2e/runner_memo.sh).

-- %% shared helpers
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local H = assert(loadfile(here .. "/shared.lua"))().new { memo = memo, profile = profile }
result("reads.twice", H.twice(4))
result("reads.thrice", H.thrice(4))

-- %% fields of the profile
-- a table holding the whole profile, as chapters/study.lua's S does
local S = { profile = profile }
function S.steps() return profile.bench.steps end
local bench = memo("bench", { vocab = 7 }, function(q)
  return S.steps() * 10 + q.vocab
end)
local bench2 = memo("bench2", { b = profile.bench }, function(q) return q.b.steps end)
result("reads.bench", bench + bench2)

-- %% one line
local one = memo("oneline", { g = (function() return 1 end)() }, function(q) return q.g + 1 end)
result("reads.one", one)
