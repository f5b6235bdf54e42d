// Engine writer: Graph + EngineOptions -> engine file (layout in include/slimrt/engine_format.h).
// Part of slimrt_builder; the header codec it shares with the parser is in the runtime
// (src/engine/engine_header.cpp).
//
// One pass over the weights: the metadata is built first with zeroed chunk hashes (their number
// follows from the layout), the weights are streamed into place while each chunk is hashed, and
// then the hashes are patched into the FlatBuffer, which is written together with the header by
// seeking back. Memory use is the metadata plus nothing per weight.
//
// Conversion while streaming: a constant whose Value dtype (fp16/bf16/fp32) differs from its
// Tensor's is converted piece by piece into a small buffer on its way to the file, and the
// converted bytes are what get hashed and written (slimrt/builder/precision.h). After each piece
// of a source tensor is consumed, EngineWriteHooks::release_source may drop its pages.
#include <algorithm>
#include <cstring>
#include <ostream>
#include <unordered_map>

#include <flatbuffers/flatbuffers.h>

#include "core/output_file.h"
#include "engine/checksum.h"
#include "engine/engine_internal.h"
#include "engine_generated.h"
#include "slimrt/builder/engine_writer.h"
#include "slimrt/builder/precision.h"
#include "slimrt/version.h"

namespace slimrt {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

struct WeightSlot {
  const Tensor* tensor;
  std::string name;
  DataType dtype = DataType::kUndefined;  // as written (differs from the tensor's: converted)
  uint64_t offset = 0;
  uint64_t size = 0;
};

bool convertible(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat16 || t == DataType::kBFloat16;
}


Offset<fb::Dim> encode_dim(FlatBufferBuilder& fbb, const Dim& d) {
  if (std::optional<int64_t> v = d.value()) return fb::CreateDim(fbb, *v);
  std::vector<Offset<fb::DimTerm>> terms;
  for (const Dim::Term& t : d.terms()) {
    std::vector<Offset<fb::DimFactor>> factors;
    for (const auto& [sym, exp] : t.factors) factors.push_back(fb::CreateDimFactorDirect(fbb, sym.c_str(), exp));
    terms.push_back(fb::CreateDimTermDirect(fbb, t.coeff, &factors));
  }
  return fb::CreateDimDirect(fbb, 0, &terms);
}

Status validate_options(const Graph& graph, const EngineOptions& o) {
  for (const auto& [name, f] : o.io_formats) {
    const Value* v = graph.find_value(name);
    if (v == nullptr || (!v->is_graph_input() && !v->is_graph_output()))
      return invalid_argument("I/O format for '" + name + "': the graph has no input or output of that name");
    if (f.mean.size() != f.stddev.size())
      return invalid_argument("I/O format for '" + name + "': mean and stddev differ in length");
  }
  if (o.chunk_size == 0 || o.chunk_size % kEngineRegionAlignment != 0 || o.chunk_size > kEngineMaxChunkSize)
    return invalid_argument("engine chunk size " + std::to_string(o.chunk_size) +
                            " must be a non-zero multiple of 4096 and at most " + std::to_string(kEngineMaxChunkSize));
  if (o.target.empty() || o.target.size() >= engine::kTargetBytes || o.target.find('\0') != std::string::npos)
    return invalid_argument("engine target '" + o.target + "' must be 1 to 15 characters (e.g. 'sm_90' or 'any')");
  if (!o.memory_plans.empty() && o.memory_plans.size() != o.profiles.size())
    return invalid_argument("engine has " + std::to_string(o.profiles.size()) + " profiles but " +
                            std::to_string(o.memory_plans.size()) + " memory plans (need one per profile, or none)");
  for (size_t p = 0; p < o.profiles.size(); ++p) {
    for (const InputProfile& in : o.profiles[p].inputs) {
      const Value* v = graph.find_value(in.name);
      if (!v || !v->is_graph_input())
        return invalid_argument("profile " + std::to_string(p) + " names '" + in.name + "', which is not a graph input");
      if (in.min.size() != in.opt.size() || in.min.size() != in.max.size())
        return invalid_argument("profile " + std::to_string(p) + " input '" + in.name + "': min/opt/max ranks differ");
    }
  }
  return Status::OK();
}

// Writes bytes in order, splitting them at chunk boundaries and hashing each chunk.
class ChunkedSink {
 public:
  ChunkedSink(std::ostream& out, uint64_t chunk_size) : out_(out), chunk_size_(chunk_size) {}

