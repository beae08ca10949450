-- %% [markdown]
-- # What a cached experiment wrote is written again

-- %% train
local acc = memo("replay_train", { epochs = 3 }, function(p)
  for e = 1, p.epochs do print("epoch", e) end
  io.write("done training\n")
  result("replay.acc", 0.75, "%.2f")
  figure{ label = "fig-replay", kind = "line", series = { { y = { 1, 2, 3 } } } }
  return 0.75
end)
print("after", acc)

-- %% [markdown]
-- Accuracy {{ result "replay.acc" }}.
