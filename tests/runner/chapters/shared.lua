-- shared: memoised helpers several chapters use, as chapters/study.lua is
-- (tests/e2e/runner_memo.sh edits this file).
local M = {}

local function scale(x) return x * 2 end
local function offset(x) return x + 1 end

function M.new(nb)
  local H = {}
  function H.twice(n)
    return nb.memo("shared.twice", { n = n }, function(q) return scale(q.n) end)
  end
  function H.thrice(n)
    return nb.memo("shared.thrice", { n = n }, function(q) return offset(q.n) * 3 end)
  end
  return H
end

return M
