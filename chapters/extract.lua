-- %% [markdown]
-- # Frozen features
--
-- Not a chapter of the report (no number in its name, so `make report`
-- does not run it): the frozen-feature extraction of every chapter, on
-- its own, so that it can run ahead of the report or split across
-- processes and machines:
--
--     clipbook run chapters/extract.lua --profile paper --out build/extract.json [--shard I/N]
--
-- With `--shard I/N` (or `CLIPBOOK_SHARD=I/N`) this process computes only
-- the chunks whose number, counted from 0, is I mod N, and stores them in
-- the memo store; N such processes (a Slurm job array, see README.md) then
-- hold the whole extraction between them, and the next ordinary run (of
-- this file or of the chapters) finds every chunk there and assembles.

-- %% extract
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local S = assert(loadfile(here .. "/study.lua"))().new { memo = memo, profile = profile, cb = cb }
local mine, total = 0, 0
for _, f in ipairs(S.feature_sets()) do
  local parts, k = S.extract(f.tower, f.split, f.kind)
  local n = 0
  for _ in pairs(parts) do n = n + 1 end
  mine, total = mine + n, total + k
  print(string.format("%-4s %-10s %-6s %d of %d chunks", f.tower, f.split, f.kind, n, k))
end
print(string.format("%d of %d chunks in the memo store from this process", mine, total))
