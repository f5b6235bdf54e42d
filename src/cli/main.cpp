#include <cstdio>

#include "slimrt/version.h"

int main() {
  std::printf("slimrt %s\n", SLIMRT_VERSION_STRING);
  return 0;
}
