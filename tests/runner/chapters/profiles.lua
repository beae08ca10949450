return {
  smoke = { n = 4, seed = 1 },
  mini = { n = 8, seed = 0 },
}
