-- %% [markdown]
-- # Segmentation from CLIP's features {#sec-seg}
--
-- The second decoder of the original study segments pictures: a decoder in
-- the style of TernausNet's UNet11 [@iglovikov2018] — blocks of a 3×3
-- convolution and a stride-2 transposed convolution, each doubling the
-- resolution — on the same frozen map before the ResNet's attention pool,
-- against a UNet [@ronneberger2015] trained end to end from the pixels.
--
-- The original code had a quirk worth reproducing. It froze CLIP's encoder
-- and meant to train the decoder, but set `requires_grad` on the decoder
-- *module*, an attribute PyTorch modules do not read: the flag reaches no
-- parameter, so whether a block trained depended on where it was created.
-- As the code was written, the decoder blocks stayed at their random
-- initialisation and only the last layer learnt. We run the decoder both
-- ways: *as run* (blocks frozen, last layer trained) and *fixed* (every
-- decoder layer trained).

-- %% setup echo=false
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local S = assert(loadfile(here .. "/study.lua"))().new { memo = memo, profile = profile, cb = cb }
local dc = profile.decoder
local rn = S.model("rn")
local R = rn:config().image_resolution
local map_grid = S.features("rn", "seg_test", "map"):shape()[3]
local task_prose = S.about.seg_is_pets
  and string.format("The task here is the foreground of the Oxford-IIIT Pet set [@parkhi2012]: which pixels "
    .. "belong to the cat or dog. We chose it over PASCAL VOC 2012, the other usual set with masks, because each "
    .. "of its pictures shows one main object, the pet, so a foreground mask is a well-posed target for a "
    .. "decoder that reads one frozen map; because its trimaps give that mask directly (pet, background, and a "
    .. "boundary band, counted as pet here); because it is small, about 800 MB of JPEGs and PNG trimaps; and "
    .. "because its split is fixed by its authors: the %d test pictures of test.txt, and from trainval.txt "
    .. "%d training and %d validation pictures (every tenth line, so every breed is in both).",
    S.split_size.seg_test, S.split_size.seg_train, S.split_size.seg_val)
  or "The task here is the shapes world's foreground mask: which pixels belong to an object."

-- %% [markdown]
-- {{ task_prose }} A decoder on CLIP's map has no skip connections from the
-- image — everything it draws must come from the small map
-- ({{ map_grid }}×{{ map_grid }} for {{ R }} px pictures) — while the UNet sees every pixel at every level.

-- %% train echo=false
local function foreground(split)
  local b = S.data(split, { size = R, masks = true })
  local m = b.semantic:float():clamp(0, 1)
  return b.images, m:reshape(m:shape()[1], 1, R, R)
end

local function iou_dice(logits, masks)
  local p, t = logits:totable(), masks:totable()
  local inter, union, ps, ts = 0, 0, 0, 0
  for n = 1, #p do
    for y = 1, #p[n][1] do
      local pr, tr = p[n][1][y], t[n][1][y]
      for x = 1, #pr do
        local a, b = pr[x] > 0 and 1 or 0, tr[x]
        inter, ps, ts = inter + a * b, ps + a, ts + b
        if a + b > 0 then union = union + 1 end
      end
    end
  end
  return inter / math.max(union, 1), 2 * inter / math.max(ps + ts, 1)
end

