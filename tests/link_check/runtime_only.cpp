// Links the runtime library alone: it must build and run without protobuf or ONNX.
#include <cstdio>

#include "slimrt/backend.h"
#include "slimrt/device.h"

int main() {
  auto backend = slimrt::create_backend("cpu");
  slimrt::DeviceQuery q = slimrt::query_cuda_devices();
  std::printf("runtime-only binary: backend %s, %d CUDA device(s)\n", backend.ok() ? "cpu ok" : "missing", q.count);
  return backend.ok() ? 0 : 1;
}
