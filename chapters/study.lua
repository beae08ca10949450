-- study: what several chapters share — the tokenizer, the two CLIP
-- towers, the data splits and the frozen features — each behind memo(), so
-- the chapter that first asks computes it and every other chapter (and every
-- later run) reads it from build/cache/. Not a chapter (no NN- prefix).
--
--   local S = require("chapters.study").new{ memo = memo, profile = profile, cb = cb }
--   S.bpe()                        the tokenizer
--   S.model(tower)                 a loaded CLIP model ("vit" | "rn"), and its
--                                  pre-training record {loss=, wall_s=, ...}
--   S.data(split, opts)            {images, labels, counts, cells [, semantic]}
--   S.features(tower, split, kind) f32 (N, D): "pooled" (the CLIP embedding)
--                                  or "prepool" (what the pool sees, flattened);
--                                  "map": the ResNet's map unflattened (N,C,h,w)
--   S.labels(split)                i64 (N) class labels of a split
--   S.text_features(tower, texts)  unit-norm f32 (#texts, E)
--   S.class_names()
--
-- The profile decides sizes and sources; nothing here branches on its name.
local M = {}

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function read_all(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local cb = require "clipbook"
local rt = require "clipbook.runtime"

-- files the engine must read from disk (the tokenizer, pre-training's
-- resumable state) live in a scratch folder beside the cache
local SCRATCH = (os.getenv("CLIPBOOK_CACHE") or "build/cache") .. "/files"
M.scratch = SCRATCH

-- A temporary file is named PATH.tmp.PID.N, like the engine's
-- (engine/base/en_tmpfile.h): when a run is killed before the rename, the memo
-- store recognises the orphan by its dead PID and removes it.
local tmp_count = 0
local function tmp_name(path)
  tmp_count = tmp_count + 1
  return path .. ".tmp." .. require("clipbook.runtime").pid() .. "." .. tmp_count
end

local function write_all(path, s)
  assert(rt.mkdirs(SCRATCH))
  assert(rt.write_atomic(path, s))
end

M.json_decode = cb.json_decode

-- A pre-training on_step that prints a line to stderr every 10 s and at the end.
function M.progress(label)
  local last = -1e9
  return function(g)
    if g.step == g.steps or g.elapsed_s - last >= 10 then
      last = g.elapsed_s
      io.stderr:write(string.format("    %s step %d/%d  loss %.3f  scale %.1f  %.0f img/s  ETA %.0fs\n", label,
        g.step, g.steps, g.loss, g.logit_scale, g.images_per_s, g.eta_s))
    end
  end
end

-- The other chapters' fragments (the conclusion and the appendix summarise
-- them; the Makefile runs those two last).
function M.fragments(dir)
  dir = dir or os.getenv("CLIPBOOK_DOC_DIR") or "build/doc"
  local list = {}
  local p = io.popen('ls "' .. dir .. '"/[0-9]*.json 2>/dev/null')
  for path in p:lines() do
    local f = io.open(path, "rb")
    if f then
      local doc = cb.json_decode(f:read("a"))
      f:close()
      if type(doc) == "table" then list[#list + 1] = doc end
    end
  end
  p:close()
  return list
end

-- The memo store keys each artifact here on the code of its function and
-- of the helpers that function reaches (as Lua tokens: a comment edit
-- reruns nothing), and on the fields they read (lua/memokey.lua): a code
-- edit reruns what reaches it. Free names resolve in this file's own
-- environment, so the key does not depend on the chapter that asks.
function M.new(nb)
  local profile, cb = nb.profile, nb.cb
  local memo = nb.memo
  local S = { profile = profile }
  local data = profile.data
  local pname = profile.name or "profile"

  local function need(path, what)
    if not file_exists(path) then
      error(string.format("the %s profile needs %s at '%s', which is missing: run `make data` "
        .. "(or point the profile at your copy in chapters/profiles.lua)", pname, what, path), 0)
    end
  end

  -- ---- tokenizer ------------------------------------------------------------
  local bpe_cache
  function S.bpe()
    if bpe_cache then return bpe_cache end
    local p = profile.bpe
    if p.file then
      need(p.file, "CLIP's BPE vocabulary")
      bpe_cache = assert(cb.bpe(p.file))
      return bpe_cache
    end
    -- learnt from captions of the pre-training corpus
    local merges = memo("bpe", { texts = p.texts, merges = p.merges, seed = profile.seed }, function(q)
      local caps = {}
      local n = q.texts
      for v = 0, 2 do -- three wordings of each picture, as pre-training sees them
        local b = cb.shapes.batch { split = "pretrain", n = n // 3, size = 8, seed = q.seed,
                                    captions = true, variant = v }
        for _, c in ipairs(b.captions) do caps[#caps + 1] = c end
      end
      local path = tmp_name(SCRATCH .. "/bpe-train-" .. pname .. ".txt")
      assert(rt.mkdirs(SCRATCH))
      assert(cb.bpe_train(caps, q.merges, path))
      local s = read_all(path)
      os.remove(path)
      return s
    end)
    local path = SCRATCH .. "/bpe-" .. pname .. ".txt"
    write_all(path, merges)
    bpe_cache = assert(cb.bpe(path))
    return bpe_cache
  end

  -- ---- the towers -----------------------------------------------------------
  local function model_params(tower)
    local t = profile.towers[tower]
    if not t then error("the profile has no tower '" .. tostring(tower) .. "'", 2) end
    return t
  end
  S.model_params = model_params

  local models = {}
  -- The pre-trained model goes into the memo store whole (its checkpoint
  -- bytes, packed in memory), so build/cache/ alone holds what a rerun needs.
  function S.model(tower)
    if models[tower] then return models[tower].m, models[tower].info end
    local t = model_params(tower)
    local m, info
    if t.checkpoint then
      need(t.checkpoint, "the " .. tower .. " checkpoint")
      m = assert(cb.clip_load(t.checkpoint))
      info = { checkpoint = t.checkpoint }
    else
      local bpe = S.bpe()
      local rec = memo("pretrain." .. tower, { tower = t, bpe = profile.bpe, seed = profile.seed, vocab = bpe:vocab_size() },
        function(q)
          local cfg = {}
          for k, v in pairs(q.tower) do if k ~= "train" then cfg[k] = v end end
          local tr = q.tower.train
          assert(rt.mkdirs(SCRATCH))
          cfg.vocab_size, cfg.bpe = q.vocab, bpe
          cfg.steps, cfg.batch, cfg.lr, cfg.seed, cfg.corpus = tr.steps, tr.batch, tr.lr, q.seed, tr.corpus
          cfg.state_path = SCRATCH .. "/pretrain-" .. pname .. "-" .. tower .. ".state"
          cfg.checkpoint_every = 25
          cfg.on_step = M.progress("pretrain " .. tower)
          local model, log = cb.pretrain(cfg)
          return { model = model, loss = log.loss, wall_s = log.wall_s, images_per_s = log.images_per_s,
                   resumed_from = log.resumed_from, nparams = model:nparams() }
        end)
      m = rec.model
      info = { loss = rec.loss, wall_s = rec.wall_s, images_per_s = rec.images_per_s,
               resumed_from = rec.resumed_from, nparams = rec.nparams }
    end
    models[tower] = { m = m, info = info }
    return m, info
  end

  -- ---- data -----------------------------------------------------------------
  local SPLIT_N = { cls_train = data.cls_train, cls_val = data.cls_val, cls_test = data.cls_test,
                    seg_train = data.seg_train, seg_val = data.seg_val, seg_test = data.seg_test }
  S.split_size = SPLIT_N

  -- opts: size (pixels), start, n, masks
  function S.data(split, opts)
    opts = opts or {}
    local n = opts.n or SPLIT_N[split]
    if not n then error("unknown split '" .. tostring(split) .. "'", 2) end
    if data.source == "shapes" then
      return cb.shapes.batch { split = split, start = opts.start or 1, n = n, size = opts.size or 32,
                               seed = profile.seed, masks = opts.masks, captions = opts.captions }
    end
    -- CIFAR-100: train for the training splits; validation carved from the
    -- end of train; test for test
    need(data.dir, "CIFAR-100 (binary version)")
    if opts.masks or split:find("^seg_") then
      error(string.format("the %s profile has no segmentation set with masks (data.seg_dir); the "
        .. "VQ-VAE and segmentation chapters need one", pname), 0)
    end
    local file = split == "cls_test" and "/test.bin" or "/train.bin"
    local start = split == "cls_val" and (50000 - n + 1) or 1
    local b = assert(cb.cifar100(data.dir .. file, { start = start, n = n }))
    return { images = b.images, labels = b.fine }
  end

  function S.class_names()
    if data.source == "shapes" then return cb.shapes.class_names() end
    need(data.dir, "CIFAR-100 (binary version)")
    return assert(cb.cifar_names(data.dir .. "/fine_label_names.txt", 100))
  end

  function S.labels(split)
    return memo("labels." .. split, { data = data, seed = profile.seed, split = split }, function(q)
      local b = S.data(q.split, { size = 8 })
      return { labels = b.labels, counts = b.counts, cells = b.cells }
    end)
  end

  -- Frozen features of a whole split: "pooled" is the CLIP image embedding
  -- (after the attention pool / class token and the projection);
  -- "prepool" is what the pool sees, flattened per picture.
  function S.features(tower, split, kind)
    kind = kind or "pooled"
    local t = model_params(tower)
    return memo("features." .. tower .. "." .. split .. "." .. kind,
      { tower = t, bpe = profile.bpe, data = data, seed = profile.seed, split = split, kind = kind },
      function(q)
        local m = S.model(tower)
        local res = m:config().image_resolution
        local n = SPLIT_N[q.split]
        local encode = q.kind == "pooled" and m.encode_image or m.prepool
        local F
        local chunk = 1024   -- pictures made at a time; the encoder takes 256 of them per pass
        for a = 1, n, chunk do
          local b = S.data(q.split, { start = a, n = math.min(chunk, n - a + 1), size = res })
          local x, normalized = b.images, false
          if data.source ~= "shapes" then
            -- CIFAR's 32 px pictures through CLIP's own preprocessing
            -- (bicubic resize to the model's input, centre crop, mean/std)
            local pics = {}
            for i = 1, x:shape()[1] do
              pics[i] = cb.clip_preprocess(x[i]:transpose(1, 2):transpose(2, 3):contiguous(), res)
            end
            x, normalized = cb.stack(pics, 1), true
          end
          F = encode(m, x, { normalized = normalized, into = F, rows = n, at = a })
        end
        -- "map" keeps the ResNet's (N, C, h, w); "prepool" is flat per picture
        if q.kind == "prepool" then F = F:reshape(n, -1) end
        return F
      end)
  end

  function S.text_features(tower, texts)
    local t = model_params(tower)
    return memo("text." .. tower, { tower = t, bpe = profile.bpe, seed = profile.seed, texts = texts },
      function(q)
        local m = S.model(tower)
        local tok = S.bpe():tokenize(q.texts, m:config().context_length, true)
        return m:encode_text(tok):normalize(2)
      end)
  end

  -- Targets of a split as 0-based classes: "labels" (colour x shape of the
  -- main object), "counts" (objects in the picture, 1..4 -> 0..3) or
  -- "cells" (the 3x3 cell of the main object's centre).
  function S.targets(split, target)
    local t = S.labels(split)[target or "labels"]
    if target == "counts" then t = (t:float() - 1):long() end
    return t
  end

  -- Multinomial logistic regression on frozen features (scikit-learn's
  -- semantics): fit on cls_train, accuracy on cls_val and cls_test.
  function S.linear_probe(tower, kind, C, target, max_iter)
    target = target or "labels"
    return memo("probe." .. tower .. "." .. kind .. "." .. target .. ".C" .. tostring(C),
      { tower = model_params(tower), data = data, seed = profile.seed, kind = kind, C = C, target = target,
        max_iter = max_iter or profile.probe.max_iter },
      function(q)
        local Xtr = S.features(tower, "cls_train", q.kind)
        local ytr = S.targets("cls_train", q.target)
        local fit = assert(cb.logreg_fit(Xtr, ytr, { C = q.C, max_iter = q.max_iter }))
        local acc = {}
        for _, split in ipairs { "cls_train", "cls_val", "cls_test" } do
          acc[split] = fit:score(S.features(tower, split, q.kind), S.targets(split, q.target))
        end
        local info = fit:info()
        return { train = acc.cls_train, val = acc.cls_val, test = acc.cls_test, n_iter = info.n_iter,
                 status = info.status, dim = Xtr:shape()[2] }
      end)
  end

  return S
end

return M
