// Pipeline (include/slimrt/pipeline.h): workers, each an execution context on its own stream,
// taking requests from one bounded ring.
#include "slimrt/pipeline.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "cuda/check.h"
#include "cuda/device_resources.h"

namespace slimrt {

namespace {

using Clock = std::chrono::steady_clock;

void fulfil(void* user, const Status& s) {
  auto* p = static_cast<std::promise<Status>*>(user);
  p->set_value(s);
  delete p;
}

}  // namespace

struct Pipeline::Impl {
  std::shared_ptr<const Engine> engine;
  PipelineOptions options;
  size_t num_inputs = 0, num_outputs = 0;

  struct Entry {
    Request request;
    Clock::time_point submitted;
  };
  struct Worker {
    uint32_t index = 0;
    std::unique_ptr<ExecutionContext> ctx;
    cuda::Stream stream;
    cuda::Event start, consumed, computed, end;
    Entry current;  // reused: copying into it keeps its vectors' capacity
    std::thread thread;
  };
  std::vector<std::unique_ptr<Worker>> workers;
  cuda::Event origin;

  mutable std::mutex mu;
  std::condition_variable not_empty, not_full, idle;
  std::vector<Entry> ring;  // queue_capacity slots
  size_t head = 0, count = 0, busy = 0;
  bool stopping = false;
  PipelineStats stats;
  std::vector<RequestTiming> timing_ring;  // timing_records slots
  size_t timing_next = 0, timing_count = 0;

  Status run(Worker& w, const Request& r) {
    size_t in = 0, out = 0;
    for (const IoTensor& t : engine->io_tensors()) {
      if (t.is_input()) {
        const TensorBuffer& b = r.inputs[in++];
        SLIMRT_RETURN_IF_ERROR(w.ctx->set_input_shape(t.name, b.dims));
        SLIMRT_RETURN_IF_ERROR(w.ctx->set_tensor_address(t.name, b.data, b.where, b.capacity));
      } else {
        const TensorBuffer& b = r.outputs[out++];
        SLIMRT_RETURN_IF_ERROR(w.ctx->set_tensor_address(t.name, b.data, b.where, b.capacity));
      }
    }
    cudaStream_t s = w.stream.get();
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventRecord(w.start.get(), s));
    Status st = w.ctx->enqueue(s);
    if (st.ok()) st = SLIMRT_CUDA(cudaEventRecord(w.end.get(), s));
    // Whatever happened, the stream is drained before the worker takes the next request.
    const Status synced = SLIMRT_CUDA(cudaStreamSynchronize(s));
    return st.ok() ? synced : st;
  }

  // The request's stage times (all four events completed: the stream was synchronized).
  RequestTiming timing_of(const Worker& w) const {
    RequestTiming t;
    t.worker = w.index;
    auto at = [&](const cuda::Event& e) {
      float ms = 0;
      SLIMRT_CUDA_IGNORE(cudaEventElapsedTime(&ms, origin.get(), e.get()));
      return static_cast<double>(ms);
    };
    t.start_ms = at(w.start);
    t.consumed_ms = at(w.consumed);
    t.computed_ms = at(w.computed);
    t.end_ms = at(w.end);
    t.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - w.current.submitted).count();
    return t;
  }

  void work(Worker& w) {
    SLIMRT_CUDA_IGNORE(cudaSetDevice(engine->device()));
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        not_empty.wait(lock, [&] { return count > 0 || stopping; });
        if (count == 0) return;  // stopping, and nothing left
        w.current = ring[head];
        head = (head + 1) % ring.size();
        --count;
        ++busy;
        not_full.notify_one();
      }
      const Status s = run(w, w.current.request);
      const RequestTiming t = s.ok() ? timing_of(w) : RequestTiming{};
      if (w.current.request.done) w.current.request.done(w.current.request.user, s);
      std::lock_guard<std::mutex> lock(mu);
      if (s.ok()) {
        ++stats.completed;
        timing_ring[timing_next] = t;
        timing_next = (timing_next + 1) % timing_ring.size();
        timing_count = std::min(timing_count + 1, timing_ring.size());
      } else {
        ++stats.failed;
      }
      --busy;
      if (count == 0 && busy == 0) idle.notify_all();
    }
  }

  Status record_origin() {
    cudaStream_t s = workers.front()->stream.get();
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventRecord(origin.get(), s));
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(origin.get()));
    return Status::OK();
  }
};

Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Pipeline::~Pipeline() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->not_empty.notify_all();
  for (auto& w : impl_->workers) {
    if (w->thread.joinable()) w->thread.join();
  }
}

