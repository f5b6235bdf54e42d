// The pass pipeline and its report.
#include <string>

#include "slimrt/builder/passes.h"

namespace slimrt {

std::string PassReport::to_string() const {
  std::string s = "passes: " + std::to_string(nodes_before) + " -> " + std::to_string(nodes_after) + " nodes\n";
  for (const PassStats& p : passes) {
    s += "  " + p.pass + ": -" + std::to_string(p.nodes_removed) + " +" + std::to_string(p.nodes_added) +
         " nodes";
    if (p.values_removed > 0) s += ", " + std::to_string(p.values_removed) + " values removed";
    s += "\n";
    for (const std::string& line : p.lines) s += "    " + line + "\n";
  }
  return s;
}

Status run_passes(Graph& g, const PassOptions& options, PassReport* report) {
  PassReport local;
  PassReport& r = report ? *report : local;
  r = PassReport{};
  r.nodes_before = g.num_nodes();
  auto run = [&](bool enabled, const char* name, auto&& fn) -> Status {
    if (!enabled) return Status::OK();
    PassStats stats;
    stats.pass = name;
    Status s = fn(&stats);
    r.passes.push_back(std::move(stats));
    return s.ok() ? s : s.with_context(std::string("in pass ") + name);
  };
  SLIMRT_RETURN_IF_ERROR(run(options.fold_constants, "constant_folding",
                             [&](PassStats* st) { return fold_constants(g, options, st); }));
  SLIMRT_RETURN_IF_ERROR(run(options.eliminate_dead_code, "dead_code_elimination",
                             [&](PassStats* st) { return eliminate_dead_code(g, st); }));
  // Identity/Dropout first, so Conv -> Identity -> BatchNormalization still folds.
  SLIMRT_RETURN_IF_ERROR(run(options.remove_identity, "identity_removal",
                             [&](PassStats* st) { return remove_identity(g, st); }));
  SLIMRT_RETURN_IF_ERROR(run(options.fold_conv_batchnorm, "conv_batchnorm_folding",
                             [&](PassStats* st) { return fold_conv_batchnorm(g, st); }));
  // After BN folding (a folded Conv is still a patchify one), before epilogue fusion (which
  // then takes the bias into the MatMul).
  SLIMRT_RETURN_IF_ERROR(run(options.patchify_conv, "patchify_conv",
                             [&](PassStats* st) { return patchify_conv_to_matmul(g, st); }));
  SLIMRT_RETURN_IF_ERROR(run(options.recognize_patterns, "pattern_recognition",
                             [&](PassStats* st) { return recognize_patterns(g, st); }));
  // After recognition (it needs the Attention nodes), before epilogue fusion (which then takes
  // the split projections' biases and the residual add into the GEMMs).
  SLIMRT_RETURN_IF_ERROR(run(options.canonicalize_mha, "mha_canonicalization",
                             [&](PassStats* st) { return canonicalize_mha(g, st, options.pack_qkv); }));
  SLIMRT_RETURN_IF_ERROR(run(options.fuse_epilogues, "epilogue_fusion",
                             [&](PassStats* st) { return fuse_epilogues(g, st); }));
  SLIMRT_RETURN_IF_ERROR(run(options.fuse_elementwise, "elementwise_fusion",
                             [&](PassStats* st) { return fuse_elementwise(g, st); }));
  SLIMRT_RETURN_IF_ERROR(run(options.seq_major_attention, "seq_major_attention",
                             [&](PassStats* st) { return use_seq_major_attention(g, st); }));
  SLIMRT_RETURN_IF_ERROR(run(options.eliminate_dead_code, "dead_code_elimination",
                             [&](PassStats* st) { return eliminate_dead_code(g, st); }));
  SLIMRT_RETURN_IF_ERROR(g.topological_sort());
  SLIMRT_RETURN_IF_ERROR(infer_shapes(g).with_context("after graph passes"));
  r.nodes_after = g.num_nodes();
  return Status::OK();
}

}  // namespace slimrt
