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
--   S.images(split, opts)          pictures ready for a tower of opts.size px,
--                                  and whether they are normalised already
--   S.features(tower, split, kind) f32 (N, D): "pooled" (the CLIP embedding),
--                                  "prepool" (what the pool sees, flattened),
--                                  "grid" (that, average-pooled to 3x3 cells);
--                                  "map": the ResNet's map unflattened (N,C,h,w)
--   S.labels(split)                i64 (N) class labels of a split
--   S.text_features(tower, texts)  unit-norm f32 (#texts, E)
--   S.class_names()                the names prompts are made from (the
--                                  shapes world: data.renamed_names of its
--                                  colours and shapes by a synonym)
--   S.prompt(template, name)       template's "{class}" replaced by name
--   S.class_groups()               coarser views of the classes (confusions)
--   S.pool_splits                  chapter 8's {fit=, val=, test=} splits
--   S.key(t)                       t for a memo key: its data/ paths by content
--   S.feature_sets()               every {tower, split, kind} the chapters ask for
--   S.extract(tower, split, kind)  compute (or find) a split's feature chunks;
--                                  under a shard only that shard's
--
-- Keys by content. A data file or folder (a checkpoint, the BPE file, the
-- CIFAR folder, the Pet folder) enters a memo key as "PATH sha256:HEX", PATH
-- as the profile names it (data/..., not where DATA_DIR put it: moving the
-- data reruns nothing) and HEX its content (lua/notebook/nb_filehash.h: the
-- fetch lock's hash, else hashed once and remembered by stat), so replacing
-- a checkpoint's weights reruns what read them and `clipbook cache why` names
-- the file.
--
-- Frozen features are stored in chunks of profile.features.chunk pictures
-- (2,048 by default), one memo entry each (features.TOWER.SPLIT.KIND.K), and
-- assembled on every ask: an interrupted extraction resumes at the first
-- chunk it had not stored. `clipbook run --shard I/N` (or CLIPBOOK_SHARD=I/N)
-- makes S.extract compute only the chunks K-1 = I mod N, so N processes (a
-- Slurm job array: README) share one extraction through the memo store;
-- S.features refuses to run under a shard (the next ordinary run assembles).
--
-- Splits: cls_train, cls_val, cls_test (classification; CIFAR-100 carves
-- cls_val from train.bin right after cls_train, so the two never overlap)
-- and "cls_trainval" (the two together: the original's all-50,000 fit);
-- seg_* (the Pet set when data.seg_dir is named, else the shapes world);
-- pool_* (the shapes world, whatever the profile's source: only it knows
-- counts and positions). The profile decides sizes and sources; nothing
-- here branches on its name. Paths under data/ are read from $DATA_DIR when
-- it is set, so `make report PROFILE=paper DATA_DIR=/big/disk` works.
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

-- "data/x" -> "$DATA_DIR/x" when DATA_DIR is set (the Makefile passes its own)
local function data_path(p)
  local dir = os.getenv("DATA_DIR")
  if type(p) ~= "string" or not dir or dir == "" or p:sub(1, 5) ~= "data/" then return p end
  return (dir:gsub("/+$", "")) .. p:sub(5)
end
M.data_path = data_path

-- The content of the data files a profile names, for memo keys: the
-- cache is per process and by resolved path (a run reads a file once);
-- across runs nb_filehash remembers by stat.
local content_ids = {}
local function content_id(p)
  local path = data_path(p)
  local id = content_ids[path]
  if id == nil then
    local hex = rt.file_sha256(path, os.getenv("CLIPBOOK_CACHE") or "build/cache")
    id = hex and (p .. " sha256:" .. hex) or false   -- a missing file: the path (the reader says it is missing)
    content_ids[path] = id
  end
  return id or p
end

-- a copy of t with each data/ path replaced by its content (S.key)
local function keyed(t)
  if type(t) ~= "table" then return t end
  local r = {}
  for k, v in pairs(t) do
    if type(v) == "string" and v:sub(1, 5) == "data/" then r[k] = content_id(v) else r[k] = v end
  end
  return r
end
M.key = keyed

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

-- How a measured accuracy (%) stands against a published one (%): "matches"
-- within the margin, else "above" or "below". The margin, in points: twice
-- the standard error of an accuracy p measured on n test pictures,
-- 200 sqrt(p (1 - p) / n) (what drawing another n pictures would move it),
-- or twice spread_pts (how far the result moved between compute
-- configurations, chapters/spread.lua), whichever is larger.
function M.versus(measured, published, n, spread_pts)
  local p = published / 100
  local margin = math.max(200 * math.sqrt(p * (1 - p) / n), 2 * (spread_pts or 0))
  local d = measured - published
  return { diff = d, margin = margin, verdict = math.abs(d) <= margin and "matches" or (d > 0 and "is above" or "is below") }
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
-- reruns nothing), and on the fields they read (lua/notebook/memokey.lua): a code
-- edit reruns what reaches it. Free names resolve in this file's own
-- environment, so the key does not depend on the chapter that asks.
function M.new(nb)
  local profile, cb = nb.profile, nb.cb
  local memo = nb.memo
  local S = { profile = profile }
  -- the profile's own tables: paths as the profile names them (data/...),
  -- resolved where a file is opened; memo params take them through keyed()
  local data = profile.data
  local bpe_p = profile.bpe
  local pname = profile.name or "profile"

  local function need(path, what)
    path = data_path(path)
    if not file_exists(path) then
      error(string.format("the %s profile needs %s at '%s', which is missing: run `make data` "
        .. "(or point the profile at your copy in chapters/profiles.lua)", pname, what, path), 0)
    end
  end

  -- ---- tokenizer ------------------------------------------------------------
  local bpe_cache
  function S.bpe()
    if bpe_cache then return bpe_cache end
    local p = bpe_p
    if p.file then
      need(p.file, "CLIP's BPE vocabulary")
      bpe_cache = assert(cb.bpe(data_path(p.file)))
      return bpe_cache
    end
    -- learnt from captions of the pre-training corpus
    local merges = memo("bpe", { texts = p.texts, merges = p.merges, seed = profile.seed,
                                 caption_noise = data.caption_noise }, function(q)
      local caps = {}
      local n = q.texts
      for v = 0, 2 do -- three wordings of each picture, as pre-training sees them
        local b = cb.shapes.batch { split = "pretrain", n = n // 3, size = 8, seed = q.seed,
                                    captions = true, variant = v, caption_noise = q.caption_noise }
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
  S.key = keyed

  local models = {}
  -- The pre-trained model goes into the memo store whole (its checkpoint
  -- bytes, packed in memory), so build/cache/ alone holds what a rerun needs.
  function S.model(tower)
    if models[tower] then return models[tower].m, models[tower].info end
    local t = model_params(tower)
    local m, info
    if t.checkpoint then
      need(t.checkpoint, "the " .. tower .. " checkpoint")
      m = assert(cb.clip_load(data_path(t.checkpoint)))
      info = { checkpoint = t.checkpoint }
    else
      local bpe = S.bpe()
      local rec = memo("pretrain." .. tower, { tower = keyed(t), bpe = keyed(bpe_p), seed = profile.seed, vocab = bpe:vocab_size(),
                                               caption_noise = data.caption_noise },
        function(q)
          local cfg = {}
          for k, v in pairs(q.tower) do if k ~= "train" then cfg[k] = v end end
          local tr = q.tower.train
          assert(rt.mkdirs(SCRATCH))
          cfg.vocab_size, cfg.bpe = q.vocab, bpe
          cfg.steps, cfg.batch, cfg.lr, cfg.seed, cfg.corpus = tr.steps, tr.batch, tr.lr, q.seed, tr.corpus
          cfg.caption_noise = q.caption_noise   -- how captions fall short of labels (engine/en_shapes.h)
          cfg.state_path = SCRATCH .. "/pretrain-" .. pname .. "-" .. tower .. ".state"
          cfg.checkpoint_every = 25
          cfg.on_step = M.progress("pretrain " .. tower)
          local model, log = cb.pretrain(cfg)
          -- a signal (Ctrl-C, a killed make) stops pre-training early with its
          -- state kept: an error here, so the memo store never takes that
          -- partial tower for the whole one, and the rerun resumes
          if log.interrupted then
            error(string.format("pre-training of the %s tower stopped at step %d of %d; rerun to resume from %s",
              tower, log.steps_done, tr.steps, cfg.state_path), 0)
          end
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
                    seg_train = data.seg_train, seg_val = data.seg_val, seg_test = data.seg_test,
                    pool_train = data.pool_train, pool_val = data.pool_val, pool_test = data.pool_test }
  if data.cls_train and data.cls_val then SPLIT_N.cls_trainval = data.cls_train + data.cls_val end
  S.split_size = SPLIT_N
  -- chapter 8's splits: its own shapes-world splits when the profile names
  -- them, else (a shapes profile) the classification splits themselves
  S.pool_splits = data.pool_train and { fit = "pool_train", val = "pool_val", test = "pool_test" }
                  or { fit = "cls_train", val = "cls_val", test = "cls_test" }

  -- where a split's pictures come from: "shapes" | "cifar100" | "pets"
  local function source_of(split)
    if split:find("^pool_") then return "shapes" end
    if split:find("^seg_") and data.seg_dir then return "pets" end
    return data.source
  end
  -- What a split's pictures are read from, for memo keys: its source and,
  -- for CIFAR and the Pet set, that folder's content (a Pet edit does not
  -- rerun CIFAR's features, nor the converse).
  local function split_key(split)
    if split == "cls_trainval" then split = "cls_train" end
    local src = source_of(split)
    local dir = src == "cifar100" and data.dir or src == "pets" and data.seg_dir or nil
    return { source = src, files = dir and content_id(dir) or false }
  end
  S.split_key = split_key

  -- What the run is about, for prose that must not describe the wrong data:
  -- cls / seg name the data sets; towers_loaded: OpenAI-layout checkpoints
  -- rather than towers pre-trained here; same_task: the original study's
  -- task (CIFAR-100 with checkpoints), where its figures and the CLIP
  -- paper's are comparable (chapters/published.lua).
  local loaded = profile.towers.vit.checkpoint ~= nil and profile.towers.rn.checkpoint ~= nil
  S.about = {
    cls = data.source == "cifar100" and "CIFAR-100" or "the shapes world",
    seg = source_of("seg_train") == "pets" and "the Oxford-IIIT Pet set" or "the shapes world",
    seg_is_pets = source_of("seg_train") == "pets",
    towers_loaded = loaded,
    same_task = data.source == "cifar100" and loaded,
  }
  S.versus = M.versus

  local SHAPES_OF = { pool_train = "cls_train", pool_val = "cls_val", pool_test = "cls_test" }
  local PETS_OF = { seg_train = "train", seg_val = "val", seg_test = "test" }
  local pets_set   -- opened once per run (a cache: not part of any key)

  -- opts: size (pixels), start, n, masks
  function S.data(split, opts)
    opts = opts or {}
    local n = opts.n or SPLIT_N[split]
    if not n then error("unknown split '" .. tostring(split) .. "'", 2) end
    local src = source_of(split)
    if src == "shapes" then
      return cb.shapes.batch { split = SHAPES_OF[split] or split, start = opts.start or 1, n = n, size = opts.size or 32,
                               seed = profile.seed, masks = opts.masks, captions = opts.captions,
                               caption_noise = data.caption_noise }
    end
    if src == "pets" then
      need(data.seg_dir, "the Oxford-IIIT Pet set (images/ and annotations/)")
      if not pets_set then pets_set = assert(cb.pets(data_path(data.seg_dir))) end
      local b = assert(pets_set:batch { split = PETS_OF[split], start = opts.start or 1, n = n, size = opts.size or 32 })
      return { images = b.images, semantic = b.masks, labels = b.labels }
    end
    need(data.dir, "CIFAR-100 (binary version)")
    if opts.masks or split:find("^seg_") then
      error(string.format("the %s profile has no segmentation set with masks: name one as data.seg_dir "
        .. "(the Oxford-IIIT Pet folder) in chapters/profiles.lua; the VQ-VAE and segmentation chapters need it", pname), 0)
    end
    -- CIFAR-100: train.bin holds cls_train then cls_val (the paper's 45,000 /
    -- 5,000, disjoint), test.bin cls_test
    local file, first = "/train.bin", 1
    if split == "cls_test" then file = "/test.bin"
    elseif split == "cls_val" then first = data.cls_train + 1 end
    local b = assert(cb.cifar100(data_path(data.dir) .. file, { start = first + (opts.start or 1) - 1, n = n }))
    return { images = b.images, labels = b.fine, coarse = b.coarse }
  end

  -- pictures of a split for a tower of opts.size px: CIFAR's 32 px pictures
  -- through CLIP's own preprocessing (bicubic resize to the model's input,
  -- centre crop, mean/std: normalized = true); the others are drawn or
  -- loaded at that size, in [0,1]
  function S.images(split, opts)
    local b = S.data(split, opts)
    if source_of(split) ~= "cifar100" then return b.images, false, b end
    local x, pics = b.images, {}
    for i = 1, x:shape()[1] do
      pics[i] = cb.clip_preprocess(x[i]:transpose(1, 2):transpose(2, 3):contiguous(), opts.size)
    end
    return cb.stack(pics, 1), true, b
  end

  function S.class_names()
    if data.source == "shapes" then return cb.shapes.class_names { renamed = data.renamed_names } end
    need(data.dir, "CIFAR-100 (binary version)")
    local names = assert(cb.cifar_names(data_path(data.dir) .. "/fine_label_names.txt", 100))
    -- as prompts spell them: "aquarium fish", not "aquarium_fish"
    for i = 1, #names do names[i] = names[i]:gsub("_", " ") end
    return names
  end

  -- A prompt: the shapes world's captions say "an orange circle", so its
  -- prompts do too; CIFAR-100's templates stay as OpenAI wrote them ("a
  -- photo of a apple.": their published prompts, whose accuracies the
  -- chapters compare with).
  function S.prompt(template, name)
    local p = template:gsub("{class}", (name:gsub("%%", "%%%%")))
    -- (the caption grammar's own rule: vowel() in engine/en_shapes_caption.c)
    if data.source == "shapes" then p = p:gsub("%f[%w]a ([aeiouAEIOU])", "an %1") end
    return p
  end

  -- Coarser views of the class list, for confusion matrices that stay
  -- readable: { {title=, names={...}, of=function(label0) -> group0 | nil} }.
  -- The shapes world: colour and shape (class = 8 * colour + shape);
  -- CIFAR-100: its 20 superclasses, read from the coarse labels.
  function S.class_groups()
    local names = S.class_names()
    if data.source == "shapes" then
      names = cb.shapes.class_names()   -- the groups in the captions' own words, whatever the prompts say
      local colours, shapes = {}, {}
      for i = 1, 8 do
        colours[i] = names[(i - 1) * 8 + 1]:match("^(%S+)")
        shapes[i] = names[i]:gsub("^%S+ ", "")      -- (a colour is one word; a shape may be two)
      end
      return { { title = "colour", names = colours, of = function(l) return l // 8 end },
               { title = "shape", names = shapes, of = function(l) return l % 8 end } }
    end
    local coarse = assert(cb.cifar_names(data_path(data.dir) .. "/coarse_label_names.txt", 20))
    for i = 1, #coarse do coarse[i] = coarse[i]:gsub("_", " ") end
    local sup = {}
    for _, split in ipairs { "cls_train", "cls_test" } do
      local t = S.labels(split)
      local f, c = t.labels:totable(), t.coarse:totable()
      for i = 1, #f do sup[f[i]] = c[i] end
    end
    return { { title = "superclass", names = coarse, of = function(l) return sup[l] end } }
  end

  function S.labels(split)
    if split == "cls_trainval" then
      local a, b, r = S.labels("cls_train"), S.labels("cls_val"), {}
      for k, v in pairs(a) do r[k] = cb.concat({ v:float(), b[k]:float() }, 1):long() end  -- (concat: f32 only; labels are small integers)
      return r
    end
    return memo("labels." .. split, { data = split_key(split), seed = profile.seed, split = split }, function(q)
      local b = S.data(q.split, { size = 8 })
      return { labels = b.labels, counts = b.counts, cells = b.cells, coarse = b.coarse }
    end)
  end

  -- The pre-pool features average-pooled to a GRID x GRID grid of cells,
  -- flattened per picture: a probe of position needs where things are, but
  -- RN50's full map is 100,352 numbers per picture (20 GB for 50,000), its
  -- 3x3 grid 18,432 (3x3: the cells the position target is named in).
  -- Cells as PyTorch's adaptive_avg_pool2d cuts them (cell i covers rows
  -- floor(i h / G) .. ceil((i+1) h / G) - 1), one matmul per chunk.
  local GRID = 3
  local function grid_pool(P)
    local s = P:shape()
    local n, C, h
    if #s == 4 then                       -- ResNet (n, C, h, w)
      n, C, h = s[1], s[2], s[3]
      P = P:reshape(n * C, h * s[4])
    else                                  -- ViT (n, 1 + h*h, W): class token, then the patches row by row
      n, C = s[1], s[3]
      h = math.floor(math.sqrt(s[2] - 1) + 0.5)
      P = P:slice(2, 2, s[2]):transpose(2, 3):contiguous():reshape(n * C, h * h)
    end
    local W = {}
    for p = 1, h * h do W[p] = {} for c = 1, GRID * GRID do W[p][c] = 0 end end
    for i = 0, GRID - 1 do
      local r0, r1 = (i * h) // GRID, -((-(i + 1) * h) // GRID) - 1
      for j = 0, GRID - 1 do
        local c0, c1 = (j * h) // GRID, -((-(j + 1) * h) // GRID) - 1
        local cnt = (r1 - r0 + 1) * (c1 - c0 + 1)
        for r = r0, r1 do for c = c0, c1 do W[r * h + c + 1][i * GRID + j + 1] = 1 / cnt end end
      end
    end
    return P:matmul(cb.tensor(W)):reshape(n, C * GRID * GRID)
  end
  S.grid_pool = grid_pool

  -- Frozen features of a whole split: "pooled" is the CLIP image embedding
  -- (after the attention pool / class token and the projection);
  -- "prepool" is what the pool sees, flattened per picture; "grid" that,
  -- pooled to 3x3 cells (grid_pool, batch by batch: the full map is never
  -- held). Stored in chunks of CHUNK pictures (see the top of this file).
  local CHUNK = math.tointeger(profile.features and profile.features.chunk) or 2048
  local function feature_chunk(tower, split, kind, k, first, n)
    return memo(string.format("features.%s.%s.%s.%d", tower, split, kind, k),
      { tower = keyed(model_params(tower)), bpe = keyed(bpe_p), data = split_key(split), seed = profile.seed,
        split = split, kind = kind, start = first, n = n,
        precision = profile.precision or "fp32" },   -- "bf16": opt-in per profile (engine/en_bf16.h)
      function(q)
        local m = S.model(tower)
        local res = m:config().image_resolution
        local encode = q.kind == "pooled" and m.encode_image or m.prepool
        local F, parts = nil, {}
        local batch = 1024   -- pictures made at a time; the encoder takes 256 of them per pass
        for a = 1, q.n, batch do
          local x, normalized = S.images(q.split, { start = q.start + a - 1, n = math.min(batch, q.n - a + 1), size = res })
          if q.kind == "grid" then
            parts[#parts + 1] = grid_pool(m:prepool(x, { normalized = normalized, precision = q.precision }))
          else
            F = encode(m, x, { normalized = normalized, into = F, rows = q.n, at = a, precision = q.precision })
          end
        end
        if q.kind == "grid" then F = #parts == 1 and parts[1] or cb.concat(parts, 1) end
        -- "map" keeps the ResNet's (N, C, h, w); "prepool" is flat per picture
        if q.kind == "prepool" then F = F:reshape(q.n, -1) end
        return F
      end)
  end

  -- The chunks of a split (a list; under a shard, nil at the chunks of the
  -- other shards) and how many chunks the split has.
  function S.extract(tower, split, kind)
    kind = kind or "pooled"
    if split == "cls_trainval" then error("extract cls_train and cls_val (cls_trainval is the two)", 2) end
    local n = SPLIT_N[split]
    if not n then error("unknown split '" .. tostring(split) .. "'", 2) end
    local sh = rt.shard
    local parts, k = {}, 0
    for a = 1, n, CHUNK do
      k = k + 1
      if not sh or (k - 1) % sh.count == sh.index then
        parts[k] = feature_chunk(tower, split, kind, k, a, math.min(CHUNK, n - a + 1))
      end
    end
    return parts, k
  end

  function S.features(tower, split, kind)
    kind = kind or "pooled"
    if split == "cls_trainval" then
      return cb.concat({ S.features(tower, "cls_train", kind), S.features(tower, "cls_val", kind) }, 1)
    end
    if rt.shard then
      error(string.format("features of %s/%s asked for under --shard %d/%d: a shard only extracts "
        .. "(chapters/extract.lua); run the chapters without --shard to assemble", tower, split,
        rt.shard.index, rt.shard.count), 2)
    end
    local parts = S.extract(tower, split, kind)
    return #parts == 1 and parts[1] or cb.concat(parts, 1)
  end

  -- Every feature set the chapters read (chapters 3-5: pooled on the
  -- classification splits; 6-7: the ResNet's map of the segmentation
  -- splits; 8: pooled and grid on its own splits), for chapters/extract.lua.
  function S.feature_sets()
    local sets = {}
    local function add(tower, split, kind) sets[#sets + 1] = { tower = tower, split = split, kind = kind } end
    for _, tower in ipairs { "vit", "rn" } do
      for _, split in ipairs { "cls_train", "cls_val", "cls_test" } do add(tower, split, "pooled") end
      if S.pool_splits.fit ~= "cls_train" then
        for _, split in ipairs { S.pool_splits.fit, S.pool_splits.val, S.pool_splits.test } do add(tower, split, "pooled") end
      end
      for _, split in ipairs { S.pool_splits.fit, S.pool_splits.val, S.pool_splits.test } do add(tower, split, "grid") end
    end
    for _, split in ipairs { "seg_train", "seg_val", "seg_test" } do add("rn", split, "map") end
    return sets
  end

  function S.text_features(tower, texts)
    local t = model_params(tower)
    -- precision: as the image features' (absent for fp32, so the default's key is unchanged)
    return memo("text." .. tower, { tower = keyed(t), bpe = keyed(bpe_p), seed = profile.seed, texts = texts,
                                    precision = profile.precision ~= "fp32" and profile.precision or nil },
      function(q)
        local m = S.model(tower)
        local tok = S.bpe():tokenize(q.texts, m:config().context_length, true)
        return m:encode_text(tok, { precision = q.precision }):normalize(2)
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
  -- semantics): fit on splits.fit (cls_train by default), accuracy on it,
  -- on splits.val (absent when the fit includes it) and on splits.test.
  -- The paper's protocol: C chosen on cls_val of fits on cls_train, then
  -- refit on "cls_trainval"; the original's setting: cls_trainval at C = 0.316.
  local DEFAULT_SPLITS = { fit = "cls_train", val = "cls_val", test = "cls_test" }
  function S.linear_probe(tower, kind, C, target, max_iter, splits)
    target = target or "labels"
    splits = splits or DEFAULT_SPLITS
    local on = splits.fit == "cls_train" and "" or ("." .. splits.fit)
    return memo("probe." .. tower .. "." .. kind .. "." .. target .. ".C" .. tostring(C) .. on,
      { tower = keyed(model_params(tower)), seed = profile.seed, kind = kind, C = C, target = target,
        data = { fit = split_key(splits.fit), val = splits.val and split_key(splits.val) or false, test = split_key(splits.test) },
        max_iter = max_iter or profile.probe.max_iter, fit = splits.fit, val = splits.val or false, test = splits.test },
      function(q)
        local Xtr = S.features(tower, q.fit, q.kind)
        local ytr = S.targets(q.fit, q.target)
        local fit = assert(cb.logreg_fit(Xtr, ytr, { C = q.C, max_iter = q.max_iter }))
        local acc = { train = fit:score(Xtr, ytr) }
        if q.val then acc.val = fit:score(S.features(tower, q.val, q.kind), S.targets(q.val, q.target)) end
        acc.test = fit:score(S.features(tower, q.test, q.kind), S.targets(q.test, q.target))
        local info = fit:info()
        return { train = acc.train, val = acc.val, test = acc.test, n_iter = info.n_iter,
                 status = info.status, dim = Xtr:shape()[2], n_fit = Xtr:shape()[1] }
      end)
  end

  return S
end

return M
