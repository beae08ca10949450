-- %% [markdown]
-- # Appendix: reproducibility {#sec-appendix}
--
-- How this document was made: the profile, the seeds, the engine, the
-- machine, what came from the cache, and how far the results move between
-- machines.

-- %% provenance echo=false
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local study = assert(loadfile(here .. "/study.lua"))()
local docs = study.fragments()
-- Only what the cache and the machine fix goes into the document: a rerun
-- from the same cache must give the same bytes (tests/e2e/report_repro.sh).
-- Each chapter's wall time changes from run to run, so it stays in its
-- fragment's provenance and on the console, not here.
local rows, hits, misses = {}, 0, 0
local machine, engine, threads = "?", cb.version(), "?"
for _, d in ipairs(docs) do
  local p = d.provenance or {}
  local h, m = 0, 0
  for _, c in ipairs(p.cells or {}) do h, m = h + (c.memo_hits or 0), m + (c.memo_misses or 0) end
  rows[#rows + 1] = { d.chapter or "?", h, m, p.status or "?" }
  hits, misses = hits + h, misses + m
  machine, threads = p.machine or machine, p.threads or threads
end
rows[#rows + 1] = { "all chapters before this one", hits, misses, "" }
tabular {
  label = "tbl-chapters",
  caption = "Per chapter: memo-store hits and misses of its last run (a hit reuses a cached experiment), status.",
  columns = { "chapter", "cache hits", "cache misses", "status" },
  rows = rows, formats = { nil, "%d", "%d", nil }, align = "lrrl",
}
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
-- - **Cache:** @tbl-chapters counts the experiments each chapter took from
--   the memo store and those it computed; a chapter whose experiments were
--   all cached runs in seconds. Wall times are left out of the document, so
--   that two runs from the same cache on one machine give byte-identical
--   PDF, HTML and `results.json`; each fragment's `provenance` keeps them.
--
-- To rebuild: `make report` (or `make report PROFILE=smoke`); to rerun one
-- experiment from scratch, `clipbook cache clean NAME`, where NAME is one of
-- the names `clipbook cache ls` lists (for example `pretrain.vit`,
-- `fewshot.vit`). `build/report/results.json` maps every label quoted in the
-- text to its value.
