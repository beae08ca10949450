-- %% [markdown]
-- # CLIP models from Lua: build, encode, save, memoise, pre-train

-- %% model
cb.seed(1)
local sizes = { embed_dim = 16, image_resolution = 16, vision_vit = 1, vision_layers = 1, vision_width = 32,
                vision_patch_size = 8, context_length = 12, vocab_size = 300, transformer_width = 32,
                transformer_layers = 1 }
local m = cb.clip_new(sizes)
local imgs = cb.shapes.batch{ split = "cls_val", n = 4, size = 16 }.images
local fi = m:encode_image(imgs)
assert(fi:shape()[1] == 4 and fi:shape()[2] == 16)
local toks = cb.tensor({ { 298, 5, 299, 0 }, { 298, 7, 8, 299 } }, "i64")
local ft = m:encode_text(toks)
assert(ft:shape()[1] == 2 and ft:shape()[2] == 16)
assert(m:prepool(imgs):shape()[2] == 5, "ViT tokens: 4 patches + class")
assert(m:config().embed_dim == 16 and m:params()["logit_scale"] ~= nil)
local loss = cb.contrastive_loss(fi:slice(1, 1, 2), ft, m:logit_scale())
assert(cb.all_finite(loss))
-- m:to moves the weights; on a machine without a GPU "cuda" is an error naming why
assert(m:device() == "cpu" and m:to("cpu") == m)
local okd, ed = pcall(m.to, m, "cuda")
if okd then
  assert(m:device() == "cuda")
  local fd = m:encode_image(imgs) -- chunks go over once, features come back on the host
  local oks, es = pcall(m.save, m, "never-written.safetensors")
  assert(not oks and es:find('m:to%("cpu"%)'), es)
  m:to("cpu")
  -- fp32 GEMMs of K <= 128 terms of size ~1 round to ~128 * 2^-24 = 8e-6 per layer, three
  -- layers and a projection: 1e-4 bounds it with room (tf32 would need 1e-2)
  assert((fd - fi):abs():max(1):max(1):item() < 1e-4, "features on the device differ from the CPU's")
else
  assert(ed:find("m:to: ") and ed:find("cuda"), ed)
  assert(m:device() == "cpu")
end
local okt, et = pcall(m.encode_text, m, cb.tensor({ { 1, 500 } }, "i64"))
assert(not okt and et:find("outside the vocabulary"), et)
local okn, en = pcall(cb.clip_new, { vision_vit = true, image_resolution = 15, vision_patch_size = 4 })
assert(not okn and en:find("multiple of the patch size"), en)
-- one set of names: the en_clip_config fields; an old name is an error
local oko, eo = pcall(cb.clip_new, { patch_size = 8 })
assert(not oko and eo:find("unknown config key 'patch_size'"), eo)
-- the parameter t and the factor exp(t) that multiplies the cosines
assert(math.abs(m:scale() - math.exp(m:logit_scale():item())) < 1e-9 * m:scale())
assert(math.abs(m:scale() - 1 / 0.07) < 1e-4, "OpenAI's initial scale 1/0.07, got " .. m:scale())
-- config() round-trips through clip_new; a seed gives the same model twice
local c = m:config()
assert(c.vision_patch_size == 8 and c.transformer_width == 32 and c.vision_vit == 1)
local s1, s2 = cb.clip_new(c, 5), cb.clip_new(c, 5)
assert((s1:encode_image(imgs) - s2:encode_image(imgs)):abs():max(1):max(1):item() == 0, "seeded models differ")
-- encoding batch by batch into one tensor gives the rows of one call
local whole = m:encode_image(imgs, { chunk = 3 })
local part = m:encode_image(imgs:slice(1, 1, 2), { rows = 4, at = 1 })
part = m:encode_image(imgs:slice(1, 3, 4), { into = part, rows = 4, at = 3 })
assert((whole - fi):abs():max(1):max(1):item() == 0 and (part - fi):abs():max(1):max(1):item() == 0)
-- [0,1] pictures are normalised with CLIP's mean/std unless normalized = true
local mean, std = { 0.48145466, 0.4578275, 0.40821073 }, { 0.26862954, 0.26130258, 0.27577711 }
local chans = {}
for ch = 1, 3 do chans[ch] = (imgs:slice(2, ch, ch) - mean[ch]) / std[ch] end
local pre = m:encode_image(cb.concat(chans, 2):contiguous(), { normalized = true })
assert((pre - fi):abs():max(1):max(1):item() < 1e-5, "normalized = true on normalised pictures")

-- %% save, load, memo
local path = os.tmpname()
assert(m:save(path))
local m2 = assert(cb.clip_load(path))
os.remove(path)
assert((m2:encode_image(imgs) - fi):abs():max(1):max(1):item() < 1e-6, "load gives the same model")
local nom, msg = cb.clip_load("/nonexistent.safetensors")
assert(nom == nil and msg:find("nonexistent"), msg)
local kept = memo("clip_model", { sizes = sizes }, function(p) return cb.clip_new(p.sizes) end)
local feats = memo("clip_feats", { model = kept, n = 4 }, function(p) return p.model:encode_image(imgs) end)
assert((kept:encode_image(imgs) - feats):abs():max(1):max(1):item() < 1e-6)

-- %% pre-train a few steps
local caps = cb.shapes.batch{ split = "pretrain", n = 64, size = 8, captions = true }.captions
local vocab = os.tmpname()
assert(cb.bpe_train(caps, 40, vocab))
local tok = assert(cb.bpe(vocab))
os.remove(vocab)
local cfg = {}
for k, v in pairs(sizes) do cfg[k] = v end
cfg.vocab_size = tok:vocab_size(); cfg.bpe = tok; cfg.steps = 3; cfg.batch = 8; cfg.corpus = 64
local seen = {}
cfg.on_step = function(log) seen[#seen + 1] = log.loss end
local pm, run = cb.pretrain(cfg)
assert(run.steps_done == 3 and #run.loss == 3 and #seen >= 1, "steps " .. run.steps_done)
assert(pm:encode_image(imgs):shape()[2] == 16)
cfg.on_step = function(log) error("stop here") end
local okp, ep = pcall(cb.pretrain, cfg)
assert(not okp and ep:find("stop here"), ep)
