#!/usr/bin/env bash
# run-fuzz.sh BUILDDIR SECONDS — runs each libFuzzer target for SECONDS.
#
#   CC=clang meson setup build-fuzz -Dfuzzing=true
#   ninja -C build-fuzz tests/fuzz/fuzz-safetensors tests/fuzz/fuzz-config \
#     tests/fuzz/fuzz-tokenizer tests/fuzz/fuzz-image tests/fuzz/fuzz-model-index \
#     tests/fuzz/fuzz-index tests/fuzz/fuzz-sched tests/fuzz/fuzz-model-config \
#     tests/fuzz/fuzz-forward tests/fuzz/fuzz-mask
#   bash tests/fuzz/run-fuzz.sh build-fuzz 60
#
# GEN_FUZZ_TARGETS="index sched" runs only those.
#
# Each target starts from a fresh temporary corpus seeded here (valid
# safetensors files with F32/F16/BF16 tensors, valid diffusers configs, small
# tokenizers with prompts, small PNG/JPEG/TIFF files that fuzz-image writes
# itself, index files, scheduler configs, hostile weight bytes and masks: no
# binary files live in the repository).  Exits non-zero if any target finds
# a crash, a leak, undefined behaviour or a timeout; the reproducer is kept
# in BUILDDIR/fuzz-artifacts/TARGET/ (replay: BIN FILE).
set -euo pipefail

