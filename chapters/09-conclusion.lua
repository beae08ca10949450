-- %% [markdown]
-- # Conclusion {#sec-conclusion}
--
-- The study's claims, and what this run found, side by side. The numbers
-- are read from the other chapters' results of this run.

-- %% gather echo=false
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local study = assert(loadfile(here .. "/study.lua"))()
local R = {}
local failed = {}   -- chapters whose fragment holds an error block (their numbers read n/a)
for _, doc in ipairs(study.fragments()) do
  for k, v in pairs(doc.results or {}) do R[k] = v end
  for _, b in ipairs(doc.blocks or {}) do
    if b.type == "error" then failed[#failed + 1] = doc.chapter or "?"; break end
  end
end
result("conclusion.failed_chapters", #failed)
local function num(label, fmt)
  local v = R[label]
  if type(v) ~= "number" then return "n/a" end
  return string.format(fmt or "%.2f", v)
end
local function verdict(ok)
  if ok == nil then return "not measured" end
  return ok and "reproduced" or "not reproduced"
end
-- How far each number moved between compute configurations of one machine
-- (chapters/spread.json, measured by tests/spread.py): every margin below
-- is at least twice that, so a verdict does not flip between machines.
local spread = assert(loadfile(here .. "/spread.lua"))()(here, study, profile)
-- a gap counts only when it is clear: `base` points (accuracies, IoU) or
-- twice the gap's measured spread, whichever is larger; the margin used is
-- kept for the prose
local margins = {}
local function clear_gap(a, b, base)
  local margin = spread.margin(base, a, b)
  margins[a] = margin
  if type(R[a]) ~= "number" or type(R[b]) ~= "number" then return "not measured" end
  local d = R[a] - R[b]
  if d > margin then return "reproduced" end
  if d > 0 then return "direction only (a gap of " .. string.format("%.2g", d) .. ")" end
  return "not reproduced"
end
-- the original's ratio was 14; "reproduced" needs a ratio above 2, the
-- direction above 1, each by twice the ratio's measured spread
local function ratio_verdict(a, b)
  if type(R[a]) ~= "number" or type(R[b]) ~= "number" then return "not measured" end
  local r, m = R[a] / R[b], spread.ratio_margin(a, b)
  if r > 2 + m then return string.format("reproduced (ratio %.1f; original 14)", r) end
  if r > 1 + m then return string.format("direction only (ratio %.2f; original 14)", r) end
  return string.format("not reproduced (ratio %.2f)", r)
end
local function mfmt(label, fmt) return string.format(fmt or "%.2g", margins[label] or 0) end
local rows = {
  { "linear probe beats zero-shot (79.92 % vs 61.68 %)",
    num("linear_probe.vit.top1") .. " % vs " .. num("zeroshot.vit.top1") .. " %",
    -- 2 points: about two standard errors of an accuracy near 75 % on 2048 test pictures
    clear_gap("linear_probe.vit.top1", "zeroshot.vit.top1", 2) },
  { "random-init one-shot head below zero-shot",
    num("fewshot.vit.random_init.k1.mean") .. " % vs " .. num("fewshot.vit.zeroshot") .. " %",
    verdict(R["fewshot.vit.claim_random_k1_below_zeroshot"]) },
  { "zero-shot-init head never below zero-shot",
    num("fewshot.vit.zs_init.runs_below_zeroshot", "%d") .. " of " .. num("fewshot.vit.runs", "%d") .. " heads below",
    verdict(R["fewshot.vit.claim_zs_init_never_below"]) },
  { "VQ-VAE on frozen CLIP features reconstructs worse than a trained encoder (1.7655 vs 0.1265)",
    num("vqvae.clip.final_loss", "%.4f") .. " vs " .. num("vqvae.trained.final_loss", "%.4f"),
    ratio_verdict("vqvae.clip.final_loss", "vqvae.trained.final_loss") },
  { "UNet trained end to end segments better than a decoder on frozen CLIP features",
    "IoU " .. num("seg.unet.test_iou", "%.3f") .. " vs " .. num("seg.clip.test_iou", "%.3f"),
    clear_gap("seg.unet.test_iou", "seg.clip.test_iou", 0.05) },
  { "the attention pool loses the count (hypothesis)",
    num("probe.count.pooled.top1") .. " % pooled vs " .. num("probe.count.prepool.top1") .. " % pre-pool",
    clear_gap("probe.count.prepool.top1", "probe.count.pooled.top1", 5) },
  { "the attention pool loses the position (hypothesis, extended)",
    num("probe.position.pooled.top1") .. " % pooled vs " .. num("probe.position.prepool.top1") .. " % pre-pool",
    clear_gap("probe.position.prepool.top1", "probe.position.pooled.top1", 5) },
}
-- The original's absolute figures and the CLIP paper's, only where this run
-- does the same task (CIFAR-100, OpenAI's checkpoints): chapters/published.lua
local S = study.new { memo = memo, profile = profile, cb = cb }
local published = assert(loadfile(here .. "/published.lua"))()
local function against(label, ref, what)
  if type(R[label]) ~= "number" then return { what, "n/a", "not measured" } end
  local v = S.versus(R[label], ref, S.split_size.cls_test, spread.of(label))
  return { what, string.format("%.2f %% (%+.2f)", R[label], v.diff),
           string.format("%s (margin %.2f)", v.verdict == "matches" and "matches" or (v.verdict == "is above" and "above" or "below"), v.margin) }
end
if S.about.same_task then
  rows[#rows + 1] = against("linear_probe.vit.top1", published.original.probe_vit,
    string.format("ViT-B/32 linear probe at C = 0.316 (original %.2f %%)", published.original.probe_vit))
  rows[#rows + 1] = against("zeroshot.vit.top1", published.original.zeroshot_vit,
    string.format("ViT-B/32 zero-shot, one prompt (original %.2f %%)", published.original.zeroshot_vit))
  rows[#rows + 1] = against("zeroshot.vit.ensemble_top1", published.clip_zeroshot.vit,
    string.format("ViT-B/32 zero-shot, %d prompts (CLIP paper, %s: %.1f %%)", #published.cifar100_templates,
      published.clip_zeroshot.where, published.clip_zeroshot.vit))
  rows[#rows + 1] = against("zeroshot.rn.ensemble_top1", published.clip_zeroshot.rn,
    string.format("RN50 zero-shot, %d prompts (CLIP paper, %s: %.1f %%)", #published.cifar100_templates,
      published.clip_zeroshot.where, published.clip_zeroshot.rn))
end
local setting_prose = S.about.same_task
  and string.format("This run is the original's setting: the same chapters on CIFAR-100 (%d test pictures) with "
    .. "OpenAI-layout ViT-B/32 and RN50 checkpoints, so its absolute figures are set beside the original's and the "
    .. "CLIP paper's [@radford2021] in the last rows of @tbl-verdicts; a figure matches when it is within twice the "
    .. "standard error of an accuracy on that many test pictures (or twice the measured spread). A checkpoint "
    .. "with random weights, as in a test run, lands far below every one of them.", S.split_size.cls_test)
  or nil

tabular {
  label = "tbl-verdicts",
  caption = "The original study's claims against this run (" .. profile.name .. " profile).",
  columns = { "claim", "this run", "verdict" }, rows = rows, align = "lll",
}
local function claim(i) return rows[i][3] end
local spread_note = spread.info
  and ("every margin above is at least twice what the same run moved between " .. #spread.info.configs
       .. " compute configurations (@sec-appendix); the probe-against-zero-shot gap counts above "
       .. mfmt("linear_probe.vit.top1") .. " points")
  or ("not measured for the " .. profile.name .. " profile, so the margins are the ones stated with each claim")
-- is shape barely learnt (as before the world was tuned)? Below 40 % the
-- 64-class results sit near the colour-only ceiling of one class in eight
local shape_lags = (R["zeroshot.vit.shape_acc"] or 0) < 40
-- the colour / shape paragraph is about the shapes world's classes only
local shapes_prose
if type(R["zeroshot.vit.shape_acc"]) == "number" then
  shapes_prose = shape_lags and ("The weakest link of this run is visible in @sec-zeroshot: our ViT names the main object's colour " .. num("zeroshot.vit.colour_acc", "%.0f") .. " % of the time but its shape only " .. num("zeroshot.vit.shape_acc", "%.0f") .. " % (guessing: 12.5 % each). The towers learnt colour long before shape, so the 64-class results (probe, zero-shot, few-shot) sit close together near the colour-only ceiling of one class in eight, and the few-shot heads have little to add that the text did not already know.")
    or ("Our ViT names the main object's colour " .. num("zeroshot.vit.colour_acc", "%.0f") .. " % of the time and its shape " .. num("zeroshot.vit.shape_acc", "%.0f") .. " % (guessing: 12.5 % each; @sec-zeroshot), so the 64-class results rest on features that carry both. That took a world tuned to the budget (@sec-towers): with objects turned through any angle and thin outlines, neither tower learnt shape in a few minutes.")
elseif type(R["zeroshot.vit.superclass_acc"]) == "number" then
  shapes_prose = "Grouped into CIFAR-100's 20 superclasses, the ViT's zero-shot predictions name the right superclass "
    .. num("zeroshot.vit.superclass_acc", "%.1f") .. " % of the time (@sec-zeroshot)."
else
  shapes_prose = ""
end

-- %% [markdown]
-- @tbl-verdicts collects the verdicts. In words:
--
-- - **Linear probe against zero-shot:** {{ claim(1) }}. The probe has
--   {{ num("linear_probe.vit.top1") }} % and zero-shot
--   {{ num("zeroshot.vit.top1") }} % with the ViT model.
-- - **Few-shot from a random start:** {{ claim(2) }}; one shot per class
--   gives {{ num("fewshot.vit.random_init.k1.mean") }} %.
-- - **Few-shot from the zero-shot weights:** {{ claim(3) }}
--   ({{ num("fewshot.vit.zs_init.runs_below_zeroshot", "%d") }} of
--   {{ num("fewshot.vit.runs", "%d") }} heads ended below zero-shot). The
--   zero-shot start is better than a random one, but plain training can
--   still drift below the point it started from; early stopping, an L2 pull
--   and interpolation (@sec-fewshot) are the cheap remedies, and the best of
--   them at one shot was {{ R["fewshot.vit.best_fix_k1"] or "n/a" }}.
-- - **Decoding CLIP's features:** for the VQ-VAE, {{ claim(4) }}; for
--   segmentation, {{ claim(5) }} (an IoU gap counts above
--   {{ mfmt("seg.unet.test_iou") }}).
-- - **The attention pool:** for the count, {{ claim(6) }} — the count probe
--   on the pre-pool map reaches {{ num("probe.count.prepool.top1") }} %
--   against {{ num("probe.count.pooled.top1") }} % on the pooled embedding;
--   for the position, {{ claim(7) }} ({{ num("probe.position.prepool.top1") }} %
--   against {{ num("probe.position.pooled.top1") }} %). A gap counts here
--   only when it exceeds {{ mfmt("probe.count.prepool.top1") }} points
--   (count) and {{ mfmt("probe.position.prepool.top1") }} points (position).
-- - **How far these numbers move between machines:** {{ spread_note }}.
--
-- {{ shapes_prose }}
--
-- {{ setting_prose or "What differs from the original is scale: towers of a few hundred thousand parameters pre-trained for minutes on a synthetic world, against OpenAI's models trained on 400 million pairs. Where a verdict here disagrees with the original, the first suspect is that scale, and the *paper* profile — the same chapters on CIFAR-100 with OpenAI's weights — is the way to check." }}
--
-- {{ #failed > 0 and ("**Chapters that failed in this run:** " .. table.concat(failed, ", ") .. " (their error blocks are in place, and the verdicts that need their numbers read n/a).") or "Every chapter of this run ran to the end." }}
