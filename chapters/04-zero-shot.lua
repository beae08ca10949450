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
local study = assert(loadfile(here .. "/study.lua"))()
local S = study.new { memo = memo, profile = profile, cb = cb }
local spread = assert(loadfile(here .. "/spread.lua"))()(here, study, profile)
local published = assert(loadfile(here .. "/published.lua"))()
local names = S.class_names()
-- the ensemble's prompts (@sec-zeroshot's last section): CIFAR-100's are the
-- paper's own; the shapes world's are wordings of its caption grammar
local templates = S.about.cls == "CIFAR-100" and published.cifar100_templates
  or { "a photo of a {class}", "a {class}", "a large {class}", "a small {class}", "a {class} in the middle", "there is a {class}" }
local templates_prose = S.about.cls == "CIFAR-100"
  and string.format("We ensemble the %d templates the paper's authors published for CIFAR-100 "
    .. "(github.com/openai/CLIP, data/prompts.md), the ones behind its Table 11.", #templates)
  or "We ensemble wordings the shapes world's caption grammar produces (on other pictures they are merely other prompts)."

-- %% the zero-shot head
local function zeroshot_head(tower, template)
  local prompts = {}
  for i, name in ipairs(names) do prompts[i] = S.prompt(template, name) end
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
-- the probe of @sec-probe as the original fitted it (all training pictures)
local all_train = { fit = "cls_trainval", test = "cls_test" }
local probe_vit = S.linear_probe("vit", "pooled", profile.probe.C, "labels", nil, all_train)
local probe_rn = S.linear_probe("rn", "pooled", profile.probe.C, "labels", nil, all_train)
local vs_single = S.about.same_task
  and string.format("The original reported %.2f %% with ViT-B/32 and this prompt: the ViT here %s it (%+.2f points; "
    .. "a difference counts beyond %.2f, twice the standard error of an accuracy on %d test pictures or twice the "
    .. "spread between compute configurations).", published.original.zeroshot_vit,
    S.versus(100 * acc.vit, published.original.zeroshot_vit, S.split_size.cls_test, spread.of("zeroshot.vit.top1")).verdict,
    100 * acc.vit - published.original.zeroshot_vit,
    S.versus(100 * acc.vit, published.original.zeroshot_vit, S.split_size.cls_test, spread.of("zeroshot.vit.top1")).margin,
    S.split_size.cls_test)
  or string.format("(The original's %.2f %% was on CIFAR-100 with OpenAI's ViT-B/32: another task.)", published.original.zeroshot_vit)

-- %% [markdown]
-- With the prompt "{{ template }}", the ViT model classifies
-- {{ result("zeroshot.vit.top1") }} % of the test pictures correctly and
-- the ResNet model {{ result("zeroshot.rn.top1") }} %, where guessing would
-- give {{ result("zeroshot.chance") }} %. @tbl-zs-vs-probe sets this beside
-- the linear probe of @sec-probe, which had {{ S.split_size.cls_trainval }}
-- labelled pictures to learn from. {{ vs_single }}

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

-- %% groups echo=false
-- coarser views of the class list (chapters/study.lua: colour and shape
-- in the shapes world, the 20 superclasses of CIFAR-100)
local groups = S.class_groups()
local group_words = {}
for i, g in ipairs(groups) do group_words[i] = "by " .. g.title end

-- %% [markdown]
-- ## Where it fails
--
-- A confusion matrix over {{ #names }} classes says little at a glance;
-- grouped into {{ #groups == 1 and (#groups[1].names .. " " .. groups[1].title .. "es") or table.concat(group_words, " and ") }},
-- it shows which mistakes the model makes. @fig-confusion shows
-- {{ #groups == 1 and "it" or "each" }} for the ViT model.

-- %% confusion echo=false
-- rows: true group, columns: predicted group, each row in % of its pictures
local function confusion(pred, y, g)
  local K = #g.names
  local m = {}
  for i = 1, K do m[i] = {} for j = 1, K do m[i][j] = 0 end end
  local p, t = pred:totable(), y:totable()
  for i = 1, #t do
    local a, b = g.of(t[i]), g.of(p[i])
    if a and b then m[a + 1][b + 1] = m[a + 1][b + 1] + 1 end
  end
  for i = 1, K do
    local s = 0
    for j = 1, K do s = s + m[i][j] end
    for j = 1, K do m[i][j] = s > 0 and 100 * m[i][j] / s or 0 end
  end
  return m
end
local panels, group_acc = {}, {}
for gi, g in ipairs(groups) do
  local cm = confusion(preds.vit, y_test, g)
  local a = 0
  for i = 1, #g.names do a = a + cm[i][i] / #g.names end
  group_acc[gi] = a
  result("zeroshot.vit." .. g.title .. "_acc", a, "%.1f")
  panels[gi] = { kind = "heatmap", values = cm, row_labels = g.names, col_labels = g.names,
                 x_label = "predicted " .. g.title, y_label = "true " .. g.title, colormap = "blues",
                 digits = #g.names <= 10 and 0 or nil, colorbar = false }
end
local letters = "abcdefgh"
local parts = {}
for gi, g in ipairs(groups) do
  parts[gi] = (#groups > 1 and "(" .. letters:sub(gi, gi) .. ") " or "") .. "by the " .. g.title .. " of the picture"
end
figure {
  label = "fig-confusion",
  caption = "Zero-shot confusion of the ViT model on the test split, " .. table.concat(parts, " and ")
    .. ": each row is a true value and sums to 100 %.",
  kind = "panels", cols = #panels, panels = panels,
}
local col_acc = group_acc[1]
local shp_acc = group_acc[2] or group_acc[1]
local group_lines = {}
for gi, g in ipairs(groups) do
  group_lines[gi] = string.format("its %s %.1f %% of the time (guessing: %.1f %%)", g.title, group_acc[gi], 100 / #g.names)
end

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
-- the shapes world's renamed classes (data.renamed_names): accuracy on the
-- classes the prompts name in the captions' usual words against the others
local renamed_prose = ""
if S.about.cls ~= "CIFAR-100" and (profile.data.renamed_names or 0) > 0 then
  local usual = cb.shapes.class_names()
  local part = { usual = { n = 0, r = 0, k = 0 }, renamed = { n = 0, r = 0, k = 0 } }
  for k = 1, #names do
    local g = part[names[k] == usual[k] and "usual" or "renamed"]
    g.n, g.r, g.k = g.n + per[k].n, g.r + per[k].r, g.k + 1
  end
  for w, g in pairs(part) do result("zeroshot.vit." .. w .. "_names_top1", 100 * g.r / math.max(g.n, 1), "%.1f") end
  renamed_prose = string.format("The prompts name %d of the classes in words the captions rarely use (@sec-captions): "
    .. "on them the ViT model is right %s %% of the time, on the %d named in the captions' usual words %s %%.",
    part.renamed.k, result("zeroshot.vit.renamed_names_top1"), part.usual.k, result("zeroshot.vit.usual_names_top1"))
end
figure {
  label = "fig-per-class",
  caption = "Zero-shot accuracy of the ViT model per class on the test split (classes in label order).",
  kind = "bar", categories = xs, y_label = "top-1 accuracy (%)", series = { { name = "ViT", y = ys } }, legend = "none",
}

-- %% [markdown]
-- Averaged over the true values, the ViT model names
-- {{ table.concat(group_lines, " and ") }} (@fig-confusion);
-- @fig-per-class shows how unevenly the accuracy is spread over the classes.
-- {{ renamed_prose }}
-- {{ #groups == 2 and col_acc > shp_acc + 20 and "The model has learnt colour long before shape. That is what the contrastive objective rewards first: within a batch of 256 pictures, the colour words (and the background and position words) already tell most captions apart, so a model that reads colour well lowers the loss a long way before it needs shape at all." or "" }}
--
-- ## Prompt ensembling
--
-- CLIP's paper gains a few points by averaging the text features of several
-- prompts per class before normalising. {{ templates_prose }}

-- %% ensemble echo=false
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
local vs_paper = ""
if S.about.same_task then
  local pz = published.clip_zeroshot
  local function line(tower, ref, label)
    local v = S.versus(100 * ens[tower].acc, ref, S.split_size.cls_test, spread.of(label))
    return string.format("%s %.2f %% against %.1f %% (%s, %+.2f points, margin %.2f)", tower == "vit" and "ViT-B/32" or "RN50",
      100 * ens[tower].acc, ref, v.verdict == "matches" and "a match" or (v.verdict == "is above" and "above" or "below"),
      v.diff, v.margin)
  end
  vs_paper = string.format("CLIP's paper reports this ensemble's accuracy on CIFAR-100 in its %s [@radford2021]: %s; %s.",
    pz.where, line("vit", pz.vit, "zeroshot.vit.ensemble_top1"), line("rn", pz.rn, "zeroshot.rn.ensemble_top1"))
end
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
-- for the single prompt (@tbl-prompts). {{ vs_paper }}
