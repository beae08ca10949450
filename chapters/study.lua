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

-- files the engine must read from disk (the tokenizer, checkpoints) are
-- written from the memo store into a scratch folder beside the cache
local SCRATCH = (os.getenv("CLIPBOOK_CACHE") or "build/cache") .. "/files"
M.scratch = SCRATCH

-- A temporary file is named PATH.tmp.PID.N, like the engine's
-- (engine/en_tmpfile.h): when a run is killed before the rename, the memo
-- store recognises the orphan by its dead PID and removes it.
local tmp_count = 0
local function tmp_name(path)
  tmp_count = tmp_count + 1
  return path .. ".tmp." .. require("clipbook.runtime").pid() .. "." .. tmp_count
end

local function write_all(path, s)
  os.execute('mkdir -p "' .. SCRATCH .. '"')
  local tmp = tmp_name(path)
  local f = assert(io.open(tmp, "wb"))
  f:write(s)
  f:close()
  assert(os.rename(tmp, path))
end

-- A small JSON reader, for the chapters that summarise the others'
-- fragments (build/doc/*.json): objects, arrays, strings, numbers, true,
-- false, null (as nil).
local function json_decode(text)
  local pos = 1
  local function ws() pos = text:find("[^ \t\r\n]", pos) or #text + 1 end
  local value
  local ESC = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
  local function str()
    local out = {}
    pos = pos + 1
    while true do
      local a, b, chunk, c = text:find('^([^"\\]*)(["\\])', pos)
      if not a then error("json: unterminated string") end
      out[#out + 1] = chunk
      pos = b + 1
      if c == '"' then break end
      local e = text:sub(pos, pos)
      if e == "u" then
        local cp = tonumber(text:sub(pos + 1, pos + 4), 16)
        out[#out + 1] = utf8.char(cp)
        pos = pos + 5
      else
        out[#out + 1] = ESC[e] or e
        pos = pos + 1
      end
    end
    return table.concat(out)
  end
  function value()
    ws()
    local c = text:sub(pos, pos)
    if c == "{" then
      local t = {}
      pos = pos + 1
      ws()
      if text:sub(pos, pos) == "}" then pos = pos + 1 return t end
      while true do
        ws()
        local k = str()
        ws()
        pos = pos + 1 -- ':'
        t[k] = value()
        ws()
        local d = text:sub(pos, pos)
        pos = pos + 1
        if d == "}" then return t end
      end
    elseif c == "[" then
      local t = {}
      pos = pos + 1
      ws()
      if text:sub(pos, pos) == "]" then pos = pos + 1 return t end
      while true do
        t[#t + 1] = value()
        ws()
        local d = text:sub(pos, pos)
        pos = pos + 1
        if d == "]" then return t end
      end
    elseif c == '"' then
      return str()
    elseif text:find("^true", pos) then pos = pos + 4 return true
    elseif text:find("^false", pos) then pos = pos + 5 return false
    elseif text:find("^null", pos) then pos = pos + 4 return nil
    end
    local a, b = text:find("^-?[%d.eE+-]+", pos)
    if not a then error("json: unexpected '" .. c .. "' at " .. pos) end
    pos = b + 1
    return tonumber(text:sub(a, b))
  end
  return value()
end
M.json_decode = json_decode

-- The other chapters' fragments (the conclusion and the appendix summarise
-- them; the Makefile runs those two last).
function M.fragments(dir)
  dir = dir or os.getenv("CLIPBOOK_DOC_DIR") or "build/doc"
  local list = {}
  local p = io.popen('ls "' .. dir .. '"/[0-9]*.json 2>/dev/null')
  for path in p:lines() do
    local f = io.open(path, "rb")
    if f then
      local ok, doc = pcall(json_decode, f:read("a"))
      f:close()
      if ok and type(doc) == "table" then list[#list + 1] = doc end
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
      os.execute('mkdir -p "' .. SCRATCH .. '"')
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
  -- The pre-trained weights are kept in the memo store as the checkpoint's
  -- bytes, so build/cache/ alone holds everything a rerun needs.
  function S.model(tower)
    if models[tower] then return models[tower].m, models[tower].info end
    local t = model_params(tower)
    local m, info
    if t.checkpoint then
      need(t.checkpoint, "the " .. tower .. " checkpoint")
      m = assert(cb.study_clip_load(t.checkpoint))
      info = { checkpoint = t.checkpoint }
    else
      local bpe = S.bpe()
      local rec = memo("pretrain." .. tower, { tower = t, bpe = profile.bpe, seed = profile.seed, vocab = bpe:vocab_size() },
        function(q)
          local cfg = {}
          for k, v in pairs(q.tower) do if k ~= "train" then cfg[k] = v end end
          cfg.vocab_size = q.vocab
          local tr = q.tower.train
          os.execute('mkdir -p "' .. SCRATCH .. '"')
          local state = SCRATCH .. "/pretrain-" .. pname .. "-" .. tower .. ".state"
          local model, log = cb.clip_pretrain(cfg, bpe, {
            steps = tr.steps, batch = tr.batch, lr = tr.lr, seed = q.seed, corpus = tr.corpus,
            state = state, checkpoint_every = 25, label = "pretrain " .. tower })
          local path = tmp_name(SCRATCH .. "/model-" .. pname .. "-" .. tower .. ".safetensors")
          assert(model:save(path))
          local bytes = read_all(path)
          os.remove(path)
          return { bytes = bytes, loss = log.loss, wall_s = log.wall_s, images_per_s = log.images_per_s,
                   resumed_from = log.resumed_from, nparams = model:nparams() }
        end)
      local path = SCRATCH .. "/model-" .. pname .. "-" .. tower .. ".safetensors"
      write_all(path, rec.bytes)
      m = assert(cb.study_clip_load(path))
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
        local parts = {}
        local chunk = 1024
        for a = 1, n, chunk do
          local b = S.data(q.split, { start = a, n = math.min(chunk, n - a + 1), size = res })
          local x, opts = b.images, nil
          if data.source ~= "shapes" then
            -- CIFAR's 32 px pictures through CLIP's own preprocessing
            -- (bicubic resize to the model's input, centre crop, mean/std)
            local pics = {}
            for i = 1, x:shape()[1] do
              pics[i] = cb.clip_preprocess(x[i]:transpose(1, 2):transpose(2, 3):contiguous(), res)
            end
            x, opts = cb.stack(pics, 1), { normalized = true }
          end
          local f
          if q.kind == "pooled" then
            f = m:encode_image(x, opts)
          elseif q.kind == "map" then
            f = m:prepool(x, opts)               -- kept as (N, C, h, w)
          else
            f = m:prepool(x, opts)
            f = f:reshape(f:shape()[1], -1)
          end
          parts[#parts + 1] = f
        end
        return #parts == 1 and parts[1] or cb.concat(parts, 1)
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
        local fit = cb.study_logreg_fit(Xtr, ytr, { C = q.C, max_iter = q.max_iter })
        local acc = {}
        for _, split in ipairs { "cls_train", "cls_val", "cls_test" } do
          acc[split] = cb.head_accuracy(S.features(tower, split, q.kind), S.targets(split, q.target), fit.W, fit.b)
        end
        return { train = acc.cls_train, val = acc.cls_val, test = acc.cls_test, n_iter = fit.n_iter,
                 status = fit.status, dim = Xtr:shape()[2] }
      end)
  end

  return S
end

return M
