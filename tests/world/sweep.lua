-- %% [markdown]
-- # What each caption factor does to zero-shot and to the linear probe
--
-- Measures the caption factors of engine/en_shapes.h (en_caption_noise) one
-- at a time, and the chosen world, on the mini profile's towers and data,
-- with a shortened pre-training schedule so that one point costs a few
-- minutes on two cores. Each point pre-trains both towers on captions with
-- that noise (and a BPE vocabulary learnt from them), then measures exactly
-- what chapters 3 and 4 report: zero-shot top-1 with "a photo of a {class}"
-- and the probe (C = profile.probe.C, fitted on cls_trainval), on cls_test.
--
--   clipbook run tests/world/sweep.lua --profiles chapters/profiles.lua \
--     --profile mini --cache build/world-cache --out build/world/sweep.frag.json
--   WORLD_POINTS=none,other   only those points (names below)
--   WORLD_OUT=FILE            where the table goes (chapters/world.json:
--                             chapter 2 reads it; default build/world/sweep.json)
--   WORLD_MACHINE="..."       recorded with the table
-- Points are memoised in the cache, so a rerun adds only new points; rows
-- already in WORLD_OUT for points not run this time are kept.
--   The point chosen.full is the profile itself: run it alone with
--   --cache build/cache after `make report` (WORLD_POINTS=chosen.full).

-- %% sweep
local here = "chapters"
local study = assert(loadfile(here .. "/study.lua"))()

local function copy(t)
  if type(t) ~= "table" then return t end
  local r = {}
  for k, v in pairs(t) do r[k] = copy(v) end
  return r
end

