-- %% [markdown]
-- # The shapes world from Lua

-- %% batch
local b = cb.shapes.batch{ split = "cls_train", start = 3, n = 4, size = 16, masks = true, captions = true }
local s = b.images:shape()
assert(s[1] == 4 and s[2] == 3 and s[3] == 16 and s[4] == 16)
assert(b.labels:dtype() == "i64" and #b.labels == 4 and #b.captions == 4)
local mx = b.images:max(1):max(1):max(1):max(1):item()
assert(mx <= 1 and mx > 0.2, "images in [0, 1]")
-- picture i is the same whatever batch it comes in
local c = cb.shapes.batch{ split = "cls_train", start = 4, n = 1, size = 16, captions = true }
assert(c.captions[1] == b.captions[2] and c.labels[1] == b.labels[2])
assert(math.abs((c.images[1] - b.images[2]):abs():sum():item()) == 0)
local names = cb.shapes.class_names()
assert(#names == cb.shapes.classes and names[b.labels[1] + 1]:find(" "))
assert(b.semantic:float():max(1):max(1):max(1):item() >= 1, "masks mark objects")
local okf, ef = pcall(function() return b.semantic:max(1) end)
assert(not okf and ef:find("expected an f32 tensor"), ef)
print(b.captions[1], names[b.labels[1] + 1])
-- caption noise: all rates 0 is the exact captions; background = 1 names no shape
local z = cb.shapes.batch{ split = "cls_train", start = 3, n = 4, size = 8, captions = true, caption_noise = {} }
for i = 1, 4 do assert(z.captions[i] == b.captions[i], z.captions[i]) end
local bg = cb.shapes.batch{ split = "cls_train", start = 3, n = 4, size = 8, captions = true,
                            caption_noise = { background = 1 } }
for i = 1, 4 do assert(not bg.captions[i]:find(names[b.labels[i] + 1], 1, true), bg.captions[i]) end
local okn, en = pcall(cb.shapes.batch, { split = "cls_train", n = 1, captions = true, caption_noise = { synonyms = 0.1 } })
assert(not okn and en:find("unknown key 'synonyms'"), en)
okn, en = pcall(cb.shapes.batch, { split = "cls_train", n = 1, captions = true, caption_noise = { wrong = 0.6, merge = 0.6 } })
assert(not okn and en:find("exceeds 1"), en)
local ok, e = pcall(cb.shapes.batch, { split = "nope", n = 1 })
assert(not ok and e:find("invalid option 'nope'"), e)
figure{ kind = "image_grid", images = { cb.image(b.images[1]), cb.image(b.images[2]) } }