  Status write(const void* data, uint64_t bytes) {
    const auto* p = static_cast<const char*>(data);
    while (bytes > 0) {
      const uint64_t n = std::min(bytes, chunk_size_ - in_chunk_);
      hasher_.update(p, n);
      out_.write(p, static_cast<std::streamsize>(n));
      if (!out_) return io_error("write of " + std::to_string(n) + " weight bytes failed");
      in_chunk_ += n;
      written_ += n;
      p += n;
      bytes -= n;
      if (in_chunk_ == chunk_size_) finish_chunk();
    }
    return Status::OK();
  }
  Status zeros(uint64_t bytes) {
    static const char kZeros[4096] = {};
    while (bytes > 0) {
      const uint64_t n = std::min<uint64_t>(bytes, sizeof(kZeros));
      SLIMRT_RETURN_IF_ERROR(write(kZeros, n));
      bytes -= n;
    }
    return Status::OK();
  }
  // Closes a last partial chunk.
  void finish() {
    if (in_chunk_ > 0) finish_chunk();
  }
  uint64_t written() const { return written_; }
  const std::vector<uint64_t>& hashes() const { return hashes_; }

 private:
  void finish_chunk() {
    hashes_.push_back(hasher_.digest());
    hasher_.reset();
    in_chunk_ = 0;
  }
  std::ostream& out_;
  uint64_t chunk_size_;
  uint64_t in_chunk_ = 0;
  uint64_t written_ = 0;
  engine::Xxh3Stream hasher_;
  std::vector<uint64_t> hashes_;
};

// Streams one weight: a plain copy, or a conversion through `scratch` (grown to at most one
// block, kept across weights: a model has thousands of small weights, and a fresh zeroed buffer
// per weight once cost more than everything else the writer does). Releases each piece of the
// source once consumed.
Status stream_weight(ChunkedSink& sink, const WeightSlot& s, const EngineWriteHooks& hooks,
                     EngineWriteStats* stats, std::vector<uint8_t>& scratch) {
  const Tensor& t = *s.tensor;
  const auto* src = static_cast<const uint8_t*>(t.raw());
  const uint64_t piece = std::max<uint64_t>(hooks.piece_bytes, 4096);
  if (s.dtype == t.dtype()) {
    for (uint64_t at = 0; at < s.size; at += piece) {
      const uint64_t n = std::min(piece, s.size - at);
      SLIMRT_RETURN_IF_ERROR(sink.write(src + at, n));
      if (hooks.release_source) hooks.release_source(src + at, n);
    }
    return Status::OK();
  }
  const size_t in_size = dtype_size(t.dtype());
  const size_t out_size = dtype_size(s.dtype);
  constexpr size_t kBlock = size_t{1} << 16;  // elements converted per buffer fill
  const uint64_t numel = static_cast<uint64_t>(t.numel());
  const size_t buf_bytes = static_cast<size_t>(std::min<uint64_t>(kBlock, numel)) * out_size;
  if (scratch.size() < buf_bytes) scratch.resize(buf_bytes);
  uint8_t* buf = scratch.data();
  const uint64_t per_piece = std::max<uint64_t>(piece / in_size, kBlock);
  uint64_t clamped = 0;
  for (uint64_t first = 0; first < numel; first += per_piece) {
    const uint64_t last = std::min(numel, first + per_piece);
    for (uint64_t e = first; e < last; e += kBlock) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kBlock, last - e));
      clamped += convert_float_elements(src + e * in_size, t.dtype(), buf, s.dtype, n);
      SLIMRT_RETURN_IF_ERROR(sink.write(buf, n * out_size));
    }
    if (hooks.release_source) hooks.release_source(src + first * in_size, (last - first) * in_size);
  }
  if (stats) {
    ++stats->weights_converted;
    if (clamped > 0) stats->clamped.emplace_back(s.name, clamped);
  }
  return Status::OK();
}

