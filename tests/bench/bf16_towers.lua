-- %% [markdown]
-- # BF16 against float32 on the trained towers (tests/bench/bench_bf16_towers.sh)
--
-- Not a chapter: one code cell that measures what `precision = "bf16"`
-- (engine/en_bf16.h) does to the study's results on trained towers, for
-- both towers: the cosine of BF16 against float32 image features of
-- cls_test (mean, worst), zero-shot and linear-probe accuracy in each
-- precision and their difference (issue 16's targets: cosine >= 0.999,
-- accuracies within 0.2 points), and images/s in each. It prints one line
-- per figure, "BF16 <tower>.<key> <value>", for the shell script to turn
-- into records; nothing here is a typed-in figure.
--
-- The towers: the newest pre-trained ones of this profile in the memo
-- store (the cache's index, whatever engine code trained them: the towers
-- change with the world's captions and every engine edit changes the memo
-- keys, and a benchmark should not retrain ten minutes of towers for
-- that), preferring those trained on this profile's parameters; with none
-- in the store, S.model trains them (and stores them for the report).

-- %% measure
local study = assert(loadfile(os.getenv("STUDY") or "chapters/study.lua"))()
local S = study.new { memo = memo, profile = profile, cb = cb }
local rt = require "clipbook.runtime"
local CACHE = os.getenv("CLIPBOOK_CACHE") or "build/cache"
local REPS = math.tointeger(tonumber(os.getenv("BF16_TOWERS_REPS") or "5")) or 5
local TOWERS = {}
for t in (os.getenv("BF16_TOWERS") or "vit rn"):gmatch("%S+") do TOWERS[#TOWERS + 1] = t end

-- (to stdout, not into the document: print() would land in the fragment)
local function out(key, value)
  if type(value) == "number" then value = string.format("%.9g", value) end
  io.stdout:write(string.format("BF16 %s %s\n", key, tostring(value)))
end

local why_not = cb.bf16_unavailable()
if why_not then
  out("skipped", why_not)
  return
end

-- deep equality; numbers by value (the index's JSON reads 2500 as 2500.0),
-- fields named __* (an older store's bookkeeping) ignored
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not (type(k) == "string" and k:sub(1, 2) == "__") and not same(v, b[k]) then return false end
  end
  for k, v in pairs(b) do
    if a[k] == nil and not (type(k) == "string" and k:sub(1, 2) == "__") then return false end
  end
  return true
end

local function read_index(name)
  local f = io.open(CACHE .. "/" .. name .. "/index.json", "rb")
  if not f then return {} end
  local ok, doc = pcall(cb.json_decode, f:read("a"))
  f:close()
  return ok and type(doc) == "table" and type(doc.entries) == "table" and doc.entries or {}
end

-- what a pre-training depends on in this profile, as its memo params name it
local function wanted(tower)
  return { tower = S.key(S.model_params(tower)), bpe = S.key(profile.bpe), seed = profile.seed,
           caption_noise = profile.data.caption_noise }
end
local function matches(params, tower)
  local w = wanted(tower)
  for _, k in ipairs { "tower", "bpe", "seed", "caption_noise" } do
    if not same(params[k], w[k]) then return false end
  end
  return true
end

local store = assert(rt.memo_open(CACHE, "bench-bf16-towers"))

-- the tokenizer a cached pre-training used: the cached BPE of its params
local function cached_bpe(params)
  local bp = params.bpe or {}
  if bp.file then return cb.bpe(study.data_path(bp.file:match("^(%S+)"))) end
  local list = read_index("bpe")
  for i = #list, 1, -1 do
    local e = list[i]
    local p = e.params or {}
    if e.profile == profile.name and p.texts == bp.texts and p.merges == bp.merges and p.seed == params.seed
       and same(p.caption_noise, params.caption_noise) then
      local got, v = store:get("bpe", e.key)
      if got and type(v) == "table" and type(v.v) == "string" then
        local path = study.scratch .. "/bpe-bench-" .. rt.pid() .. ".txt"
        assert(rt.mkdirs(study.scratch))
        assert(rt.write_atomic(path, v.v))
        local b = cb.bpe(path)
        os.remove(path)
        if b then return b end
      end
    end
  end
  return nil
end

-- the model of a cached pre-training record: the model itself, or (an
-- older store) its safetensors bytes
local function model_of(rec)
  if type(rec) ~= "table" then return nil end
  if rec.model then return rec.model end
  if type(rec.bytes) ~= "string" then return nil end
  local path = study.scratch .. "/tower-bench-" .. rt.pid() .. ".safetensors"
  assert(rt.mkdirs(study.scratch))
  assert(rt.write_atomic(path, rec.bytes))
  local m = cb.clip_load(path)
  os.remove(path)
  return m
end

-- a record of a whole pre-training: one loss per step of its schedule (a
-- signal stops en_pretrain early, and an older study.lua memoised that
-- partial tower as if it were the whole)
local function complete(rec, params)
  local steps = params.tower and params.tower.train and params.tower.train.steps
  return type(rec) == "table" and type(rec.loss) == "table" and (steps == nil or #rec.loss >= steps)
end

-- model, tokenizer, and where they came from
local function towers(tower)
  local list, order = read_index("pretrain." .. tower), {}
  for i = #list, 1, -1 do if list[i].profile == profile.name and matches(list[i].params or {}, tower) then order[#order + 1] = list[i] end end
  for i = #list, 1, -1 do if list[i].profile == profile.name and not matches(list[i].params or {}, tower) then order[#order + 1] = list[i] end end
  for _, e in ipairs(order) do
    local got, v = store:get(e.name or ("pretrain." .. tower), e.key)
    local model = got and type(v) == "table" and complete(v.v, e.params or {}) and model_of(v.v)
    if model then
      local p = e.params or {}
      local bpe = cached_bpe(p)
      if not bpe and matches(p, tower) then bpe = S.bpe() end
      if bpe and (p.vocab == nil or bpe:vocab_size() == p.vocab) then
        return model, bpe, { from = "cache", key = e.key:sub(1, 16), time = e.time or "?",
                                 chapter = e.chapter or "?", profile_params = matches(p, tower) }
      end
    end
  end
  local m = S.model(tower)
  return m, S.bpe(), { from = "trained", key = "-", time = os.date("!%Y-%m-%dT%H:%M:%SZ"), chapter = "-", profile_params = true }
end

local function median(t)
  local s = {}
  for i = 1, #t do s[i] = t[i] end
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

-- per-row cosine of two (N, D) feature sets: mean and worst
local function cosines(A, B)
  local c = (A:normalize(2) * B:normalize(2)):sum(2):totable()
  local sum, worst = 0, math.huge
  for i = 1, #c do sum = sum + c[i]; if c[i] < worst then worst = c[i] end end
  return sum / #c, worst
end

local function accuracy(pred, y)
  local p, t = pred:totable(), y:totable()
  local right = 0
  for i = 1, #t do if p[i] == t[i] then right = right + 1 end end
  return right / #t
end

local names = S.class_names()
local template = "a photo of a {class}"   -- chapter 4's prompt

for _, tower in ipairs(TOWERS) do
  local m, bpe, src = towers(tower)
  out(tower .. ".source", src.from)
  out(tower .. ".cache_key", src.key)
  out(tower .. ".trained_at", src.time)
  out(tower .. ".profile_params", src.profile_params and 1 or 0)
  local res = m:config().image_resolution
  local x_te, n_te, b_te = S.images("cls_test", { size = res })
  local x_tr, n_tr, b_tr = S.images("cls_train", { size = res })
  local x_va, n_va, b_va = S.images("cls_val", { size = res })
  local y_te = b_te.labels
  local y_tv = cb.concat({ b_tr.labels:float(), b_va.labels:float() }, 1):long()   -- (concat: f32 only)
  local function enc(x, normalized, prec) return m:encode_image(x, { normalized = normalized, precision = prec }) end

  -- images/s on cls_test, the two precisions alternating (which goes first
  -- swaps every repeat), after one warm-up each; medians
  local N = x_te:shape()[1]
  local times = { fp32 = {}, bf16 = {} }
  local F = { fp32 = enc(x_te, n_te, "fp32"), bf16 = enc(x_te, n_te, "bf16") }
  for r = 1, REPS do
    local order = r % 2 == 1 and { "fp32", "bf16" } or { "bf16", "fp32" }
    for _, prec in ipairs(order) do
      local t0 = rt.clock()
      F[prec] = enc(x_te, n_te, prec)
      times[prec][#times[prec] + 1] = rt.clock() - t0
    end
  end
  out(tower .. ".images", N)
  out(tower .. ".fp32_img_s", N / median(times.fp32))
  out(tower .. ".bf16_img_s", N / median(times.bf16))
  local cmean, cmin = cosines(F.bf16, F.fp32)
  out(tower .. ".cos_mean", cmean)
  out(tower .. ".cos_min", cmin)

  -- zero-shot: float32 features and text features against the profile
  -- switch's (both towers' linear layers in bf16)
  local prompts = {}
  for i, name in ipairs(names) do prompts[i] = template:gsub("{class}", name) end
  local tok = bpe:tokenize(prompts, m:config().context_length, true)
  local T = { fp32 = m:encode_text(tok), bf16 = m:encode_text(tok, { precision = "bf16" }) }
  local tmean, tmin = cosines(T.bf16, T.fp32)
  out(tower .. ".text_cos_mean", tmean)
  out(tower .. ".text_cos_min", tmin)
  local zs = {}
  for _, prec in ipairs { "fp32", "bf16" } do
    local logits = F[prec]:normalize(2):matmul(T[prec]:normalize(2):transpose())
    zs[prec] = 100 * accuracy(logits:argmax(2), y_te)
    out(tower .. ".zeroshot_" .. prec, zs[prec])
  end
  out(tower .. ".zeroshot_diff", zs.bf16 - zs.fp32)

  -- linear probe as chapter 3 fits it (cls_trainval, the profile's C and
  -- max_iter), each precision's features end to end
  local pr = {}
  for _, prec in ipairs { "fp32", "bf16" } do
    local X = cb.concat({ enc(x_tr, n_tr, prec), enc(x_va, n_va, prec) }, 1)
    local fit = assert(cb.logreg_fit(X, y_tv, { C = profile.probe.C, max_iter = profile.probe.max_iter }))
    pr[prec] = 100 * fit:score(prec == "fp32" and F.fp32 or F.bf16, y_te)
    out(tower .. ".probe_" .. prec, pr[prec])
  end
  out(tower .. ".probe_diff", pr.bf16 - pr.fp32)
end
store:close()