-- the short schedule: the same warm-up + cosine over fewer steps
local SHORT = { vit = 600, rn = 150 }
-- evaluation names renamed by a synonym (k colours and k shapes), measured on every point
local RENAMED = { 0, 2, 4, 8 }
local chosen = profile.data.caption_noise or {}
-- the chosen world's rows are named by its rates (WORLD_TAG tells one choice from another)
local tag = os.getenv("WORLD_TAG") or ""
local function rates_of(nz)
  local keys, parts = {}, {}
  for k in pairs(nz) do keys[#keys + 1] = k end
  table.sort(keys)
  for i, k in ipairs(keys) do parts[i] = string.format("%s %.2f", k, nz[k]) end
  return "world: " .. table.concat(parts, ", ")
end
local points = {
  { name = "none", factor = "none", rate = 0, noise = {} },
  { name = "background", factor = "background", rate = 0.3, noise = { background = 0.3 } },
  { name = "other", factor = "other", rate = 0.5, noise = { other = 0.5 } },
  { name = "hypernym", factor = "hypernym", rate = 0.3, noise = { hypernym = 0.3 } },
  { name = "synonym", factor = "synonym", rate = 0.6, noise = { synonym = 0.6 } },
  { name = "merge", factor = "merge", rate = 0.3, noise = { merge = 0.3 } },
  { name = "wrong", factor = "wrong", rate = 0.1, noise = { wrong = 0.1 } },
  { name = "chosen" .. tag, factor = rates_of(chosen), rate = -1, noise = chosen },
  -- the full schedule, to check that the short one ranks as it does: the
  -- profile itself, so with --cache build/cache this reads what `make
  -- report` computed (the same memo keys) rather than training again
  { name = "chosen.full" .. tag, factor = rates_of(chosen), rate = -1, noise = chosen, full = true, own = true },
}
-- merged hues 0.5 and captions about another object a tenth of the time
points[#points + 1] = { name = "merge-0.50-other-0.10.full", factor = "merge 0.5, other 0.1 (synonym 0.10)", rate = -1,
                        noise = { synonym = 0.1, merge = 0.5, other = 0.1 }, full = true }
-- synonyms alone at the full schedule: how rare a word may be in the
-- captions and still be learnt (the evaluation names below use them)
for _, r in ipairs { 0.002, 0.01, 0.1 } do
  points[#points + 1] = { name = string.format(r >= 0.01 and "synonym-%.2f.full" or "synonym-%.3f.full", r), factor = "synonym", rate = r,
                          noise = { synonym = r }, full = true }
end
-- merged hues on top of synonyms 0.1, at the full schedule: a colour word
-- is its own hue's with probability 1 - merge and each neighbour's with
-- merge / 2, so above merge = 2/3 a neighbour's name is the likelier one
for _, m in ipairs { 0.5, 0.525, 0.55, 0.6 } do
  points[#points + 1] = { name = string.format(math.abs(m * 100 - math.floor(m * 100 + 0.5)) < 1e-9 and "merge-%.2f.full" or "merge-%.3f.full", m), factor = "merge (synonym 0.10)", rate = m,
                          noise = { synonym = 0.1, merge = m }, full = true }
end
local want = os.getenv("WORLD_POINTS")
local picked = {}
if want then for w in want:gmatch("[^,]+") do picked[w] = true end end

local function measure(pt)
  local P = copy(profile)
  -- its own scratch files (BPE, training state); the full profile's own
  P.name = pt.own and profile.name or ("world-" .. pt.name:gsub("[^%w]", "-"))
  P.data.caption_noise = next(pt.noise) and pt.noise or nil
  for _, tw in ipairs { "vit", "rn" } do
    if not pt.full then P.towers[tw].train.steps = SHORT[tw] end
  end
  -- WORLD_RN_STEPS=N: the ResNet's schedule at N steps (the point's name,
  -- and so its ViT's memo entry, unchanged: only the ResNet retrains)
  local rn_steps = tonumber(os.getenv("WORLD_RN_STEPS") or "")
  if rn_steps and pt.full then P.towers.rn.train.steps = rn_steps end
  local S = study.new { memo = memo, profile = P, cb = cb }
  local names = S.class_names()
  local prompts = {}
  for i, n in ipairs(names) do prompts[i] = S.prompt("a photo of a {class}", n) end
  local y = S.targets("cls_test", "labels"):totable()
  local row = { name = pt.name, factor = pt.factor, rate = pt.rate, noise = pt.noise,
                steps = { vit = P.towers.vit.train.steps, rn = P.towers.rn.train.steps } }
  local function zeroshot(tw, texts)
    local W = S.text_features(tw, texts)
    local pred = S.features(tw, "cls_test", "pooled"):normalize(2):matmul(W:transpose()):argmax(2):totable()
    local right = 0
    for i = 1, #y do if pred[i] == y[i] then right = right + 1 end end
    return 100 * right / #y
  end
  for _, tw in ipairs { "vit", "rn" } do
    local probe = S.linear_probe(tw, "pooled", P.probe.C, "labels", nil, { fit = "cls_trainval", test = "cls_test" })
    local _, info = S.model(tw)
    row[tw] = { zeroshot = zeroshot(tw, prompts), probe = 100 * probe.test, wall_s = info.wall_s, renamed = {} }
    -- the same towers with evaluation names that the captions use only at
    -- the synonym rate (data.renamed_names; en_shapes_eval_name): k of the
    -- colours and k of the shapes renamed
    -- (a binary from before en_shapes_eval_name ignores `renamed`: no rows)
    local can_rename = cb.shapes.class_names({ renamed = 8 })[2] ~= cb.shapes.class_names()[2]
    for _, k in ipairs(can_rename and RENAMED or {}) do
      local texts = {}
      for i, n in ipairs(cb.shapes.class_names { renamed = k }) do texts[i] = S.prompt("a photo of a {class}", n) end
      row[tw].renamed[#row[tw].renamed + 1] = { k = k, zeroshot = zeroshot(tw, texts) }
    end
  end
  return row
end

local rows = {}
for _, pt in ipairs(points) do
  if not want or picked[pt.name] then
    local r = measure(pt)
    rows[#rows + 1] = r
    local line = (string.format("%-12s vit zs %6.2f probe %6.2f | rn zs %6.2f probe %6.2f  (%d/%d steps, %.0f+%.0f s)",
      r.name, r.vit.zeroshot, r.vit.probe, r.rn.zeroshot, r.rn.probe, r.steps.vit, r.steps.rn,
      r.vit.wall_s or 0, r.rn.wall_s or 0))
    print(line)
    io.stderr:write(line, "\n")
  end
end

-- %% write echo=false
-- a small JSON writer (keys sorted, so the file diffs cleanly)
local function enc(v)
  local t = type(v)
  if t == "number" then
    if v == math.floor(v) and math.abs(v) < 2^53 then return string.format("%d", v) end
    return string.format("%.4f", v)
  elseif t == "string" then return '"' .. v:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
  elseif t == "boolean" then return tostring(v)
  elseif t == "table" then
    if #v > 0 or next(v) == nil and getmetatable(v) == "list" then
      local parts = {}
      for i = 1, #v do parts[i] = enc(v[i]) end
      return "[" .. table.concat(parts, ", ") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    local parts = {}
    for i, k in ipairs(keys) do parts[i] = enc(k) .. ": " .. enc(v[k]) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return "null"
end
local out = os.getenv("WORLD_OUT") or "build/world/sweep.json"
os.execute('mkdir -p "$(dirname "' .. out .. '")"')
-- rows of an earlier run of other points are kept (a run may measure only some)
local by_name = {}
local old = io.open(out, "rb")
if old then
  local ok, d = pcall(cb.json_decode, old:read("a"))
  old:close()
  if ok and type(d) == "table" and d.profile == profile.name then
    for _, r in ipairs(d.rows or {}) do by_name[r.name] = r end
  end
end
for _, r in ipairs(rows) do by_name[r.name] = r end
local lines, done = {}, {}
for _, pt in ipairs(points) do
  if by_name[pt.name] then lines[#lines + 1] = "  " .. enc(by_name[pt.name]); done[pt.name] = true end
end
local rest = {}     -- rows of other choices (other WORLD_TAGs), after these, by name
for name in pairs(by_name) do if not done[name] then rest[#rest + 1] = name end end
table.sort(rest)
for _, name in ipairs(rest) do lines[#lines + 1] = "  " .. enc(by_name[name]) end
local f = assert(io.open(out, "wb"))
f:write('{"profile": ', enc(profile.name), ', "script": "tests/world/sweep.lua", "machine": ',
  enc(os.getenv("WORLD_MACHINE") or "unrecorded"), ', "short_steps": ', enc(SHORT),
  ', "full_steps": ', enc({ vit = profile.towers.vit.train.steps, rn = profile.towers.rn.train.steps }),
  ', "rows": [\n', table.concat(lines, ",\n"), '\n]}\n')
f:close()
print("wrote " .. out)