usage () { echo "usage: $0 BUILDDIR SECONDS" >&2; exit 2; }
[ $# -eq 2 ] || usage
builddir=$1
seconds=$2
case $seconds in '' | *[!0-9]*) usage ;; esac
[ -d "$builddir" ] || { echo "run-fuzz: no build folder $builddir" >&2; exit 2; }
builddir=$(cd "$builddir" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/gen-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ---- seed corpus ------------------------------------------------------------

# The 8 little-endian bytes of $1.
le64 () {
  local n=$1 i
  for i in 0 1 2 3 4 5 6 7; do
    printf "\\x$(printf '%02x' $(( (n >> (8 * i)) & 255 )))"
  done
}

# st FILE HEADER DATA: a safetensors file; HEADER is padded with spaces to a
# multiple of 8 bytes as the reference writer does; DATA is printf escapes.
# Also FILE.split: "HEADER NUL DATA", the fuzz target's second reading.
st () {
  local file=$1 header=$2 data=$3
  { printf '%s\0' "$header"; printf "$data"; } > "$file.split"
  while (( ${#header} % 8 )); do header+=' '; done
  { le64 "${#header}"; printf '%s' "$header"; printf "$data"; } > "$file"
}

seed_safetensors () {
  local dir=$1
  # F32: 1.0 -2.0 | 0.5 | smallest subnormal
  st "$dir/f32.safetensors" \
    '{"__metadata__":{"format":"pt"},"a.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[],"data_offsets":[8,12]},"c":{"dtype":"F32","shape":[1,1],"data_offsets":[12,16]}}' \
    '\x00\x00\x80\x3f\x00\x00\x00\xc0\x00\x00\x00\x3f\x01\x00\x00\x00'
  # F16: 1.0 -2.0 subnormal inf -0 | empty [2,0] | 65504
  st "$dir/f16.safetensors" \
    '{"x":{"dtype":"F16","shape":[5],"data_offsets":[0,10]},"y":{"dtype":"F16","shape":[2,0],"data_offsets":[10,10]},"z":{"dtype":"F16","shape":[1],"data_offsets":[10,12]}}' \
    '\x00\x3c\x00\xc0\x01\x00\x00\x7c\x00\x80\xff\x7b'
  # BF16: 1.0 -3.0 | 3.140625 | nan
  st "$dir/bf16.safetensors" \
    '{"p":{"dtype":"BF16","shape":[2,1],"data_offsets":[0,4]},"q":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},"r":{"dtype":"BF16","shape":[1],"data_offsets":[6,8]}}' \
    '\x80\x3f\x40\xc0\x49\x40\xc0\x7f'
  # every float dtype, an integer one, and an unaligned offset
  st "$dir/mixed.safetensors" \
    '{"m":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"f":{"dtype":"F32","shape":[1],"data_offsets":[1,5]},"h":{"dtype":"F16","shape":[1],"data_offsets":[5,7]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[7,9]},"i":{"dtype":"I64","shape":[1],"data_offsets":[9,17]}}' \
    '\x07\x00\x00\x80\x3f\x00\x3c\x80\x3f\x01\x02\x03\x04\x05\x06\x07\x08'
}

seed_config () {
  local dir=$1
  cat > "$dir/unet.json" <<'EOF'
{
  "_class_name": "UNet2DModel",
  "_diffusers_version": "0.30.0",
  "act_fn": "silu",
  "attention_head_dim": 8,
  "block_out_channels": [32, 64, 64],
  "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"],
  "in_channels": 3,
  "layers_per_block": 2,
  "norm_eps": 1e-05,
  "norm_num_groups": 32,
  "sample_size": 32,
  "time_embedding_type": null
}
EOF
  cat > "$dir/vae.json" <<'EOF'
{"_class_name": "AutoencoderKL", "block_out_channels": [64, 128.0], "force_upcast": true,
 "latent_channels": 4, "layers_per_block": 1, "scaling_factor": 0.18215,
 "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"], "norm_eps": 1e-6}
EOF
  cat > "$dir/scheduler.json" <<'EOF'
{"_class_name": "DDIMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
 "clip_sample": false, "num_train_timesteps": 1000, "trained_betas": null,
 "nested": {"a": [[1, -2], {"b": "\u00e9\ud83d\ude00\n"}]}}
EOF
}

seed_model_index () {
  local dir=$1
  cat > "$dir/sd15.json" <<'EOF'
{"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.6.0",
 "feature_extractor": ["transformers", "CLIPImageProcessor"],
 "safety_checker": [null, null], "scheduler": ["diffusers", "PNDMScheduler"],
 "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
 "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
 "requires_safety_checker": false}
EOF
  cat > "$dir/lcm.json" <<'EOF'
{"_class_name": "LatentConsistencyModelPipeline", "scheduler": ["diffusers", "LCMScheduler"],
 "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
 "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderTiny"],
 "image_encoder": [null, null]}
EOF
}

# tok FILE VOCAB MERGES SPECIAL PROMPT: fuzz-tokenizer's input, the four
# parts separated by NUL bytes.
tok () {
  printf '%s\0%s\0%s\0%s' "$2" "$3" "$4" "$5" > "$1"
}

seed_tokenizer () {
  local dir=$1
  local v='{"!": 0, "a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "o": 6, "r": 7, "!</w>": 8, "a</w>": 9, "b</w>": 10, "c</w>": 11, "d</w>": 12, "e</w>": 13, "o</w>": 14, "r</w>": 15, "ab": 16, "cd</w>": 17, "abcd</w>": 18, "!!</w>": 19, "\u0120</w>": 20, "<|startoftext|>": 21, "<|endoftext|>": 22}'
  local m=$'#version: 0.2\na b\nc d</w>\nab cd</w>\n! !</w>\n'
  tok "$dir/sd1" "$v" "$m" '' "abcd ABCD!! ab'cd e<|endoftext|>x"
  tok "$dir/sd2" "$v" "$m" '{"pad_token": "!", "eos_token": {"content": "<|endoftext|>"}}' \
    '!! abcd! e or eor'
  tok "$dir/unicode" "$v" "$m" '' $'caf\xc3\xa9 \xce\xa3\xce\x9f\xce\xa3 \xe7\x8c\xab 1,234 \xf0\x9f\x98\x80 &amp; \t\x01 don'"'"'t'
}

# Image seeds: fuzz-image writes them (libpng/libjpeg/libtiff and
# gen_image_save) when GEN_FUZZ_IMAGE_SEEDS names a folder.
seed_image () {
  GEN_FUZZ_IMAGE_SEEDS=$1 "$builddir/tests/fuzz/fuzz-image" > /dev/null
}

dict_safetensors () {
  printf '%s\n' '"dtype"' '"shape"' '"data_offsets"' '"__metadata__"' '"F32"' '"F16"' \
    '"BF16"' '"F64"' '"I64"' '"I32"' '"U8"' '"BOOL"' '"F8_E4M3"' '"\"dtype\":"' \
    '"\"shape\":["' '"\"data_offsets\":["' '"{"' '"}"' '"["' '"]"' '":"' '","' '"null"' \
    '"\\u"' '"9223372036854775807"' '"4294967296"' > "$1"
}

dict_config () {
  printf '%s\n' '"_class_name"' '"block_out_channels"' '"layers_per_block"' '"norm_eps"' \
    '"sample_size"' '"down_block_types"' '"act_fn"' '"scaling_factor"' '"force_upcast"' \
    '"attention_head_dim"' '"true"' '"false"' '"null"' '"1e-05"' '"32.0"' '"-0"' '"\\u"' \
    '"\\ud83d\\ude00"' '"{"' '"}"' '"["' '"]"' '":"' '","' > "$1"
}

dict_tokenizer () {
  printf '%s\n' '"#version: 0.2\x0a"' '"</w>"' '"<|startoftext|>"' '"<|endoftext|>"' \
    '"\"pad_token\""' '"\"content\""' '"\"unk_token\""' '"\x00"' '"\xce\xa3"' \
    '"\xc4\xb0"' '"\xcd\x85"' '"\xe2\x80\xa8"' '"\xe7\x8c\xab"' '"\xef\xbf\xbd"' \
    '"'"'"'s"' '"'"'"'ll"' '"&amp;"' '"\\u0120"' '": 1, "' '"{"' '"}"' > "$1"
}

dict_model_index () {
  printf '%s\n' '"_class_name"' '"StableDiffusionPipeline"' '"LatentConsistencyModelPipeline"' \
    '"unet"' '"vae"' '"text_encoder"' '"tokenizer"' '"scheduler"' '"UNet2DConditionModel"' \
    '"AutoencoderKL"' '"CLIPTextModel"' '"CLIPTokenizer"' '"../"' '"/"' '"null"' \
    '"[null, null]"' '"{"' '"}"' '"["' '"]"' '":"' '","' > "$1"
}

dict_image () {
  printf '%s\n' '"IHDR"' '"PLTE"' '"IDAT"' '"IEND"' '"tRNS"' '"gAMA"' '"iCCP"' '"zTXt"' \
    '"\x89PNG\x0d\x0a\x1a\x0a"' '"\xff\xd8\xff"' '"\xff\xc0"' '"\xff\xc2"' '"\xff\xc4"' \
    '"\xff\xc9"' '"\xff\xcc"' '"\xff\xda"' '"\xff\xdb"' '"\xff\xdd"' '"\xff\xd9"' \
    '"\xff\xe0"' '"\xff\xee"' '"\xff\xd0"' '"Adobe"' '"II*\x00"' '"MM\x00*"' '"II+\x00"' \
    '"\x00\x01\x03\x00"' '"\x01\x01\x03\x00"' '"\x02\x01\x03\x00"' '"\x03\x01\x03\x00"' \
    '"\x06\x01\x03\x00"' '"\x11\x01\x04\x00"' '"\x15\x01\x03\x00"' '"\x16\x01\x04\x00"' \
    '"\x17\x01\x04\x00"' '"\x1c\x01\x03\x00"' '"\x42\x01\x03\x00"' '"\x43\x01\x03\x00"' \
    '"\x44\x01\x04\x00"' '"\x45\x01\x04\x00"' '"\x52\x01\x03\x00"' '"\x53\x01\x03\x00"' \
    '"\x40\x01\x03\x00"' > "$1"
}

seed_index () {
  printf '%s' '{"metadata":{"total_size":20},"weight_map":{"x":"a.safetensors","y":"b.safetensors"}}' \
    > "$1/two.json"
  printf '%s' '{"weight_map":{"x":"a.safetensors","x2":"../a.safetensors","z":"c.safetensors"}}' \
    > "$1/bad.json"
}

seed_sched () {
  seed_config "$1"
  rm "$1/unet.json" "$1/vae.json"
  printf '%s' '{"_class_name":"EulerDiscreteScheduler","beta_schedule":"squaredcos_cap_v2","num_train_timesteps":100,"timestep_spacing":"trailing","steps_offset":1,"use_karras_sigmas":true,"prediction_type":"v_prediction"}' \
    > "$1/euler.json"
}

seed_model_config () {
  seed_config "$1"
  rm "$1/scheduler.json"
  printf '%s' '{"_class_name":"AutoencoderTiny","encoder_block_out_channels":[8,8],"decoder_block_out_channels":[8,8],"num_encoder_blocks":[1,1],"num_decoder_blocks":[1,1],"latent_channels":4}' \
    > "$1/tiny.json"
  printf '%s' '{"_class_name":"UNet2DConditionModel","sample_size":8,"in_channels":4,"out_channels":4,"block_out_channels":[8,16],"layers_per_block":1,"norm_num_groups":4,"cross_attention_dim":8,"attention_head_dim":2,"down_block_types":["CrossAttnDownBlock2D","DownBlock2D"],"up_block_types":["UpBlock2D","CrossAttnUpBlock2D"],"time_cond_proj_dim":4}' \
    > "$1/unet-cond.json"
  printf '%s' '{"architectures":["CLIPTextModel"],"model_type":"clip_text_model","vocab_size":64,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":2,"num_attention_heads":2,"max_position_embeddings":16,"hidden_act":"quick_gelu"}' \
    > "$1/clip.json"
}

# Hostile weights: small floats, then NaN, Inf and 65504 among them.
seed_forward () {
  printf '\x0a\xd7\x23\x3c\x0a\xd7\x23\xbc\xcd\xcc\x4c\x3d\x00\x00\x80\x3f' > "$1/small"
  printf '\x0a\xd7\x23\x3c\x00\x00\xc0\x7f\x00\x00\x80\x7f\x00\xfe\x7f\x47' > "$1/special"
}

# Width and height bytes, then mask values (0, 1, 0.5, NaN, -1).
seed_mask () {
  printf '\x0e\x0a\x00\x00\x00\x00\x00\x00\x80\x3f\x00\x00\x00\x3f\x00\x00\xc0\x7f\x00\x00\x80\xbf' \
    > "$1/mixed"
}

dict_index () {
  printf '%s\n' '"weight_map"' '"metadata"' '"total_size"' '"a.safetensors"' '"b.safetensors"' \
    '"../"' '"/"' '"x"' '"y"' '"{"' '"}"' '":"' '","' > "$1"
}

dict_sched () {
  printf '%s\n' '"_class_name"' '"DDIMScheduler"' '"EulerDiscreteScheduler"' '"PNDMScheduler"' \
    '"LCMScheduler"' '"DPMSolverMultistepScheduler"' '"beta_start"' '"beta_end"' '"beta_schedule"' \
    '"linear"' '"scaled_linear"' '"squaredcos_cap_v2"' '"trained_betas"' \
    '"num_train_timesteps"' '"timestep_spacing"' '"leading"' '"trailing"' '"linspace"' \
    '"steps_offset"' '"prediction_type"' '"v_prediction"' '"sample"' '"clip_sample"' \
    '"set_alpha_to_one"' '"use_karras_sigmas"' '"rescale_betas_zero_snr"' '"1e-300"' '"1e308"' \
    '"-1"' '"0"' '"true"' > "$1"
}

dict_model_config () {
  dict_config "$1"
  printf '%s\n' '"UNet2DModel"' '"AutoencoderKL"' '"AutoencoderTiny"' '"AttnDownBlock2D"' \
    '"AttnUpBlock2D"' '"DownEncoderBlock2D"' '"UpDecoderBlock2D"' '"in_channels"' \
    '"out_channels"' '"latent_channels"' '"norm_num_groups"' '"time_embedding_type"' \
    '"fourier"' '"resnet_time_scale_shift"' '"scale_shift"' '"encoder_block_out_channels"' \
    '"num_encoder_blocks"' '"upsampling_scaling_factor"' '"65536"' '"2147483647"' \
    '"UNet2DConditionModel"' '"CrossAttnDownBlock2D"' '"CrossAttnUpBlock2D"' \
    '"UNetMidBlock2DCrossAttn"' '"cross_attention_dim"' '"use_linear_projection"' \
    '"num_attention_heads"' '"time_cond_proj_dim"' '"upcast_attention"' '"CLIPTextModel"' \
    '"hidden_size"' '"num_hidden_layers"' '"max_position_embeddings"' '"quick_gelu"' >> "$1"
}

dict_forward () {
  printf '%s\n' '"\x00\x00\xc0\x7f"' '"\x00\x00\x80\x7f"' '"\x00\x00\x80\xff"' \
    '"\x00\xfe\x7f\x47"' '"\x01\x00\x00\x00"' '"\xff\xff\x7f\x7f"' > "$1"
}

dict_mask () {
  dict_forward "$1"
  printf '%s\n' '"\x00\x00\x80\x3f"' '"\x00\x00\x00\x3f"' '"\x00\x00\x00\x80"' >> "$1"
}

# ---- run --------------------------------------------------------------------

export G_SLICE=always-malloc G_DEBUG=fatal-criticals
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

status=0
targets=${GEN_FUZZ_TARGETS:-safetensors config tokenizer image model-index index sched model-config forward mask}
for target in $targets; do
  bin=$builddir/tests/fuzz/fuzz-$target
  fn=${target//-/_}
  if [ ! -x "$bin" ]; then
    echo "run-fuzz: $bin is not built (ninja -C $builddir tests/fuzz/fuzz-$target)" >&2
    exit 2
  fi
  corpus=$work/corpus-$target
  artifacts=$builddir/fuzz-artifacts/$target
  mkdir -p "$corpus" "$artifacts"
  "seed_$fn" "$corpus"
  "dict_$fn" "$work/$target.dict"

  echo "== fuzz-$target: ${seconds}s"
  if "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=25 -rss_limit_mb=2048 \
       -print_final_stats=1 -dict="$work/$target.dict" -artifact_prefix="$artifacts/" \
       "$corpus"; then
    echo "== fuzz-$target: clean"
  else
    echo "== fuzz-$target: FAILED; reproducer in $artifacts/" >&2
    status=1
  fi
done
exit $status
