-- %% [markdown]
-- # How CLIP works, and pre-training our own {#sec-clip}
--
-- CLIP [@radford2021] is two encoders trained together. An image encoder
-- $f$ (a Vision Transformer or a ResNet whose last layer is an attention
-- pool) maps a picture to a vector; a text encoder $g$ (a causal
-- transformer over byte-pair tokens, read out at the end-of-text token) maps
-- a caption to a vector of the same width $E$. Both vectors are normalised
-- to unit length, so their dot product is a cosine similarity. Training
-- never sees a class label: it sees a batch of $B$ pictures with their
-- captions and asks each picture to pick its own caption among the $B$, and
-- each caption its own picture.
--
-- Written out, with $I$ and $T$ the $B \times E$ matrices of normalised
-- image and text features and $t$ a learned temperature,
--
-- $$\mathrm{logits} = e^{t} \, I T^{\top}, \qquad \mathcal{L} = \tfrac{1}{2}\left(\mathrm{CE}(\mathrm{logits}, [1..B]) + \mathrm{CE}(\mathrm{logits}^{\top}, [1..B])\right)$$ {#eq-clip-loss}
--
-- where CE is the mean cross-entropy of each row against the diagonal. The
-- whole loss is a few lines over the engine's tensors:

-- %% setup echo=false
-- the study's shared pieces (chapters/study.lua, beside this file)
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local S = assert(loadfile(here .. "/study.lua"))().new { memo = memo, profile = profile, cb = cb }
-- towers pre-trained here (a model config and `train`) or read from
-- checkpoints; the chapter tells the story of whichever the profile has
local trained_here = S.model_params("vit").train ~= nil and S.model_params("rn").train ~= nil
local vit, vit_info = S.model("vit")
local rn, rn_info = S.model("rn")
local function arch(c)
  return c.vision_vit == 1
      and string.format("ViT: %d layers, width %d, patch %d", c.vision_layers, c.vision_width, c.vision_patch_size)
      or string.format("ResNet: blocks %d-%d-%d-%d, width %d, stem %d/%d", c.vision_layers[1], c.vision_layers[2],
        c.vision_layers[3], c.vision_layers[4], c.vision_width, c.resnet_stem_stride, c.resnet_stem_pool)
end
local checkpoint_prose = not trained_here and string.format(
  "This run does not train its towers: it reads them from checkpoints with OpenAI's key names, `%s` (ViT) and "
  .. "`%s` (ResNet), which `make data` fetches from OpenAI's release of CLIP [@radford2021] and checks against "
  .. "their SHA-256 (a stand-in with random weights in the same layout when the run is a test). @tbl-towers lists "
  .. "what the files hold, read off the shapes of their tensors as OpenAI's own `build_model` does; the loss below "
  .. "is that of @eq-clip-loss on towers it did not train.",
  S.model_params("vit").checkpoint, S.model_params("rn").checkpoint) or ""

-- %% the contrastive loss
local function clip_loss(image_features, text_features, logit_scale)
  local I = image_features:normalize(2)          -- rows of unit length
  local T = text_features:normalize(2)
  local logits = I:matmul(T:transpose()) * logit_scale
  local B = logits:shape()[1]
  local diagonal = {}
  for i = 1, B do diagonal[i] = i - 1 end        -- picture i belongs with caption i
  local target = cb.tensor(diagonal, "i64")
  return (cb.cross_entropy(logits, target) + cb.cross_entropy(logits:transpose(), target)) / 2
end

-- %% [markdown]
-- OpenAI initialise $t = \ln(1/0.07)$ and clamp $e^t$ at 100; at the start
-- the loss is about $\ln B$ (every caption equally likely), and a perfect
-- model drives it to zero. Zero-shot classification (@sec-zeroshot) reuses
-- the same logits with the class names, written as captions, in place of
-- the batch's captions.
--
-- ## The two towers {#sec-towers}
--
-- {{ trained_here and [[The study needs CLIP models it can afford to train on two CPU cores in a
-- few minutes, so it pre-trains its own on the *shapes world*: pictures of
-- one to four objects (eight shapes, eight colours, four drawing styles,
-- four textured backgrounds, partial occlusion), each with captions from a
-- grammar ("two small red circles above a blue square") that, like web
-- alt-text, often miss or misname the class (@sec-captions). We keep OpenAI's
-- architectures and change only their sizes, listed in @tbl-towers:
--
-- - a **ViT** on 32 px pictures cut into 8 px patches (16 tokens plus the
--   class token);
-- - a **ModifiedResNet** with its attention pool. OpenAI's ResNet divides
--   the resolution by 32 (RN50: 224 px → a 7×7 map before the pool); at
--   32 px that would leave a single cell, useless for the decoders of
--   @sec-vqvae and @sec-seg and the probes of @sec-pool. Our variant's stem
--   neither strides nor pools (recorded in the checkpoint's metadata as
--   `resnet_stem_stride = 1`, `resnet_stem_pool = 1`), so 32 px pictures
--   leave a 4×4 map. The price is that the stem and the first stage run at
--   full resolution, 16 times the pixels of OpenAI's stem: timed below
--   (@tbl-bench), it makes this tower several times slower per picture than
--   the same tower with OpenAI's stem, and the slower of our two towers
--   although it is narrow.
--
-- Both text towers are the same small causal transformer over a BPE
-- vocabulary learnt from the corpus's captions. Optimisation follows the
-- paper: AdamW [@loshchilov2019] with decoupled weight decay 0.2 on
-- weights only, linear warm-up then cosine decay, batches of
-- ]] .. (trained_here and profile.towers.vit.train.batch or 0) .. [[ pairs.]] or checkpoint_prose }}

-- %% pre-train echo=false
local passes = {}
if not trained_here then
  local function crow(name, m)
    local c = m:config()
    return { name, arch(c), c.image_resolution, c.embed_dim,
             string.format("%d layers, width %d, %d heads", c.transformer_layers, c.transformer_width, c.transformer_heads),
             c.context_length, c.vocab_size, m:nparams() }
  end
  tabular {
    label = "tbl-towers",
    caption = "The two CLIP models of this run, as their checkpoints hold them: image tower, input size (px), embedding "
      .. "width, text tower, context length, vocabulary and parameters (both towers).",
    columns = { "model", "image tower", "px", "embed", "text tower", "context", "vocabulary", "parameters" },
    rows = { crow("vit", vit), crow("rn", rn) },
    formats = { nil, nil, "%d", "%d", nil, "%d", "%d", "%d" },
  }
  result("towers.vit.nparams", vit:nparams())
  result("towers.rn.nparams", rn:nparams())
else
local function row(name, m, info)
  local c = m:config()
  local tr = S.model_params(name).train or {}
  return { name, arch(c), c.image_resolution, info.nparams or m:nparams(), tr.steps or 0,
           info.images_per_s or 0, info.wall_s or 0 }
end
tabular {
  label = "tbl-towers",
  caption = "The two CLIP models of this run: image tower, input size (px), parameters (both towers), "
    .. "pre-training steps, throughput (pictures per second) and wall time (s) measured during pre-training on this machine.",
  columns = { "model", "image tower", "px", "parameters", "steps", "pictures/s", "wall (s)" },
  rows = { row("vit", vit, vit_info), row("rn", rn, rn_info) },
  formats = { nil, nil, "%d", "%d", "%d", "%.0f", "%.0f" },
}
result("pretrain.vit.wall_s", vit_info.wall_s or 0, "%.0f")
result("pretrain.rn.wall_s", rn_info.wall_s or 0, "%.0f")
result("pretrain.vit.images_per_s", vit_info.images_per_s or 0, "%.0f")
result("pretrain.rn.images_per_s", rn_info.images_per_s or 0, "%.0f")
local function tail_mean(l, n)
  local s, k = 0, 0
  for i = math.max(1, #l - n + 1), #l do s, k = s + l[i], k + 1 end
  return k > 0 and s / k or 0 / 0
end
result("pretrain.vit.final_loss", tail_mean(vit_info.loss or {}, 10), "%.3f")
result("pretrain.rn.final_loss", tail_mean(rn_info.loss or {}, 10), "%.3f")
result("pretrain.chance_loss", math.log(profile.towers.vit.train.batch), "%.3f")
for _, name in ipairs { "vit", "rn" } do
  local tr = S.model_params(name).train or {}
  if tr.steps and tr.batch and tr.corpus then
    passes[name] = tr.steps * tr.batch / tr.corpus
    result("pretrain." .. name .. ".passes", passes[name], "%.1f")
  end
end
end

-- %% loss curves echo=false
if trained_here then
local function steps_of(l) local x = {} for i = 1, #l do x[i] = i end return x end
figure {
  label = "fig-pretrain-loss",
  caption = "Contrastive loss during pre-training, per step (smoothed; raw values faint). "
    .. "The dashed line is ln B, the loss of a model that cannot tell the captions apart.",
  kind = "curve", x_label = "step", y_label = "contrastive loss", smooth = 0.8,
  series = {
    { name = "ViT", x = steps_of(vit_info.loss or {}), y = vit_info.loss or {} },
    { name = "ResNet", x = steps_of(rn_info.loss or {}), y = rn_info.loss or {} },
  },
  hlines = { { y = math.log(profile.towers.vit.train.batch), label = "ln B" } },
}
end

-- %% [markdown]
-- {{ trained_here and ([[@fig-pretrain-loss shows both runs. The ViT ends at a loss of
-- ]] .. (result("pretrain.vit.final_loss")) .. [[ and the ResNet at
-- ]] .. (result("pretrain.rn.final_loss")) .. [[, against
-- ]] .. (result("pretrain.chance_loss")) .. [[ for a model that has learnt nothing.
-- The ViT took ]] .. (result("pretrain.vit.wall_s")) .. [[ s at
-- ]] .. (result("pretrain.vit.images_per_s")) .. [[ pictures/s, the ResNet
-- ]] .. (result("pretrain.rn.wall_s")) .. [[ s at ]] .. (result("pretrain.rn.images_per_s")) .. [[
-- pictures/s (measured on this machine while other work shared its cores;
-- @sec-appendix lists the machine).
--
-- The sizes come from timing a few candidates for a few steps each
-- (@tbl-bench): the budget is about four minutes of pre-training per tower
-- on two cores]] .. (passes.vit and passes.rn and string.format(", which at the throughput measured buys %s passes over the corpus for the ViT and %s for the ResNet", result("pretrain.vit.passes"), result("pretrain.rn.passes")) or "") .. [[. Wider towers or finer
-- patches run several times slower, and would have had to train on a
-- fraction of the pictures.
--
-- The world itself was tuned to that budget. In a first version objects
-- turned through any angle (a turned square is a diamond, and at 10 pixels
-- a pentagon, a hexagon and a circle blur together), outlines were thin and
-- stripes dark enough to cut a silhouette in pieces, and the main object
-- was barely larger than the others. Colour was learnt at once, but shape
-- stayed near chance for both towers, and a PyTorch copy of the same
-- training, as well as the same towers trained *with* the labels, did no
-- better: the pictures, not the engine or the loss, were too hard for a
-- few minutes of training. The world now tilts objects rather than turning
-- them, draws the main object clearly larger, and halves the contrast of
-- textures, stripes and outlines; every feature (four styles, four
-- backgrounds, occlusion, one to four objects) is still there.
-- `engine/NOTES.md` records the measurements behind each change. ]] .. (used and openai and string.format("Keeping the ResNet's 4×4 map costs a factor of %.1f in throughput against OpenAI's stem, which would leave a single cell at 32 px.", openai / used) or "") .. [[]]) or "" }}

-- %% candidate sizes echo=false
local bench = memo("sizes.bench", { bench = profile.bench, vocab = S.bpe():vocab_size() }, function(q)
  local rows = {}
  for _, cand in ipairs(q.bench.candidates) do
    local cfg = {}
    for k, v in pairs(cand) do if k ~= "name" then cfg[k] = v end end
    cfg.vocab_size, cfg.bpe = q.vocab, S.bpe()
    cfg.steps, cfg.batch, cfg.lr, cfg.corpus = q.bench.steps, q.bench.batch, 1e-3, 4096
    local m, log = cb.pretrain(cfg)
    local c = m:config()
    local side = c.vision_vit == 1 and c.image_resolution // c.vision_patch_size
                 or c.image_resolution // (8 * c.resnet_stem_stride * c.resnet_stem_pool)
    rows[#rows + 1] = { cand.name, m:nparams(), side, log.images_per_s }
  end
  return rows
end)
local used, openai
for _, r in ipairs(bench) do
  if r[1]:find("stem 1/1 %(used%)") then used = r[4] end
  if r[1]:find("OpenAI stem") then openai = r[4] end
end
if used and openai then result("bench.rn_stem_slowdown", openai / used, "%.1f") end
if #bench > 0 then
  tabular {
    label = "tbl-bench",
    caption = "Candidate image towers (each with the text tower of @tbl-towers), timed for " .. profile.bench.steps
      .. " pre-training steps of " .. profile.bench.batch .. " pairs on this machine: parameters, side of the map before "
      .. "the pool (ViT: of the token grid) and throughput.",
    columns = { "candidate", "parameters", "pre-pool map", "pictures/s" },
    rows = bench, formats = { nil, "%d", "%d", "%.0f" },
  }
end

-- %% [markdown]
--
-- ## {{ trained_here and "What training changed" or "The loss on the checkpoint's towers" }}
--
-- Before training, every picture is about as similar to every caption;
-- after it, the diagonal — each picture with its own caption — should stand
-- out. @fig-similarity compares a batch of test pictures with
-- {{ trained_here and "their captions before and after pre-training" or "prompts made from their class names (\"a photo of a {class}.\") at initialisation and with the checkpoint's weights" }},
-- and computes the loss of @eq-clip-loss on that batch with the function above.

-- %% similarity echo=false
local B = 8
local cfg = vit:config()
local images, normalized, batch = S.images("cls_test", { n = B, size = cfg.image_resolution, captions = true })
-- the pictures' own captions where the data has them, else prompts made
-- from their class names (as zero-shot makes them, @sec-zeroshot)
local texts = batch.captions
if not texts then
  local names, y = S.class_names(), batch.labels:totable()
  texts = {}
  for i = 1, B do texts[i] = S.prompt("a photo of a {class}.", names[y[i] + 1]) end
end
local tok = S.bpe():tokenize(texts, cfg.context_length, true)
local fresh = cb.clip_new(cfg, profile.seed)
local function sims(m)
  local If = m:encode_image(images, { normalized = normalized })
  local Tf = m:encode_text(tok)
  return If:normalize(2):matmul(Tf:normalize(2):transpose()), clip_loss(If, Tf, m:scale()):item()
end
local before, loss_before = sims(fresh)
local after, loss_after = sims(vit)
result("pretrain.batch_loss.before", loss_before, "%.3f")
result("pretrain.batch_loss.after", loss_after, "%.3f")
local labels = {}
for i = 1, B do labels[i] = tostring(i) end
figure {
  label = "fig-similarity",
  caption = "Cosine similarity of " .. B .. " test pictures (rows) with their captions (columns) for the ViT model, "
    .. "(a) at initialisation and (b) " .. (trained_here and "after pre-training." or "with the checkpoint's weights."),
  kind = "panels", cols = 2,
  panels = {
    { kind = "heatmap", values = before:totable(), row_labels = labels, col_labels = labels,
      x_label = "caption", y_label = "picture", colormap = "diverging", vmin = -1, vmax = 1, digits = 2 },
    { kind = "heatmap", values = after:totable(), row_labels = labels, col_labels = labels,
      x_label = "caption", y_label = "picture", colormap = "diverging", vmin = -1, vmax = 1, digits = 2 },
  },
}
local rowsm = {}
local At = after:totable()
for i = 1, B do
  local best, bj = -2, 1
  for j = 1, B do if At[i][j] > best then best, bj = At[i][j], j end end
  rowsm[#rowsm + 1] = { i, texts[i], texts[bj], best }
end
tabular {
  label = "tbl-matches",
  caption = "The same pictures: their own caption and the caption of the batch the "
    .. (trained_here and "trained" or "checkpoint's") .. " ViT model finds most similar.",
  columns = { "picture", "its caption", "best-matching caption", "cosine" },
  rows = rowsm, formats = { "%d", nil, nil, "%.2f" }, align = "lllr",
}

-- %% [markdown]
-- On this batch the loss of @eq-clip-loss falls from
-- {{ result("pretrain.batch_loss.before") }} at initialisation to
-- {{ result("pretrain.batch_loss.after") }} {{ trained_here and "after pre-training" or "with the checkpoint's weights" }},
-- against {{ string.format("%.3f", math.log(B)) }} (ln {{ B }}) for towers that cannot tell the captions apart
-- (@tbl-matches shows which caption each picture now prefers).
-- {{ batch.captions and "The captions of the shapes world are often near-duplicates of one another (\"a photo of a large red star\" and \"a large red star in the middle\"), so a caption that is not the picture's own but describes it just as well is a fair match, not an error." or "Two pictures of one class share a prompt, so a match with the other's prompt is no error." }}

-- %% [markdown]
-- ## Captions like alt-text {#sec-captions}
--
-- A label names the class and nothing else; a caption on the web was written
-- by someone with no classifier in mind. It describes what caught the
-- writer's eye (the dog, not the sofa it lies on), uses the writer's words
-- ("a pup", "a retriever", "a pet"), merges what the writer does not tell
-- apart, and is sometimes plainly wrong. That is why CLIP's zero-shot
-- accuracy trails a linear probe on its own features by 15-18 points on
-- CIFAR-100 [@radford2021]: the class names of the prompts meet the pictures
-- only through such text, while the probe learns from labels.

-- %% caption world echo=false
-- The factors of engine/en_shapes.h (en_caption_noise), each shown on one
-- test picture with that factor alone at rate 1, and the rate this
-- profile's world uses (profile.data.caption_noise).
local noise = trained_here and profile.data.caption_noise or nil
local FACTORS = {
  { "background", "describes only the background" },
  { "other", "describes another object of the picture, never the main one" },
  { "hypernym", "a colour or shape word widened (\"bright\", \"polygon\", \"round shape\")" },
  { "synonym", "another name for the colour or shape (\"crimson\", \"ring\" for an outlined circle)" },
  { "merge", "a colour named by a neighbouring hue (orange or pink for red)" },
  { "wrong", "a random other colour or shape" },
}
local world_rows = {}
-- the evaluation's names (data.renamed_names; en_shapes_eval_name): k
-- colours and k shapes by a synonym, shown on the orange square
local renamed = profile.data.renamed_names or 0
local names_prose = ""
if trained_here then
  local canon = cb.shapes.class_names()
  local spare = cb.shapes.class_names { renamed = math.max(renamed, 1) }
  names_prose = (renamed > 0
      and string.format("The zero-shot prompts name the classes as this world's evaluation does: %d of its eight colours and "
        .. "%d of its eight shapes go by a synonym (\"a photo of an %s\" for the %s), a word the captions use only "
        .. "when the synonym factor picks it, so %d of the %d classes are named in words the captions rarely use",
        renamed, renamed, spare[10], canon[10], #canon - (8 - renamed) ^ 2, #canon)
      or string.format("The zero-shot prompts name every class in the captions' own words (\"a photo of an %s\"); "
        .. "a world may instead name some colours and shapes by synonyms the captions rarely use (\"%s\")",
        canon[10], spare[10]))
    .. ", as CIFAR's `aquarium_fish` is not how people caption a photo."
end
if trained_here then
  local pick = 3      -- a test picture with more than one object, so that "other" has one to describe
  local names = S.class_names()
  local function caption(nz)
    return cb.shapes.batch { split = "cls_test", start = pick, n = 1, size = 8, seed = profile.seed, captions = true,
                             caption_noise = nz }
  end
  local exact = caption(nil)
  local rows = {}
  for i, f in ipairs(FACTORS) do
    rows[i] = { f[1], f[2], noise and noise[f[1]] or 0, caption({ [f[1]] = 1 }).captions[1] }
  end
  tabular {
    label = "tbl-caption-world",
    caption = "How the shapes world's captions fall short of the class: each factor is a rate (this world's in the third "
      .. "column). The last column is the caption of test picture " .. pick .. " (class \""
      .. names[exact.labels[1] + 1] .. "\"; its exact caption \"" .. exact.captions[1]
      .. "\") with that factor alone at rate 1.",
    columns = { "factor", "what the caption does", "rate", "at rate 1" },
    rows = rows, formats = { nil, nil, "%.2f", nil }, align = "llrl",
  }
end

-- %% [markdown]
-- {{ trained_here and [[If every caption named the class exactly, as the shapes world's grammar does
-- on its own, the text tower would be as good as the labels and zero-shot as good as the probe (an earlier version of
-- this study measured just that). So the world models six ways captions fall short (@tbl-caption-world), each a
-- rate of the profile, drawn from the seed; at rate 0 they leave the grammar's captions as they were, byte for byte.
-- ]] .. names_prose
-- or "The towers of this run were pre-trained by OpenAI on web alt-text; the mini profile's shapes world models how such captions fall short of a label, and its report measures what each way costs zero-shot and the probe." }}

-- %% factor sweep echo=false
-- What each factor costs, measured by tests/world/sweep.lua into the
-- committed chapters/world.json (one pre-training per point and tower: this
-- chapter cannot afford a dozen), and what this run's world gives.
local sweep
do
  local f = io.open(here .. "/world.json", "rb")
  if f then
    local ok, d = pcall(cb.json_decode, f:read("a"))
    f:close()
    if ok and type(d) == "table" and d.profile == profile.name and type(d.rows) == "table" then sweep = d end
  end
end
local sweep_rows = {}
if trained_here and sweep then
  for _, r in ipairs(sweep.rows) do
    local label = r.factor
    if r.name:find("^merge%-") and r.rate > 0 then label = string.format("merge %g, synonym %.2f", r.rate, r.noise.synonym or 0)
    elseif r.rate and r.rate > 0 then label = string.format("%s %.2f", r.factor, r.rate)
    elseif r.rate == 0 then label = "exact captions" end
    sweep_rows[#sweep_rows + 1] = { label, r.steps.vit .. " / " .. r.steps.rn,
      r.vit.zeroshot, r.vit.probe, r.vit.probe - r.vit.zeroshot, r.rn.zeroshot, r.rn.probe, r.rn.probe - r.rn.zeroshot }
  end
  tabular {
    label = "tbl-caption-sweep",
    caption = "Top-1 test accuracy (%) of zero-shot (\"a photo of a {class}\") and of the linear probe (C = "
      .. profile.probe.C .. ", all training pictures) after pre-training on captions with one factor at the given "
      .. "rate, or with the rates of a whole world, after the pre-training steps (ViT / ResNet) of the second column: "
      .. sweep.short_steps.vit .. " / " .. sweep.short_steps.rn .. " is the short schedule, " .. sweep.full_steps.vit
      .. " / " .. sweep.full_steps.rn .. " this profile's. Measured by `" .. sweep.script .. "` on " .. sweep.machine
      .. "; read from the committed file `chapters/world.json`.",
    columns = { "captions", "steps", "ViT zero-shot", "ViT probe", "gap", "ResNet zero-shot", "ResNet probe", "gap" },
    rows = sweep_rows, formats = { nil, nil, "%.1f", "%.1f", "%+.1f", "%.1f", "%.1f", "%+.1f" }, align = "llrrrrrr",
  }
end
-- the evaluation names on the full-schedule towers: zero-shot with k
-- colours and k shapes renamed, beside the probe (which names nothing)
local names_rows, names_ks = {}, nil
if trained_here and sweep then
  for _, r in ipairs(sweep.rows) do
    if r.vit.renamed and #r.vit.renamed > 0 and r.steps.vit == sweep.full_steps.vit and r.rate > 0 then
      local nkeys = 0
      for _ in pairs(r.noise) do nkeys = nkeys + 1 end
      local label = nkeys == 0 and "exact captions"
        or nkeys == 1 and r.noise.synonym and string.format("synonym %.2f", r.noise.synonym)
        or r.name:find("^merge%-") and string.format("merge %g, synonym %.2f", r.rate, r.noise.synonym or 0) or r.factor
      for _, tw in ipairs { "vit", "rn" } do
        local row = { tw == "vit" and label or "", (tw == "vit" and "ViT, " or "ResNet, ") .. r.steps[tw] .. " steps",
                      r[tw].probe }
        names_ks = {}
        for _, e in ipairs(r[tw].renamed) do
          row[#row + 1] = e.zeroshot
          names_ks[#names_ks + 1] = "zero-shot, " .. e.k .. " renamed"
        end
        names_rows[#names_rows + 1] = row
      end
    end
  end
end
if #names_rows > 0 then
  -- (formats indexed by column: a leading nil would make # of the table 0)
  local columns, formats, align = { "captions", "tower", "probe" }, { [3] = "%.1f" }, "llr"
  for _, c in ipairs(names_ks) do columns[#columns + 1] = c; formats[#columns] = "%.1f"; align = align .. "r" end
  tabular {
    label = "tbl-caption-names",
    caption = "Top-1 test accuracy (%) of the linear probe and of zero-shot (\"a photo of a {class}\") when k of the eight "
      .. "colours and k of the eight shapes are named in the prompts by a synonym (k = 0: the captions' usual words), "
      .. "after pre-training on captions with the given rates. One pre-training per row pair; "
      .. "measured by `" .. sweep.script .. "` on " .. sweep.machine .. "; read from `chapters/world.json`.",
    columns = columns, rows = names_rows, formats = formats, align = align,
  }
end
-- this run's world, measured as chapters 3 and 4 measure it (the same memoised artifacts)
local gap_ok, zs_ok = true, true
local here_acc = {}
if trained_here then
  local names = S.class_names()
  local prompts = {}
  for i, n in ipairs(names) do prompts[i] = S.prompt("a photo of a {class}", n) end
  local y = S.targets("cls_test", "labels"):totable()
  for _, tw in ipairs { "vit", "rn" } do
    local W = S.text_features(tw, prompts)
    local pred = S.features(tw, "cls_test", "pooled"):normalize(2):matmul(W:transpose()):argmax(2):totable()
    local right = 0
    for i = 1, #y do if pred[i] == y[i] then right = right + 1 end end
    local probe = S.linear_probe(tw, "pooled", profile.probe.C, "labels", nil, { fit = "cls_trainval", test = "cls_test" })
    here_acc[tw] = { zs = 100 * right / #y, probe = 100 * probe.test }
    result("world." .. tw .. ".gap", here_acc[tw].probe - here_acc[tw].zs, "%.1f")
    -- the targets of issue 17: the probe 8 points above zero-shot, zero-shot above 45 %
    gap_ok = gap_ok and here_acc[tw].probe - here_acc[tw].zs >= 8
    zs_ok = zs_ok and here_acc[tw].zs > 45
  end
  result("world.targets_met", (gap_ok and zs_ok) and 1 or 0)
end
local function f1(v) return string.format("%.1f", v) end
-- full-schedule rows of other worlds than this one: the choices tried before it
local function same_noise(a, b)
  for _, f in ipairs(FACTORS) do if ((a or {})[f[1]] or 0) ~= ((b or {})[f[1]] or 0) then return false end end
  return true
end
local tried = {}
if sweep then
  for _, r in ipairs(sweep.rows) do
    if r.name:find("^chosen") and r.steps.vit == sweep.full_steps.vit
       and not same_noise(r.noise, noise) then
      local low = r.vit.zeroshot <= 45 and r.rn.zeroshot <= 45
      tried[#tried + 1] = string.format("An earlier choice of rates (%s; @tbl-caption-sweep) gave, after the full "
        .. "schedule, zero-shot %s and %s %% and probes of %s and %s %% (ViT, ResNet)%s", r.factor:gsub("^world: ", ""),
        f1(r.vit.zeroshot), f1(r.rn.zeroshot), f1(r.vit.probe), f1(r.rn.probe),
        low and (": both towers below the 45 % target, the probes too. Shape is the slow part of this world to learn "
          .. "(`engine/NOTES.md`), and captions that name it less often delay it past the budget, so this world's rates "
          .. "are milder. ") or ". ")
    end
  end
end
-- what the full-schedule rows of single kinds say: synonyms (and the
-- renamed prompts) against merged hues
local full_text = ""
if trained_here and sweep then
  local syn, mrg = {}, {}
  for _, r in ipairs(sweep.rows) do
    if r.steps.vit == sweep.full_steps.vit then
      if r.name:find("^synonym%-") then syn[#syn + 1] = r elseif r.name:find("^merge%-") and r.rate > 0 then mrg[#mrg + 1] = r end
    end
  end
  table.sort(syn, function(a, b) return a.rate < b.rate end)
  table.sort(mrg, function(a, b) return a.rate < b.rate end)
  if #syn > 0 then
    local parts, worst = {}, 0
    for _, r in ipairs(syn) do
      parts[#parts + 1] = string.format("at %s %% of the words zero-shot %s / %s %% and probes %s / %s %%",
        f1(100 * r.rate), f1(r.vit.zeroshot), f1(r.rn.zeroshot), f1(r.vit.probe), f1(r.rn.probe))
      for _, tw in ipairs { "vit", "rn" } do
        for _, e in ipairs(r[tw].renamed or {}) do worst = math.max(worst, r[tw].zeroshot - e.zeroshot) end
      end
    end
    full_text = full_text .. "On the full schedule, with synonyms alone the towers stay strong (" .. table.concat(parts, "; ")
      .. "; ViT / ResNet), and prompts that name colours and shapes by their synonyms (@tbl-caption-names) lose at most "
      .. f1(worst) .. " points: a word the captions use for one class's pictures only identifies that class however "
      .. "rarely it occurs, and the text tower learns it from " .. string.format("%g", 100 * syn[1].rate / 2)
      .. " % of the mentions (each of a word's two synonyms gets half the rate). Rare names alone do not open the gap. "
  end
  if #mrg > 0 then
    local parts = {}
    for _, r in ipairs(mrg) do
      parts[#parts + 1] = string.format("merge %g with %d ResNet steps: zero-shot %s / %s %%, probes %s / %s %%", r.rate,
        r.steps.rn, f1(r.vit.zeroshot), f1(r.rn.zeroshot), f1(r.vit.probe), f1(r.rn.probe))
    end
    full_text = full_text .. "Merged hues do: with `merge` at m a colour word names its own hue with probability 1 − m "
      .. "and each neighbour on the hue circle with m / 2, so a colour word no longer belongs to one class, the text "
      .. "tower must learn how much more often a hue is called by its own name than by a neighbour's, and zero-shot "
      .. "picks the likeliest name where the probe reads the label (" .. table.concat(parts, "; ") .. "; with synonyms "
      .. "at 10 %). The ViT's probe holds while its zero-shot falls; the ResNet, on its shorter schedule, stops "
      .. "learning past merge 0.5 unless it gets more steps: its loss takes off about 200 steps later than at 0.5. "
      .. "Renamed prompts now raise zero-shot instead (@tbl-caption-names): an exclusive synonym beats a common word "
      .. "that several hues share, which is why prompt wording matters. "
  end
end
local sweep_text = ""
if trained_here then
  sweep_text = (sweep and "@tbl-caption-sweep measures what each factor costs, one at a time, on a schedule cut short so that "
      .. "a point costs minutes. Cut that short, the towers are still before the point where shape is learnt (compare "
      .. "the row without noise with this run's accuracies below), so the short rows rank the factors only roughly: "
      .. "every factor slows learning, and those that widen the gap most are the captions about another object and "
      .. "the synonyms. " .. full_text .. table.concat(tried) or
      "What each factor costs was not measured for the " .. profile.name .. " profile (`chapters/world.json` holds "
      .. "another profile or is missing: `tests/world/sweep.lua` writes it). ")
    .. "With this world's rates and the full schedule, this run's towers reach " .. f1(here_acc.vit.zs) .. " % zero-shot against "
    .. f1(here_acc.vit.probe) .. " % for the probe (ViT: a gap of " .. f1(here_acc.vit.probe - here_acc.vit.zs)
    .. " points) and " .. f1(here_acc.rn.zs) .. " % against " .. f1(here_acc.rn.probe) .. " % (ResNet: "
    .. f1(here_acc.rn.probe - here_acc.rn.zs) .. " points), where guessing gives " .. f1(100 / #S.class_names()) .. " %. "
    .. ((gap_ok and zs_ok) and "Both towers thus meet the targets set for the mini world: the probe at least 8 points above "
        .. "zero-shot, as in the real study (15-18 points), while zero-shot stays far above chance (above 45 %)."
      or ("The targets set for the mini world (the probe at least 8 points above zero-shot, zero-shot above 45 %) are "
        .. "not met in this run" .. (zs_ok and ": the gap is too small." or gap_ok and ": zero-shot fell too far."
          or ": the gap is too small and zero-shot fell too far.")))
end

-- %% [markdown]
-- {{ sweep_text }}
