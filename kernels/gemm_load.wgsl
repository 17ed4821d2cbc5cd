// gemm_load.wgsl — element loads shared by the GEMM kernels (included, no entry points).
// Operands are flat u32 arrays holding elements of kind A_KIND / B_KIND:
//   0 = f32, 1 = f16 (two per u32), 2 = bf16 (two per u32), 3 = FP8 E4M3, 4 = FP8 E5M2 (four per u32).
// The kinds are pipeline-override constants, so each pipeline compiles to one load path.
// @include numeric

override A_KIND: u32 = 0u;
override B_KIND: u32 = 0u;

fn load_kind(word: u32, idx: u32, kind: u32) -> f32 {
  switch kind {
    case 1u: {
      return unpack2x16float(word)[idx & 1u];
    }
    case 2u: {
      return bf16_at(word, idx);
    }
    case 3u: {
      return fp8_at(word, idx, 0u);
    }
    case 4u: {
      return fp8_at(word, idx, 1u);
    }
    default: {
      return bitcast<f32>(word);
    }
  }
}

fn word_index(idx: u32, kind: u32) -> u32 {
  switch kind {
    case 1u, 2u: {
      return idx >> 1u;
    }
    case 3u, 4u: {
      return idx >> 2u;
    }
    default: {
      return idx;
    }
  }
}