local function train_seg(q, variant)
  local images, masks = foreground("seg_train")
  local vimages, vmasks = foreground("seg_val")
  local timages, tmasks = foreground("seg_test")
  local use_feats = variant ~= "unet"
  local feats = use_feats and S.features("rn", "seg_train", "map") or nil
  local vfeats = use_feats and S.features("rn", "seg_val", "map") or nil
  local tfeats = use_feats and S.features("rn", "seg_test", "map") or nil
  local net = cb.segnet_new({ in_ch = use_feats and feats:shape()[2] or 0, grid = use_feats and feats:shape()[3] or 4,
                              image = R, hidden = q.hidden, train_blocks = variant ~= "clip_as_run" }, cb.rand(1 << 30))
  local n = images:shape()[1]
  local val_every = math.max(1, q.steps // 15)
  local warmup = math.max(1, q.steps // 20)   -- warm-up, then cosine decay (as chapter 6)
  local train_loss, val_x, val_loss = {}, {}, {}
  for step in progress(q.steps, "segmentation " .. variant) do
    local idx = {}
    for i = 1, q.batch do idx[i] = cb.rand(n) - 1 end
    idx = cb.tensor(idx, "i64")
    train_loss[step] = net:train_step(use_feats and nil or cb.gather_rows(images, idx),
      feats and cb.gather_rows(feats, idx) or nil, cb.gather_rows(masks, idx), cb.warmup_cosine(step, q.steps, warmup, q.lr))
    if step % val_every == 0 or step == q.steps then
      val_x[#val_x + 1] = step
      val_loss[#val_loss + 1] = cb.bce_with_logits(net:logits(use_feats and nil or vimages, vfeats), vmasks):item()
    end
  end
  local tlog = net:logits(use_feats and nil or timages, tfeats)
  local iou, dice = iou_dice(tlog, tmasks)
  local show = tlog:slice(1, 1, 6)
  return { train = train_loss, val_x = val_x, val = val_loss, iou = iou, dice = dice,
           pred = (show:sigmoid() + 0.5):long():float(), trainable = net:trainable() }
end

local params = { decoder = dc, model = S.key(S.model_params("rn")), data = S.key(profile.data),
                 fingerprint = S.features("rn", "seg_test", "map") }  -- the model's output, by content
local q = { steps = dc.seg_steps or dc.steps, batch = dc.batch, lr = dc.lr, hidden = 64 }
local runs = {}
for _, v in ipairs { "clip", "clip_as_run", "unet" } do
  runs[v] = memo("seg." .. v, params, function() return train_seg(q, v) end)
end
local dc_grid = S.features("rn", "seg_test", "map"):shape()[3]
result("seg.clip.test_iou", runs.clip.iou, "%.3f")
result("seg.clip.test_dice", runs.clip.dice, "%.3f")
result("seg.clip_as_run.test_iou", runs.clip_as_run.iou, "%.3f")
result("seg.clip_as_run.test_dice", runs.clip_as_run.dice, "%.3f")
result("seg.unet.test_iou", runs.unet.iou, "%.3f")
result("seg.unet.test_dice", runs.unet.dice, "%.3f")
-- Converged: the mean training loss of the last tenth of the steps within
-- 5 % of the tenth before it (as chapter 6)
local function flat(l)
  local t = math.max(1, #l // 10)
  local function mean(a, b) local s = 0 for i = a, b do s = s + l[i] end return s / (b - a + 1) end
  local last, prev = mean(#l - t + 1, #l), mean(#l - 2 * t + 1, #l - t)
  return math.abs(prev - last) / prev
end
local seg_flat = true
for _, v in ipairs { "clip", "clip_as_run", "unet" } do
  local c = flat(runs[v].train)
  result("seg." .. v .. ".last_tenth_change", 100 * c, "%.1f")
  seg_flat = seg_flat and c < 0.05
end
result("seg.converged", seg_flat)
-- the original's ordering: the UNet ahead of the decoder on CLIP's map, and
-- the decoder as run (blocks frozen) behind the fixed one; a gap counts when
-- it is larger than the IoU's standard error on the test split,
-- sqrt(p(1-p)/pixels) with p the IoU (pixels as independent trials: a lower
-- bound on the real uncertainty, so the verdict errs towards "not separated")
local test_pixels = S.split_size.seg_test * R * R
local function apart(a, b)
  local se = math.sqrt(math.max(a * (1 - a), b * (1 - b)) / test_pixels)
  return a - b > 2 * se
end
local unet_ahead, fix_ahead = apart(runs.unet.iou, runs.clip.iou), apart(runs.clip.iou, runs.clip_as_run.iou)
result("seg.unet_ahead_of_clip", unet_ahead)
result("seg.fixed_ahead_of_as_run", fix_ahead)

-- %% figures echo=false
local timages, tmasks = foreground("seg_test")
local rows = {}
for i = 1, 6 do
  rows[i] = { image = cb.image(timages[i]), masks = { cb.mask(tmasks[i][1]:long()),
    cb.mask(runs.clip.pred[i][1]:long()), cb.mask(runs.clip_as_run.pred[i][1]:long()), cb.mask(runs.unet.pred[i][1]:long()) } }
end
figure {
  label = "fig-seg-masks",
  caption = "Test pictures with the ground-truth foreground and the masks predicted by the decoder on frozen CLIP features "
    .. "(fixed and as run) and by the UNet trained end to end.",
  kind = "mask_overlay", classes = { "background", "object" }, rows = rows,
  col_titles = { "image", "ground truth", "CLIP decoder", "CLIP, as run", "UNet" }, alpha = 0.55,
}
figure {
  label = "fig-seg-val",
  caption = "Validation loss (binary cross-entropy per pixel) during training.",
  kind = "line", x_label = "step", y_label = "validation BCE", markers = false,
  series = {
    { name = "CLIP decoder (fixed)", x = runs.clip.val_x, y = runs.clip.val },
    { name = "CLIP decoder (as run)", x = runs.clip_as_run.val_x, y = runs.clip_as_run.val },
    { name = "UNet end to end", x = runs.unet.val_x, y = runs.unet.val },
  },
}
tabular {
  label = "tbl-seg",
  caption = "Foreground segmentation on the test split: IoU and Dice of the predicted masks, and the parameters each model trains.",
  columns = { "model", "trained parameters", "IoU", "Dice" },
  rows = {
    { "decoder on frozen CLIP map, every layer trained", runs.clip.trainable, runs.clip.iou, runs.clip.dice },
    { "decoder on frozen CLIP map, as the original ran it", runs.clip_as_run.trainable, runs.clip_as_run.iou, runs.clip_as_run.dice },
    { "UNet trained end to end", runs.unet.trainable, runs.unet.iou, runs.unet.dice },
  },
  formats = { nil, "%d", "%.3f", "%.3f" },
}

-- %% [markdown]
-- On the test split the UNet reaches an IoU of {{ result("seg.unet.test_iou") }}
-- (Dice {{ result("seg.unet.test_dice") }}), the decoder on CLIP's map
-- {{ result("seg.clip.test_iou") }} (Dice {{ result("seg.clip.test_dice") }})
-- when every layer trains, and {{ result("seg.clip_as_run.test_iou") }}
-- (Dice {{ result("seg.clip_as_run.test_dice") }}) as the original ran it,
-- with its blocks frozen at random weights (@tbl-seg, @fig-seg-val). The
-- frozen blocks leave only a 1×1 convolution to learn: what reaches it is a
-- random projection of CLIP's map, upsampled (@fig-seg-masks). Training the
-- blocks {{ runs.clip.iou > runs.clip_as_run.iou and "is what lets the decoder use the map" or "made no difference here" }}
-- (IoU {{ result("seg.clip.test_iou") }} against
-- {{ result("seg.clip_as_run.test_iou") }}); even then, a decoder that sees
-- only the {{ dc_grid }}×{{ dc_grid }} map is
-- {{ runs.unet.iou > runs.clip.iou and "behind the UNet, which reads every pixel" or ("not behind the UNet on these " .. (S.about.seg_is_pets and "" or "simple ") .. "pictures") }}.
-- The original's ordering (UNet ahead, the decoder on CLIP's map behind,
-- the decoder as run further behind) is
-- {{ (unet_ahead and fix_ahead) and "reproduced" or ((unet_ahead or fix_ahead) and "reproduced in part" or "not reproduced") }}
-- here: the UNet is {{ unet_ahead and "clearly ahead of" or "not clearly ahead of" }}
-- the fixed CLIP decoder and training the blocks {{ fix_ahead and "clearly helps" or "does not clearly help" }}
-- (a gap counts when it exceeds twice the IoU's standard error over the
-- test split's {{ test_pixels }} pixels). All three train for
-- {{ q.steps }} steps, warm-up then cosine decay; their
-- training losses moved by {{ result("seg.clip.last_tenth_change") }},
-- {{ result("seg.clip_as_run.last_tenth_change") }} and
-- {{ result("seg.unet.last_tenth_change") }} % over the last tenth of the
-- steps, so the curves {{ seg_flat and "have flattened" or "have not all flattened" }}.
