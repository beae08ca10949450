-- Profiles: the sizes and names that differ between runs of the study.
-- `clipbook run --profile P` hands chapters profiles[P] as `profile`
-- (profile.name = P); chapters read sizes from it and never branch on the
-- name. Chapters add the fields they need; keep the three in step.
return {
  -- tests: the whole study in well under a minute
  smoke = { seed = 0, shots = { 1, 2, 4 } },
  -- the default: shapes world, small towers, CPU, minutes
  mini = { seed = 0, shots = { 1, 2, 4, 8, 16 } },
  -- CIFAR-100 and OpenAI's ViT-B/32 and RN50 checkpoints, on a GPU
  paper = { seed = 0, shots = { 1, 2, 4, 8, 16 } },
}
