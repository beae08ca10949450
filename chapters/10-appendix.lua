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
-- which GEMM path ran (engine/en_machine.h): per shape class, as measured on
-- this machine or forced by CLIPBOOK_GEMM; part of every memo key, so every
-- cached result of a chapter was computed on the paths its fragment names
local computes, compute_seen = {}, {}
for _, d in ipairs(docs) do
  local p = d.provenance or {}
  if p.compute and not compute_seen[p.compute] then
    compute_seen[p.compute] = true
    computes[#computes + 1] = p.compute
  end
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
result("appendix.compute", #computes == 0 and "not recorded"
  or #computes == 1 and computes[1]
  or ("differed between chapters: " .. table.concat(computes, " | ")))

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
-- - **GEMM path that ran:** {{ result("appendix.compute") }} (per shape
--   class: the engine's AVX-512 kernel or OpenBLAS, whichever this machine
--   measured faster at first use, or the one `CLIPBOOK_GEMM` forced; the
--   paths enter every memo key, so no cached result came from another path).
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

-- %% spread echo=false
-- How far the results moved between compute configurations: read from
-- chapters/spread.json, which tests/spread.py wrote from several complete
-- `make report` runs (this chapter cannot rerun the study four times).
local spread = assert(loadfile(here .. "/spread.lua"))()(here, study, profile)
local key = {
  { "zeroshot.vit.top1", "zero-shot, ViT (%)" }, { "zeroshot.rn.top1", "zero-shot, ResNet (%)" },
  { "linear_probe.vit.top1", "linear probe, ViT (%)" }, { "linear_probe.rn.top1", "linear probe, ResNet (%)" },
  { "fewshot.vit.random_init.k1.mean", "few-shot, random init, 1 shot (%)" },
  { "fewshot.vit.zs_init.k1.mean", "few-shot, zero-shot init, 1 shot (%)" },
  { "fewshot.vit.zs_init.k16.mean", "few-shot, zero-shot init, 16 shots (%)" },
  { "seg.unet.test_iou", "segmentation IoU, UNet" }, { "seg.clip.test_iou", "segmentation IoU, decoder on CLIP" },
  { "probe.count.pooled.top1", "count probe, pooled (%)" }, { "probe.count.prepool.top1", "count probe, pre-pool (%)" },
  { "probe.position.pooled.top1", "position probe, pooled (%)" },
  { "probe.position.prepool.top1", "position probe, pre-pool (%)" },
  { "vqvae.loss_ratio", "VQ-VAE loss ratio" },
}
local srows = {}
local this_run = {}
for _, d in ipairs(docs) do for k, v in pairs(d.results or {}) do this_run[k] = v end end
for _, k in ipairs(key) do
  local s = spread.of(k[1])
  if s then srows[#srows + 1] = { k[2], this_run[k[1]] or 0, s } end
end
local spread_configs = spread.info and table.concat(spread.info.configs, "; ") or ""
local spread_machine = spread.info and spread.info.machine or ""
if #srows > 0 then
  tabular {
    label = "tbl-spread",
    caption = "How far the results of the " .. profile.name .. " profile moved between compute configurations "
      .. "on one machine (max − min over the configurations), beside this run's value.",
    columns = { "result", "this run", "spread" },
    rows = srows, formats = { nil, "%.3f", "%.3f" }, align = "lrr",
  }
end
local spread_text = #srows > 0
  and ("The same `make report`, each time from an empty cache, was run on " .. spread_machine
       .. " under " .. #spread.info.configs .. " compute configurations (" .. spread_configs
       .. "). @tbl-spread gives how far the key results moved between them: the float32 sums come out in "
       .. "another order on each path, training takes another path from the first step on, and the final "
       .. "accuracies differ by what @tbl-spread shows. Another machine (another OpenBLAS kernel, another core "
       .. "count) moves them by amounts of that order. Every verdict of @sec-conclusion and of the chapters "
       .. "counts a gap only when it is at least twice its measured spread. The numbers come from the "
       .. "committed file `chapters/spread.json`, written by `tests/spread.py`; this chapter cannot rerun the "
       .. "study under several configurations itself.")
  or ("How far the results move between compute configurations was not measured for the " .. profile.name
      .. " profile (`chapters/spread.json` holds another profile or is missing), so the verdicts use the "
      .. "margins stated with each claim.")

-- %% [markdown]
-- ## How far the results move between machines
--
-- {{ spread_text }}
