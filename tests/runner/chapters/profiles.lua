return {
  smoke = { n = 4, seed = 1, bench = { steps = 3 }, fewshot = { epochs = 20 } },
  mini = { n = 8, seed = 0 },
}
