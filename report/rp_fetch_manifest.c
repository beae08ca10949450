/* The built-in manifest of `clipbook fetch` (format: rp_fetch.h).
 *
 * Hashes are written down only where they come from the file's publisher
 * or a copy of the same file checked here; the others say "unknown" and
 * are recorded in DIR/MANIFEST.lock on the first download that passes the
 * content check. Never fill one in from memory: a wrong hash makes every
 * download fail. */
#include "rp_fetch.h"

static const char manifest[] =
    "# CIFAR-100, binary release (Krizhevsky 2009). Size and MD5 as the\n"
    "# CIFAR page publishes them.\n"
    "[cifar100]\n"
    "title   CIFAR-100 binary release: 50,000 train + 10,000 test 32x32 images\n"
    "file    cifar-100-binary.tar.gz\n"
    "url     https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz\n"
    "size    168513733\n"
    "md5     03b5dce01913d631647c71ecec9e9cb8\n"
    "sha256  unknown\n"
    "extract cifar-100-binary train.bin test.bin fine_label_names.txt coarse_label_names.txt\n"
    "check   cifar train.bin=50000 test.bin=10000 fine_label_names.txt=100 coarse_label_names.txt=20\n"
    "\n"
    "# OpenAI's BPE merges (openai/CLIP, MIT licence); open_clip ships the\n"
    "# same file. Size and SHA-256 of OpenAI's file.\n"
    "[bpe]\n"
    "title   OpenAI's CLIP BPE vocabulary (49,408 tokens)\n"
    "file    bpe_simple_vocab_16e6.txt.gz\n"
    "url     https://github.com/openai/CLIP/raw/main/clip/bpe_simple_vocab_16e6.txt.gz\n"
    "url     https://raw.githubusercontent.com/mlfoundations/open_clip/main/src/open_clip/bpe_simple_vocab_16e6.txt.gz\n"
    "size    1356917\n"
    "sha256  924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a\n"
    "check   bpe a photo of a cat. = 49406 320 1125 539 320 2368 269 49407\n"
    "\n"
    "# OpenAI's weights as open_clip / timm publish them (OpenAI's key names).\n"
    "# Size and SHA-256 unknown here: recorded on first download into\n"
    "# MANIFEST.lock and checked ever after. Set HF_ENDPOINT for a hub mirror.\n"
    "[vit-b-32]\n"
    "title   OpenAI CLIP ViT-B/32 (safetensors, open_clip's file)\n"
    "file    clip-vit-b-32.safetensors\n"
    "url     https://huggingface.co/timm/vit_base_patch32_clip_224.openai/resolve/main/open_clip_model.safetensors\n"
    "size    unknown\n"
    "approx  606M\n"
    "sha256  unknown\n"
    "check   clip vit=1 embed_dim=512 image_resolution=224 vision_layers=12 vision_width=768"
    " patch_size=32 context_length=77 vocab_size=49408 width=512 heads=8 layers=12\n"
    "\n"
    "[rn50]\n"
    "title   OpenAI CLIP RN50 (safetensors, open_clip's file)\n"
    "file    clip-rn50.safetensors\n"
    "url     https://huggingface.co/timm/resnet50_clip.openai/resolve/main/open_clip_model.safetensors\n"
    "size    unknown\n"
    "approx  410M\n"
    "sha256  unknown\n"
    "check   clip vit=0 embed_dim=1024 image_resolution=224 vision_layers=3,4,6,3 vision_width=64"
    " context_length=77 vocab_size=49408 width=512 heads=8 layers=12\n";

const char *rp_fetch_manifest_builtin(void) { return manifest; }
