// Decoding the engine metadata FlatBuffer into EngineInfo, with every index, offset and size
// range-checked. The buffer has already passed flatbuffers::Verifier, so reading any field is
// memory-safe; what is checked here is that the values make sense together.
#include <cstdint>
#include <algorithm>
#include <set>

#include "engine/engine_internal.h"
#include "engine_generated.h"

namespace slimrt::engine {

namespace {

std::string u64s(uint64_t v) { return std::to_string(v); }

Status bad(const std::string& what) { return invalid_argument(what); }

// Values may have no dtype yet (before shape inference); weights always have one.
Result<DataType> decode_dtype(fb::DType t, const std::string& owner, bool allow_undefined = false) {
  const auto code = static_cast<uint8_t>(t);
  if ((code == 0 && !allow_undefined) || code > static_cast<uint8_t>(DataType::kBool))
    return bad(owner + " has unknown dtype code " + u64s(code));
  return static_cast<DataType>(code);
}

// Symbolic dims are short sums in practice; the caps keep a crafted file from making Dim's
// normalisation (quadratic in the number of terms) take minutes.
constexpr uint32_t kMaxDimTerms = 64;
constexpr uint32_t kMaxDimFactors = 16;

Result<Dim> decode_dim(const fb::Dim& d, const std::string& owner) {
  if (!d.terms() || d.terms()->size() == 0) return Dim(d.value());
  if (d.terms()->size() > kMaxDimTerms) return bad(owner + " has a symbolic dim of more than 64 terms");
  Dim sum(0);
  for (const fb::DimTerm* t : *d.terms()) {
    Dim term(t->coeff());
    if (t->factors()) {
      if (t->factors()->size() > kMaxDimFactors) return bad(owner + " has a symbolic dim term of more than 16 factors");
      for (const fb::DimFactor* f : *t->factors()) {
        if (f->symbol()->size() == 0 || f->exponent() <= 0 || f->exponent() > 64)
          return bad(owner + " has a malformed symbolic dim factor");
        const Dim sym = Dim::symbol(f->symbol()->str());
        for (int e = 0; e < f->exponent(); ++e) term = term * sym;
      }
    }
    sum = sum + term;
  }
  return sum;
}

// flatbuffers 2.0.8's Verifier checks a vector's length field for 4-byte alignment but not
// that 8-byte elements are 8-byte aligned; reading a misplaced [long] would be undefined
// behaviour, so every non-empty such vector is checked here before it is read.
template <typename T>
Status check_aligned(const flatbuffers::Vector<T>* v, const std::string& owner) {
  if (v && v->size() > 0 && reinterpret_cast<uintptr_t>(v->Data()) % alignof(T) != 0)
    return bad(owner + " has a misaligned vector");
  return Status::OK();
}

template <typename V>
std::vector<int64_t> to_vec(const V* v) {
  return v ? std::vector<int64_t>(v->begin(), v->end()) : std::vector<int64_t>{};
}

Status decode_weights(const fb::Engine& m, EngineInfo& info) {
  const EngineHeader& h = info.header;
  // Vector lengths were bounded by the Verifier against the metadata size, so what is decoded
  // here is at most proportional to bytes that really were read.
  uint64_t prev_end = 0;
  if (!m.weights()) return Status::OK();
  for (uint32_t i = 0; i < m.weights()->size(); ++i) {
    const fb::Weight* w = m.weights()->Get(i);
    EngineWeight ew;
    ew.name = w->name() ? w->name()->str() : "";
    const std::string owner = "weight " + u64s(i) + " ('" + ew.name + "')";
    SLIMRT_ASSIGN_OR_RETURN(ew.dtype, decode_dtype(w->dtype(), owner));
    SLIMRT_RETURN_IF_ERROR(check_aligned(w->shape(), owner));
    ew.shape = to_vec(w->shape());
    // numel * dtype size without overflow: each factor is bounded by the region size.
    uint64_t bytes = dtype_size(ew.dtype);
    for (int64_t d : ew.shape) {
      if (d < 0) return bad(owner + " has negative dim " + std::to_string(d));
      if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes))
        return bad(owner + " shape " + shape_to_string(ew.shape) + " overflows 64-bit byte counts");
    }
    ew.offset = w->offset();
    ew.size = w->size();
    if (bytes != ew.size)
      return bad(owner + " declares " + u64s(ew.size) + " bytes but its shape " + shape_to_string(ew.shape) +
                 " and dtype " + std::string(dtype_name(ew.dtype)) + " need " + u64s(bytes));
    uint64_t end = 0;
    if (add_overflows(ew.offset, ew.size, &end) || end > h.weights_size)
      return bad(owner + " at region offset " + u64s(ew.offset) + " (" + u64s(ew.size) +
                 " bytes) runs past the weights region of " + u64s(h.weights_size) + " bytes");
    if (ew.offset % kEngineTensorAlignment != 0)
      return bad(owner + " region offset " + u64s(ew.offset) + " is not 256-byte aligned");
    if (ew.offset < prev_end)
      return bad(owner + " at region offset " + u64s(ew.offset) + " overlaps the previous weight ending at " +
                 u64s(prev_end));
    prev_end = end;
    info.weights.push_back(std::move(ew));
  }
  return Status::OK();
}

