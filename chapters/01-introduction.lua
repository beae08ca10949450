-- %% [markdown]
-- # Introduction {#sec-intro}
--
-- CLIP [@radford2021] learns to see from pictures and their captions alone:
-- an image encoder and a text encoder are trained so that a picture and its
-- own caption land close together and unrelated ones far apart. Because the
-- text side can encode any sentence, a trained CLIP can classify pictures
-- into classes it was never trained on by comparing them with the class
-- names written as captions — *zero-shot* classification.
--
-- This report rebuilds a study of what CLIP's features are good for and
-- what they lose. It asks, chapter by chapter:
--
-- - how well a linear classifier on frozen CLIP features does
--   (the linear probe, @sec-probe), and how well zero-shot does without any
--   labelled picture (@sec-zeroshot);
-- - what happens in between, with one to sixteen labelled pictures per
--   class, when the classifier starts at random or from the zero-shot text
--   weights, and how to keep the few-shot classifier from forgetting what the
--   text knew (@sec-fewshot);
-- - whether CLIP's image features before the attention pool still hold
--   enough to redraw a picture (a VQ-VAE decoder, @sec-vqvae) and to segment
--   it (a UNet decoder, @sec-seg);
-- - what the attention pool throws away — the number and the position of
--   objects (@sec-pool), the original study's closing hypothesis, tested here.
--
-- @sec-conclusion says what reproduced and what did not; @sec-appendix
-- records how this run was made.
--
-- ## How to read this report
--
-- Every number, table and figure in the text is computed by the code of
-- the chapter it appears in, in the run that produced this document (or
-- read from that run's cache): nothing is typed in. Code that teaches
-- something — the contrastive loss, the zero-shot head, the zero-shot
-- initialisation — is shown; plumbing is hidden but lives in the chapter
-- files (`chapters/NN-name.lua`) and in `chapters/study.lua`, which holds the
-- pieces several chapters share.
--
-- ## Two sizes of the same study
--
-- The study runs in one of three *profiles*; the chapters read sizes and
-- names from the profile and are otherwise the same code.

-- %% profiles echo=false
local t = profile.towers
local function desc(tw)
  if tw.checkpoint then return "checkpoint " .. tw.checkpoint end
  return string.format("%s, %d px, pre-trained %d steps", tw.vision_vit == 1 and "ViT" or "ResNet",
    tw.image_resolution, tw.train.steps)
end
tabular {
  label = "tbl-profiles",
  caption = "The profiles. This document was made with the one named in the appendix (here: " .. profile.name .. ").",
  columns = { "profile", "data", "models", "meant for" },
  rows = {
    { "smoke", "shapes world, tiny splits", "tiny ViT and ResNet CLIP towers, a few dozen steps", "tests (under 90 s)" },
    { "mini", "shapes world (generated, no download)", "small ViT and ResNet CLIP towers pre-trained here", "any CPU, minutes (the default)" },
    { "paper", "CIFAR-100 (`make data`)", "OpenAI's ViT-B/32 and RN50 checkpoints", "a GPU machine" },
  },
  align = "llll",
}
result("intro.profile", profile.name)
result("intro.vit", desc(t.vit))
result("intro.rn", desc(t.rn))

-- %% [markdown]
-- This run uses the **{{ result("intro.profile") }}** profile: its ViT is a
-- {{ result("intro.vit") }}, its ResNet a {{ result("intro.rn") }}. The
-- *mini* profile's data is the *shapes world*: pictures of one to four
-- coloured shapes on textured backgrounds, generated deterministically by the
-- engine together with captions, class labels, masks, object counts and
-- positions — everything the experiments need, with nothing to download.
-- Its numbers are not CIFAR-100's; what can be compared with the original is
-- the *shape* of each result (which method wins, where the curves cross).
--
-- ## Rebuilding it
--
-- `make report` builds `build/report/report.pdf` and `report.html`
-- (`make report PROFILE=smoke` for the tiny version). Each chapter runs in
-- its own process; every experiment goes through a memo store
-- (`build/cache/`) keyed by its code and parameters, so editing the prose of
-- a chapter reruns no experiment, and editing one experiment reruns only that
-- one and what depends on it. `build/report/results.json` holds every
-- quoted number under a stable label, for scripts that compare runs.