Result<std::unique_ptr<Pipeline>> Pipeline::create(std::shared_ptr<const Engine> engine, const PipelineOptions& options) {
  if (!engine) return invalid_argument("Pipeline::create: no engine");
  if (options.in_flight == 0) return invalid_argument("Pipeline::create: in_flight must be at least 1");
  if (options.queue_capacity == 0) return invalid_argument("Pipeline::create: queue_capacity must be at least 1");
  auto impl = std::make_unique<Impl>();
  impl->engine = engine;
  impl->options = options;
  for (const IoTensor& t : engine->io_tensors()) (t.is_input() ? impl->num_inputs : impl->num_outputs)++;
  impl->ring.resize(options.queue_capacity);
  impl->timing_ring.resize(std::max<uint32_t>(options.timing_records, 1));
  for (uint32_t k = 0; k < options.in_flight; ++k) {
    auto w = std::make_unique<Impl::Worker>();
    w->index = k;
    SLIMRT_ASSIGN_OR_RETURN(w->ctx, ExecutionContext::create(engine, options.context));
    SLIMRT_ASSIGN_OR_RETURN(w->stream, cuda::Stream::create());
    SLIMRT_ASSIGN_OR_RETURN(w->start, cuda::Event::create());
    SLIMRT_ASSIGN_OR_RETURN(w->consumed, cuda::Event::create());
    SLIMRT_ASSIGN_OR_RETURN(w->computed, cuda::Event::create());
    SLIMRT_ASSIGN_OR_RETURN(w->end, cuda::Event::create());
    SLIMRT_RETURN_IF_ERROR(w->ctx->set_input_consumed_event(w->consumed.get()));
    SLIMRT_RETURN_IF_ERROR(w->ctx->set_outputs_computed_event(w->computed.get()));
    impl->workers.push_back(std::move(w));
  }
  SLIMRT_ASSIGN_OR_RETURN(impl->origin, cuda::Event::create());
  SLIMRT_RETURN_IF_ERROR(impl->record_origin());
  std::unique_ptr<Pipeline> p(new Pipeline(std::move(impl)));
  for (auto& w : p->impl_->workers) {
    Impl::Worker* raw = w.get();
    Impl* m = p->impl_.get();
    w->thread = std::thread([m, raw] { m->work(*raw); });
  }
  return p;
}

Status Pipeline::submit(const Request& r, bool wait) {
  Impl& m = *impl_;
  if (r.inputs.size() != m.num_inputs || r.outputs.size() != m.num_outputs)
    return invalid_argument(fmt::format("Pipeline::submit: the request has {} inputs and {} outputs; the engine has {} "
                                        "and {} (in Engine::io_tensors() order)",
                                        r.inputs.size(), r.outputs.size(), m.num_inputs, m.num_outputs));
  std::unique_lock<std::mutex> lock(m.mu);
  if (m.count == m.ring.size()) {
    if (!wait) {
      ++m.stats.rejected;
      return unavailable(fmt::format("Pipeline::submit: the queue is full ({} requests waiting, {} in flight); submit "
                                     "with wait = true, retry later, or raise PipelineOptions::queue_capacity",
                                     m.count, m.busy));
    }
    m.not_full.wait(lock, [&] { return m.count < m.ring.size(); });
  }
  Impl::Entry& e = m.ring[(m.head + m.count) % m.ring.size()];
  e.request = r;
  e.submitted = Clock::now();
  ++m.count;
  ++m.stats.submitted;
  m.not_empty.notify_one();
  return Status::OK();
}

std::future<Status> Pipeline::submit_future(const Request& r, bool wait) {
  auto* promise = new std::promise<Status>();
  std::future<Status> f = promise->get_future();
  Request q = r;
  q.done = fulfil;
  q.user = promise;
  Status s = submit(q, wait);
  if (!s.ok()) fulfil(promise, s);
  return f;
}

void Pipeline::wait_idle() {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->idle.wait(lock, [&] { return impl_->count == 0 && impl_->busy == 0; });
}

PipelineStats Pipeline::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stats;
}

std::vector<RequestTiming> Pipeline::timings() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const Impl& m = *impl_;
  std::vector<RequestTiming> out;
  out.reserve(m.timing_count);
  const size_t first = (m.timing_next + m.timing_ring.size() - m.timing_count) % m.timing_ring.size();
  for (size_t k = 0; k < m.timing_count; ++k) out.push_back(m.timing_ring[(first + k) % m.timing_ring.size()]);
  return out;
}

Status Pipeline::reset_timings() {
  wait_idle();
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->timing_count = 0;
  impl_->timing_next = 0;
  return impl_->record_origin();
}

const Engine& Pipeline::engine() const { return *impl_->engine; }
uint32_t Pipeline::in_flight() const { return static_cast<uint32_t>(impl_->workers.size()); }

}  // namespace slimrt
