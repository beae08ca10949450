-- %% [markdown]
-- # CLIP models from Lua: build, encode, save, memoise, pre-train

-- %% model
cb.seed(1)
local sizes = { embed_dim = 16, image_resolution = 16, vit = true, vision_layers = 1, vision_width = 32,
                patch_size = 8, context_length = 12, vocab_size = 300, width = 32, layers = 1 }
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
local okt, et = pcall(m.encode_text, m, cb.tensor({ { 1, 500 } }, "i64"))
assert(not okt and et:find("outside the vocabulary"), et)
local okn, en = pcall(cb.clip_new, { vit = true, image_resolution = 15, patch_size = 4 })
assert(not okn and en:find("multiple of the patch size"), en)

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
