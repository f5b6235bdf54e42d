// slimrt/device.h: which GPUs this process can use.
//
//   DeviceQuery q = query_cuda_devices();
//   if (q.count == 0) std::printf("skipping GPU work: %s\n", q.description.c_str());
#pragma once

#include <string>

namespace slimrt {

struct DeviceQuery {
  int count = 0;
  // With devices: device 0's name and compute capability. Without: why there are none.
  std::string description;
};

DeviceQuery query_cuda_devices();

}  // namespace slimrt
