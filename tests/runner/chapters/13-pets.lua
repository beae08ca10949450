-- %% [markdown]
-- # The Oxford-IIIT Pet set from Lua (fixture: tests/pets/data, written by Pillow)

-- %% pets
local D = os.getenv("PETS_DIR") or "tests/pets/data"
local pets = assert(cb.pets(D))
assert(pets:count("trainval") == 20 and pets:count("test") == 8)
assert(pets:count("train") == 18 and pets:count("val") == 2, "val is every tenth trainval line")
local names = pets:names("test")
assert(#names == 8)
-- a batch: CHW images in [0,1] equal to Pillow's resize, i64 masks
local b = assert(pets:batch{ split = "test", start = 1, n = 8, size = 24 })
local sh = b.images:shape()
assert(sh[1] == 8 and sh[2] == 3 and sh[3] == 24 and sh[4] == 24)
assert(b.masks:dtype() == "i64" and b.masks:shape()[1] == 8 and b.masks:shape()[3] == 24)
assert(b.labels:shape()[1] == 8 and b.species:shape()[1] == 8 and #b.names == 8)
assert(b.names[1] == names[1])
local worst, compared = 0, 0
for i = 1, 8 do
  local want = cb.load_npy(D .. "/expect/" .. b.names[i] .. ".s24.rgb.npy")  -- (24,24,3) bytes as i64
  if want then
    compared = compared + 1
    for y = 1, 24, 5 do
      for x = 1, 24, 3 do
        for c = 1, 3 do
          local d = math.abs(b.images:get(i, c, y, x) * 255 - want:get(y, x, c))
          if d > worst then worst = d end
        end
      end
    end
  end
end
assert(compared >= 2, "some test pictures have Pillow references")
assert(worst < 1e-3, "images differ from Pillow's resize by " .. worst)
print(("pets: %d pictures compared with Pillow, worst |diff| %.2g (of 255)"):format(compared, worst))
-- boundary policy: foreground gives {0,1}; ignore gives {0,1,255}
local ig = assert(pets:batch{ split = "train", n = 4, size = 32, boundary = "ignore" })
local fg = assert(pets:batch{ split = "train", n = 4, size = 32 })
local seen = {}
for i = 1, 4 do for y = 1, 32 do for x = 1, 32 do
  local a, f = ig.masks:get(i, y, x), fg.masks:get(i, y, x)
  seen[a] = true
  assert(f == 0 or f == 1)
  assert(a == f or (a == 255 and f == 1), "ignore differs from foreground only on the boundary")
end end end
assert(seen[0] and seen[1] and seen[255], "fixture masks hold pet, background and boundary")
-- misuse raises naming the argument; a missing folder is nil, message
local ok, e = pcall(pets.batch, pets, { split = "validation", size = 8 })
assert(not ok and e:find("validation"), e)
ok, e = pcall(pets.batch, pets, { split = "val", start = 3, size = 8 })
assert(not ok and e:find("start = 3"), e)
ok, e = pcall(pets.batch, pets, { split = "val" })
assert(not ok and e:find("size"), e)
local none, msg = cb.pets(D .. "/nope")
assert(none == nil and msg:find("nope"), msg)
pets:free()
ok, e = pcall(pets.count, pets, "test")
assert(not ok and e:find("freed"), e)
