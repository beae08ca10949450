-- %% [markdown]
-- # The paper fixture through the engine's loaders (FIXTURE_DIR, made by tests/paper/make_fixture.sh)

-- %% files
local D = assert(os.getenv("FIXTURE_DIR"), "set FIXTURE_DIR")
local C = D .. "/cifar-100-binary"
local train = assert(cb.cifar100(C .. "/train.bin"))
local test = assert(cb.cifar100(C .. "/test.bin"))
assert(train.images:shape()[1] == 500 and test.images:shape()[1] == 200, "500 + 200 CIFAR records")
local fine = assert(cb.cifar_names(C .. "/fine_label_names.txt", 100))
local coarse = assert(cb.cifar_names(C .. "/coarse_label_names.txt", 20))
assert(fine[1] == "apple" and fine[100] == "worm" and coarse[13] == "medium_mammals")
-- each fine class in exactly one superclass
local sup = {}
for i = 1, 500 do
  local f, c = train.fine:get(i), train.coarse:get(i)
  assert(sup[f] == nil or sup[f] == c, "fine class " .. f .. " in two superclasses")
  sup[f] = c
end
local pets = assert(cb.pets(D .. "/oxford-iiit-pet"))
assert(pets:count("trainval") == 40 and pets:count("test") == 20 and pets:count("val") == 4)
local pb = assert(pets:batch{ split = "trainval", size = 64 })
local tok = assert(cb.bpe(D .. "/bpe_simple_vocab_16e6.txt.gz"))

-- %% checkpoints
local vit = assert(cb.clip_load(D .. "/clip-vit-b-32.safetensors"))
local rn = assert(cb.clip_load(D .. "/clip-rn50.safetensors"))
local cv, cr = vit:config(), rn:config()
assert(cv.vocab_size == tok:vocab_size() and cr.vocab_size == tok:vocab_size(), "towers and vocabulary agree")
assert(cv.context_length == 77 and cr.context_length == 77)
print(("fixture: vit %d px, rn %d px, vocabulary %d"):format(cv.image_resolution, cr.image_resolution, tok:vocab_size()))
local prompts = {}
for i = 1, 100 do prompts[i] = "a photo of a " .. fine[i]:gsub("_", " ") .. "." end
local ft = vit:encode_text(tok:tokenize(prompts, 77))
assert(ft:shape()[1] == 100 and cb.all_finite(ft))
assert(cb.all_finite(rn:encode_image(pb.images)), "RN encodes the Pet pictures")
assert(rn:prepool(pb.images):shape()[3] == cr.image_resolution // 32, "the RN map before its pool")

-- %% a probe is not at chance
local Xtr = vit:encode_image(train.images)
local Xte = vit:encode_image(test.images)
local probe = cb.logreg_fit(Xtr, train.fine, { C = 0.316, max_iter = 1000 })
local acc = 100 * probe:score(Xte, test.fine)
print(("fixture: linear probe on the random ViT's features: %.1f %% (chance 1 %%)"):format(acc))
assert(acc > 5, "the fixture's pictures should be learnable, probe at " .. acc .. " %")
