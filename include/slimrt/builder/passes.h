// slimrt/builder/passes.h: graph rewrites run by the builder before memory planning. BUILDER
// side (library slimrt_builder); the runtime never includes it.
//
//   PassReport report;
//   Status s = run_passes(graph, PassOptions{}, &report);
//   std::puts(report.to_string().c_str());
//
// Every pass keeps the graph's outputs (names, dtypes, values up to float rounding) and its
// inputs unchanged. run_passes runs, in order: constant folding, dead-code elimination,
// Identity/Dropout removal, Conv+BatchNormalization folding, patchify convolutions -> MatMul,
// pattern recognition (decomposed LayerNorm, RMSNorm, GELU, SiLU, scaled-dot-product attention
// -> one fused op each), multi-head attention canonicalization (the data movement between
// Attention and its projections), epilogue fusion (Conv/Gemm/MatMul + bias, activation, residual
// add), element-wise chain fusion, sequence-major attention, dead-code elimination again, then
// infer_shapes so that every Value's dtype and shape stay consistent. docs/passes.md describes
// when each pass refuses to rewrite.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "slimrt/graph.h"
#include "slimrt/status.h"

namespace slimrt {

struct PassOptions {
  bool fold_constants = true;
  bool eliminate_dead_code = true;
  bool fold_conv_batchnorm = true;
  bool remove_identity = true;
  bool patchify_conv = true;
  bool recognize_patterns = true;
  bool canonicalize_mha = true;
  // With canonicalize_mha: Q, K and V projected from one batch-first x become ONE GEMM whose
  // output Attention reads packed (qkv_packed = 1); false keeps three projections.
  bool pack_qkv = true;
  bool fuse_epilogues = true;
  bool fuse_elementwise = true;
  bool seq_major_attention = true;
  // Constant folding leaves a node alone when one of its outputs has more elements than this,
  // so that folding never bloats the weights with huge broadcasts.
  int64_t max_fold_elements = int64_t{64} << 20;
};

// What one pass changed.
struct PassStats {
  std::string pass;
  int64_t nodes_removed = 0;
  int64_t nodes_added = 0;
  // Values deleted because nothing produced or used them any more (dead-code elimination):
  // unused initializers and the outputs of removed nodes.
  int64_t values_removed = 0;
  // One line per rewrite or refusal worth knowing about ("folded bn1 into conv1").
  std::vector<std::string> lines;
};

struct PassReport {
  size_t nodes_before = 0;
  size_t nodes_after = 0;
  std::vector<PassStats> passes;
  // A summary: one line per pass, then its description lines indented.
  std::string to_string() const;
};

// Runs the enabled passes in order (see the top of this file). `report` may be nullptr.
Status run_passes(Graph& g, const PassOptions& options, PassReport* report);

// Each pass on its own. The graph must have been through infer_shapes. `stats` may be nullptr.
// Replaces every node whose inputs are all constants (or whose integer outputs shape inference
// already knows exactly, e.g. Shape of a static tensor) by initializers.
Status fold_constants(Graph& g, const PassOptions& options, PassStats* stats);
// Removes nodes none of whose outputs is used or is a graph output, and releases the data of
// constants nothing uses.
Status eliminate_dead_code(Graph& g, PassStats* stats);
// Folds BatchNormalization(Conv(x, W, B?)) into Conv(x, W', B') when W, B and the BN
// parameters are constant float32 and the Conv output feeds only that BN.
Status fold_conv_batchnorm(Graph& g, PassStats* stats);
// Bypasses Identity and inference-mode Dropout (whose mask output is unused).
Status remove_identity(Graph& g, PassStats* stats);
// Rewrites convolutions whose stride equals their kernel (no pads, dilation or groups: ViT's
// patch embedding) as a patch gather and one MatMul, and absorbs ViT's flatten of the result
// (src/passes/patchify_conv.cpp).
Status patchify_conv_to_matmul(Graph& g, PassStats* stats);
// Replaces decomposed LayerNorm, RMSNorm, GELU, SiLU and scaled-dot-product attention (with a
// causal or padding mask) by one fused op each (src/passes/recognize_patterns.cpp).
Status recognize_patterns(Graph& g, PassStats* stats);
// Rewrites the data movement between an Attention node and the projections around it (torch
// nn.MultiheadAttention's packed in-projection, head split and output transposes) into
// projections of x read sequence-major, and an output projection of the sequence-major result
// (src/passes/canonicalize_mha.cpp). With `pack_qkv`, Q, K and V projected from the same
// batch-first x with equal head counts and dims become one GEMM of x by [W_q | W_k | W_v] read by
// Attention(seq_major = 1, qkv_packed = 1); otherwise (or when packing is refused) one GEMM each.
// Run before fuse_epilogues, which then folds the biases and residual adds into the GEMMs.
Status canonicalize_mha(Graph& g, PassStats* stats, bool pack_qkv = true);
// Folds bias, activation and residual add into the Conv/Gemm/MatMul that feeds them
// (src/passes/fuse_epilogues.cpp).
Status fuse_epilogues(Graph& g, PassStats* stats);
// Fuses chains of element-wise float ops into FusedElementwise nodes, one kernel each
// (src/passes/fuse_elementwise.cpp).
Status fuse_elementwise(Graph& g, PassStats* stats);
// Gives regions of fp16/bf16 2-D convolutions and pools the channels-last (NHWC) layout that
// tensor-core cuDNN wants, transposing weights once and data only at region edges
// (src/passes/layout.cpp; run after convert_precision).
Status convert_to_channels_last(Graph& g, PassStats* stats);
// Lets Attention read Q, K, V and write Y sequence-major ([batch, seq, heads, dim]) when they
// come from / go to Transposes that only swap the sequence and heads axes, which then go away
// (src/passes/layout.cpp).
Status use_seq_major_attention(Graph& g, PassStats* stats);

}  // namespace slimrt
