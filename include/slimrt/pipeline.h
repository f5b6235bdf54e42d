// slimrt/pipeline.h: many requests in flight on one engine, so that the host->device copy of one
// request, the compute of another and the device->host copy of a third run at once (runtime).
//
//   PipelineOptions po;
//   po.in_flight = 3;                                   // contexts and streams, sharing the weights
//   auto pipe = Pipeline::create(engine, po).value();
//   Request r;
//   r.inputs = {{frame.data(), BufferLocation::kPinned, frame.size(), {1, 1600, 2560, 3}}};
//   r.outputs = {{classes.data(), BufferLocation::kPinned, classes.size()}};
//   r.done = [](void* user, const Status& s) { /* on a pipeline thread */ };
//   Status s = pipe->submit(r);                          // waits while the queue is full
//   std::future<Status> f = pipe->submit_future(r);      // or a future
//   pipe->wait_idle();
//
// Each of the `in_flight` workers owns an ExecutionContext (its own activation arena) and a CUDA
// stream, and takes requests from one bounded queue: it binds the request's buffers (any
// BufferLocation: the context copies host memory in and out itself, slimrt/context.h), enqueues,
// waits for its stream and calls the request's callback. With two or more workers the copies of
// one request overlap the compute of another; the GPU's copy engines and SMs work at once. After
// a worker's first requests (shape resolution, CUDA graph capture, the device copies of host
// bindings), requests allocate nothing and capture nothing: the queue is a fixed ring of Request
// slots that a submit copies into (a Request reused by the caller keeps its vectors' capacity),
// and submit_future's promise is the one allocation of that form.
//
// Back-pressure: at most queue_capacity requests wait beyond those in flight. submit(r, true)
// blocks until there is room; submit(r, false) returns kUnavailable naming the queue's capacity.
// A request whose tensors are wrong (a count that does not match the engine, a shape outside the
// profile, a buffer too small, memory of another kind than stated) fails alone: its callback
// (or future) gets the Status naming the tensor, and the pipeline goes on.
//
// Timing: each request's H2D copies, compute and D2H copies are timed with CUDA events on its
// worker's stream (RequestTiming, timings()); `slimrt bench --io ... --streams N` reports them.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <vector>

#include "slimrt/context.h"
#include "slimrt/host_memory.h"
#include "slimrt/runtime.h"
#include "slimrt/status.h"

namespace slimrt {

// One input or output of a request.
struct TensorBuffer {
  void* data = nullptr;
  BufferLocation where = BufferLocation::kAuto;
  uint64_t capacity = 0;        // bytes at data (0: not checked)
  std::vector<int64_t> dims;    // inputs: the shape; outputs: unused
};

// Called on a pipeline thread when the request is done (its outputs are in place) or failed. It
// runs on the worker that ran the request: keep it short, and do not submit(r, true) from it (a
// worker waiting for room in the queue it should be draining can wait forever).
using RequestCallback = void (*)(void* user, const Status& status);

struct Request {
  std::vector<TensorBuffer> inputs;   // one per engine input, in Engine::io_tensors() order
  std::vector<TensorBuffer> outputs;  // one per engine output, in order
  RequestCallback done = nullptr;
  void* user = nullptr;
};

struct PipelineOptions {
  uint32_t in_flight = 2;        // workers: contexts and streams
  uint32_t queue_capacity = 16;  // requests waiting beyond those in flight
  ContextOptions context;        // for each worker's context
  uint32_t timing_records = 4096;  // the most recent requests timings() keeps
};

// One request's stages, in ms from the pipeline's time origin (a CUDA event recorded at
// create(), or at reset_timings()).
struct RequestTiming {
  uint32_t worker = 0;
  double start_ms = 0;     // the worker began the request on its stream
  double consumed_ms = 0;  // inputs copied in (the compute starts)
  double computed_ms = 0;  // outputs computed (the copies out start)
  double end_ms = 0;       // outputs in place
  double latency_ms = 0;   // host time from submit to completion
};

struct PipelineStats {
  uint64_t submitted = 0, completed = 0, failed = 0, rejected = 0;
};

class Pipeline {
 public:
  // kUnsupported for an engine not loaded on the CUDA backend; a context's errors (memory).
  static Result<std::unique_ptr<Pipeline>> create(std::shared_ptr<const Engine> engine,
                                                  const PipelineOptions& options = {});
  ~Pipeline();  // finishes every queued request, then stops the workers
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Queues `r` (copied). kInvalidArgument when its input or output count does not match the
  // engine; kUnavailable when the queue is full and `wait` is false.
  Status submit(const Request& r, bool wait = true);
  // The same, completing a future instead of r.done (r.done and r.user are ignored).
  std::future<Status> submit_future(const Request& r, bool wait = true);
  // Waits until every submitted request is done.
  void wait_idle();

  PipelineStats stats() const;
  // The timings of the most recent requests (at most PipelineOptions::timing_records), oldest
  // first; reset_timings() clears them and moves the time origin to now.
  std::vector<RequestTiming> timings() const;
  Status reset_timings();
  const Engine& engine() const;
  uint32_t in_flight() const;

 private:
  struct Impl;
  explicit Pipeline(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace slimrt
