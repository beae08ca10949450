-- Figures published elsewhere that chapters 3, 4 and 9 set this run's
-- results beside: quoted with their source, never computed here (every
-- other number in the prose is). Compared only where the run does the same
-- task (CIFAR-100 with OpenAI's checkpoints: S.about.same_task in
-- chapters/study.lua).
--
--   local P = assert(loadfile(here .. "/published.lua"))()
return {
  -- the study this project reproduces: ViT-B/32 on CIFAR-100, the probe at
  -- C = 0.316 on all 50,000 training pictures, zero-shot with the single
  -- prompt "a photo of a {class}"
  original = { probe_vit = 79.92, zeroshot_vit = 61.68 },
  -- CLIP's paper [@radford2021], Table 11 (zero-shot top-1 on CIFAR-100),
  -- with the paper's ensemble of the 18 CIFAR-100 prompts of
  -- github.com/openai/CLIP data/prompts.md (the same figures are quoted from
  -- Table 11 in openai/CLIP issues #153 and #204)
  clip_zeroshot = { vit = 65.1, rn = 41.6, where = "Table 11" },
  -- the 18 templates of data/prompts.md for CIFAR-100, "{}" as "{class}"
  cifar100_templates = {
    "a photo of a {class}.", "a blurry photo of a {class}.", "a black and white photo of a {class}.",
    "a low contrast photo of a {class}.", "a high contrast photo of a {class}.", "a bad photo of a {class}.",
    "a good photo of a {class}.", "a photo of a small {class}.", "a photo of a big {class}.",
    "a photo of the {class}.", "a blurry photo of the {class}.", "a black and white photo of the {class}.",
    "a low contrast photo of the {class}.", "a high contrast photo of the {class}.", "a bad photo of the {class}.",
    "a good photo of the {class}.", "a photo of the small {class}.", "a photo of the big {class}.",
  },
}