Status check_weight_ref(int32_t w, size_t n, const std::string& owner) {
  if (w < -1 || (w >= 0 && static_cast<size_t>(w) >= n))
    return bad(owner + " refers to weight " + std::to_string(w) + " of " + u64s(n));
  return Status::OK();
}

Status decode_graph(const fb::Engine& m, EngineInfo& info) {
  const size_t nw = info.weights.size();
  std::set<std::string> names;
  if (m.values()) {
    for (uint32_t i = 0; i < m.values()->size(); ++i) {
      const fb::Value* v = m.values()->Get(i);
      EngineValue ev;
      ev.name = v->name()->str();
      const std::string owner = "value " + u64s(i) + " ('" + ev.name + "')";
      if (ev.name.empty()) return bad("value " + u64s(i) + " has an empty name");
      if (!names.insert(ev.name).second) return bad(owner + ": the name is used twice");
      SLIMRT_ASSIGN_OR_RETURN(ev.dtype, decode_dtype(v->dtype(), owner, /*allow_undefined=*/true));
      if (v->has_shape()) {
        Shape s;
        if (v->shape()) {
          for (const fb::Dim* d : *v->shape()) {
            Dim dim;
            SLIMRT_ASSIGN_OR_RETURN(dim, decode_dim(*d, owner));
            s.push_back(std::move(dim));
          }
        }
        ev.shape = std::move(s);
      }
      ev.weight = v->weight();
      SLIMRT_RETURN_IF_ERROR(check_weight_ref(ev.weight, nw, owner));
      if (ev.weight >= 0 && info.weights[static_cast<size_t>(ev.weight)].dtype != ev.dtype)
        return bad(owner + " has dtype " + std::string(dtype_name(ev.dtype)) + " but its weight has " +
                   std::string(dtype_name(info.weights[static_cast<size_t>(ev.weight)].dtype)));
      info.values.push_back(std::move(ev));
    }
  }
  const size_t nv = info.values.size();
  auto check_value = [&](int32_t idx, bool allow_absent, const std::string& owner) -> Status {
    if ((allow_absent && idx == -1) || (idx >= 0 && static_cast<size_t>(idx) < nv)) return Status::OK();
    return bad(owner + " refers to value " + std::to_string(idx) + " but there are " + u64s(nv));
  };
  std::vector<bool> is_input(nv, false), produced(nv, false);
  if (m.inputs()) {
    for (int32_t idx : *m.inputs()) {
      SLIMRT_RETURN_IF_ERROR(check_value(idx, false, "graph input"));
      if (is_input[static_cast<size_t>(idx)]) return bad("graph input value " + std::to_string(idx) + " is listed twice");
      is_input[static_cast<size_t>(idx)] = true;
      info.inputs.push_back(idx);
    }
  }
  if (m.outputs()) {
    for (int32_t idx : *m.outputs()) {
      SLIMRT_RETURN_IF_ERROR(check_value(idx, false, "graph output"));
      info.outputs.push_back(idx);
    }
  }
  if (m.nodes()) {
    for (uint32_t n = 0; n < m.nodes()->size(); ++n) {
      const fb::Node* node = m.nodes()->Get(n);
      EngineNode en;
      en.name = node->name() ? node->name()->str() : "";
      en.op_type = node->op_type()->str();
      en.domain = node->domain() ? node->domain()->str() : "";
      const std::string owner = "node " + u64s(n) + " ('" + en.name + "', " + en.op_type + ")";
      if (node->inputs()) {
        for (int32_t idx : *node->inputs()) {
          SLIMRT_RETURN_IF_ERROR(check_value(idx, true, owner + " input"));
          en.inputs.push_back(idx);
        }
      }
      if (node->outputs()) {
        for (int32_t idx : *node->outputs()) {
          SLIMRT_RETURN_IF_ERROR(check_value(idx, false, owner + " output"));
          const auto u = static_cast<size_t>(idx);
          if (produced[u] || is_input[u])
            return bad(owner + " output value " + std::to_string(idx) + " ('" + info.values[u].name +
                       "') already comes from a graph input or another node");
          produced[u] = true;
          en.outputs.push_back(idx);
        }
      }
      if (node->attributes()) {
        std::set<std::string> seen;
        for (const fb::Attribute* a : *node->attributes()) {
          const std::string aname = a->name()->str();
          if (!seen.insert(aname).second) return bad(owner + " has attribute '" + aname + "' twice");
          if (static_cast<uint8_t>(a->kind()) > static_cast<uint8_t>(fb::AttrKind::Strings))
            return bad(owner + " attribute '" + aname + "' has unknown kind " + u64s(static_cast<uint8_t>(a->kind())));
          SLIMRT_RETURN_IF_ERROR(check_aligned(a->ints(), owner + " attribute '" + aname + "'"));
          if (a->kind() == fb::AttrKind::Tensor) {
            if (a->weight() < 0) return bad(owner + " tensor attribute '" + aname + "' has no weight");
            SLIMRT_RETURN_IF_ERROR(check_weight_ref(a->weight(), nw, owner + " attribute '" + aname + "'"));
          }
          en.attribute_names.push_back(aname);
        }
      }
      info.nodes.push_back(std::move(en));
    }
  }
  return Status::OK();
}

