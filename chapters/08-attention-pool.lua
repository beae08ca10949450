-- %% [markdown]
-- # What the attention pool throws away {#sec-pool}
--
-- The original study closed on a hypothesis: CLIP is known to be poor at
-- counting objects [@radford2021], and the decoders of @sec-vqvae and
-- @sec-seg do far better on the feature map *before* the attention pool
-- than one would expect from the pooled embedding — so perhaps the pool,
-- trained only to match captions, discards what captions rarely stress:
-- how many things there are, and where. The shapes world knows the count
-- and the position of every object, so the hypothesis can be tested
-- directly: fit the same linear probe (@sec-probe) for the number of
-- objects (1–4) and for the 3×3 cell holding the main object's centre, once
-- on the pooled embedding and once on the pre-pool features (the ResNet's
-- map before the attention pool; the ViT's patch tokens before the class
-- token is read out), each average-pooled to a 3×3 grid of cells: a full
-- map is far too large to probe at RN50's size (2048 × 7 × 7 = 100,352
-- numbers per picture), and a 3×3 grid still says where things are. The
-- pictures are the shapes world's, drawn at each tower's own resolution,
-- since only it knows counts and positions (a profile on other data, such
-- as CIFAR-100, gives this chapter shapes-world splits of its own).

-- %% setup echo=false
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local S = assert(loadfile(here .. "/study.lua"))().new { memo = memo, profile = profile, cb = cb }
local C = profile.probe.C

-- %% probes echo=false
local P = S.pool_splits
local acc = {}
for _, tower in ipairs { "rn", "vit" } do
  acc[tower] = {}
  for _, target in ipairs { "counts", "cells", "labels" } do
    acc[tower][target] = {}
    for _, kind in ipairs { "pooled", "grid" } do
      acc[tower][target][kind] = S.linear_probe(tower, kind, C, target, profile.probe.pool_max_iter, P)
    end
    acc[tower][target].prepool = acc[tower][target].grid  -- (the stable labels say "prepool")
  end
end
-- the labels' stable names: the ResNet is the model with an attention pool
result("probe.count.pooled.top1", 100 * acc.rn.counts.pooled.test, "%.2f")
result("probe.count.prepool.top1", 100 * acc.rn.counts.prepool.test, "%.2f")
result("probe.position.pooled.top1", 100 * acc.rn.cells.pooled.test, "%.2f")
result("probe.position.prepool.top1", 100 * acc.rn.cells.prepool.test, "%.2f")
result("probe.vit.count.pooled.top1", 100 * acc.vit.counts.pooled.test, "%.2f")
result("probe.vit.count.prepool.top1", 100 * acc.vit.counts.prepool.test, "%.2f")
result("probe.vit.position.pooled.top1", 100 * acc.vit.cells.pooled.test, "%.2f")
result("probe.vit.position.prepool.top1", 100 * acc.vit.cells.prepool.test, "%.2f")
local function majority(target)
  local t = S.targets(P.test, target):totable()
  local n = {}
  for _, v in ipairs(t) do n[v] = (n[v] or 0) + 1 end
  local m = 0
  for _, c in pairs(n) do m = math.max(m, c) end
  return 100 * m / #t
end
local base_count, base_cell = majority("counts"), majority("cells")
local gap_count = 100 * (acc.rn.counts.prepool.test - acc.rn.counts.pooled.test)
local gap_cell = 100 * (acc.rn.cells.prepool.test - acc.rn.cells.pooled.test)
result("probe.count.gap", gap_count, "%.2f")
result("probe.position.gap", gap_cell, "%.2f")
-- A gap decides only beyond 5 points, or beyond twice how far it moved
-- between compute configurations (chapters/spread.json), whichever is larger.
local spread = assert(loadfile(here .. "/spread.lua"))()(here, assert(loadfile(here .. "/study.lua"))(), profile)
local m_count, m_cell = spread.margin(5, "probe.count.gap"), spread.margin(5, "probe.position.gap")
result("probe.count.margin", m_count, "%.1f")
result("probe.position.margin", m_cell, "%.1f")
local function says(gap, m)
  if gap > m then return "is largely lost in the pool" end
  if gap > -m then return "survives the pool about as well as it is present before it" end
  return "is read better after the pool than before it"
end
local verdict_text = string.format("In this run the number of objects %s (a gap of %.1f points), and the position of the "
  .. "main object %s (%.1f points). %s", says(gap_count, m_count), gap_count, says(gap_cell, m_cell), gap_cell,
  (gap_cell > m_cell and gap_count <= m_count) and "So the pool's loss, in our models, is first of all *where* things are, not *how many*: "
    .. "the pool's single query attends to the whole map and returns one vector, and what a caption asks of it (which colours "
    .. "and shapes are there) does not depend on the place." or "")
result("probe.count.majority", base_count, "%.2f")
result("probe.position.majority", base_cell, "%.2f")