Status write_zeros(std::ostream& out, uint64_t bytes) {
  static const char kZeros[4096] = {};
  while (bytes > 0) {
    const uint64_t n = std::min<uint64_t>(bytes, sizeof(kZeros));
    out.write(kZeros, static_cast<std::streamsize>(n));
    bytes -= n;
  }
  return out ? Status::OK() : io_error("write of padding failed");
}

}  // namespace

Status write_engine(const Graph& graph, const EngineOptions& options, std::ostream& out) {
  return write_engine(graph, options, out, EngineWriteHooks{}, nullptr);
}

Status write_engine(const Graph& graph, const EngineOptions& options, std::ostream& out,
                    const EngineWriteHooks& hooks, EngineWriteStats* stats) {
  SLIMRT_RETURN_IF_ERROR(validate_options(graph, options));
  const std::streamoff base = out.tellp();
  if (base < 0) return invalid_argument("engine output stream is not seekable (the header is written last)");

  // Values are numbered in Graph::values() order; the planner's EnginePlannedBuffer::value uses it.
  const std::vector<Value*> values = graph.values();
  std::vector<int32_t> index(graph.value_id_bound(), -1);
  for (size_t i = 0; i < values.size(); ++i) index[values[i]->id()] = static_cast<int32_t>(i);
  auto index_of = [&](const Value* v) { return v ? index[v->id()] : -1; };

  // Lay out weights: value constants first, then tensor attributes, each 256-byte aligned.
  std::vector<WeightSlot> slots;
  uint64_t cursor = 0;
  auto add_slot = [&](const Tensor* t, std::string name, DataType as) -> Result<int32_t> {
    if (t->memory_kind() == MemoryKind::kDevice)
      return invalid_argument("weight '" + name + "' is in device memory; the engine writer reads host tensors");
    if (!t->defined()) return invalid_argument("weight '" + name + "' has an undefined dtype");
    if (as != t->dtype() && !(convertible(as) && convertible(t->dtype())))
      return invalid_argument("weight '" + name + "' holds " + std::string(dtype_name(t->dtype())) +
                              " data but its value is " + std::string(dtype_name(as)) +
                              "; only float32/float16/bfloat16 convert while writing");
    WeightSlot s{t, std::move(name), as};
    s.offset = round_up(cursor, kEngineTensorAlignment);
    s.size = static_cast<uint64_t>(t->numel()) * dtype_size(as);
    cursor = s.offset + s.size;
    slots.push_back(std::move(s));
    return static_cast<int32_t>(slots.size() - 1);
  };
  std::vector<int32_t> value_weight(values.size(), -1);
  for (size_t i = 0; i < values.size(); ++i) {
    if (const Tensor* c = values[i]->constant()) {
      SLIMRT_ASSIGN_OR_RETURN(value_weight[i], add_slot(c, values[i]->name(), values[i]->dtype()));
    }
  }
  const std::vector<Node*> nodes = graph.nodes();
  std::vector<std::vector<std::pair<std::string, int32_t>>> attr_weights(nodes.size());
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (const auto& [name, attr] : nodes[n]->attributes()) {
      if (const Tensor* t = std::get_if<Tensor>(&attr)) {
        int32_t w = -1;
        SLIMRT_ASSIGN_OR_RETURN(w, add_slot(t, nodes[n]->name() + "." + name, t->dtype()));
        attr_weights[n].emplace_back(name, w);
      }
    }
  }
  const uint64_t weights_size = round_up(cursor, kEngineRegionAlignment);
  const uint64_t num_chunks = (weights_size + options.chunk_size - 1) / options.chunk_size;

  // Metadata, with zeroed chunk hashes to be patched in after the weights are streamed.
  FlatBufferBuilder fbb(1 << 16);
  std::vector<Offset<fb::Value>> fb_values;
  for (size_t i = 0; i < values.size(); ++i) {
    const Value* v = values[i];
    Offset<flatbuffers::Vector<Offset<fb::Dim>>> shape = 0;
    if (v->has_shape()) {
      std::vector<Offset<fb::Dim>> dims;
      for (const Dim& d : v->shape()) dims.push_back(encode_dim(fbb, d));
      shape = fbb.CreateVector(dims);
    }
    fb_values.push_back(fb::CreateValue(fbb, fbb.CreateString(v->name()), static_cast<fb::DType>(v->dtype()),
                                        v->has_shape(), shape, value_weight[i]));
  }
  std::vector<Offset<fb::Node>> fb_nodes;
  for (size_t n = 0; n < nodes.size(); ++n) {
    const Node* node = nodes[n];
    std::vector<int32_t> ins, outs;
    for (const Value* v : node->inputs()) ins.push_back(index_of(v));
    for (const Value* v : node->outputs()) outs.push_back(index_of(v));
    std::vector<Offset<fb::Attribute>> attrs;
    for (const auto& [name, attr] : node->attributes()) {
      auto fname = fbb.CreateString(name);
      Offset<fb::Attribute> a;
      if (const auto* i = std::get_if<int64_t>(&attr)) {
        a = fb::CreateAttribute(fbb, fname, fb::AttrKind::Int, *i);
      } else if (const auto* f = std::get_if<float>(&attr)) {
        a = fb::CreateAttribute(fbb, fname, fb::AttrKind::Float, 0, *f);
      } else if (const auto* s = std::get_if<std::string>(&attr)) {
        a = fb::CreateAttribute(fbb, fname, fb::AttrKind::String, 0, 0.0f, fbb.CreateString(*s));
      } else if (std::holds_alternative<Tensor>(attr)) {
        int32_t w = -1;
        for (const auto& [an, wi] : attr_weights[n]) {
          if (an == name) w = wi;
        }
        a = fb::CreateAttribute(fbb, fname, fb::AttrKind::Tensor, 0, 0.0f, 0, w);
      } else if (const auto* is = std::get_if<std::vector<int64_t>>(&attr)) {
        a = fb::CreateAttribute(fbb, fname, fb::AttrKind::Ints, 0, 0.0f, 0, -1, fbb.CreateVector(*is));
      } else if (const auto* fs = std::get_if<std::vector<float>>(&attr)) {
        a = fb::CreateAttribute(fbb, fname, fb::AttrKind::Floats, 0, 0.0f, 0, -1, 0, fbb.CreateVector(*fs));
      } else {
        const auto& ss = std::get<std::vector<std::string>>(attr);
        a = fb::CreateAttribute(fbb, fname, fb::AttrKind::Strings, 0, 0.0f, 0, -1, 0, 0,
                                fbb.CreateVectorOfStrings(ss));
      }
      attrs.push_back(a);
    }
    fb_nodes.push_back(fb::CreateNodeDirect(fbb, node->name().c_str(), node->op_type().c_str(),
                                            node->domain().c_str(), &ins, &outs, &attrs));
  }
  std::vector<int32_t> g_inputs, g_outputs;
  for (const Value* v : graph.inputs()) g_inputs.push_back(index_of(v));
  for (const Value* v : graph.outputs()) g_outputs.push_back(index_of(v));

  std::vector<Offset<fb::Profile>> fb_profiles;
  for (const OptimizationProfile& p : options.profiles) {
    std::vector<Offset<fb::InputRange>> ranges;
    for (const InputProfile& in : p.inputs)
      ranges.push_back(fb::CreateInputRangeDirect(fbb, in.name.c_str(), &in.min, &in.opt, &in.max));
    fb_profiles.push_back(fb::CreateProfileDirect(fbb, &ranges));
  }
  std::vector<Offset<fb::MemoryPlan>> fb_plans;
  for (const EngineMemoryPlan& m : options.memory_plans) {
    std::vector<fb::PlannedBuffer> bufs;
    for (const EnginePlannedBuffer& b : m.buffers) bufs.emplace_back(b.value, b.offset, b.size);
    fb_plans.push_back(fb::CreateMemoryPlanDirect(fbb, m.arena_bytes, &bufs));
  }
  std::vector<Offset<fb::Weight>> fb_weights;
  for (const WeightSlot& s : slots) {
    fb_weights.push_back(fb::CreateWeightDirect(fbb, s.name.c_str(), static_cast<fb::DType>(s.dtype),
                                                &s.tensor->shape(), s.offset, s.size));
  }
  std::vector<Offset<fb::IoFormat>> fb_formats;
  for (const auto& [name, f] : options.io_formats) {
    fb_formats.push_back(fb::CreateIoFormatDirect(fbb, name.c_str(), static_cast<fb::DType>(f.model_dtype),
                                                  f.channels_last, f.scale, &f.mean, &f.stddev));
  }
  const std::vector<uint64_t> zero_hashes(num_chunks, 0);
  auto fb_options = fb::CreateBuilderOptionsDirect(fbb, static_cast<fb::Precision>(options.precision), options.tf32,
                                                   options.target.c_str());
  auto root = fb::CreateEngineDirect(fbb, fb_options, SLIMRT_VERSION_STRING, graph.name.c_str(), graph.source_opset,
                                     &fb_values, &fb_nodes, &g_inputs, &g_outputs, &fb_profiles, &fb_plans,
                                     &fb_weights, &zero_hashes, fb_formats.empty() ? nullptr : &fb_formats);
  fb::FinishEngineBuffer(fbb, root);
  std::vector<uint8_t> metadata(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  const fb::Engine* parsed = fb::GetEngine(metadata.data());
  const size_t hashes_at = static_cast<size_t>(
      reinterpret_cast<const uint8_t*>(parsed->chunk_hashes()->Data()) - metadata.data());

  EngineHeader h;
  h.format_major = kEngineFormatMajor;
  h.format_minor = kEngineFormatMinor;
  h.header_size = static_cast<uint32_t>(kEngineHeaderSize);
  h.slimrt_major = SLIMRT_VERSION_MAJOR;
  h.slimrt_minor = SLIMRT_VERSION_MINOR;
  h.slimrt_patch = SLIMRT_VERSION_PATCH;
  h.metadata_offset = kEngineHeaderSize;
  h.metadata_size = metadata.size();
  h.weights_offset = round_up(h.metadata_offset + h.metadata_size, kEngineRegionAlignment);
  h.weights_size = weights_size;
  h.chunk_size = options.chunk_size;
  h.num_chunks = num_chunks;
  h.file_size = h.weights_offset + h.weights_size;
  h.target = options.target;
  h.precision = options.precision;
  h.tf32 = options.tf32;

  // Header and metadata space first (zeros), then the weights, hashed as they stream.
  SLIMRT_RETURN_IF_ERROR(write_zeros(out, h.weights_offset));
  ChunkedSink sink(out, options.chunk_size);
  std::vector<uint8_t> scratch;
  for (const WeightSlot& s : slots) {
    SLIMRT_RETURN_IF_ERROR(sink.zeros(s.offset - sink.written()));
    SLIMRT_RETURN_IF_ERROR(stream_weight(sink, s, hooks, stats, scratch).with_context("weight '" + s.name + "'"));
  }
  SLIMRT_RETURN_IF_ERROR(sink.zeros(weights_size - sink.written()));
  sink.finish();
  SLIMRT_CHECK(sink.hashes().size() == num_chunks);
  if (num_chunks > 0) std::memcpy(metadata.data() + hashes_at, sink.hashes().data(), num_chunks * sizeof(uint64_t));

  h.metadata_hash = engine::xxh3_64(metadata.data(), metadata.size());
  const engine::HeaderBytes header = engine::encode_header(h);
  out.seekp(base);
  out.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(metadata.data()), static_cast<std::streamsize>(metadata.size()));
  out.seekp(base + static_cast<std::streamoff>(h.file_size));
  out.flush();
  if (!out) return io_error("writing the engine header and metadata failed");
  return Status::OK();
}

Status write_engine(const Graph& graph, const EngineOptions& options, const std::string& path) {
  return write_engine(graph, options, path, EngineWriteHooks{}, nullptr);
}

Status write_engine(const Graph& graph, const EngineOptions& options, const std::string& path,
                    const EngineWriteHooks& hooks, EngineWriteStats* stats) {
  // Written beside the target and renamed over it at the end (core/output_file.h): a failed build
  // leaves no half-written engine, concurrent builds to one path each leave a whole one, and
  // directories and special files are refused, never replaced.
  SLIMRT_ASSIGN_OR_RETURN(OutputFile out, OutputFile::create(path, "engine"));
  // A failed write says why (a full disk, a file size limit), then what the writer was doing.
  const Status s = write_engine(graph, options, out.stream(), hooks, stats);
  if (!s.ok()) return out.failure(s);
  return out.commit();
}

}  // namespace slimrt