Status decode_profiles(const fb::Engine& m, EngineInfo& info) {
  if (m.profiles()) {
    for (uint32_t p = 0; p < m.profiles()->size(); ++p) {
      OptimizationProfile prof;
      const fb::Profile* fp = m.profiles()->Get(p);
      if (fp->inputs()) {
        for (const fb::InputRange* r : *fp->inputs()) {
          const std::string range = "profile " + u64s(p) + " input";
          SLIMRT_RETURN_IF_ERROR(check_aligned(r->min(), range));
          SLIMRT_RETURN_IF_ERROR(check_aligned(r->opt(), range));
          SLIMRT_RETURN_IF_ERROR(check_aligned(r->max(), range));
          InputProfile in{r->name()->str(), to_vec(r->min()), to_vec(r->opt()), to_vec(r->max())};
          const std::string owner = "profile " + u64s(p) + " input '" + in.name + "'";
          const EngineValue* v = nullptr;
          for (int32_t idx : info.inputs) {
            if (info.values[static_cast<size_t>(idx)].name == in.name) v = &info.values[static_cast<size_t>(idx)];
          }
          if (!v) return bad(owner + " is not a graph input");
          if (in.min.size() != in.opt.size() || in.min.size() != in.max.size() ||
              (v->shape && v->shape->size() != in.min.size()))
            return bad(owner + ": min/opt/max ranks " + u64s(in.min.size()) + "/" + u64s(in.opt.size()) + "/" +
                       u64s(in.max.size()) + " do not match the input");
          for (size_t d = 0; d < in.min.size(); ++d) {
            if (in.min[d] < 0 || in.min[d] > in.opt[d] || in.opt[d] > in.max[d])
              return bad(owner + " dim " + u64s(d) + " needs 0 <= min <= opt <= max, has " + std::to_string(in.min[d]) +
                         "/" + std::to_string(in.opt[d]) + "/" + std::to_string(in.max[d]));
          }
          prof.inputs.push_back(std::move(in));
        }
      }
      info.options.profiles.push_back(std::move(prof));
    }
  }
  if (m.memory_plans()) {
    if (m.memory_plans()->size() != 0 && m.memory_plans()->size() != info.options.profiles.size())
      return bad(u64s(m.memory_plans()->size()) + " memory plans for " + u64s(info.options.profiles.size()) +
                 " profiles");
    for (uint32_t p = 0; p < m.memory_plans()->size(); ++p) {
      const fb::MemoryPlan* fp = m.memory_plans()->Get(p);
      EngineMemoryPlan plan;
      plan.arena_bytes = fp->arena_bytes();
      SLIMRT_RETURN_IF_ERROR(check_aligned(fp->buffers(), "memory plan " + u64s(p)));
      if (fp->buffers()) {
        for (const fb::PlannedBuffer* b : *fp->buffers()) {
          uint64_t end = 0;
          if (b->value() >= info.values.size())
            return bad("memory plan " + u64s(p) + " refers to value " + u64s(b->value()) + " of " +
                       u64s(info.values.size()));
          if (add_overflows(b->offset(), b->size(), &end) || end > plan.arena_bytes)
            return bad("memory plan " + u64s(p) + " places value " + u64s(b->value()) + " at " + u64s(b->offset()) +
                       " (+" + u64s(b->size()) + ") outside its " + u64s(plan.arena_bytes) + "-byte arena");
          plan.buffers.push_back({b->value(), b->offset(), b->size()});
        }
      }
      info.options.memory_plans.push_back(std::move(plan));
    }
  }
  return Status::OK();
}

