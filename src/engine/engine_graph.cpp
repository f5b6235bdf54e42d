// Reading the weights region (chunk by chunk, verifying hashes) and rebuilding a Graph from a
// parsed engine: the CPU backend's load path, and verify_engine() for inspect.
#include <algorithm>
#include <cstring>
#include <functional>

#include "engine/checksum.h"
#include "engine/engine_internal.h"
#include "engine_generated.h"

namespace slimrt {

namespace {

std::string u64s(uint64_t v) { return std::to_string(v); }

}  // namespace

namespace engine {

std::string describe_weights_in(const EngineInfo& info, uint64_t begin, uint64_t end) {
  std::string names;
  size_t count = 0;
  for (const EngineWeight& w : info.weights) {
    if (w.offset < end && w.offset + w.size > begin) {
      if (count < 4) names += (names.empty() ? "" : ", ") + ("'" + w.name + "'");
      ++count;
    }
  }
  if (count == 0) return "padding only";
  if (count > 4) names += ", and " + u64s(count - 4) + " more";
  return "holds " + names;
}

bool copy_weight_part(const EngineWeight& w, uint64_t begin, const uint8_t* data, uint64_t n, void* dst) {
  const uint64_t lo = std::max(w.offset, begin), hi = std::min(w.offset + w.size, begin + n);
  if (hi <= lo) return false;
  std::memcpy(static_cast<uint8_t*>(dst) + (lo - w.offset), data + (lo - begin), hi - lo);
  return true;
}

}  // namespace engine

namespace {

using ChunkFn = std::function<Status(uint64_t region_offset, const uint8_t* data, uint64_t bytes)>;

// Reads the weights region front to back through one chunk-sized buffer, so memory stays
// bounded by the chunk size (<= kEngineMaxChunkSize) whatever the region's size.
Status stream_weights(StreamReader& reader, const EngineInfo& info, bool verify, const ChunkFn& fn) {
  const EngineHeader& h = info.header;
  const std::string where = "engine " + reader.describe();
  if (h.weights_size == 0) return Status::OK();
  if (reader.position() != h.weights_offset) {
    Status s = reader.seek(h.weights_offset);
    if (!s.ok()) return s.with_context(where + ": seeking to the weights region at " + u64s(h.weights_offset));
  }
  std::vector<uint8_t> buf(std::min(h.chunk_size, h.weights_size));
  for (uint64_t c = 0; c < h.num_chunks; ++c) {
    const uint64_t begin = c * h.chunk_size;
    const uint64_t n = std::min(h.chunk_size, h.weights_size - begin);
    const std::string chunk = "weights chunk " + u64s(c) + " of " + u64s(h.num_chunks) + " (file offset " +
                              u64s(h.weights_offset + begin) + ", " + u64s(n) + " bytes)";
    Status s = reader.read(buf.data(), n);
    if (!s.ok()) return s.with_context(where + ": reading " + chunk);
    if (verify) {
      const uint64_t computed = engine::xxh3_64(buf.data(), n);
      if (computed != info.chunk_hashes[c])
        return data_loss(where + ": " + chunk + " checksum mismatch: stored " + engine::hex64(info.chunk_hashes[c]) +
                         ", computed " + engine::hex64(computed) + "; the chunk " + engine::describe_weights_in(info, begin, begin + n));
    }
    SLIMRT_RETURN_IF_ERROR(fn(begin, buf.data(), n));
  }
  return Status::OK();
}

Result<Attribute> decode_attribute(const fb::Attribute& a, const std::vector<Tensor>& tensors) {
  switch (a.kind()) {
    case fb::AttrKind::Int: return Attribute(int64_t{a.i()});
    case fb::AttrKind::Float: return Attribute(a.f());
    case fb::AttrKind::String: return Attribute(a.s() ? a.s()->str() : std::string());
    case fb::AttrKind::Tensor: return Attribute(tensors.at(static_cast<size_t>(a.weight())));
    case fb::AttrKind::Ints:
      return Attribute(a.ints() ? std::vector<int64_t>(a.ints()->begin(), a.ints()->end()) : std::vector<int64_t>{});
    case fb::AttrKind::Floats:
      return Attribute(a.floats() ? std::vector<float>(a.floats()->begin(), a.floats()->end()) : std::vector<float>{});
    case fb::AttrKind::Strings: {
      std::vector<std::string> v;
      if (a.strings()) {
        for (const flatbuffers::String* s : *a.strings()) v.push_back(s->str());
      }
      return Attribute(std::move(v));
    }
  }
  return internal_error("unchecked attribute kind");
}

}  // namespace

Result<Graph> read_engine_graph(StreamReader& reader, const EngineInfo& info, const EngineReadOptions& options) {
  // Weights: each tensor is allocated when the chunk holding its first byte has arrived, so a
  // stream that ends early has not made us allocate what it never delivered.
  std::vector<Tensor> tensors(info.weights.size());
  size_t next = 0;  // first weight not completely copied
  auto on_chunk = [&](uint64_t begin, const uint8_t* data, uint64_t n) -> Status {
    const uint64_t end = begin + n;
    while (next < info.weights.size() && info.weights[next].offset < end) {
      const EngineWeight& w = info.weights[next];
      Tensor& t = tensors[next];
      if (!t.defined()) {
        SLIMRT_ASSIGN_OR_RETURN(t, Tensor::allocate(w.dtype, w.shape));
      }
      engine::copy_weight_part(w, begin, data, n, t.raw());
      if (w.offset + w.size > end) break;  // continues in the next chunk
      ++next;
    }
    return Status::OK();
  };
  SLIMRT_RETURN_IF_ERROR(stream_weights(reader, info, options.verify_checksums, on_chunk));
  for (size_t i = 0; i < tensors.size(); ++i) {
    // Empty tensors at the very end of the region own no chunk byte.
    if (!tensors[i].defined()) {
      SLIMRT_ASSIGN_OR_RETURN(tensors[i], Tensor::allocate(info.weights[i].dtype, info.weights[i].shape));
    }
  }
  return make_engine_graph(info, tensors);
}

Result<Graph> make_engine_graph(const EngineInfo& info, const std::vector<Tensor>& tensors) {
  if (tensors.size() != info.weights.size())
    return internal_error("make_engine_graph: " + u64s(tensors.size()) + " tensors for " + u64s(info.weights.size()) +
                          " weights");
  // Graph: values without a producer first (inputs, initializers, dangling values), then the
  // nodes, whose inputs are connected once every value exists (nodes may refer forward).
  Graph g;
  g.name = info.graph_name;
  g.source_opset = info.source_opset;
  const size_t nv = info.values.size();
  std::vector<Value*> vals(nv, nullptr);
  std::vector<bool> produced(nv, false);
  for (const EngineNode& n : info.nodes) {
    for (int32_t o : n.outputs) produced[static_cast<size_t>(o)] = true;
  }
  auto weight_of = [&](const EngineValue& v) { return tensors[static_cast<size_t>(v.weight)]; };
  for (int32_t idx : info.inputs) {
    const EngineValue& v = info.values[static_cast<size_t>(idx)];
    vals[static_cast<size_t>(idx)] = g.add_input(v.name, v.dtype, v.shape);
    if (v.weight >= 0) vals[static_cast<size_t>(idx)]->set_constant(weight_of(v));
  }
  for (size_t i = 0; i < nv; ++i) {
    const EngineValue& v = info.values[i];
    if (vals[i] || produced[i]) continue;
    if (v.weight >= 0) {
      vals[i] = g.add_initializer(v.name, weight_of(v));
    } else {
      vals[i] = g.add_value(v.name);
      vals[i]->set_dtype(v.dtype);
      if (v.shape) vals[i]->set_shape(*v.shape);
    }
  }
  const fb::Engine* m = fb::GetEngine(info.metadata.data());
  std::vector<Node*> nodes;
  for (size_t k = 0; k < info.nodes.size(); ++k) {
    const EngineNode& en = info.nodes[k];
    std::vector<std::string> out_names;
    for (int32_t o : en.outputs) out_names.push_back(info.values[static_cast<size_t>(o)].name);
    Node* node = g.add_node(en.op_type, en.name, std::vector<Value*>(en.inputs.size(), nullptr), en.outputs.size(),
                            out_names);
    for (size_t j = 0; j < en.outputs.size(); ++j) {
      const auto idx = static_cast<size_t>(en.outputs[j]);
      const EngineValue& v = info.values[idx];
      vals[idx] = node->output(j);
      vals[idx]->set_dtype(v.dtype);
      if (v.shape) vals[idx]->set_shape(*v.shape);
      if (v.weight >= 0) vals[idx]->set_constant(weight_of(v));
    }
    const fb::Node* fn = m->nodes()->Get(static_cast<uint32_t>(k));
    if (fn->attributes()) {
      for (const fb::Attribute* a : *fn->attributes()) {
        Attribute attr;
        SLIMRT_ASSIGN_OR_RETURN(attr, decode_attribute(*a, tensors));
        node->set_attr(a->name()->str(), std::move(attr));
      }
    }
    nodes.push_back(node);
  }
  for (size_t k = 0; k < nodes.size(); ++k) {
    const EngineNode& en = info.nodes[k];
    for (size_t j = 0; j < en.inputs.size(); ++j) {
      if (en.inputs[j] >= 0) g.set_node_input(nodes[k], j, vals[static_cast<size_t>(en.inputs[j])]);
    }
  }
  for (size_t i = 0; i < nv; ++i) {
    if (vals[i]->name() != info.values[i].name)
      return internal_error("engine value '" + info.values[i].name + "' was renamed to '" + vals[i]->name() + "'");
  }
  for (int32_t idx : info.outputs) g.add_output(vals[static_cast<size_t>(idx)]);
  return g;
}

Result<EngineInfo> verify_engine(StreamReader& reader, const EngineParseOptions& options) {
  EngineInfo info;
  SLIMRT_ASSIGN_OR_RETURN(info, parse_engine(reader, options));
  SLIMRT_RETURN_IF_ERROR(stream_weights(reader, info, /*verify=*/true,
                                        [](uint64_t, const uint8_t*, uint64_t) { return Status::OK(); }));
  return info;
}

}  // namespace slimrt
