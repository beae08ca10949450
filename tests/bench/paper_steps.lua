-- %% [markdown]
-- # Paper-profile steps, timed (tests/bench/paper_steps.sh)
--
-- Not a chapter: one code cell that times the paper profile's steps on
-- full-size random-weight ViT-B/32 and RN50 checkpoints and a few hundred
-- CIFAR-100-layout pictures, and prints one line per step
-- ("STEP name value unit"). Its sizes come from the environment: N
-- pictures (PAPER_STEPS_N).

-- %% time
local S = assert(loadfile(os.getenv("STUDY")))().new { memo = memo, profile = profile, cb = cb }
local rt = require "clipbook.runtime"
local N = math.tointeger(tonumber(os.getenv("PAPER_STEPS_N") or "256"))
-- (to stdout, not into the document: print() would land in the fragment)
local function step(name, value, unit) io.stdout:write(string.format("STEP %s %.4g %s\n", name, value, unit)) end
local t0 = rt.clock()
local x, normalized = S.images("cls_train", { n = N, size = 224 })
step("preprocess_224px", N / (rt.clock() - t0), "pictures/s")
-- labels that cover all 100 classes (the timing does not depend on their
-- truth; a probe needs every class present)
local lab = {}
for i = 1, N do lab[i] = (i - 1) % 100 end
local labels = cb.tensor(lab, "i64")
local feats = {}
for _, tower in ipairs { "vit", "rn" } do
  t0 = rt.clock()
  local m = S.model(tower)
  step(tower .. "_load", rt.clock() - t0, "s")
  m:encode_image(x:slice(1, 1, 8), { normalized = normalized })  -- warm-up (first-touch, packing)
  t0 = rt.clock()
  feats[tower] = m:encode_image(x, { normalized = normalized })
  step(tower .. "_pooled", N / (rt.clock() - t0), "pictures/s")
  if tower == "rn" then
    t0 = rt.clock()
    local P = m:prepool(x, { normalized = normalized })
    step("rn_map", N / (rt.clock() - t0), "pictures/s")
    t0 = rt.clock()
    S.grid_pool(P)
    step("rn_grid_pool", N / (rt.clock() - t0), "pictures/s")
  end
end
for _, tower in ipairs { "vit", "rn" } do
  -- random weights can overflow a deep tower's features (F16 weights, no
  -- training): the fits are then timed on Gaussian features of its width,
  -- what a fit costs per iteration not depending on their values
  local X = feats[tower]
  local total = X:abs():sum():item()
  local finite = total == total and total < math.huge
  if not finite then X = cb.randn({ N, X:shape()[2] }) end
  step(tower .. "_features_finite", finite and 1 or 0, "(0: timed on Gaussian stand-ins)")
  feats[tower] = X
  t0 = rt.clock()
  local fit = assert(cb.logreg_fit(feats[tower], labels, { C = 0.316, max_iter = 1000 }))
  local w = rt.clock() - t0
  step(tower .. "_probe_fit", w, "s")
  step(tower .. "_probe_iters", fit:info().n_iter, "iterations")
  step(tower .. "_probe_per_iter_picture", w / fit:info().n_iter / N * 1e6, "us")
  local D = feats[tower]:shape()[2]
  local W0 = cb.zeros({ 100, D })
  t0 = rt.clock()
  cb.head_train(feats[tower]:normalize(2), labels, W0, cb.zeros(100), { epochs = 200, lr = 1e-3 })
  local h = rt.clock() - t0
  step(tower .. "_head_200_epochs", h, "s")
  step(tower .. "_head_per_epoch_picture", h / 200 / N * 1e6, "us")
end
