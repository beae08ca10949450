-- %% [markdown]
-- # Appendix: reproducibility {#sec-appendix}
--
-- How this document was made: the profile, the seeds, the engine, the
-- machine, and where each chapter spent its time.

-- %% provenance echo=false
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local study = assert(loadfile(here .. "/study.lua"))()
local docs = study.fragments()
local rows, total, hits, misses = {}, 0, 0, 0
local machine, engine, threads = "?", cb.version(), "?"
for _, d in ipairs(docs) do
  local p = d.provenance or {}
  local h, m = 0, 0
  for _, c in ipairs(p.cells or {}) do h, m = h + (c.memo_hits or 0), m + (c.memo_misses or 0) end
  rows[#rows + 1] = { d.chapter or "?", p.wall_s or 0, h, m, p.status or "?" }
  total, hits, misses = total + (p.wall_s or 0), hits + h, misses + m
  machine, threads = p.machine or machine, p.threads or threads
end
rows[#rows + 1] = { "all chapters before this one", total, hits, misses, "" }
tabular {
  label = "tbl-chapters",
  caption = "Per chapter: wall time of its last run (s), memo-store hits and misses (a hit reuses a cached experiment), status.",
  columns = { "chapter", "wall (s)", "cache hits", "cache misses", "status" },
  rows = rows, formats = { nil, "%.1f", "%d", "%d", nil }, align = "lrrrl",
}
result("appendix.total_wall_s", total, "%.1f")
result("appendix.machine", machine)
result("appendix.threads", threads)

-- %% [markdown]
-- - **Profile:** {{ profile.name }}; seed {{ profile.seed }} for the data
--   (the shapes world draws picture $i$ of a split from the seed, the split
--   and $i$ alone) and for every experiment (each memoised experiment draws
--   from a generator seeded by the chapter seed, its name and its
--   parameters).
-- - **Engine:** clipbook {{ cb.version() }}, float32 compute on the CPU
--   (OpenBLAS and the engine's own kernels).
-- - **Machine:** {{ result("appendix.machine") }}, {{ result("appendix.threads") }}
--   threads.
-- - **Time:** the chapters before this one ran for
--   {{ result("appendix.total_wall_s") }} s in their last runs
--   (@tbl-chapters); a chapter whose experiments were all cached runs in
--   seconds.
--
-- To rebuild: `make report` (or `make report PROFILE=smoke`); to rerun one
-- experiment from scratch, `clipbook cache clean NAME`, where NAME is one of
-- the names `clipbook cache ls` lists (for example `pretrain.vit`,
-- `fewshot.vit`). `build/report/results.json` maps every label quoted in the
-- text to its value.
