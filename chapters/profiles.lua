-- Profiles: the sizes and names that differ between runs of the study.
-- `clipbook run --profile P` hands chapters profiles[P] as `profile`
-- (profile.name = P); chapters read sizes from it and never branch on the
-- name. Chapters add the fields they need; keep the three in step.
--
-- towers: the two CLIP models. Either `checkpoint` (a safetensors file with
-- OpenAI's key names) or a model config plus `train` (pre-training on the
-- shapes world). data: where pictures come from and how many per split:
-- cls_train / cls_val / cls_test (classification; cls_val never overlaps
-- cls_train, and "cls_trainval" is the two together), seg_* (the VQ-VAE and
-- segmentation: the Pet set when `seg_dir` is named, else the shapes
-- world), caption_noise (how the shapes world's captions fall short of the
-- labels, engine/en_shapes.h; absent: exact captions), renamed_names (how many of the
-- world's 8 colours and 8 shapes the evaluation names by a synonym the captions use only
-- at the synonym rate, en_shapes_eval_name; absent: 0), pool_* (chapter 8's counts and positions: always the shapes world,
-- at each tower's resolution; absent, the cls_* splits of a shapes profile).
-- Paths under data/ are read from $DATA_DIR when it is set (make DATA_DIR=).
-- precision: "fp32" (absent: the default) or "bf16", the frozen image
-- features' and the text features' linear layers in bfloat16 where the CPU
-- has AVX512_BF16 (engine/en_bf16.h; float32 elsewhere); it enters their memo keys.
--
-- Limits the runner reads (lua/notebook/runner.lua), left at their defaults here:
-- cell_timeout (seconds a cell may run, memo functions included; 3600;
-- CLIPBOOK_CELL_TIMEOUT and a cell's timeout= option override it),
-- output_max_lines / output_max_bytes (what a cell's printed output shows
-- in the document; 200 / 65536, the rest in build/doc/<chapter>.out/).
-- (Set here, a field enters the memo key of every experiment that mentions
-- `profile`, so the study would recompute.)

-- The mini towers (chapter 2 justifies them with measurements): a ViT on
-- 32 px pictures in 8 px patches (16 tokens) and a ModifiedResNet whose
-- stem neither strides nor pools (clipbook's small-input variant), so 32 px
-- pictures leave a 4x4 map before the attention pool.
local text = { context_length = 32, transformer_width = 64, transformer_heads = 2, transformer_layers = 2,
               embed_dim = 64 }
local function tower(t)
  -- (the profiles file is loaded with no standard library: no pairs)
  local keys = { "context_length", "transformer_width", "transformer_heads", "transformer_layers", "embed_dim" }
  for i = 1, #keys do
    if t[keys[i]] == nil then t[keys[i]] = text[keys[i]] end
  end
  return t
end

-- The paper profiles: OpenAI's files under data/ (`make data`; the runner
-- reads them from $DATA_DIR instead when it is set, see chapters/study.lua)
-- and sizes from `sz`; everything else is shared, so paper-fixture runs
-- exactly the paper profile's code on small inputs.
local function paper(sz)
  local d = { source = "cifar100", dir = "data/cifar-100-binary", seg_dir = "data/oxford-iiit-pet" }
  local keys = { "cls_train", "cls_val", "cls_test", "seg_train", "seg_val", "seg_test",
                 "pool_train", "pool_val", "pool_test" }
  for i = 1, #keys do d[keys[i]] = sz.data[keys[i]] end
  return {
    seed = 0, shots = sz.shots, seeds = sz.seeds,
    bpe = { file = "data/bpe_simple_vocab_16e6.txt.gz" },
    towers = {
      vit = { checkpoint = "data/clip-vit-b-32.safetensors" },
      rn = { checkpoint = "data/clip-rn50.safetensors" },
    },
    data = d,
    bench = { steps = 0, batch = 0, candidates = {} },
    probe = { C = 0.316, max_iter = sz.probe.max_iter, pool_max_iter = sz.probe.pool_max_iter,
              sweep = { 0.01, 0.0316, 0.1, 0.316, 1, 3.16, 10 } },
    fewshot = { epochs = sz.fewshot.epochs, lr = 1e-3, curve_epochs = sz.fewshot.curve_epochs,
                crossmodal_lrs = { 1e-3, 1e-2 }, clap_lrs = { 0.01, 0.1 },
                tip = { beta_max = 20, n_beta = 40, alpha_max = 50, n_alpha = 50 } },
    decoder = sz.decoder,
    -- frozen features are stored in chunks of this many pictures (absent:
    -- 2,048), so an interrupted extraction resumes (chapters/study.lua)
    features = sz.features,
  }
end

return {
  -- tests: the whole study in well under a minute
  smoke = {
    seed = 0, shots = { 1, 2, 4 }, seeds = 2,
    bpe = { texts = 2000, merges = 200 },
    towers = {
      vit = tower { vision_vit = 1, image_resolution = 16, vision_patch_size = 4, vision_layers = 1,
                    vision_width = 32, vision_heads = 2, transformer_width = 32, transformer_layers = 1,
                    embed_dim = 32, train = { steps = 40, batch = 64, lr = 3e-3, corpus = 4000 } },
      rn = tower { vision_vit = 0, image_resolution = 16, vision_layers = { 1, 1, 1, 1 }, vision_width = 4,
                   resnet_stem_stride = 1, resnet_stem_pool = 1, transformer_width = 32, transformer_layers = 1,
                   embed_dim = 32, train = { steps = 6, batch = 64, lr = 3e-3, corpus = 4000 } },
    },
    data = { source = "shapes", cls_train = 512, cls_val = 256, cls_test = 512,
             seg_train = 128, seg_val = 64, seg_test = 64 },
    -- candidate sizes timed in chapter 2 (a few steps each)
    bench = { steps = 2, batch = 16, candidates = {
      tower { name = "ViT w32", vision_vit = 1, image_resolution = 16, vision_patch_size = 4, vision_layers = 1, vision_width = 32 },
      -- (32 px: at 16 px OpenAI's stem would leave no map at all)
      tower { name = "ResNet w4, stem 1/1 (used)", vision_vit = 0, image_resolution = 32, vision_layers = { 1, 1, 1, 1 },
              vision_width = 4, resnet_stem_stride = 1, resnet_stem_pool = 1 },
      tower { name = "ResNet w4, OpenAI stem 2/2", vision_vit = 0, image_resolution = 32, vision_layers = { 1, 1, 1, 1 },
              vision_width = 4, resnet_stem_stride = 2, resnet_stem_pool = 2 },
    } },
    probe = { C = 0.316, max_iter = 200, pool_max_iter = 100, sweep = { 0.1, 1, 10 } },
    fewshot = { epochs = 30, lr = 1e-2, curve_epochs = 30, crossmodal_lrs = { 1e-2 }, clap_lrs = { 0.1 },
                tip = { beta_max = 20, n_beta = 8, alpha_max = 50, n_alpha = 10 } },
    decoder = { steps = 20, batch = 32, lr = 2e-3, codes = 32, code_dim = 16 },
  },
  -- the default: shapes world, small towers, CPU, minutes
  mini = {
    seed = 0, shots = { 1, 2, 4, 8, 16 }, seeds = 3,
    bpe = { texts = 10000, merges = 400 },
    towers = {
      vit = tower { vision_vit = 1, image_resolution = 32, vision_patch_size = 8, vision_layers = 2,
                    vision_width = 64, vision_heads = 2,
                    train = { steps = 2500, batch = 256, lr = 2e-3, corpus = 50000 } },
      rn = tower { vision_vit = 0, image_resolution = 32, vision_layers = { 1, 1, 1, 1 }, vision_width = 8,
                   resnet_stem_stride = 1, resnet_stem_pool = 1,
                   -- 750 steps: at merge 0.55 (below) the ResNet's loss takes off ~200
                   -- steps later than on milder captions, and 550 end before it does
                   train = { steps = 750, batch = 256, lr = 2e-3, corpus = 50000 } },
    },
    data = { source = "shapes", cls_train = 8192, cls_val = 1024, cls_test = 2048,
             seg_train = 1024, seg_val = 256, seg_test = 512,
             -- captions like alt-text (engine/en_shapes.h, en_caption_noise): a colour word
             -- names a neighbouring hue 55 % of the time (merge), a word is a synonym a tenth
             -- of the time. Chosen on the full-schedule sweep (chapters/world.json, chapter 2,
             -- engine/NOTES.md "caption noise, part 2"): merged hues are what opens the gap
             -- between zero-shot and the probe; at 0.5 the ViT's gap is 7 points, at 0.55 18,
             -- and 0.55 needs the ResNet's 750 steps
             caption_noise = { synonym = 0.1, merge = 0.55 },
           },
    bench = { steps = 3, batch = 64, candidates = {
      tower { name = "ViT width 64, 2 layers, patch 8 (used)", vision_vit = 1, image_resolution = 32, vision_patch_size = 8,
              vision_layers = 2, vision_width = 64, vision_heads = 2 },
      tower { name = "ViT width 128, 4 layers, patch 4", vision_vit = 1, image_resolution = 32, vision_patch_size = 4,
              vision_layers = 4, vision_width = 128, vision_heads = 2 },
      tower { name = "ResNet width 8, stem 1/1 (used)", vision_vit = 0, image_resolution = 32, vision_layers = { 1, 1, 1, 1 },
              vision_width = 8, resnet_stem_stride = 1, resnet_stem_pool = 1 },
      tower { name = "ResNet width 8, OpenAI stem 2/2", vision_vit = 0, image_resolution = 32, vision_layers = { 1, 1, 1, 1 },
              vision_width = 8, resnet_stem_stride = 2, resnet_stem_pool = 2 },
      tower { name = "ResNet width 32, stem 1/1", vision_vit = 0, image_resolution = 32, vision_layers = { 1, 1, 1, 1 },
              vision_width = 32, resnet_stem_stride = 1, resnet_stem_pool = 1 },
    } },
    probe = { C = 0.316, max_iter = 1000, pool_max_iter = 300, sweep = { 0.01, 0.0316, 0.1, 0.316, 1, 3.16, 10 } },
    -- the later methods' grids (chapter 5): learning rates of cross-modal
    -- adaptation and of CLAP (its paper's 0.1 and a tenth of it), and
    -- Tip-Adapter's search (the grid of CLAP's and LP++'s Tip-Adapter runs:
    -- beta up to ~20-28, alpha up to 50)
    fewshot = { epochs = 200, lr = 1e-3, curve_epochs = 200, crossmodal_lrs = { 1e-3, 1e-2 }, clap_lrs = { 0.01, 0.1 },
                tip = { beta_max = 20, n_beta = 40, alpha_max = 50, n_alpha = 50 } },
    -- decoders (chapters 6, 7): 600 VQ-VAE steps with 256 codes of a
    -- 64-channel model flatten the loss curves (warm-up + cosine) of all
    -- three VQ-VAEs (CLIP's 4x4 map, trained at 4x4 and at the paper's 8x8:
    -- only the last draws shapes, engine/NOTES.md "VQ-VAE"); the
    -- segmentation networks, whose UNet costs ~4x a VQ-VAE step, get 300
    decoder = { steps = 600, seg_steps = 300, batch = 64, lr = 2e-3, codes = 256, code_dim = 32, hidden = 64 },
  },
  -- CIFAR-100 and OpenAI's ViT-B/32 and RN50 checkpoints, on a GPU
  paper = paper {
    shots = { 1, 2, 4, 8, 16 }, seeds = 3,
    -- the paper's protocol carves 45,000 / 5,000 out of train.bin (C, early
    -- stopping and the interpolation weight are chosen on the 5,000), then
    -- refits on all 50,000 (cls_train + cls_val), the original's setting
    data = { cls_train = 45000, cls_val = 5000, cls_test = 10000,
             -- the Pet loader's own splits (engine/en_pets.h)
             seg_train = 3312, seg_val = 368, seg_test = 3669,
             -- chapter 8: the shapes world at each tower's resolution
             pool_train = 8192, pool_val = 1024, pool_test = 2048 },
    probe = { max_iter = 1000, pool_max_iter = 1000 },
    fewshot = { epochs = 200, curve_epochs = 200 },
    decoder = { steps = 2000, batch = 128, lr = 2e-4, codes = 512, code_dim = 64 },
  },
  -- the paper profile on tests/paper/make_fixture.sh's tiny stand-ins (500 +
  -- 200 CIFAR records, 40 + 20 Pet pictures, ViT at 32 px and ResNet at
  -- 64 px): the same code and file names, sizes cut so it runs in `make test`
  ["paper-fixture"] = paper {
    shots = { 1, 2, 4 }, seeds = 1,
    data = { cls_train = 450, cls_val = 50, cls_test = 200,
             seg_train = 36, seg_val = 4, seg_test = 20,
             pool_train = 1024, pool_val = 128, pool_test = 256 },
    probe = { max_iter = 100, pool_max_iter = 100 },
    fewshot = { epochs = 20, curve_epochs = 20 },
    features = { chunk = 128 },   -- several chunks per split, as at full size
    decoder = { steps = 20, batch = 16, lr = 2e-3, codes = 32, code_dim = 16 },
  },
}
