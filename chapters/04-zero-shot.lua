-- %% [markdown]
-- # Zero-shot classification {#sec-zeroshot}
--
-- A CLIP model can classify without a single labelled picture. Write each
-- class as a caption — the original study used the prompt "a photo of a
-- {class}" with CIFAR-100's class names — encode the captions with the text
-- tower, and assign each picture to the caption it is most similar to. The
-- normalised text features are the weights of a linear classifier whose
-- logits are exactly the contrastive logits of @eq-clip-loss. On CIFAR-100
-- with ViT-B/32 the original reported 61.68 % top-1.

-- %% setup echo=false
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local S = assert(loadfile(here .. "/study.lua"))().new { memo = memo, profile = profile, cb = cb }
local names = S.class_names()

-- %% the zero-shot head
local function zeroshot_head(tower, template)
  local prompts = {}
  for i, name in ipairs(names) do prompts[i] = template:gsub("{class}", name) end
  local W = S.text_features(tower, prompts)       -- (classes, E), rows of unit length
  return W
end

local function zeroshot_predict(tower, W, split)
  local I = S.features(tower, split, "pooled"):normalize(2)
  local logits = I:matmul(W:transpose()) * 100     -- CLIP's logit scale; it does not change the arg-max
  return logits:argmax(2)                          -- (N) predicted class, 0-based
end

-- %% accuracy echo=false
local function accuracy(pred, y)
  local p, t = pred:totable(), y:totable()
  local right = 0
  for i = 1, #t do if p[i] == t[i] then right = right + 1 end end
  return right / #t
end
local template = "a photo of a {class}"
local y_test = S.targets("cls_test", "labels")
local acc, preds = {}, {}
for _, tower in ipairs { "vit", "rn" } do
  local W = zeroshot_head(tower, template)
  preds[tower] = zeroshot_predict(tower, W, "cls_test")
  acc[tower] = accuracy(preds[tower], y_test)