Status decode_io_formats(const fb::Engine& m, EngineInfo& info) {
  if (!m.io_formats()) return Status::OK();
  for (const fb::IoFormat* f : *m.io_formats()) {
    const std::string name = f->name()->str();
    const std::string owner = "I/O format of '" + name + "'";
    bool found = false;
    for (const std::vector<int32_t>* list : {&info.inputs, &info.outputs}) {
      for (int32_t idx : *list) found |= info.values[static_cast<size_t>(idx)].name == name;
    }
    if (!found) return bad(owner + ": no graph input or output has that name");
    SLIMRT_RETURN_IF_ERROR(check_aligned(f->mean(), owner));
    SLIMRT_RETURN_IF_ERROR(check_aligned(f->stddev(), owner));
    IoFormat fmt;
    SLIMRT_ASSIGN_OR_RETURN(fmt.model_dtype, decode_dtype(f->model_dtype(), owner));
    fmt.channels_last = f->channels_last();
    fmt.scale = f->scale();
    if (f->mean()) fmt.mean.assign(f->mean()->begin(), f->mean()->end());
    if (f->stddev()) fmt.stddev.assign(f->stddev()->begin(), f->stddev()->end());
    if (fmt.mean.size() != fmt.stddev.size())
      return bad(owner + ": " + u64s(fmt.mean.size()) + " means for " + u64s(fmt.stddev.size()) + " stddevs");
    if (!info.options.io_formats.emplace(name, std::move(fmt)).second) return bad(owner + " is given twice");
  }
  return Status::OK();
}

}  // namespace

Status decode_metadata(const fb::Engine& m, EngineInfo& info) {
  const EngineHeader& h = info.header;
  const fb::BuilderOptions* o = m.options();
  info.options.precision = static_cast<Precision>(o->precision());
  info.options.tf32 = o->tf32();
  info.options.target = o->target() ? o->target()->str() : "";
  info.options.chunk_size = h.chunk_size;
  if (info.options.precision != h.precision || info.options.tf32 != h.tf32 || info.options.target != h.target)
    return bad("builder options (" + std::string(precision_name(info.options.precision)) +
               (info.options.tf32 ? "+tf32" : "") + ", target '" + info.options.target + "') disagree with the header's (" +
               std::string(precision_name(h.precision)) + (h.tf32 ? "+tf32" : "") + ", target '" + h.target + "')");
  info.slimrt_version = m.slimrt_version() ? m.slimrt_version()->str() : "";
  info.graph_name = m.graph_name() ? m.graph_name()->str() : "";
  info.source_opset = m.source_opset();
  SLIMRT_RETURN_IF_ERROR(check_aligned(m.chunk_hashes(), "the chunk hash list"));
  const size_t nh = m.chunk_hashes() ? m.chunk_hashes()->size() : 0;
  if (nh != h.num_chunks)
    return bad("has " + u64s(nh) + " chunk hashes but the header declares " + u64s(h.num_chunks) + " chunks");
  if (nh) info.chunk_hashes.assign(m.chunk_hashes()->begin(), m.chunk_hashes()->end());
  SLIMRT_RETURN_IF_ERROR(decode_weights(m, info));
  SLIMRT_RETURN_IF_ERROR(decode_graph(m, info));
  SLIMRT_RETURN_IF_ERROR(decode_profiles(m, info));
  return decode_io_formats(m, info);
}

}  // namespace slimrt::engine