-- %% bar echo=false
figure {
  label = "fig-pool-probes",
  caption = "Linear probes (C = " .. C .. ") for the number of objects, the main object's cell and its class, "
    .. "on the pooled CLIP embedding and on the features before the pool, for (a) the ResNet and (b) the ViT. "
    .. "Dashed: the majority-class rate for counts.",
  kind = "panels", cols = 2,
  panels = {
    { kind = "bar", title = "ResNet", categories = { "count", "position", "class" }, y_label = "test accuracy (%)",
      y_min = 0, y_max = 100,
      series = {
        { name = "pooled", y = { 100 * acc.rn.counts.pooled.test, 100 * acc.rn.cells.pooled.test, 100 * acc.rn.labels.pooled.test } },
        { name = "pre-pool", y = { 100 * acc.rn.counts.prepool.test, 100 * acc.rn.cells.prepool.test, 100 * acc.rn.labels.prepool.test } },
      }, hlines = { { y = base_count, label = "" } } },
    { kind = "bar", title = "ViT", categories = { "count", "position", "class" }, y_label = "test accuracy (%)",
      y_min = 0, y_max = 100,
      series = {
        { name = "pooled", y = { 100 * acc.vit.counts.pooled.test, 100 * acc.vit.cells.pooled.test, 100 * acc.vit.labels.pooled.test } },
        { name = "pre-pool", y = { 100 * acc.vit.counts.prepool.test, 100 * acc.vit.cells.prepool.test, 100 * acc.vit.labels.prepool.test } },
      }, hlines = { { y = base_count, label = "" } } },
  },
}
local rows = {}
for _, tw in ipairs { { "rn", "ResNet" }, { "vit", "ViT" } } do
  for _, kind in ipairs { "pooled", "prepool" } do
    local a = acc[tw[1]]
    rows[#rows + 1] = { tw[2], kind == "pooled" and "pooled embedding" or "before the pool, 3×3 grid", a.counts[kind].dim,
                        100 * a.counts[kind].test, 100 * a.cells[kind].test, 100 * a.labels[kind].test }
  end
end
tabular {
  label = "tbl-pool-probes",
  caption = "Linear-probe test accuracy (%) for count, position (3×3 cell) and class, pooled against pre-pool features "
    .. "(C = " .. C .. ", at most " .. profile.probe.pool_max_iter .. " L-BFGS iterations). "
    .. string.format("Majority class: %.1f %% (count), %.1f %% (position).", base_count, base_cell),
  columns = { "model", "features", "dim", "count", "position", "class" },
  rows = rows, formats = { nil, nil, "%d", "%.2f", "%.2f", "%.2f" },
}

-- %% [markdown]
-- For the ResNet, the count probe reaches {{ result("probe.count.pooled.top1") }} %
-- on the pooled embedding and {{ result("probe.count.prepool.top1") }} % on
-- the map before the attention pool (majority class
-- {{ result("probe.count.majority") }} %); the position probe
-- {{ result("probe.position.pooled.top1") }} % against
-- {{ result("probe.position.prepool.top1") }} % (majority
-- {{ result("probe.position.majority") }} %). @fig-pool-probes and
-- @tbl-pool-probes give both towers. A probe on more dimensions has more
-- room to fit, so a gap is only evidence of loss when it is large (here:
-- above {{ result("probe.count.margin") }} points for the count and
-- {{ result("probe.position.margin") }} for the position); the class
-- probe, which both feature sets should carry, is the control.
--
-- {{ verdict_text }}
--
-- ## Zero-shot counting
--
-- The text tower has read thousands of captions that begin "three shapes:"
-- or "two shapes:". Does the pooled embedding let the prompts "one shape",
-- "two shapes", ... pick the right count?

-- %% zero-shot counting echo=false
local words = { "one shape", "two shapes", "three shapes", "four shapes" }
local zc = {}
for _, tower in ipairs { "rn", "vit" } do
  local W = S.text_features(tower, words)
  local I = S.features(tower, P.test, "pooled"):normalize(2)
  local pred = I:matmul(W:transpose()):argmax(2):totable()
  local y = S.targets(P.test, "counts"):totable()
  local right = 0
  for i = 1, #y do if pred[i] == y[i] then right = right + 1 end end
  zc[tower] = 100 * right / #y
end
result("zeroshot.count.rn.top1", zc.rn, "%.2f")
result("zeroshot.count.vit.top1", zc.vit, "%.2f")

-- %% [markdown]
-- Zero-shot counting gets {{ result("zeroshot.count.rn.top1") }} % (ResNet)
-- and {{ result("zeroshot.count.vit.top1") }} % (ViT) of the test pictures
-- right, against {{ result("probe.count.majority") }} % for always answering
-- the most common count. What the pooled embedding keeps about numbers, the
-- text side can only read if the two towers learnt to agree on it; the
-- contrastive objective rewards that agreement only as far as the count
-- distinguishes a caption from the other captions of its batch — rarely,
-- when most batches hold pictures of different colours and shapes.