end
result("zeroshot.vit.top1", 100 * acc.vit, "%.2f")
result("zeroshot.rn.top1", 100 * acc.rn, "%.2f")
result("zeroshot.chance", 100 / #names, "%.2f")
local probe_vit = S.linear_probe("vit", "pooled", profile.probe.C)
local probe_rn = S.linear_probe("rn", "pooled", profile.probe.C)

-- %% [markdown]
-- With the prompt "{{ template }}", the ViT model classifies
-- {{ result("zeroshot.vit.top1") }} % of the test pictures correctly and
-- the ResNet model {{ result("zeroshot.rn.top1") }} %, where guessing would
-- give {{ result("zeroshot.chance") }} %. @tbl-zs-vs-probe sets this beside
-- the linear probe of @sec-probe, which had {{ S.split_size.cls_train }}
-- labelled pictures to learn from.

-- %% table echo=false
tabular {
  label = "tbl-zs-vs-probe",
  caption = "Top-1 test accuracy (%): zero-shot with one prompt against the linear probe (C = "
    .. profile.probe.C .. ") on the same frozen features.",
  columns = { "model", "zero-shot", "linear probe", "chance" },
  rows = {
    { "ViT", 100 * acc.vit, 100 * probe_vit.test, 100 / #names },
    { "ResNet", 100 * acc.rn, 100 * probe_rn.test, 100 / #names },
  },
  formats = { nil, "%.2f", "%.2f", "%.2f" },
}

-- %% [markdown]
-- ## Where it fails
--
-- The 64 classes are eight colours times eight shapes, so a confusion
-- matrix over colours and one over shapes say more than the 64 × 64 one.
-- @fig-confusion shows both for the ViT model.

-- %% confusion echo=false
local colours, shapes = {}, {}
for i = 1, 8 do
  colours[i] = names[(i - 1) * 8 + 1]:match("^(%S+)")
  shapes[i] = names[i]:match("(%S+)$")
end
local function confusion(pred, y, f)
  local m = {}
  for i = 1, 8 do m[i] = {} for j = 1, 8 do m[i][j] = 0 end end
  local p, t = pred:totable(), y:totable()
  for i = 1, #t do
    local a, b = f(t[i]) + 1, f(p[i]) + 1
    m[a][b] = m[a][b] + 1
  end
  for i = 1, 8 do
    local s = 0
    for j = 1, 8 do s = s + m[i][j] end
    for j = 1, 8 do m[i][j] = s > 0 and 100 * m[i][j] / s or 0 end
  end
  return m
end
local cm_colour = confusion(preds.vit, y_test, function(l) return l // 8 end)
local cm_shape = confusion(preds.vit, y_test, function(l) return l % 8 end)
figure {
  label = "fig-confusion",
  caption = "Zero-shot confusion of the ViT model on the test split, (a) by the colour and (b) by the shape of the main object: "
    .. "each row is a true value and sums to 100 %.",
  kind = "panels", cols = 2,
  panels = {
    { kind = "heatmap", values = cm_colour, row_labels = colours, col_labels = colours, x_label = "predicted colour",
      y_label = "true colour", colormap = "blues", digits = 0, colorbar = false },
    { kind = "heatmap", values = cm_shape, row_labels = shapes, col_labels = shapes, x_label = "predicted shape",
      y_label = "true shape", colormap = "blues", digits = 0, colorbar = false },
  },
}
local col_acc, shp_acc = 0, 0
for i = 1, 8 do col_acc, shp_acc = col_acc + cm_colour[i][i] / 8, shp_acc + cm_shape[i][i] / 8 end
result("zeroshot.vit.colour_acc", col_acc, "%.1f")
result("zeroshot.vit.shape_acc", shp_acc, "%.1f")

-- %% per class echo=false
local per = {}
local p, t = preds.vit:totable(), y_test:totable()
for k = 1, #names do per[k] = { n = 0, r = 0 } end
for i = 1, #t do
  local c = per[t[i] + 1]
  c.n = c.n + 1
  if p[i] == t[i] then c.r = c.r + 1 end
end
local xs, ys = {}, {}
for k = 1, #names do xs[k], ys[k] = names[k], per[k].n > 0 and 100 * per[k].r / per[k].n or 0 / 0 end
figure {
  label = "fig-per-class",
  caption = "Zero-shot accuracy of the ViT model per class on the test split (classes ordered by colour, then shape).",
  kind = "bar", categories = xs, y_label = "top-1 accuracy (%)", series = { { name = "ViT", y = ys } }, legend = "none",
}

-- %% [markdown]
-- Averaged over the true values, the ViT model names the main object's
-- colour correctly {{ result("zeroshot.vit.colour_acc") }} % of the time and
-- its shape {{ result("zeroshot.vit.shape_acc") }} % of the time
-- (@fig-confusion), where guessing gives 12.5 % for each;
-- @fig-per-class shows how unevenly the accuracy is spread over the classes.
-- {{ col_acc > shp_acc + 20 and "The model has learnt colour long before shape. That is what the contrastive objective rewards first: within a batch of 256 pictures, the colour words (and the background and position words) already tell most captions apart, so a model that reads colour well lowers the loss a long way before it needs shape at all." or "" }}
--
-- ## Prompt ensembling
--
-- CLIP's paper gains a few points by averaging the text features of several
-- prompts per class ("a photo of a {class}", "a drawing of a {class}", ...)
-- before normalising. Our captions come from a grammar, so we ensemble
-- wordings that grammar produces.

-- %% ensemble echo=false
local templates = { "a photo of a {class}", "a {class}", "a large {class}", "a small {class}",
                    "a {class} in the middle", "there is a {class}" }
local ens = {}
for _, tower in ipairs { "vit", "rn" } do
  local sum
  local rows = {}
  for _, tpl in ipairs(templates) do
    local W = zeroshot_head(tower, tpl)
    sum = sum and (sum + W) or W
    rows[#rows + 1] = { tpl, 100 * accuracy(zeroshot_predict(tower, W, "cls_test"), y_test) }
  end
  local Wens = sum:normalize(2)
  ens[tower] = { single = rows, acc = accuracy(zeroshot_predict(tower, Wens, "cls_test"), y_test) }
end
result("zeroshot.vit.ensemble_top1", 100 * ens.vit.acc, "%.2f")
result("zeroshot.rn.ensemble_top1", 100 * ens.rn.acc, "%.2f")
local trows = {}
for i, tpl in ipairs(templates) do trows[i] = { '"' .. tpl .. '"', ens.vit.single[i][2], ens.rn.single[i][2] } end
trows[#trows + 1] = { "ensemble of all " .. #templates, 100 * ens.vit.acc, 100 * ens.rn.acc }
tabular {
  label = "tbl-prompts",
  caption = "Zero-shot top-1 test accuracy (%) per prompt template and for their ensemble (mean of the text features).",
  columns = { "prompt", "ViT", "ResNet" }, rows = trows, formats = { nil, "%.2f", "%.2f" },
}

-- %% [markdown]
-- The ensemble of {{ #templates }} prompts gives
-- {{ result("zeroshot.vit.ensemble_top1") }} % (ViT) and
-- {{ result("zeroshot.rn.ensemble_top1") }} % (ResNet), against
-- {{ result("zeroshot.vit.top1") }} % and {{ result("zeroshot.rn.top1") }} %
-- for the single prompt (@tbl-prompts).
